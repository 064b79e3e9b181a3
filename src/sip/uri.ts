import { isIPv4, isIPv6 } from 'node:net';

/**
 * SIP/SIPS URIs (RFC 3261 §19.1, grammar §25.1), TEL URIs (RFC 3966) and any other absoluteURI
 * (kept opaque: RFC 4475 §3.3.2/§3.3.4 show unknown schemes that must parse and be refused later).
 *
 * Escaped components are stored decoded as *octet strings*: each `%XX` becomes the one character
 * with code XX (latin1), so every octet, `%00` included (RFC 4475 §3.1.1.4), survives a round trip.
 * `formatUri` escapes whatever the grammar does not allow unescaped in that component.
 */
export interface UriParam {
  name: string;
  /** null for a parameter without `=value` (`;lr`). */
  value: string | null;
}

export interface UriHeader {
  name: string;
  value: string;
}

export interface SipUri {
  type: 'sip';
  /** true for sips: (RFC 3261 §19.1). */
  secure: boolean;
  user?: string;
  password?: string;
  /** hostname, IPv4 address, or IPv6 reference *with* its brackets (`[2001:db8::1]`). */
  host: string;
  port?: number;
  params: UriParam[];
  headers: UriHeader[];
}

export interface TelUri {
  type: 'tel';
  /** telephone-subscriber number part as written (`+1-201-555-0123`, `7042`). */
  number: string;
  params: UriParam[];
}

export interface OtherUri {
  type: 'other';
  /** lower-cased scheme. */
  scheme: string;
  /** everything after `scheme:`, verbatim. */
  opaque: string;
}

export type Uri = SipUri | TelUri | OtherUri;

export type UriResult = { ok: true; uri: Uri } | { ok: false; reason: string };

// RFC 3261 §25.1 character classes.
const UNRESERVED = "A-Za-z0-9\\-_.!~*'()";
const USER_OK = new RegExp(`^[${UNRESERVED}&=+$,;?/]$`);
const PASSWORD_OK = new RegExp(`^[${UNRESERVED}&=+$,]$`);
const PARAM_OK = new RegExp(`^[${UNRESERVED}\\[\\]/:&+$]$`);
const HEADER_OK = new RegExp(`^[${UNRESERVED}\\[\\]/?:+$]$`);
const SCHEME = /^[A-Za-z][A-Za-z0-9+\-.]*$/;
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const TEL_NUMBER = /^(?:\+[0-9\-.()]*[0-9][0-9\-.()]*|[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*)$/;

/** Decodes `%XX` escapes into octets; null when an escape is malformed or a raw char is not allowed. */
function unescape(s: string, allowed: RegExp): string | null {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else if (allowed.test(c)) {
      out += c;
    } else {
      return null;
    }
  }
  return out;
}

