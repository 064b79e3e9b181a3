import { randomBytes } from 'node:crypto';
import { headerLines, type SipHeader, type SipResponse } from './message.js';
import { ALGORITHMS, digestResponse, ha1Of, hashOf, knownAlgorithm, parseDigestParams, quote, type DigestAlgorithm } from './digest.js';

/**
 * A digest client (RFC 3261 §22.2, RFC 7616, RFC 8760): a request answered 401/407 is sent again
 * with credentials built from the challenge. Used by the B2BUA toward trunks (b2bua/uac-auth.ts)
 * and by `tandem call`. Parsing a challenge never throws: a hostile header is a reason, and the
 * request fails with it instead of looping.
 */

/** Whom we are toward a server that challenges us (a route target's `"auth"`, `tandem call --user`). */
export interface UacCredentials {
  username: string;
  password: string;
  /** answer only a challenge of this realm (others are a failure: we will not hand our password to anyone who asks). */
  realm?: string;
}

export interface Challenge {
  realm: string;
  nonce: string;
  algorithm: DigestAlgorithm;
  /** 'auth', or undefined when the server offered no qop (RFC 2069 compatibility, §3.4.1 of RFC 2617). */
  qop: 'auth' | undefined;
  opaque: string | undefined;
  stale: boolean;
}

export type ChallengeResult = { ok: true; challenge: Challenge } | { ok: false; reason: string };

/** One WWW-/Proxy-Authenticate value → a challenge we can answer, or why not. */
export function parseChallenge(value: string): ChallengeResult {
  const parsed = parseDigestParams(value, 'challenge');
  if (!parsed.ok) return parsed;
  const p = parsed.params;
  // We echo realm, nonce and opaque back in a header of our own: no control character may ride along.
  for (const [k, v] of p) if (/[\x00-\x1f\x7f]/.test(v)) return { ok: false, reason: `parameter ${k.slice(0, 32)} has a control character` };
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  if (realm === undefined) return { ok: false, reason: 'challenge has no realm' };
  if (nonce === undefined || nonce === '') return { ok: false, reason: 'challenge has no nonce' };
  const algorithm = knownAlgorithm(p.get('algorithm'));
  if (algorithm === undefined) return { ok: false, reason: `algorithm ${(p.get('algorithm') ?? '').slice(0, 32)} is not supported` };
  let qop: 'auth' | undefined;
  const offered = p.get('qop');
  if (offered !== undefined) {
    // A list ("auth,auth-int"): we speak only auth; a challenge demanding auth-int alone is unanswerable.
    if (!offered.split(',').some((q) => q.trim().toLowerCase() === 'auth')) return { ok: false, reason: `qop "${offered.slice(0, 32)}" has no "auth"` };
    qop = 'auth';
  }
  return { ok: true, challenge: { realm, nonce, algorithm, qop, opaque: p.get('opaque'), stale: (p.get('stale') ?? '').toLowerCase() === 'true' } };
}

/** The header a response carries challenges in, and the one our answer goes in. */
export function authHeaderNames(status: number): { challenge: string; answer: string } {
  return status === 407 ? { challenge: 'Proxy-Authenticate', answer: 'Proxy-Authorization' } : { challenge: 'WWW-Authenticate', answer: 'Authorization' };
}

/**
 * Of several challenges (RFC 8760 §2.4: one per algorithm, preferred first), the strongest we
 * support, in the realm we were told to answer. The reason of the first refusal when none fits.
 */
export function selectChallenge(values: readonly string[], realm?: string): ChallengeResult {
  if (values.length === 0) return { ok: false, reason: 'no challenge in the response' };
  const good: Challenge[] = [];
  let firstReason: string | undefined;
  for (const v of values) {
    const r = parseChallenge(v);
    if (!r.ok) firstReason ??= r.reason;
    else if (realm !== undefined && r.challenge.realm !== realm) firstReason ??= `realm "${r.challenge.realm.slice(0, 64)}" is not ours ("${realm}")`;
    else good.push(r.challenge);
  }
  for (const alg of ALGORITHMS) {
    const c = good.find((g) => g.algorithm === alg);
    if (c !== undefined) return { ok: true, challenge: c };
  }
  return { ok: false, reason: firstReason ?? 'no supported challenge' };
}

/** The Authorization value answering `c` for `method uri` (RFC 7616 §3.4), with nonce count `nc` and our `cnonce`. */
export function authorizationValue(creds: UacCredentials, c: Challenge, req: { method: string; uri: string }, nc: number, cnonce: string): string {
  const ha1 = ha1Of(c.algorithm, creds.username, c.realm, creds.password);
  const ncText = nc.toString(16).padStart(8, '0');
  const response =
    c.qop === undefined
      ? hashOf(c.algorithm, `${ha1}:${c.nonce}:${hashOf(c.algorithm, `${req.method}:${req.uri}`)}`)
      : digestResponse(c.algorithm, ha1, { nonce: c.nonce, nc: ncText, cnonce, qop: c.qop, method: req.method, uri: req.uri });
  const parts = [
    `Digest username=${quote(creds.username)}`,
    `realm=${quote(c.realm)}`,
    `nonce=${quote(c.nonce)}`,
    `uri=${quote(req.uri)}`,
    `response=${quote(response)}`,
    `algorithm=${c.algorithm}`,
  ];
  if (c.qop !== undefined) parts.push(`cnonce=${quote(cnonce)}`, `qop=${c.qop}`, `nc=${ncText}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
  return parts.join(', ');
}

export type AnswerResult = { ok: true; header: SipHeader } | { ok: false; reason: string };

/**
 * One dialog's client credentials toward its trunk: the last challenge and its nonce count,
 * so a challenged re-INVITE or BYE with the same nonce goes out with nc+1 (RFC 7616 §3.4).
 */
export class UacAuth {
  private last: Challenge | undefined;
  private nc = 0;
  private readonly cnonce = randomBytes(12).toString('hex');

  constructor(readonly creds: UacCredentials) {}

  /**
   * The credentials for `req` answering `res` (a 401/407), or why not. `sentCredentials` = the
   * challenged request already carried ours: only `stale=true` earns one more try (§3.2.1).
   */
  answer(res: SipResponse, req: { method: string; uri: string }, sentCredentials: boolean, staleRetried: boolean): AnswerResult & { stale?: boolean } {
    const names = authHeaderNames(res.status);
    const sel = selectChallenge(headerLines(res, names.challenge), this.creds.realm);
    if (!sel.ok) return { ok: false, reason: `cannot answer the ${res.status} challenge: ${sel.reason}` };
    const c = sel.challenge;
    if (sentCredentials && (!c.stale || staleRetried)) return { ok: false, reason: `the trunk refused our credentials (${res.status} again${c.stale ? ', stale twice' : ''})` };
    this.nc = this.last !== undefined && this.last.nonce === c.nonce && this.last.realm === c.realm ? this.nc + 1 : 1;
    this.last = c;
    return { ok: true, header: { name: names.answer, value: authorizationValue(this.creds, c, req, this.nc, this.cnonce) }, stale: sentCredentials };
  }
}
