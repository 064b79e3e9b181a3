import type { Logger } from '../common/log.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import { getUserAgent, headerValues, type SipHeader, type SipRequest } from '../sip/message.js';
import { parseNameAddr } from '../sip/headers.js';
import { parseUri, uriEquals } from '../sip/uri.js';
import { isReliable, type SipEndpoint } from '../sip/transport/types.js';
import { MemoryLocationStore, type Binding, type LocationStore } from './location.js';
import { BindingSlots, type RegistrationLimiter } from './registrar-slots.js';
import { aorKey, formatQ, parseRegister, type ParsedRegister, type Refusal, type RequestedContact } from './registrar-contacts.js';

/**
 * What the registrar needs of digest authentication (src/edge/auth*, built beside this): either
 * the authenticated user, or the response to send instead (a 401 with its challenge, a 403…).
 */
export type AuthVerdict = { ok: true; user: string } | { ok: false; status: number; reason: string; headers?: SipHeader[] };

export interface RegisterAuthorizer {
  authorize(req: SipRequest, source: SipEndpoint): AuthVerdict | Promise<AuthVerdict>;
}

export interface RegistrarLimits {
  /** shortest interval granted; a shorter nonzero request gets 423 with Min-Expires (§10.3 step 7). */
  minExpires: number;
  /** longest interval granted; a longer request is shortened to it. */
  maxExpires: number;
  /** interval when the REGISTER names none. */
  defaultExpires: number;
  /** up to this fraction is taken off a granted interval at random, so refreshes spread out. */
  expiryJitter: number;
  /** contacts per AOR; a REGISTER that would exceed it is refused 403 (the existing ones stay). */
  maxBindingsPerAor: number;
  /** bindings in all; a REGISTER that would exceed it is refused 503 with Retry-After. */
  maxBindings: number;
  maxContacts: number;
  maxContactLength: number;
}

export const REGISTRAR_DEFAULTS: RegistrarLimits = {
  minExpires: 60,
  maxExpires: 3600,
  defaultExpires: 3600,
  expiryJitter: 0.1,
  maxBindingsPerAor: 10,
  maxBindings: 100_000,
  maxContacts: 20,
  maxContactLength: 2048,
};

export interface RegistrarOptions {
  limits?: Partial<RegistrarLimits>;
  store?: LocationStore;
  clock: Clock;
  log: Logger;
  /** the `--trusted` list: Path is kept only from these, and without an authorizer only they may register. */
  isTrusted: (address: string) => boolean;
  authorizer?: RegisterAuthorizer;
  /** [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  /** how often expired bindings are swept from the store (lookups ignore them anyway); 0 = never. */
  sweepMs?: number;
  /** `--max-registrations-per-source` (edge.sourceLimits): one slot per binding, of the source that made it. */
  sourceLimits?: RegistrationLimiter;
}

export interface RegistrarCounters {
  registers: number;
  /** 200 OK to a REGISTER (queries included). */
  accepted: number;
  created: number;
  refreshed: number;
  /** bindings removed by expires=0 or a wildcard. */
  removed: number;
  expired: number;
  /** bindings dropped because their TCP/TLS/WS connection closed. */
  flowClosed: number;
  malformed: number;
  tooBrief: number;
  /** refused: untrusted source without authentication, or AOR user ≠ authenticated user. */
  forbidden: number;
  /** answered by the authorizer (401 challenge or its own refusal). */
  challenged: number;
  outOfOrder: number;
  aorLimit: number;
  totalLimit: number;
  /** refused 403: the source already holds --max-registrations-per-source bindings. */
  sourceLimit: number;
  /** Path headers dropped because the source was not trusted. */
  pathIgnored: number;
}

export interface RegisterReply {
  status: number;
  reason: string;
  headers: SipHeader[];
}

/**
 * The registrar (RFC 3261 §10.3) over a LocationStore. Changes to one AOR run one at a time (a
 * promise chain per AOR), so the read-check-write of a REGISTER never interleaves with another's
 * even when the store is remote.
 */
