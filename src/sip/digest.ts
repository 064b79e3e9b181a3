import { createHash } from 'node:crypto';

/**
 * HTTP Digest as SIP uses it (RFC 3261 §22.4 on RFC 2617, with RFC 7616's algorithms and RFC 8760
 * for SIP): the credentials parser and the response computation. Pure: no state, no clock.
 */
export type DigestAlgorithm = 'SHA-256' | 'MD5';

/** Strongest first: RFC 8760 §2.4 says a server offers its challenges in order of preference. */
export const ALGORITHMS: readonly DigestAlgorithm[] = ['SHA-256', 'MD5'];

export function hashOf(alg: DigestAlgorithm, text: string): string {
  return createHash(alg === 'MD5' ? 'md5' : 'sha256').update(text, 'utf8').digest('hex');
}

/** HA1 = H(username:realm:password) (RFC 7616 §3.4.2): what the users file keeps instead of a password. */
export function ha1Of(alg: DigestAlgorithm, user: string, realm: string, password: string): string {
  return hashOf(alg, `${user}:${realm}:${password}`);
}

/** The `response` a client with this HA1 computes for qop=auth (RFC 7616 §3.4.1). */
export function digestResponse(alg: DigestAlgorithm, ha1: string, p: { nonce: string; nc: string; cnonce: string; qop: string; method: string; uri: string }): string {
  const ha2 = hashOf(alg, `${p.method}:${p.uri}`);
  return hashOf(alg, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
}

/** Longest credentials header value we read, and longest single parameter (a SHA-256 response is 64). */
export const MAX_CREDENTIALS_LENGTH = 4096;
const MAX_PARAM_LENGTH = 1024;

export interface Credentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  /** as given; undefined = MD5 (RFC 2617 §3.2.2) */
  algorithm: string | undefined;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
  opaque: string | undefined;
}

export type CredentialsResult = { ok: true; credentials: Credentials } | { ok: false; reason: string };

/**
 * `Digest k=v, k="quoted \" , value", …` → parameters. Every fault is a reason, never a throw:
 * unbalanced quotes, a bad token, a duplicate parameter (which of two would we believe?), a
 * missing required one, or a size beyond the bounds above.
 */
export function parseCredentials(value: string): CredentialsResult {
  const parsed = parseDigestParams(value, 'credentials');
  if (!parsed.ok) return parsed;
  const params = parsed.params;
  for (const required of ['username', 'realm', 'nonce', 'uri', 'response']) if (!params.has(required)) return { ok: false, reason: `missing ${required}` };
  const get = (k: string): string => params.get(k) ?? '';
  return {
    ok: true,
    credentials: {
      username: get('username'),
      realm: get('realm'),
      nonce: get('nonce'),
      uri: get('uri'),
      response: get('response'),
      algorithm: params.get('algorithm'),
      qop: params.get('qop'),
      nc: params.get('nc'),
      cnonce: params.get('cnonce'),
      opaque: params.get('opaque'),
    },
  };
}

/**
 * The parameters of one `Digest …` header value (credentials or a challenge), names lowercased.
 * Shared by the server side (credentials) and the UAC side (WWW-/Proxy-Authenticate).
 */
export function parseDigestParams(value: string, what = 'header'): { ok: true; params: Map<string, string> } | { ok: false; reason: string } {
  if (value.length > MAX_CREDENTIALS_LENGTH) return { ok: false, reason: `${what} longer than ${MAX_CREDENTIALS_LENGTH} characters` };
  const scheme = /^\s*([A-Za-z0-9._-]+)\s+/.exec(value);
  if (scheme === null) return { ok: false, reason: 'no authentication scheme' };
  if (scheme[1].toLowerCase() !== 'digest') return { ok: false, reason: `scheme ${scheme[1].slice(0, 32)} is not Digest` };
  const params = new Map<string, string>();
  let i = scheme[0].length;
  const s = value;
  for (;;) {
    while (i < s.length && /[\s]/.test(s[i])) i++;
    const name = /^[A-Za-z0-9._-]+/.exec(s.slice(i, i + 64))?.[0];
    if (name === undefined) return { ok: false, reason: `expected a parameter name at offset ${i}` };
    i += name.length;
    while (i < s.length && /[\s]/.test(s[i])) i++;
    if (s[i] !== '=') return { ok: false, reason: `parameter ${name} has no value` };
    i++;
    while (i < s.length && /[\s]/.test(s[i])) i++;
    let v = '';
    if (s[i] === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        const c = s[i];
        if (c === '\\' && i + 1 < s.length) {
          v += s[i + 1];
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          v += c;
          i++;
        }
      }
      if (!closed) return { ok: false, reason: `unbalanced quote in parameter ${name}` };
    } else {
      const tok = /^[^\s,"]+/.exec(s.slice(i, i + MAX_PARAM_LENGTH + 1))?.[0];
      if (tok === undefined) return { ok: false, reason: `parameter ${name} has no value` };
      v = tok;
      i += tok.length;
    }
    if (v.length > MAX_PARAM_LENGTH) return { ok: false, reason: `parameter ${name} longer than ${MAX_PARAM_LENGTH} characters` };
    const key = name.toLowerCase();
    if (params.has(key)) return { ok: false, reason: `duplicate parameter ${name}` };
    params.set(key, v);
    while (i < s.length && /[\s]/.test(s[i])) i++;
    if (i >= s.length) break;
    if (s[i] !== ',') return { ok: false, reason: `expected "," after parameter ${name}` };
    i++;
  }
  return { ok: true, params };
}

/** A quoted-string (RFC 3261 §25.1) with `"` and `\` escaped. */
export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** One challenge value: `Digest realm="…", nonce="…", algorithm=…, qop="auth"[, stale=true]`. */
export function challengeValue(alg: DigestAlgorithm, realm: string, nonce: string, stale: boolean): string {
  return `Digest realm=${quote(realm)}, nonce=${quote(nonce)}, algorithm=${alg}, qop="auth"${stale ? ', stale=true' : ''}`;
}

/** The algorithm parameter as we support it, or undefined (an unknown one, or a -sess variant we do not offer). */
export function knownAlgorithm(alg: string | undefined): DigestAlgorithm | undefined {
  if (alg === undefined) return 'MD5';
  const a = alg.toUpperCase();
  return a === 'MD5' ? 'MD5' : a === 'SHA-256' ? 'SHA-256' : undefined;
}
