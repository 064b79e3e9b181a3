import { TandemError } from '../common/errors.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { createRequest, newBranch, newCallId, newTag } from '../sip/build.js';
import { getContacts, getHeader, type SipHeader, type SipRequest, type SipResponse } from '../sip/message.js';
import { parseUri } from '../sip/uri.js';
import type { DnsEndpoint, SipLookup } from '../sip/dns.js';
import type { SipEndpoint, SipSender, TransportProtocol } from '../sip/transport/types.js';
import type { TransactionApi } from './sip-context.js';
import { parseTargetAuth, sendWithAuth, UacAuth, type UacAuthStats, type UacCredentials } from './uac-auth.js';
import { parseTargetUri } from './target-uri.js';

/**
 * Tandem registering at a provider (RFC 3261 §10.2, as a UAC): one REGISTER per routes-file
 * `registrations` entry, with a stable Call-ID and increasing CSeq, answered challenges (uac-auth.ts),
 * refreshed at 80 % of the granted expires, retried with exponential backoff after a failure, and
 * removed (expires=0) on close. Our Contact user is the registration's `name`: the provider sends
 * its calls to that contact, so a route matching that Request-URI user takes them (README
 * "Outbound registration").
 */

export interface RegistrationConfig {
  /** our Contact user: a route matching this Request-URI user takes the provider's calls. */
  name: string;
  registrar: string;
  endpoint: SipEndpoint;
  /** set when the registrar is a host name: resolved (RFC 3263) at each attempt. */
  lookup?: SipLookup;
  aor: string;
  auth?: UacCredentials;
  /** seconds asked for (default 3600). */
  expires: number;
}

const NAME = /^[A-Za-z0-9._~+-]{1,64}$/;

/** The routes file's `registrations` list; errors name the key like the rest of routes.ts. */
export function parseRegistrations(file: string, v: unknown): RegistrationConfig[] {
  if (v === undefined) return [];
  const fail = (path: string, msg: string): never => {
    throw new TandemError('CONFIG', `${file}: ${path}: ${msg}`);
  };
  if (!Array.isArray(v)) return fail('registrations', 'must be a list');
  const seen = new Set<string>();
  return v.map((e: unknown, i: number): RegistrationConfig => {
    const path = `registrations[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return fail(path, 'must be an object with "registrar" and "aor"');
    const o = e as Record<string, unknown>;
    const keys = ['name', 'registrar', 'aor', 'auth', 'expires'];
    for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${path}.${k}`, `unknown key (expected one of ${keys.join(', ')})`);
    if (typeof o.registrar !== 'string' || o.registrar.trim() === '') return fail(`${path}.registrar`, 'must be a SIP URI such as "sip:provider.example:5060"');
    const target = parseTargetUri(o.registrar, `${file}: ${path}.registrar`, { dns: true });
    if (typeof o.aor !== 'string') return fail(`${path}.aor`, 'must be a SIP URI such as "sip:user@provider.example"');
    const aor = parseUri(o.aor.trim());
    if (!aor.ok || aor.uri.type !== 'sip' || aor.uri.user === undefined) return fail(`${path}.aor`, `"${o.aor}" is not a sip: URI with a user`);
    let name = aor.uri.user;
    if (o.name !== undefined) {
      if (typeof o.name !== 'string') return fail(`${path}.name`, 'must be a string');
      name = o.name;
    }
    if (!NAME.test(name)) fail(`${path}.name`, `"${name.slice(0, 64)}" is not usable as a Contact user (letters, digits, . _ ~ + -; at most 64)`);
    if (seen.has(name)) fail(`${path}.name`, `"${name}" is used by another registration (names must be unique)`);
    seen.add(name);
    let expires = 3600;
    if (o.expires !== undefined) {
      if (typeof o.expires !== 'number' || !Number.isInteger(o.expires) || o.expires < 1 || o.expires > 86400) fail(`${path}.expires`, 'must be a whole number of seconds 1–86400');
      expires = o.expires as number;
    }
    return {
      name,
      registrar: target.uri,
      endpoint: target.endpoint,
      ...(target.lookup !== undefined ? { lookup: target.lookup } : {}),
      aor: o.aor.trim(),
      ...(o.auth !== undefined ? { auth: parseTargetAuth(file, `${path}.auth`, o.auth) } : {}),
      expires,
    };
  });
}

/** When to refresh a binding granted for `grantedS` seconds: at 80 % (at least 1 s from now). */
export function refreshDelayMs(grantedS: number): number {
  return Math.max(1000, Math.floor(grantedS * 800));
}

export interface Backoff {
  firstMs: number;
  maxMs: number;
}
export const DEFAULT_BACKOFF: Backoff = { firstMs: 30_000, maxMs: 30 * 60_000 };