export class Registrar {
  readonly limits: RegistrarLimits;
  readonly store: LocationStore;
  readonly counters: RegistrarCounters = {
    registers: 0, accepted: 0, created: 0, refreshed: 0, removed: 0, expired: 0, flowClosed: 0, malformed: 0,
    tooBrief: 0, forbidden: 0, challenged: 0, outOfOrder: 0, aorLimit: 0, totalLimit: 0, sourceLimit: 0, pathIgnored: 0,
  };
  private readonly chains = new Map<string, Promise<unknown>>();
  /**
   * flow → the (AOR, contact) pairs registered over it, so a closing connection costs a look at its
   * own bindings, not a scan of the store. Entries may be stale (re-registered elsewhere, removed):
   * each is checked against the store before anything is removed, and the set goes with the flow.
   */
  private readonly byFlow = new Map<string, Map<string, { aor: string; contact: string }>>();
  private sweeper: TimerHandle | undefined;
  private readonly random: () => number;
  private readonly slots: BindingSlots;

  constructor(private readonly opts: RegistrarOptions) {
    this.limits = { ...REGISTRAR_DEFAULTS, ...opts.limits };
    this.store = opts.store ?? new MemoryLocationStore();
    this.random = opts.random ?? Math.random;
    this.slots = new BindingSlots(opts.sourceLimits);
    this.scheduleSweep();
  }

  /** Serialises `fn` behind every earlier change of `aor`. */
  private serial<T>(aor: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(aor) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(aor, tail);
    void tail.then(() => {
      if (this.chains.get(aor) === tail) this.chains.delete(aor);
    });
    return next;
  }

  private refuse(r: Refusal, counter: keyof RegistrarCounters): RegisterReply {
    this.counters[counter]++;
    return { status: r.status, reason: r.reason, headers: r.headers ?? [] };
  }

  /** A REGISTER in, the response out (never throws on peer input). */
  async handle(req: SipRequest, source: SipEndpoint): Promise<RegisterReply> {
    this.counters.registers++;
    const parsed = parseRegister(req, this.limits);
    if (!parsed.ok) return this.refuse(parsed.refusal, 'malformed');
    const reg = parsed.value;
    // §10.3 steps 4–5: who may touch this AOR.
    if (this.opts.authorizer !== undefined) {
      const verdict = await this.opts.authorizer.authorize(req, source);
      if (!verdict.ok) return this.refuse(verdict, 'challenged');
      if (verdict.user !== reg.user) return this.refuse({ status: 403, reason: 'AOR Does Not Match Authenticated User' }, 'forbidden');
    } else if (!this.opts.isTrusted(source.address)) {
      // Secure by default: without authentication only the --trusted networks may register.
      return this.refuse({ status: 403, reason: 'Registration Only From Trusted Sources' }, 'forbidden');
    }
    const path: string[] = [];
    const pathValues = headerValues(req, 'Path');
    if (pathValues.length > 0) {
      if (!this.opts.isTrusted(source.address)) {
        this.counters.pathIgnored++;
        this.opts.log.info({ callId: reg.callId, source: source.address }, 'Path from an untrusted source ignored');
      } else {
        for (const v of pathValues) {
          const na = parseNameAddr(v, 'Path');
          if (!na.ok) return this.refuse({ status: 400, reason: `Malformed Path: ${na.reason}` }, 'malformed');
          path.push(na.value.uriText);
        }
      }
    }
    if (path.length > MAX_PATH) return this.refuse({ status: 400, reason: `More Than ${MAX_PATH} Path Entries` }, 'malformed');
    return this.serial(reg.aor, () => this.apply(req, reg, source, path));
  }

  private expiryOf(c: RequestedContact, reg: ParsedRegister): number {
    return c.expires ?? reg.expires ?? this.limits.defaultExpires;
  }

  /** The granted interval: capped at the maximum, then up to `expiryJitter` of it taken off (not below the minimum). */
  private grant(requested: number): number {
    const capped = Math.min(requested, this.limits.maxExpires);
    const cut = Math.floor(capped * this.limits.expiryJitter * this.random());
    return Math.max(this.limits.minExpires, capped - cut);
  }

