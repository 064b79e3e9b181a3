import { Resolver } from 'node:dns/promises';
import type { NaptrRecord, RecordWithTtl, SrvRecord } from 'node:dns';
import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';

/**
 * RFC 3263 §4: a SIP URI's hostname → the ordered transport/address/port list to try. NAPTR
 * (SIP+D2U/D2T/D2S) → SRV (_sip._udp, _sip._tcp, _sips._tcp) → A/AAAA; an explicit port skips
 * NAPTR and SRV, an explicit transport skips NAPTR (§4.1, §4.2). Answers are cached (bounded);
 * hostile answers (port 0, target ".", unknown services, regexp NAPTRs, huge sets) are skipped
 * or capped, never trusted, and one resolution stops at a deadline however slow the servers are.
 */
export type DnsTransport = 'udp' | 'tcp' | 'tls';

/** What the URI says; `transport`/`port` only when written in it. */
export interface SipLookup {
  host: string;
  secure: boolean;
  transport?: DnsTransport;
  port?: number;
}

export interface DnsEndpoint {
  protocol: DnsTransport;
  address: string;
  port: number;
}

/** The part of node:dns/promises' Resolver used here (a fake in unit tests). */
export interface DnsBackend {
  resolveNaptr(name: string): Promise<NaptrRecord[]>;
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolve4(name: string, o: { ttl: true }): Promise<RecordWithTtl[]>;
  resolve6(name: string, o: { ttl: true }): Promise<RecordWithTtl[]>;
}

/**
 * The name did not give one usable endpoint; `reason` is for the caller's Warning and the log. It
 * may quote names a DNS server sent: anything but printable ASCII is shown as "?".
 */
export class DnsFailure extends TandemError {
  readonly reason: string;
  constructor(
    readonly host: string,
    reason: string,
  ) {
    const printable = reason.replace(/[^\x20-\x7e]/g, '?');
    super('DNS', `${host} did not resolve: ${printable}`);
    this.reason = printable;
    this.name = 'DnsFailure';
  }
}

export interface DnsCounters {
  queries: number;
  cacheHits: number;
  failures: number;
  /** records dropped as unusable: port 0 or no target, unknown NAPTR service, flags or regexp. */
  skipped: number;
  /** usable records and addresses left out because a name gave more than the caps (maxEndpoints, 3 NAPTR services). */
  capped: number;
  /** resolutions stopped by their deadline (maxResolveMs), with what they had found by then or a DnsFailure. */
  deadlines: number;
}

export interface SipResolverOptions {
  /** `IP[:PORT]` list; undefined = the system's resolvers. */
  servers?: string[];
  /** a fake backend (tests); otherwise a node:dns Resolver on `servers`. */
  backend?: DnsBackend;
  now?: () => number;
  random?: () => number;
  /** cached names (each record type counts once); the oldest goes first. */
  maxCacheEntries?: number;
  /** endpoints one name may expand to (so a hostile zone cannot make one call try thousands). */
  maxEndpoints?: number;
  /** one resolve() waits at most this long in all (every NAPTR, SRV and address query of it); default 10 s. */
  maxResolveMs?: number;
}

/** node:dns gives no TTL for NAPTR/SRV: they and negative answers are kept this long. */
export const RECORD_TTL_MS = 60_000;
/** A call waits this long at most for its target's DNS (a zone of slow SRV targets could otherwise cost minutes). */
export const MAX_RESOLVE_MS = 10_000;
/** SIP services taken from one name's NAPTR set: one per transport we speak. */
const MAX_NAPTR_SERVICES = 3;
const MAX_TTL_MS = 3_600_000;
const NAPTR_SERVICES: Record<string, DnsTransport> = { 'sip+d2u': 'udp', 'sip+d2t': 'tcp', 'sips+d2t': 'tls' };
const SRV_PREFIX: Record<DnsTransport, string> = { udp: '_sip._udp.', tcp: '_sip._tcp.', tls: '_sips._tcp.' };
/** "no such name / no such record": a negative answer, cached; other errors (timeout, refused) are not. */
const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME']);

