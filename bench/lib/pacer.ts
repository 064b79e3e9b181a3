/**
 * The drift-free send schedule of a set of legs: packet k of a leg is due at t0 + phase + k·ptime
 * (absolute), phases spread evenly over one ptime so the load is smooth, and every packet due at a tick
 * is sent in that tick (late ticks catch up; lateness is recorded as timer lag).
 */
import { performance } from 'node:perf_hooks';
import type { Histogram } from './metrics.js';
import type { Sender } from './rtp-leg.js';

export class Pacer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly senders: readonly Sender[],
    private readonly lag: Histogram,
    /** called after each tick's sends (the native generator hands its queued packets over there) */
    private readonly afterTick?: () => void,
  ) {}

  start(): void {
    const groups = new Map<number, Sender[]>();
    for (const s of this.senders) {
      const g = groups.get(s.ptimeMs) ?? [];
      g.push(s);
      groups.set(s.ptimeMs, g);
    }
    const t0 = performance.now() + 5;
    const sched = [...groups.entries()].map(([ptime, senders]) => ({
      ptime,
      senders,
      phase: Float64Array.from(senders, (_, i) => (i * ptime) / senders.length),
      cycle: 0,
      cursor: 0,
    }));
    this.running = true;
    const lag = this.lag;
    const tick = (): void => {
      if (!this.running) return;
      const now = performance.now();
      let next = Infinity;
      for (const g of sched) {
        let due = t0 + g.cycle * g.ptime + g.phase[g.cursor];
        while (due <= now) {
          g.senders[g.cursor].send(now);
          lag.add(now - due);
          if (++g.cursor === g.senders.length) {
            g.cursor = 0;
            g.cycle++;
          }
          due = t0 + g.cycle * g.ptime + g.phase[g.cursor];
        }
        if (due < next) next = due;
      }
      this.afterTick?.();
      // Node's timers have 1 ms resolution and fire at or after their time, up to ~1 ms late: aim 1 ms
      // early (a tick with nothing due just re-arms), so packets leave within ~1 ms of their deadline.
      this.timer = setTimeout(tick, Math.max(0, Math.floor(next - performance.now()) - 1));
    };
    this.timer = setTimeout(tick, 5);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }
}