  private async apply(req: SipRequest, reg: ParsedRegister, source: SipEndpoint, path: string[]): Promise<RegisterReply> {
    const now = this.opts.clock.now();
    const all = await this.store.get(reg.aor);
    // An expired binding no longer counts against its source, even before the sweep removes it.
    for (const b of all) if (b.expiresAt <= now) this.slots.release(BindingSlots.key(b.aor, b.contact));
    const current = all.filter((b) => b.expiresAt > now);
    if (reg.request.kind === 'wildcard') {
      // §10.3 step 6: a binding this Call-ID made with a newer CSeq stays.
      for (const b of current) {
        if (b.callId === reg.callId && b.cseq >= reg.cseq) continue;
        this.counters.removed += await this.store.remove(reg.aor, b.contact);
        this.slots.release(BindingSlots.key(reg.aor, b.contact));
      }
      this.opts.log.info({ callId: reg.callId, aor: reg.aor, source: source.address }, 'all bindings removed');
      return this.ok(reg.aor, now, []);
    }
    if (reg.request.kind === 'query') return this.ok(reg.aor, now, path);
    const asked = reg.request.contacts;
    // §10.3 step 7: every check before any change, so a refused REGISTER changes nothing.
    const tooBrief = asked.some((c) => {
      const e = this.expiryOf(c, reg);
      return e > 0 && e < this.limits.minExpires;
    });
    if (tooBrief)
      return this.refuse({ status: 423, reason: 'Interval Too Brief', headers: [{ name: 'Min-Expires', value: String(this.limits.minExpires) }] }, 'tooBrief');
    const changes: { contact: RequestedContact; existing: Binding | undefined; expires: number }[] = [];
    for (const [i, c] of asked.entries()) {
      const u = parseUri(c.uri);
      // The same contact twice in one REGISTER: the last one counts (one binding, counted once).
      if (asked.slice(i + 1).some((later) => sameUri(later.uri, c.uri))) continue;
      const existing = u.ok ? current.find((b) => sameUri(b.contact, c.uri)) : undefined;
      if (existing !== undefined && existing.callId === reg.callId && existing.cseq >= reg.cseq)
        return this.refuse({ status: 400, reason: 'Out-of-Order CSeq' }, 'outOfOrder');
      changes.push({ contact: c, existing, expires: this.expiryOf(c, reg) });
    }
    const adding = changes.filter((c) => c.existing === undefined && c.expires > 0).length;
    const removing = changes.filter((c) => c.existing !== undefined && c.expires === 0).length;
    if (adding > 0 && current.length - removing + adding > this.limits.maxBindingsPerAor)
      return this.refuse({ status: 403, reason: `More Than ${this.limits.maxBindingsPerAor} Bindings For This AOR` }, 'aorLimit');
    if (adding > 0 && (await this.store.size()) + adding > this.limits.maxBindings) {
      this.opts.log.warn({ callId: reg.callId, aor: reg.aor, maxBindings: this.limits.maxBindings }, 'registrar full: REGISTER refused');
      return this.refuse({ status: 503, reason: 'Registrar Full', headers: [{ name: 'Retry-After', value: '300' }] }, 'totalLimit');
    }
    const keep = changes.filter((c) => c.expires > 0).map((c) => BindingSlots.key(reg.aor, c.existing?.contact ?? c.contact.uri));
    const slots = this.slots.reserve(keep, source.address);
    if (slots === undefined) {
      this.opts.log.info({ callId: reg.callId, aor: reg.aor, source: source.address }, 'REGISTER refused: source holds its --max-registrations-per-source');
      return this.refuse({ status: 403, reason: 'Too Many Registrations From This Source' }, 'sourceLimit');
    }
    try {
      await this.change(req, reg, source, path, changes, now, slots.commit);
    } finally {
      slots.cancel();
    }
    this.opts.log.info({ callId: reg.callId, aor: reg.aor, source: `${source.protocol}:${source.address}:${source.port}`, contacts: changes.length }, 'REGISTER accepted');
    return this.ok(reg.aor, now, path);
  }

  /** Writes the checked changes of one REGISTER; `commit` moves each kept binding's slot to its source. */
  private async change(
    req: SipRequest,
    reg: ParsedRegister,
    source: SipEndpoint,
    path: string[],
    changes: { contact: RequestedContact; existing: Binding | undefined; expires: number }[],
    now: number,
    commit: (key: string) => void,
  ): Promise<void> {
    const flowBound = isReliable(source.protocol);
    const ua = getUserAgent(req)?.slice(0, 128);
    for (const ch of changes) {
      if (ch.expires === 0) {
        if (ch.existing !== undefined) {
          this.counters.removed += await this.store.remove(reg.aor, ch.existing.contact);
          this.slots.release(BindingSlots.key(reg.aor, ch.existing.contact));
        }
        continue;
      }
      const binding: Binding = {
        aor: reg.aor,
        contact: ch.existing?.contact ?? ch.contact.uri,
        q: ch.contact.q,
        expiresAt: now + this.grant(ch.expires) * 1000,
        callId: reg.callId,
        cseq: reg.cseq,
        path,
        flow: { ...source },
        connectionBound: flowBound,
        ...(ua !== undefined ? { userAgent: ua } : {}),
      };
      await this.store.put(binding);
      commit(BindingSlots.key(binding.aor, binding.contact));
      if (flowBound) this.remember(source, binding);
      if (ch.existing === undefined) this.counters.created++;
      else this.counters.refreshed++;
    }
  }