interface Entry {
  expires: number;
  value: Promise<unknown[]>;
}

/**
 * One resolve() call: its queries race its deadline (once it has passed, a further query is not
 * even sent: it fails at once), and the names that do not exist (NXDOMAIN) are noted for the reason.
 */
interface Run {
  ask<T>(query: () => Promise<T>): Promise<T>;
  nxdomain: Set<string>;
}

/** Negative answers are cached as empty lists; this says which of them was "no such name". */
const NXDOMAIN_ANSWERS = new WeakSet<unknown[]>();

/** RFC 2782 selection within one priority: weight-0 records first, then pick by running sum ≥ random(0..total). */
export function srvOrder<T extends { priority: number; weight: number }>(records: T[], random: () => number): T[] {
  const out: T[] = [];
  for (const p of [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b)) {
    const pool = records.filter((r) => r.priority === p).sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (pool.length > 0) {
      const total = pool.reduce((s, r) => s + r.weight, 0);
      const pick = Math.min(total, Math.floor(random() * (total + 1)));
      let sum = 0;
      let i = pool.findIndex((r) => (sum += r.weight) >= pick);
      if (i < 0) i = pool.length - 1;
      out.push(pool.splice(i, 1)[0]);
    }
  }
  return out;
}

export class SipResolver {
  readonly counters: DnsCounters = { queries: 0, cacheHits: 0, failures: 0, skipped: 0, capped: 0, deadlines: 0 };
  private readonly cache = new Map<string, Entry>();
  private readonly backend: DnsBackend;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly maxCache: number;
  private readonly maxEndpoints: number;
  private readonly maxResolveMs: number;