function escape(s: string, allowed: RegExp): string {
  let out = '';
  for (const c of s) {
    const code = c.charCodeAt(0);
    if (c.length === 1 && code < 0x80 && allowed.test(c)) out += c;
    else if (code <= 0xff && c.length === 1) out += `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    else for (const b of Buffer.from(c, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** host = hostname / IPv4address / IPv6reference (RFC 3261 §25.1). */
export function isValidHost(host: string): boolean {
  if (host.startsWith('[')) return host.endsWith(']') && isIPv6(host.slice(1, -1));
  if (/^[0-9.]+$/.test(host)) return isIPv4(host);
  return HOSTNAME.test(host);
}

function parseParams(s: string, what: string): UriParam[] | string {
  const out: UriParam[] = [];
  if (s === '') return out;
  for (const part of s.split(';')) {
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const name = unescape(rawName, PARAM_OK);
    if (!name) return `invalid ${what} parameter name`;
    if (eq < 0) {
      out.push({ name, value: null });
      continue;
    }
    const value = unescape(part.slice(eq + 1), PARAM_OK);
    if (!value) return `invalid ${what} parameter value`;
    out.push({ name, value });
  }
  return out;
}

/** SIP-URI / SIPS-URI (RFC 3261 §19.1.1, §25.1); `rest` is what follows `sip:`. */
function parseSip(rest: string, secure: boolean): UriResult {
  const uri: SipUri = { type: 'sip', secure, host: '', params: [], headers: [] };
  // userinfo never holds a raw "@" (it is not in user-unreserved), so the first one ends it.
  const at = rest.indexOf('@');
  let hostPart = rest;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = unescape(colon < 0 ? userinfo : userinfo.slice(0, colon), USER_OK);
    if (!user) return { ok: false, reason: 'invalid user part in URI' };
    uri.user = user;
    if (colon >= 0) {
      const password = unescape(userinfo.slice(colon + 1), PASSWORD_OK);
      if (password === null) return { ok: false, reason: 'invalid password in URI' };
      uri.password = password;
    }
  }
  let i = 0;
  if (hostPart.startsWith('[')) {
    const close = hostPart.indexOf(']');
    if (close < 0) return { ok: false, reason: 'unterminated IPv6 reference in URI' };
    i = close + 1;
  } else {
    while (i < hostPart.length && !':;?'.includes(hostPart[i])) i++;
  }
  uri.host = hostPart.slice(0, i);
  if (!isValidHost(uri.host)) return { ok: false, reason: 'invalid host in URI' };
  if (hostPart[i] === ':') {
    let j = i + 1;
    while (j < hostPart.length && /[0-9]/.test(hostPart[j])) j++;
    const port = Number(hostPart.slice(i + 1, j));
    if (j === i + 1 || port > 65535) return { ok: false, reason: 'invalid port in URI' };
    uri.port = port;
    i = j;
  }
  const q = hostPart.indexOf('?', i);
  const paramText = hostPart.slice(i, q < 0 ? undefined : q);
  if (paramText !== '') {
    if (paramText[0] !== ';') return { ok: false, reason: 'invalid host in URI' };
    const params = parseParams(paramText.slice(1), 'URI');
    if (typeof params === 'string') return { ok: false, reason: params };
    uri.params = params;
  }
  if (q >= 0) {
    for (const h of hostPart.slice(q + 1).split('&')) {
      const eq = h.indexOf('=');
      const name = eq < 0 ? null : unescape(h.slice(0, eq), HEADER_OK);
      const value = eq < 0 ? null : unescape(h.slice(eq + 1), HEADER_OK);
      if (!name || value === null) return { ok: false, reason: 'invalid header component in URI' };
      uri.headers.push({ name, value });
    }
  }
  return { ok: true, uri };
}

/** tel: URI (RFC 3966 §3): telephone-subscriber *( ";" par ). */
function parseTel(rest: string): UriResult {
  const [number, ...params] = rest.split(';');
  if (!TEL_NUMBER.test(number)) return { ok: false, reason: 'invalid tel URI number' };
  const parsed = parseParams(params.join(';'), 'tel URI');
  if (typeof parsed === 'string') return { ok: false, reason: parsed };
  return { ok: true, uri: { type: 'tel', number, params: parsed } };
}

/** Parses a URI as it appears in a Request-URI or inside `<...>`; never throws. */
export function parseUri(text: string): UriResult {
  const colon = text.indexOf(':');
  if (colon <= 0 || !SCHEME.test(text.slice(0, colon))) return { ok: false, reason: 'invalid URI scheme' };
  const scheme = text.slice(0, colon).toLowerCase();
  const rest = text.slice(colon + 1);
  if (rest === '' || /[\s<>"]/.test(rest)) return { ok: false, reason: 'invalid character in URI' };
  if (scheme === 'sip' || scheme === 'sips') return parseSip(rest, scheme === 'sips');
  if (scheme === 'tel') return parseTel(rest);
  return { ok: true, uri: { type: 'other', scheme, opaque: rest } };
}

function formatParams(params: UriParam[]): string {
  return params.map((p) => `;${escape(p.name, PARAM_OK)}${p.value === null ? '' : `=${escape(p.value, PARAM_OK)}`}`).join('');
}

export function formatUri(uri: Uri): string {
  if (uri.type === 'other') return `${uri.scheme}:${uri.opaque}`;
  if (uri.type === 'tel') return `tel:${uri.number}${formatParams(uri.params)}`;
  let s = uri.secure ? 'sips:' : 'sip:';
  if (uri.user !== undefined) {
    s += escape(uri.user, USER_OK);
    if (uri.password !== undefined) s += `:${escape(uri.password, PASSWORD_OK)}`;
    s += '@';
  }
  s += uri.host;
  if (uri.port !== undefined) s += `:${uri.port}`;
  s += formatParams(uri.params);
  if (uri.headers.length > 0) {
    s += `?${uri.headers.map((h) => `${escape(h.name, HEADER_OK)}=${escape(h.value, HEADER_OK)}`).join('&')}`;
  }
  return s;
}

export function uriParam(uri: SipUri | TelUri, name: string): string | null | undefined {
  const n = name.toLowerCase();
  return uri.params.find((p) => p.name.toLowerCase() === n)?.value;
}

/** Parameters that, present in one SIP URI, must be present in the other (RFC 3261 §19.1.4). */
const MUST_MATCH_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'];

function paramMap(params: UriParam[]): Map<string, string | null> {
  return new Map(params.map((p) => [p.name.toLowerCase(), p.value === null ? null : p.value.toLowerCase()]));
}

/**
 * URI equivalence, RFC 3261 §19.1.4: user and password case-sensitive after unescaping, host and
 * parameters case-insensitive, an absent port is not the default port, common parameters must
 * agree, user/ttl/method/maddr/transport must appear in both or neither, header components must
 * all be present in both. TEL URIs per RFC 3966 §4 (visual separators ignored).
 */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'other' && b.type === 'other') return a.scheme === b.scheme && a.opaque === b.opaque;
  if (a.type === 'tel' && b.type === 'tel') {
    const digits = (n: string): string => n.replace(/[-.()]/g, '').toLowerCase();
    if (digits(a.number) !== digits(b.number)) return false;
    const pa = paramMap(a.params);
    const pb = paramMap(b.params);
    if (pa.size !== pb.size) return false;
    for (const [k, v] of pa) if (!pb.has(k) || pb.get(k) !== v) return false;
    return true;
  }
  if (a.type !== 'sip' || b.type !== 'sip') return false;
  if (a.secure !== b.secure || a.user !== b.user || a.password !== b.password) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  const pa = paramMap(a.params);
  const pb = paramMap(b.params);
  for (const [k, v] of pa) if (pb.has(k) && pb.get(k) !== v) return false;
  for (const k of MUST_MATCH_PARAMS) if (pa.has(k) !== pb.has(k)) return false;
  if (a.headers.length !== b.headers.length) return false;
  for (const h of a.headers) {
    if (!b.headers.some((g) => g.name.toLowerCase() === h.name.toLowerCase() && g.value === h.value)) return false;
  }
  return true;
}
