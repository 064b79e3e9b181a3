import type { SipEndpoint } from '../sip/transport/types.js';

/**
 * One registered contact of an address-of-record (RFC 3261 §10). Plain data only (no class, no
 * Map, no Buffer), so a store can serialise it as JSON: a later store keeps bindings in Redis.
 */
export interface Binding {
  /** the address-of-record, canonical: `sip:user@host` (host lower case, no port or parameters). */
  aor: string;
  /** the Contact URI as the UA wrote it: the Request-URI of a call to this binding. */
  contact: string;
  /** q-value ×1000 (RFC 3261 §20.10: 0–1 with up to three decimals), an integer so it compares exactly. */
  q: number;
  /** absolute expiry, in the registrar clock's milliseconds. */
  expiresAt: number;
  callId: string;
  cseq: number;
  /**
   * Path (RFC 3327) from a trusted source, in order: the route set toward this contact (the first
   * entry is the next hop). Empty when there was none or the source was not trusted.
   */
  path: string[];
  /**
   * Where a request to this contact goes when there is no Path: the transport source of the
   * REGISTER (the flow, RFC 5626 §5.3). Over TCP/TLS/WS that is the connection the UA opened, the
   * only way to reach it behind NAT or in a browser; the binding is dropped when it closes.
   */
  flow: SipEndpoint;
  /** true when `flow` is a connection (TCP/TLS/WS): the binding lives no longer than it. */
  connectionBound: boolean;
  /** user agent text, for operators (truncated). */
  userAgent?: string;
}

/**
 * Where bindings live. Every method returns a Promise so an external store (Redis) can stand in
 * for the in-memory one without changing callers. `put` replaces the binding with the same AOR
 * and contact text. The registrar serialises changes per AOR, so a store needs no transactions.
 */
export interface LocationStore {
  put(binding: Binding): Promise<void>;
  /** live and expired-but-not-yet-swept bindings of `aor`; callers filter by `expiresAt`. */
  get(aor: string): Promise<Binding[]>;
  /** removes one contact of `aor`, or all of them when `contact` is left out; returns how many went. */
  remove(aor: string, contact?: string): Promise<number>;
  /** removes every binding whose `expiresAt` <= now; returns them. */
  expire(now: number): Promise<Binding[]>;
  /** every binding (operators, tests, flow closes). */
  list(): Promise<Binding[]>;
  /** how many bindings there are (the registrar's total limit). */
  size(): Promise<number>;
}

/** The default store: a map of AOR → contact → binding, in this process. */
export class MemoryLocationStore implements LocationStore {
  private readonly byAor = new Map<string, Map<string, Binding>>();
  private count = 0;

  put(binding: Binding): Promise<void> {
    let m = this.byAor.get(binding.aor);
    if (m === undefined) this.byAor.set(binding.aor, (m = new Map()));
    if (!m.has(binding.contact)) this.count++;
    // A copy, so a caller that keeps its object cannot change the store behind its back (as with Redis).
    m.set(binding.contact, structuredClone(binding));
    return Promise.resolve();
  }

  get(aor: string): Promise<Binding[]> {
    return Promise.resolve([...(this.byAor.get(aor)?.values() ?? [])].map((b) => structuredClone(b)));
  }

  remove(aor: string, contact?: string): Promise<number> {
    const m = this.byAor.get(aor);
    if (m === undefined) return Promise.resolve(0);
    let n = 0;
    if (contact === undefined) n = m.size;
    else if (m.delete(contact)) n = 1;
    if (contact === undefined || m.size === 0) this.byAor.delete(aor);
    this.count -= n;
    return Promise.resolve(n);
  }

  expire(now: number): Promise<Binding[]> {
    const gone: Binding[] = [];
    for (const [aor, m] of this.byAor) {
      for (const [contact, b] of m) {
        if (b.expiresAt > now) continue;
        m.delete(contact);
        gone.push(b);
      }
      if (m.size === 0) this.byAor.delete(aor);
    }
    this.count -= gone.length;
    return Promise.resolve(gone);
  }

  list(): Promise<Binding[]> {
    return Promise.resolve([...this.byAor.values()].flatMap((m) => [...m.values()].map((b) => structuredClone(b))));
  }

  size(): Promise<number> {
    return Promise.resolve(this.count);
  }
}
