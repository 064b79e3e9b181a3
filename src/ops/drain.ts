import type { Logger } from '../common/log.js';

export interface DrainOptions {
  /** how long live calls may go on before the rest are hung up (--drain-timeout). */
  timeoutMs: number;
  /** calls still up: B2BUA calls and media sessions (ng clients' too). */
  liveCalls: () => number;
  /** turns refusing new calls on (the media plane's admission; the B2BUA reads `active`). */
  refuseNew: () => void;
  /** the drain is over: `idle` when the last call ended, `timeout` when --drain-timeout passed. */
  onDrained: (why: 'idle' | 'timeout') => void;
  log: Logger;
  /** how often live calls are counted (default 500 ms). */
  pollMs?: number;
}

/** Retry-After of the 503 a new INVITE gets while draining: long enough for a proxy to fail over and not come back at once. */
export const DRAIN_RETRY_AFTER_S = 60;

/**
 * A graceful drain (rolling upgrades): once started, new calls are refused (SIP 503 with
 * Retry-After, ng offers for new calls `load limit`, /readyz 503) while live calls go on, with their
 * BYEs, re-INVITEs and media, until none is left or the timeout passes. Starting twice does nothing more.
 */
export class Drain {
  private startedMs: number | undefined;
  private poll: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(private readonly opts: DrainOptions) {}

  get active(): boolean {
    return this.startedMs !== undefined;
  }

  /** What `tandem ctl drain` and /readyz report. */
  status(): { draining: boolean; liveCalls: number; elapsedS?: number; timeoutS: number } {
    return {
      draining: this.active,
      liveCalls: this.opts.liveCalls(),
      ...(this.startedMs !== undefined ? { elapsedS: Math.round((Date.now() - this.startedMs) / 1000) } : {}),
      timeoutS: Math.round(this.opts.timeoutMs / 1000),
    };
  }

  /** Starts draining (`by`: SIGTERM, ctl…, for the log); false if it had already started. */
  start(by: string): boolean {
    if (this.startedMs !== undefined) return false;
    this.startedMs = Date.now();
    this.opts.refuseNew();
    this.opts.log.info({ by, liveCalls: this.opts.liveCalls(), timeoutS: this.opts.timeoutMs / 1000 }, 'draining: new calls refused, live calls go on');
    this.poll = setInterval(() => {
      if (this.opts.liveCalls() === 0) this.finish('idle');
    }, this.opts.pollMs ?? 500);
    this.deadline = setTimeout(() => this.finish('timeout'), this.opts.timeoutMs);
    if (this.opts.liveCalls() === 0) setImmediate(() => this.finish('idle'));
    return true;
  }

  private finish(why: 'idle' | 'timeout'): void {
    if (this.finished) return;
    this.finished = true;
    this.stop();
    this.opts.log.info({ why, liveCalls: this.opts.liveCalls(), elapsedS: this.status().elapsedS }, why === 'idle' ? 'drained: the last call ended' : 'drain timeout: hanging up the calls left');
    this.opts.onDrained(why);
  }

  /** Stops the timers (shutdown). */
  stop(): void {
    if (this.poll !== undefined) clearInterval(this.poll);
    if (this.deadline !== undefined) clearTimeout(this.deadline);
  }
}
