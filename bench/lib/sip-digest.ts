/**
 * The bench caller's side of digest authentication (RFC 3261 §22.2, RFC 7616 §3.4, RFC 8760): read a
 * 401/407's challenges, pick one, and write the Authorization / Proxy-Authorization value for the
 * retried request. The hashing is Tandem's own (src/sip/digest.ts), so a bench run measures the
 * same computation a real client makes; the challenge parser is the bench's, kept small on purpose.
 */
import { randomBytes } from 'node:crypto';
import { digestResponse, ha1Of, knownAlgorithm, quote, type DigestAlgorithm } from '../../src/sip/digest.js';

export interface Challenge {
  realm: string;
  nonce: string;
  algorithm: DigestAlgorithm;
  qop: string[];
  opaque?: string;
  stale: boolean;
}

export interface DigestCredentials {
  user: string;
  password: string;
  /** the algorithm to answer with when offered (undefined: the first offered that we know, i.e. the server's preference). */
  prefer?: DigestAlgorithm;
}

/** One `Digest k=v, k="quoted", …` challenge value → its parameters, or undefined if it is not a usable digest challenge. */
export function parseChallenge(value: string): Challenge | undefined {
  const m = /^\s*Digest\s+/i.exec(value);
  if (m === null) return undefined;
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z0-9._-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,"]+)\s*(?:,|$)/gy;
  re.lastIndex = m[0].length;
  for (let p = re.exec(value); p !== null; p = re.exec(value)) {
    params.set(p[1].toLowerCase(), p[3] !== undefined ? p[3].replace(/\\(.)/g, '$1') : p[2]);
    if (re.lastIndex >= value.length) break;
  }
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const algorithm = knownAlgorithm(params.get('algorithm'));
  if (realm === undefined || nonce === undefined || algorithm === undefined) return undefined;
  return {
    realm,
    nonce,
    algorithm,
    qop: (params.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase()).filter((q) => q !== ''),
    ...(params.has('opaque') ? { opaque: params.get('opaque') } : {}),
    stale: params.get('stale')?.toLowerCase() === 'true',
  };
}

/** The challenge to answer: the preferred algorithm if offered, else the first we can answer (RFC 8760 §2.4: the server lists its preference first). */
export function pickChallenge(values: string[], prefer?: DigestAlgorithm): Challenge | undefined {
  const usable = values.map(parseChallenge).filter((c): c is Challenge => c !== undefined && c.qop.includes('auth'));
  return usable.find((c) => c.algorithm === prefer) ?? usable[0];
}

/**
 * The credentials header value answering `c` for `method uri` (qop=auth, RFC 7616 §3.4). `nc` is the
 * count of requests made with this nonce (1 for the first); `cnonce` is random unless given (tests).
 */
export function answerChallenge(c: Challenge, cred: DigestCredentials, p: { method: string; uri: string; nc?: number; cnonce?: string }): string {
  const nc = (p.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = p.cnonce ?? randomBytes(8).toString('hex');
  const response = digestResponse(c.algorithm, ha1Of(c.algorithm, cred.user, c.realm, cred.password), { nonce: c.nonce, nc, cnonce, qop: 'auth', method: p.method, uri: p.uri });
  const parts = [
    `username=${quote(cred.user)}`,
    `realm=${quote(c.realm)}`,
    `nonce=${quote(c.nonce)}`,
    `uri=${quote(p.uri)}`,
    `response=${quote(response)}`,
    `algorithm=${c.algorithm}`,
    `qop=auth`,
    `nc=${nc}`,
    `cnonce=${quote(cnonce)}`,
  ];
  if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}