  /** 200 OK listing every current binding with its remaining time (§10.3 step 8). */
  private async ok(aor: string, now: number, path: string[]): Promise<RegisterReply> {
    this.counters.accepted++;
    const live = sortByQ((await this.store.get(aor)).filter((b) => b.expiresAt > now));
    const headers: SipHeader[] = live.map((b) => ({
      name: 'Contact',
      value: `<${b.contact}>;expires=${Math.max(0, Math.ceil((b.expiresAt - now) / 1000))};q=${formatQ(b.q)}`,
    }));
    // RFC 3327 §5.3: the Path the registrar stored goes back, so the UA learns its route set.
    for (const p of path) headers.push({ name: 'Path', value: `<${p}>` });
    headers.push({ name: 'Date', value: new Date().toUTCString() });
    return { status: 200, reason: 'OK', headers };
  }

  /** The live bindings of the AOR `user@host`, highest q first (a call's targets). */
  async lookup(user: string, host: string): Promise<Binding[]> {
    const now = this.opts.clock.now();
    return sortByQ((await this.store.get(aorKey(user, host))).filter((b) => b.expiresAt > now));
  }

  private remember(flow: SipEndpoint, b: Binding): void {
    const key = flowKey(flow);
    let m = this.byFlow.get(key);
    if (m === undefined) this.byFlow.set(key, (m = new Map()));
    m.set(`${b.aor}\n${b.contact}`, { aor: b.aor, contact: b.contact });
  }

  /** A TCP/TLS/WS connection closed: the bindings it carried cannot be reached any more. */
  async flowClosed(remote: SipEndpoint): Promise<void> {
    const key = flowKey(remote);
    const entries = this.byFlow.get(key);
    if (entries === undefined) return;
    this.byFlow.delete(key);
    for (const { aor, contact } of entries.values()) {
      const removed = await this.serial(aor, async () => {
        // Still bound to this flow? The UA may have registered the contact again over a new connection.
        const b = (await this.store.get(aor)).find((x) => x.contact === contact);
        if (b === undefined || !b.connectionBound || flowKey(b.flow) !== key) return 0;
        return this.store.remove(aor, contact);
      });
      if (removed === 0) continue;
      this.slots.release(BindingSlots.key(aor, contact));
      this.counters.flowClosed++;
      this.opts.log.info({ aor, contact, flow: key }, 'binding removed: its connection closed');
    }
  }

  /** Removes expired bindings from the store. */
  async sweep(): Promise<void> {
    const gone = await this.store.expire(this.opts.clock.now());
    for (const b of gone) this.slots.release(BindingSlots.key(b.aor, b.contact));
    this.counters.expired += gone.length;
  }

  private scheduleSweep(): void {
    const every = this.opts.sweepMs ?? 30_000;
    if (every <= 0) return;
    this.sweeper = this.opts.clock.setTimer(every, () => {
      this.sweep()
        .catch((err: unknown) => this.opts.log.warn({ err }, 'location sweep failed'))
        .finally(() => {
          if (this.sweeper !== undefined) this.scheduleSweep();
        });
    });
  }

  close(): void {
    this.sweeper?.cancel();
    this.sweeper = undefined;
    this.slots.clear();
  }
}

function sortByQ(bs: Binding[]): Binding[] {
  return bs.sort((a, b) => b.q - a.q);
}

/** RFC 3261 §19.1.4 equality of two URI texts (false when either does not parse). */
function sameUri(a: string, b: string): boolean {
  const x = parseUri(a);
  const y = parseUri(b);
  return x.ok && y.ok && uriEquals(x.uri, y.uri);
}

function flowKey(e: SipEndpoint): string {
  return `${e.protocol}:${e.address}:${e.port}`;
}

/** Path entries kept at most (RFC 3327 sets no limit; a real chain of proxies is short). */
const MAX_PATH = 10;
