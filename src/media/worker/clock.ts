import { performance } from 'node:perf_hooks';

/**
 * Per-worker time source. `coarseMs` is refreshed by a timer so the per-packet path reads a
 * number instead of calling Date.now(); jitter needs sub-millisecond arrival times.
 */
export class WorkerClock {
  coarseMs = Date.now();
  private timer: NodeJS.Timeout | null = null;

  start(tickMs = 50): void {
    this.timer = setInterval(() => {
      this.coarseMs = Date.now();
    }, tickMs);
    this.timer.unref();
  }

  preciseMs(): number {
    return performance.now();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