  constructor(o: SipResolverOptions = {}) {
    if (o.backend !== undefined) this.backend = o.backend;
    else {
      // Two tries of 2 s each: a call waits at most a few seconds for a dead server, not minutes.
      const r = new Resolver({ timeout: 2000, tries: 2 });
      if (o.servers !== undefined) r.setServers(o.servers);
      this.backend = r;
    }
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    this.maxCache = o.maxCacheEntries ?? 1000;
    this.maxEndpoints = o.maxEndpoints ?? 16;
    this.maxResolveMs = o.maxResolveMs ?? MAX_RESOLVE_MS;
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  /** The endpoints to try, in order; a DnsFailure when there is none. */
  async resolve(l: SipLookup): Promise<DnsEndpoint[]> {
    const host = l.host.replace(/^\[|\]$/g, '').replace(/\.$/, '');
    const defaultProtocol: DnsTransport = l.transport ?? (l.secure ? 'tls' : 'udp');
    if (isIP(host) !== 0) return [{ protocol: defaultProtocol, address: host, port: l.port ?? (defaultProtocol === 'tls' ? 5061 : 5060) }];
    let out: DnsEndpoint[];
    let timer: NodeJS.Timeout | undefined;
    let late = false;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        late = true;
        reject(new DnsFailure(host, `no answer within ${this.maxResolveMs} ms`));
      }, this.maxResolveMs);
    });
    expired.catch(() => undefined);
    const run: Run = { ask: (query) => (late ? expired : Promise.race([query(), expired])), nxdomain: new Set() };
    try {
      out = await this.lookup(host, l, defaultProtocol, run);
    } catch (err) {
      this.counters.failures++;
      if (err instanceof DnsFailure) throw err;
      const code = err instanceof Error ? ((err as { code?: string }).code ?? err.message) : String(err);
      // Past the deadline the first error kept (often an earlier ETIMEOUT) is only part of the story.
      throw new DnsFailure(host, late ? `no answer within ${this.maxResolveMs} ms (${code})` : code);
    } finally {
      clearTimeout(timer);
      if (late) this.counters.deadlines++;
    }
    if (out.length === 0) {
      this.counters.failures++;
      const missing = [...run.nxdomain];
      throw new DnsFailure(host, missing.length === 0 ? 'no usable address record' : `no such name (NXDOMAIN): ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}`);
    }
    return out;
  }

  private async lookup(host: string, l: SipLookup, protocol: DnsTransport, run: Run): Promise<DnsEndpoint[]> {
    const defaultPort = protocol === 'tls' ? 5061 : 5060;
    if (l.port !== undefined) return this.addresses(host, protocol, l.port, [], run);
    // §4.1: a transport in the URI skips NAPTR; without one, NAPTR says which transports the domain offers.
    let services: { transport: DnsTransport; name: string }[];
    if (l.transport !== undefined) services = [{ transport: l.transport, name: SRV_PREFIX[l.transport] + host }];
    else {
      services = await this.naptr(host, l.secure, run);
      // §4.1: no NAPTR → an SRV query for each transport we support (sips: only TLS).
      if (services.length === 0) services = (l.secure ? (['tls'] as const) : (['udp', 'tcp'] as const)).map((t) => ({ transport: t, name: SRV_PREFIX[t] + host }));
    }
    const out: DnsEndpoint[] = [];
    let anySrv = false;
    let closed: string | undefined;
    let unusable: string | undefined;
    let error: unknown;
    // One service or SRV target that times out does not sink the others: it is noted and skipped.
    for (const s of services) {
      try {
        const srv = await this.srv(s.name, run);
        if (srv === 'unavailable') {
          closed = s.name;
          anySrv = true;
          continue;
        }
        // §4.2's A fallback is for a name without SRV records: one whose records are all unusable has none to fall back to.
        if (srv.found > 0) anySrv = true;
        if (srv.found > 0 && srv.usable.length === 0) unusable ??= `SRV ${s.name}: ${srv.found} record${srv.found === 1 ? '' : 's'}, none usable (port 0 or no target)`;
        for (const r of srvOrder(srv.usable, this.random)) {
          if (out.length >= this.maxEndpoints) break;
          await this.addresses(r.name, s.transport, r.port, out, run).catch((err: unknown) => (error ??= err));
        }
      } catch (err) {
        error ??= err;
      }
    }
    if (out.length > 0) return out;
    if (closed !== undefined) throw new DnsFailure(host, `SRV ${closed} says the service is not available (".")`);
    if (error !== undefined) throw error;
    if (unusable !== undefined) throw new DnsFailure(host, unusable);
    // §4.2: no SRV at all → the host's own A/AAAA on the default port.
    return anySrv ? out : this.addresses(host, protocol, defaultPort, [], run);
  }

  /** SIP NAPTRs in order/preference: terminal ("s"), no regexp, a service we speak (sips: only SIPS+D2T). */
  private async naptr(host: string, secure: boolean, run: Run): Promise<{ transport: DnsTransport; name: string }[]> {
    const records = (await run.ask(() => this.cached('NAPTR', host, () => this.backend.resolveNaptr(host)))) as NaptrRecord[];
    const out: { transport: DnsTransport; name: string; order: number; preference: number }[] = [];
    for (const r of records) {
      const transport = NAPTR_SERVICES[String(r.service).toLowerCase()];
      const ok = transport !== undefined && (!secure || transport === 'tls') && String(r.flags).toLowerCase() === 's' && r.regexp === '' && r.replacement !== '' && r.replacement !== '.';
      if (!ok) {
        this.counters.skipped++;
        continue;
      }
      out.push({ transport, name: r.replacement.replace(/\.$/, ''), order: r.order, preference: r.preference });
    }
    out.sort((a, b) => a.order - b.order || a.preference - b.preference);
    // One SRV lookup per transport: a zone listing the same service many times gets one try.
    const seen = new Set<string>();
    const distinct = out.filter((r) => !seen.has(r.transport + r.name) && seen.add(r.transport + r.name));
    this.counters.capped += Math.max(0, distinct.length - MAX_NAPTR_SERVICES);
    return distinct.slice(0, MAX_NAPTR_SERVICES);
  }

  /**
   * The usable SRV records (at most maxEndpoints, best priorities first) and how many records there
   * were, or 'unavailable' for the lone "." of RFC 2782. Port 0 and a "." among others are skipped.
   */
  private async srv(name: string, run: Run): Promise<{ found: number; usable: SrvRecord[] } | 'unavailable'> {
    const records = (await run.ask(() => this.cached('SRV', name, () => this.backend.resolveSrv(name)))) as SrvRecord[];
    if (records.length === 1 && (records[0].name === '' || records[0].name === '.')) return 'unavailable';
    const usable = records.filter((r) => Number.isInteger(r.port) && r.port > 0 && r.port <= 65535 && r.name !== '' && r.name !== '.');
    this.counters.skipped += records.length - usable.length;
    this.counters.capped += Math.max(0, usable.length - this.maxEndpoints);
    return { found: records.length, usable: usable.sort((a, b) => a.priority - b.priority).slice(0, this.maxEndpoints) };
  }

  /** A then AAAA of `name`, appended to `out` (up to the cap); one family failing is fine if the other answers. */
  private async addresses(name: string, protocol: DnsTransport, port: number, out: DnsEndpoint[], run: Run): Promise<DnsEndpoint[]> {
    const host = name.replace(/\.$/, '');
    const push = (address: string): void => {
      if (out.length < this.maxEndpoints && !out.some((e) => e.address === address && e.port === port && e.protocol === protocol)) out.push({ protocol, address, port });
      else if (out.length >= this.maxEndpoints) this.counters.capped++;
    };
    if (isIP(host) !== 0) return (push(host), out);
    const errors: unknown[] = [];
    for (const type of ['A', 'AAAA'] as const) {
      try {
        const recs = (await run.ask(() => this.cached(type, host, () => (type === 'A' ? this.backend.resolve4(host, { ttl: true }) : this.backend.resolve6(host, { ttl: true }))))) as RecordWithTtl[];
        if (NXDOMAIN_ANSWERS.has(recs)) run.nxdomain.add(host);
        for (const r of recs) push(r.address);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 2) throw errors[0];
    return out;
  }

  /** One query per name and type at a time; answers kept by TTL, negative answers for RECORD_TTL_MS. */
  private cached(type: string, name: string, query: () => Promise<unknown[]>): Promise<unknown[]> {
    const key = `${type} ${name.toLowerCase()}`;
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.expires > now) {
      this.counters.cacheHits++;
      return hit.value;
    }
    this.cache.delete(key);
    this.counters.queries++;
    const entry: Entry = { expires: Infinity, value: Promise.resolve([]) };
    entry.value = query().then(
      (records) => {
        const ttls = records.map((r) => (r as Partial<RecordWithTtl>).ttl).filter((t): t is number => typeof t === 'number');
        entry.expires = this.now() + (ttls.length > 0 ? Math.min(MAX_TTL_MS, Math.min(...ttls) * 1000) : RECORD_TTL_MS);
        return records;
      },
      (err: unknown) => {
        const code = (err as { code?: string } | undefined)?.code;
        if (code !== undefined && NEGATIVE.has(code)) {
          entry.expires = this.now() + RECORD_TTL_MS;
          const none: unknown[] = [];
          // c-ares says ENOTFOUND for NXDOMAIN (the name does not exist), ENODATA for a name without that record type.
          if (code === 'ENOTFOUND' || code === 'NXDOMAIN') NXDOMAIN_ANSWERS.add(none);
          return none;
        }
        if (this.cache.get(key) === entry) this.cache.delete(key);
        throw err;
      },
    );
    if (this.cache.size >= this.maxCache) {
      for (const [k, e] of this.cache) if (e.expires <= now) this.cache.delete(k);
      while (this.cache.size >= this.maxCache) this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(key, entry);
    return entry.value;
  }
}
