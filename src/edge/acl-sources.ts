/** What a source holds at once: calls through the B2BUA, bindings at the registrar. */
export type SourceResource = 'call' | 'registration';

export interface SourceLimitOptions {
  /** concurrent calls one source IP may have (0 = no limit). */
  maxCallsPerSource: number;
  /** registrations (bindings) one source IP may hold (0 = no limit); read by the registrar. */
  maxRegistrationsPerSource: number;
  /** trusted sources (proxies, trunks, PBXs carrying many users) are not limited. */
  isTrusted?: (address: string) => boolean;
}

export interface SourceLimitCounters {
  /** requests refused because their source already held its limit, per resource. */
  refusedCalls: number;
  refusedRegistrations: number;
}

/** Gives a slot back; calling it twice is harmless. */
export type Release = () => void;

/**
 * Per-source concurrency limits. The B2BUA takes a `call` slot for each new call and gives it back
 * when the call ends; the registrar takes a `registration` slot per binding. Only sources holding
 * something are in the tables, so their size is bounded by what Tandem carries, not by who sends.
 */
export class SourceLimits {
  private readonly held: Record<SourceResource, Map<string, number>> = { call: new Map(), registration: new Map() };
  readonly counters: SourceLimitCounters = { refusedCalls: 0, refusedRegistrations: 0 };

  constructor(private readonly opts: SourceLimitOptions) {}

  limit(kind: SourceResource): number {
    return kind === 'call' ? this.opts.maxCallsPerSource : this.opts.maxRegistrationsPerSource;
  }

  /** How many `kind` slots `source` holds now. */
  count(kind: SourceResource, source: string): number {
    return this.held[kind].get(source) ?? 0;
  }

  /** A slot for `source`, or undefined (counted) when it holds its limit already. */
  acquire(kind: SourceResource, source: string): Release | undefined {
    const table = this.held[kind];
    const n = table.get(source) ?? 0;
    const max = this.limit(kind);
    if (max > 0 && n >= max && this.opts.isTrusted?.(source) !== true) {
      if (kind === 'call') this.counters.refusedCalls++;
      else this.counters.refusedRegistrations++;
      return undefined;
    }
    table.set(source, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (table.get(source) ?? 1) - 1;
      if (left <= 0) table.delete(source);
      else table.set(source, left);
    };
  }
}
