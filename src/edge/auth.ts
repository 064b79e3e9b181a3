import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { LogLimiter } from '../common/log-limit.js';
import { getCallId, headerLines, removeHeader, type SipRequest } from '../sip/message.js';
import { parseUri } from '../sip/uri.js';
import { ALGORITHMS, challengeValue, digestResponse, knownAlgorithm, parseCredentials, type Credentials, type DigestAlgorithm } from '../sip/digest.js';
import { NonceKeeper, type NonceStats } from './auth-nonce.js';
import type { UserStore } from './auth-users.js';

/**
 * Digest authentication as a server (RFC 3261 §22): the B2BUA asks `authenticate()` about an
 * out-of-dialog request and gets either the user or the response to send (a challenge, or 400 for
 * credentials it cannot read). As a registrar (REGISTER) it answers 401 + WWW-Authenticate; as a
 * proxy would (INVITE…) 407 + Proxy-Authenticate (§22.3).
 *
 * Scanner resistance: an unknown user is answered exactly as a wrong password (a fresh challenge,
 * same headers) after the same work (a response computed from a dummy HA1 and compared), so a
 * tool such as svwar cannot tell which users exist.
 */
export type AuthRole = 'registrar' | 'proxy';

export type AuthVerdict =
  | { kind: 'ok'; user: string }
  | { kind: 'respond'; status: 400 | 401 | 407; reason: string; headers: { name: string; value: string }[] };

export interface AuthenticatorOptions {
  users: UserStore;
  realm: string;
  clock: Clock;
  log: Logger;
  /** how long a nonce is good for (ms; default 300 000); after that `stale=true`. */
  nonceTtlMs?: number;
  /** nonces remembered with their highest nc (default 10 000). */
  maxNonces?: number;
  /** challenges offered, strongest first (default SHA-256, MD5 as RFC 8760 asks). */
  algorithms?: readonly DigestAlgorithm[];
  /** each failed attempt: the source address and the user it claimed (flood defence weighs these). */
  onFailure?: (source: string, user: string | undefined) => void;
}

export interface AuthStats {
  challenges: number;
  successes: number;
  /** wrong password, unknown user, forged nonce, replay, unreadable credentials. */
  failures: number;
  /** of which: unknown users (answered like a wrong password; counted for the operator only). */
  unknownUsers: number;
  replays: number;
  malformed: number;
  /** right response on an expired nonce: challenged again with stale=true (not a failure). */
  stale: number;
  nonces: NonceStats;
  /** failures per source address and per claimed user (the most recent `MAX_TRACKED` of each). */
  failuresBySource: Record<string, number>;
  failuresByUser: Record<string, number>;
}

/** Sources and users whose failures are counted one by one; beyond it the oldest are forgotten. */
export const MAX_TRACKED = 1024;

const NAMES = {
  registrar: { credentials: 'Authorization', challenge: 'WWW-Authenticate', status: 401 as const, reason: 'Unauthorized' },
  proxy: { credentials: 'Proxy-Authorization', challenge: 'Proxy-Authenticate', status: 407 as const, reason: 'Proxy Authentication Required' },
};

function bump(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) + 1;
  map.delete(key);
  map.set(key, n);
  if (map.size > MAX_TRACKED) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

/** Does the digest `uri` name the Request-URI? Same text, or the same user, host and port. */
function sameUri(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  const a = parseUri(digestUri);
  const b = parseUri(requestUri);
  if (!a.ok || !b.ok || a.uri.type !== 'sip' || b.uri.type !== 'sip') return false;
  return a.uri.secure === b.uri.secure && a.uri.user === b.uri.user && a.uri.host.toLowerCase() === b.uri.host.toLowerCase() && a.uri.port === b.uri.port;
}