/** The wait after the `failures`-th failure in a row (1-based): first, doubling, capped at max. */
export function retryDelayMs(failures: number, b: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(b.maxMs, b.firstMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

export type RegistrationState = 'idle' | 'registering' | 'registered' | 'failed' | 'closed';

export interface RegistrationStats {
  attempts: number;
  registered: number;
  failed: number;
  unregistered: number;
  /** challenges answered / refused. */
  auth: UacAuthStats;
  registrations: { name: string; state: RegistrationState; lastStatus?: number; nextAttemptInMs?: number }[];
}

export interface OutboundRegistrarOptions {
  registrations: readonly RegistrationConfig[];
  transactions: Pick<TransactionApi, 'sendRequest'>;
  sender: Pick<SipSender, 'localEndpoint'>;
  resolver?: { resolve(l: SipLookup): Promise<DnsEndpoint[]> };
  clock: Clock;
  log: Logger;
  userAgent?: string;
  backoff?: Backoff;
  /** how long close() waits for the expires=0 answers (default 2 s). */
  closeWaitMs?: number;
}

interface Entry {
  cfg: RegistrationConfig;
  callId: string;
  fromTag: string;
  cseq: number;
  auth: UacAuth | undefined;
  state: RegistrationState;
  failures: number;
  /** seconds we ask for: the configured expires, raised by a 423's Min-Expires for the rest of our life. */
  asking: number;
  /** a 2xx has been seen: the registrar may hold our binding even while a refresh fails. */
  bound: boolean;
  lastStatus?: number;
  timer?: TimerHandle;
  nextAt?: number;
  destination?: SipEndpoint;
}

export class OutboundRegistrar {
  private readonly entries: Entry[];
  private readonly counters = { attempts: 0, registered: 0, failed: 0, unregistered: 0 };
  private readonly authStats: UacAuthStats = { answered: 0, refused: 0 };
  private closed = false;

  constructor(private readonly o: OutboundRegistrarOptions) {
    this.entries = o.registrations.map((cfg) => ({
      cfg,
      callId: newCallId('tandem'),
      fromTag: newTag(),
      cseq: 0,
      auth: cfg.auth !== undefined ? new UacAuth(cfg.auth) : undefined,
      state: 'idle',
      failures: 0,
      asking: cfg.expires,
      bound: false,
    }));
  }

  start(): void {
    for (const e of this.entries) void this.attempt(e, e.asking);
  }

  stats(): RegistrationStats {
    const now = this.o.clock.now();
    return {
      ...this.counters,
      auth: { ...this.authStats },
      registrations: this.entries.map((e) => ({
        name: e.cfg.name,
        state: e.state,
        ...(e.lastStatus !== undefined ? { lastStatus: e.lastStatus } : {}),
        ...(e.nextAt !== undefined ? { nextAttemptInMs: Math.max(0, Math.round(e.nextAt - now)) } : {}),
      })),
    };
  }

  /** Removes our bindings (expires=0), waiting at most closeWaitMs for the answers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waits: Promise<void>[] = [];
    for (const e of this.entries) {
      e.timer?.cancel();
      e.nextAt = undefined;
      const was = e.state;
      e.state = 'closed';
      // In flight, the REGISTER may yet bind us; expires=0 on the same Call-ID with a higher CSeq undoes it.
      if (!(e.bound || was === 'registering') || e.destination === undefined) continue;
      const dest = e.destination;
      waits.push(
        new Promise<void>((done) => {
          const t = this.o.clock.setTimer(this.o.closeWaitMs ?? 2000, done);
          const end = (status: number): void => {
            t.cancel();
            if (status >= 200 && status < 300) this.counters.unregistered++;
            this.o.log.info({ registration: e.cfg.name, status }, 'outbound registration removed');
            done();
          };
          this.send(e, 0, dest, { onFinal: (res) => end(res.status), onTimeout: () => end(408), onTransportError: () => end(503) });
        }),
      );
    }
    await Promise.all(waits);
  }

  private async attempt(e: Entry, expires: number): Promise<void> {
    if (this.closed) return;
    e.state = 'registering';
    e.nextAt = undefined;
    this.counters.attempts++;
    let dest = e.cfg.endpoint;
    if (e.cfg.lookup !== undefined) {
      try {
        if (this.o.resolver === undefined) throw new Error('no resolver');
        const found = await this.o.resolver.resolve(e.cfg.lookup);
        const first = found[0];
        if (first === undefined) throw new Error('no address');
        // TLS checks the certificate against the name we looked up (RFC 5922 §4).
        dest = { protocol: first.protocol, address: first.address, port: first.port, ...(first.protocol === 'tls' ? { serverName: e.cfg.lookup.host } : {}) };
      } catch (err) {
        if (this.closed) return;
        this.o.log.warn({ registration: e.cfg.name, err }, 'outbound registration: the registrar could not be resolved');
        this.failed(e, 503);
        return;
      }
      if (this.closed) return;
    }
    e.destination = dest;
    this.send(e, expires, dest, {
      onFinal: (res) => this.onFinal(e, expires, res),
      onTimeout: () => this.failed(e, 408),
      onTransportError: () => this.failed(e, 503),
    });
  }

  private send(e: Entry, expires: number, dest: SipEndpoint, h: { onFinal(res: SipResponse): void; onTimeout(): void; onTransportError(err: Error): void }): void {
    sendWithAuth({
      auth: e.auth,
      build: (extra) => this.build(e, expires, dest.protocol, extra),
      send: (req, handler) => void this.o.transactions.sendRequest(req, dest, handler),
      handler: h,
      log: this.o.log.child({ registration: e.cfg.name }),
      stats: this.authStats,
    });
  }

  private contactUri(protocol: TransportProtocol): string {
    const local = this.o.sender.localEndpoint(protocol);
    const host = local.address.includes(':') ? `[${local.address}]` : local.address;
    return `sip:%NAME%@${host}:${local.port}${protocol === 'udp' ? '' : `;transport=${protocol}`}`;
  }

  private build(e: Entry, expires: number, protocol: TransportProtocol, extra: SipHeader[]): SipRequest {
    const local = this.o.sender.localEndpoint(protocol);
    const host = local.address.includes(':') ? `[${local.address}]` : local.address;
    e.cseq++;
    const headers: SipHeader[] = [
      { name: 'Via', value: `SIP/2.0/${protocol.toUpperCase()} ${host}:${local.port};branch=${newBranch()};rport` },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<${e.cfg.aor}>;tag=${e.fromTag}` },
      { name: 'To', value: `<${e.cfg.aor}>` },
      { name: 'Call-ID', value: e.callId },
      { name: 'CSeq', value: `${e.cseq} REGISTER` },
      { name: 'Contact', value: `<${this.contactUri(protocol).replace('%NAME%', e.cfg.name)}>;expires=${expires}` },
      { name: 'Expires', value: String(expires) },
      ...(this.o.userAgent !== undefined ? [{ name: 'User-Agent', value: this.o.userAgent }] : []),
      ...extra,
      { name: 'Content-Length', value: '0' },
    ];
    return createRequest('REGISTER', e.cfg.registrar, headers);
  }

  private onFinal(e: Entry, asked: number, res: SipResponse): void {
    if (this.closed) return;
    e.lastStatus = res.status;
    if (res.status >= 200 && res.status < 300) {
      const granted = grantedExpires(res, e.cfg.name, asked);
      e.failures = 0;
      e.bound = true;
      e.state = 'registered';
      this.counters.registered++;
      this.schedule(e, refreshDelayMs(granted), e.asking);
      this.o.log.info({ registration: e.cfg.name, status: res.status, expires: granted, nextAttemptInMs: refreshDelayMs(granted) }, 'outbound registration registered');
      return;
    }
    const min = Number(getHeader(res, 'Min-Expires'));
    // 423: the registrar wants a longer interval (§10.2.8); ask again at once with its minimum, once.
    if (res.status === 423 && Number.isInteger(min) && min > asked && min <= 86400) {
      this.o.log.info({ registration: e.cfg.name, minExpires: min }, 'outbound registration: interval too brief; asking again with Min-Expires');
      e.asking = min;
      void this.attempt(e, min);
      return;
    }
    this.failed(e, res.status);
  }

  private failed(e: Entry, status: number): void {
    if (this.closed) return;
    e.lastStatus = status;
    e.failures++;
    e.state = 'failed';
    this.counters.failed++;
    const wait = retryDelayMs(e.failures, this.o.backoff);
    this.schedule(e, wait, e.asking);
    this.o.log.warn({ registration: e.cfg.name, status, failures: e.failures, nextAttemptInMs: wait }, 'outbound registration failed');
  }

  private schedule(e: Entry, ms: number, expires: number): void {
    e.timer?.cancel();
    e.nextAt = this.o.clock.now() + ms;
    e.timer = this.o.clock.setTimer(ms, () => void this.attempt(e, expires));
  }
}

/** The expires the registrar granted our binding: our Contact's `expires` param, else Expires, else what we asked. */
export function grantedExpires(res: SipResponse, name: string, asked: number): number {
  const contacts = getContacts(res);
  if (contacts !== '*') {
    const ours = contacts.find((c) => c.uri.type === 'sip' && c.uri.user === name);
    const p = ours?.params.find((x) => x.name.toLowerCase() === 'expires')?.value;
    if (p !== undefined && p !== null && /^\d{1,10}$/.test(p)) return Number(p);
  }
  const h = getHeader(res, 'Expires');
  if (h !== undefined && /^\d{1,10}$/.test(h.trim())) return Number(h.trim());
  return asked;
}
