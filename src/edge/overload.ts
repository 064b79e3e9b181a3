import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from '../common/log.js';

export interface OverloadThresholds {
  /** event-loop delay (mean over the last second, ms) at which new work is refused; 0 = not checked. */
  maxLagMs: number;
  /** server transactions in flight at which new work is refused; 0 = not checked. */
  maxServerTransactions: number;
  /** free media port pairs (RTP+RTCP) below which new work is refused; 0 = not checked. */
  minFreePorts: number;
  /** Retry-After is drawn from [min, max] seconds, so refused callers do not come back together. */
  retryAfterMin: number;
  retryAfterMax: number;
}

export const OVERLOAD_DEFAULTS: OverloadThresholds = { maxLagMs: 100, maxServerTransactions: 10_000, minFreePorts: 16, retryAfterMin: 5, retryAfterMax: 15 };

/** What the box carries now; each reader is cheap (called per new INVITE/REGISTER). */
export interface OverloadInputs {
  lagMs(): number;
  serverTransactions(): number;
  /** undefined when the media plane is elsewhere (--media=ng) and its ports are not ours to count. */
  freePorts(): number | undefined;
}

export interface OverloadCounters {
  /** new INVITEs/REGISTERs answered 503 because of overload. */
  refused: number;
  /** times overload started. */
  episodes: number;
}

export interface OverloadRefusal {
  status: 503;
  reason: string;
  retryAfter: number;
}

/**
 * Admission by what Tandem can carry: while the event loop lags, too many transactions are in
 * flight or media ports run out, new INVITEs and REGISTERs get 503 with a randomised Retry-After
 * (RFC 3261 §21.5.4) and no call state. In-dialog requests and CANCEL are never asked about:
 * finishing calls is what frees capacity. Logged when overload starts and ends, not per request.
 */
export class OverloadControl {
  readonly counters: OverloadCounters = { refused: 0, episodes: 0 };
  private overloaded: string | undefined;

  constructor(
    private readonly t: OverloadThresholds,
    private readonly inputs: OverloadInputs,
    private readonly log: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  /** Why new work would be refused now, or undefined. */
  private reason(): string | undefined {
    if (this.t.maxLagMs > 0) {
      const lag = this.inputs.lagMs();
      if (lag >= this.t.maxLagMs) return `event loop delay ${Math.round(lag)} ms (limit ${this.t.maxLagMs})`;
    }
    if (this.t.maxServerTransactions > 0) {
      const n = this.inputs.serverTransactions();
      if (n >= this.t.maxServerTransactions) return `${n} server transactions in flight (limit ${this.t.maxServerTransactions})`;
    }
    if (this.t.minFreePorts > 0) {
      const free = this.inputs.freePorts();
      if (free !== undefined && free < this.t.minFreePorts) return `${free} media port pairs free (minimum ${this.t.minFreePorts})`;
    }
    return undefined;
  }

  /** Re-reads the inputs; logs when overload starts or ends. Returns the current cause. */
  evaluate(): string | undefined {
    const why = this.reason();
    if (why !== undefined && this.overloaded === undefined) {
      this.counters.episodes++;
      this.log.warn({ why }, 'overload: refusing new calls and registrations (503)');
    } else if (why === undefined && this.overloaded !== undefined) {
      this.log.info({ refused: this.counters.refused, was: this.overloaded }, 'overload ended');
    }
    this.overloaded = why;
    return why;
  }

  get active(): boolean {
    return this.overloaded !== undefined;
  }

  /** For a new INVITE or REGISTER: a 503 to send, or undefined to go on. */
  refuse(): OverloadRefusal | undefined {
    if (this.evaluate() === undefined) return undefined;
    this.counters.refused++;
    const { retryAfterMin: lo, retryAfterMax: hi } = this.t;
    return { status: 503, reason: 'Service Unavailable', retryAfter: lo + Math.floor(this.random() * (hi - lo + 1)) };
  }
}

/**
 * Event-loop delay as the overload check reads it: the mean of the last complete sample period
 * (perf_hooks' histogram, reset each period). Not a high percentile: one slow tick (a GC, a first
 * compilation) would trip that for a whole second, while a loop that stays behind moves the mean.
 */
export class LagSampler {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly timer: NodeJS.Timeout;
  private last = 0;

  constructor(periodMs = 1000, onSample?: () => void) {
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.last = this.histogram.count > 0 ? this.histogram.mean / 1e6 : 0;
      this.histogram.reset();
      onSample?.();
    }, periodMs);
    this.timer.unref();
  }

  lagMs(): number {
    return this.last;
  }

  close(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