export class Authenticator {
  private readonly nonces: NonceKeeper;
  private readonly algorithms: readonly DigestAlgorithm[];
  /** compared against when the user does not exist, so that costs what a wrong password costs. */
  private readonly dummy = { MD5: randomBytes(16).toString('hex'), 'SHA-256': randomBytes(32).toString('hex') };
  private readonly bySource = new Map<string, number>();
  private readonly byUser = new Map<string, number>();
  private readonly counts = { challenges: 0, successes: 0, failures: 0, unknownUsers: 0, replays: 0, malformed: 0, stale: 0 };
  private uses = 0;
  /** the users file's HA1s; replaced whole by a reload, so a request sees the old file or the new one. */
  private users: UserStore;
  /** a guesser must not flood the log: per source and kind, the first line then one per 10 s. */
  private readonly warnings: LogLimiter;

  constructor(private readonly opts: AuthenticatorOptions) {
    this.nonces = new NonceKeeper(opts.clock, opts.nonceTtlMs ?? 300_000, opts.maxNonces ?? 10_000);
    this.algorithms = opts.algorithms ?? ALGORITHMS;
    this.users = opts.users;
    this.warnings = new LogLimiter(10_000, 1024, () => opts.clock.now());
  }

  /**
   * A reloaded users file: the next request is checked against it. A removed user's registrations
   * and calls stay (as in Kamailio: nothing is re-checked until the user asks again), and nonces
   * already given out stay valid, so a user whose password did not change is not challenged again.
   */
  setUsers(users: UserStore): void {
    this.users = users;
  }

  get userCount(): number {
    return this.users.size;
  }

  get realm(): string {
    return this.opts.realm;
  }

  /** Checks the request's credentials; on success they are removed from `req` (never forwarded). */
  authenticate(req: SipRequest, source: string, role: AuthRole): AuthVerdict {
    const names = NAMES[role];
    const lines = headerLines(req, names.credentials);
    if (lines.length === 0) return this.challenge(role, false);
    const ours: Credentials[] = [];
    for (const line of lines) {
      const parsed = parseCredentials(line);
      if (!parsed.ok) return this.malformed(req, source, role, undefined, parsed.reason);
      if (parsed.credentials.realm === this.opts.realm) ours.push(parsed.credentials);
    }
    // Credentials for some other realm are not an answer to our challenge: ask for ours.
    if (ours.length === 0) return this.challenge(role, false);
    if (ours.length > 1) return this.malformed(req, source, role, ours[0].username, `several ${names.credentials} headers for realm ${this.opts.realm}`);
    const c = ours[0];
    const alg = knownAlgorithm(c.algorithm);
    if (alg === undefined || !this.algorithms.includes(alg)) return this.fail(req, source, role, c.username, `algorithm ${String(c.algorithm).slice(0, 32)} not offered`);
    if (c.qop?.toLowerCase() !== 'auth') return this.malformed(req, source, role, c.username, 'qop=auth is required');
    if (c.nc === undefined || !/^[0-9a-fA-F]{8}$/.test(c.nc)) return this.malformed(req, source, role, c.username, 'nc must be 8 hex digits');
    if (c.cnonce === undefined || c.cnonce === '') return this.malformed(req, source, role, c.username, 'cnonce missing');
    if (!sameUri(c.uri, req.uri)) return this.malformed(req, source, role, c.username, 'digest uri does not match the Request-URI');
    const nonce = this.nonces.check(c.nonce);
    const stored = this.users.ha1(alg, this.opts.realm, c.username);
    // The same hash and comparison whether or not the user exists (see the class comment).
    const expected = digestResponse(alg, stored ?? this.dummy[alg], { nonce: c.nonce, nc: c.nc, cnonce: c.cnonce, qop: 'auth', method: req.method, uri: c.uri });
    // latin1: one byte per character, so both buffers have the same length whatever was sent.
    const given = Buffer.from(c.response.toLowerCase().padEnd(expected.length, '\0').slice(0, expected.length), 'latin1');
    const right = timingSafeEqual(given, Buffer.from(expected, 'latin1')) && c.response.length === expected.length && stored !== undefined;
    if (stored === undefined) this.counts.unknownUsers++;
    if (!right) return this.fail(req, source, role, c.username, stored === undefined ? 'unknown user' : 'wrong response');
    // A right answer to a nonce we cannot verify was made with the password, on a nonce from before
    // a restart (a new HMAC key): a fresh challenge with stale=true, not a failure to hold against it.
    if (nonce.verdict !== 'fresh' || nonce.issuedMs === undefined) return this.stale(role);
    const used = this.nonces.use(c.nonce, nonce.issuedMs, parseInt(c.nc, 16));
    if (++this.uses % 1000 === 0) {
      this.nonces.sweep();
      this.warnings.sweep();
    }
    if (used === 'stale') return this.stale(role);
    if (used === 'replay') {
      this.counts.replays++;
      return this.fail(req, source, role, c.username, `nonce count ${c.nc} replayed`);
    }
    this.counts.successes++;
    removeHeader(req, names.credentials);
    this.opts.log.debug({ callId: getCallId(req), source, user: c.username, algorithm: alg }, 'authenticated');
    return { kind: 'ok', user: c.username };
  }

  /**
   * Removes credentials for our realm from a request that passed without being checked (a trusted
   * source, an "auth": "none" route): whatever `--copy-headers` says, they never reach leg B.
   */
  stripOwn(req: SipRequest, role: AuthRole): void {
    const name = NAMES[role].credentials;
    const lines = headerLines(req, name);
    const foreign = lines.filter((l) => {
      const p = parseCredentials(l);
      return p.ok && p.credentials.realm !== this.opts.realm;
    });
    if (foreign.length === lines.length) return;
    removeHeader(req, name);
    for (const value of foreign) req.headers.push({ name, value });
  }

  /** A fresh challenge: one per algorithm, strongest first, sharing one nonce. */
  challenge(role: AuthRole, stale: boolean): AuthVerdict {
    this.counts.challenges++;
    const names = NAMES[role];
    const nonce = this.nonces.issue();
    return {
      kind: 'respond',
      status: names.status,
      reason: names.reason,
      headers: this.algorithms.map((a) => ({ name: names.challenge, value: challengeValue(a, this.opts.realm, nonce, stale) })),
    };
  }

  private stale(role: AuthRole): AuthVerdict {
    this.counts.stale++;
    return this.challenge(role, true);
  }

  private count(source: string, user: string | undefined): void {
    this.counts.failures++;
    bump(this.bySource, source);
    if (user !== undefined) bump(this.byUser, user);
    try {
      this.opts.onFailure?.(source, user);
    } catch (err) {
      this.opts.log.warn({ err }, 'auth onFailure callback failed');
    }
  }

  /** A failed attempt: the same fresh challenge whatever the cause, so nothing is learnt from it. */
  private fail(req: SipRequest, source: string, role: AuthRole, user: string, why: string): AuthVerdict {
    this.count(source, user);
    const suppressed = this.warnings.admit(`${source}|failed`);
    if (suppressed !== undefined) this.opts.log.info({ callId: safeCallId(req), source, user: user.slice(0, 64), why, suppressed }, 'authentication failed');
    return this.challenge(role, false);
  }

  private malformed(req: SipRequest, source: string, role: AuthRole, user: string | undefined, why: string): AuthVerdict {
    this.counts.malformed++;
    this.count(source, user);
    const header = NAMES[role].credentials;
    const suppressed = this.warnings.admit(`${source}|malformed`);
    if (suppressed !== undefined) this.opts.log.info({ callId: safeCallId(req), source, why, suppressed }, `unreadable ${header}`);
    return { kind: 'respond', status: 400, reason: `Bad ${header}: ${why.replace(/[^\x20-\x7e]/g, '?').slice(0, 80)}`, headers: [] };
  }

  stats(): AuthStats {
    return { ...this.counts, nonces: this.nonces.stats(), failuresBySource: Object.fromEntries(this.bySource), failuresByUser: Object.fromEntries(this.byUser) };
  }
}

function safeCallId(req: SipRequest): string | undefined {
  try {
    return getCallId(req);
  } catch {
    return undefined;
  }
}
