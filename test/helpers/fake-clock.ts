import type { Clock, TimerHandle } from '../../src/common/clock.js';

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/**
 * A clock that moves only when a test says so. `advance(ms)` fires every timer that falls due,
 * in time order (ties in the order they were set), at its own due time — so `now()` inside a
 * callback is the time it was due — including timers set by those callbacks.
 */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    // Like setTimeout: negative or NaN delays mean "as soon as possible".
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: FakeTimer = { at: this.t + delay, seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.live = false;
      },
    };
  }

  /** Moves time forward by `ms` (≥ 0), firing every timer due on the way, `advance(0)` fires those due now. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance: bad step ${ms}`);
    const end = this.t + ms;
    for (let due = this.nextDue(end); due !== undefined; due = this.nextDue(end)) {
      due.live = false;
      this.t = due.at;
      due.fn();
    }
    this.t = end;
    this.timers = this.timers.filter((x) => x.live);
  }

  /** Advances to the next due timer and fires it (and any due at the same instant); false if none. */
  step(): boolean {
    const next = this.nextAt();
    if (next === undefined) return false;
    this.advance(next - this.t);
    return true;
  }

  /** Due time of the earliest live timer. */
  nextAt(): number | undefined {
    return this.nextDue(Number.POSITIVE_INFINITY)?.at;
  }

  /** How many timers are armed and not cancelled. */
  pending(): number {
    return this.timers.filter((x) => x.live).length;
  }

  private nextDue(end: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const x of this.timers) {
      if (!x.live || x.at > end) continue;
      if (best === undefined || x.at < best.at || (x.at === best.at && x.seq < best.seq)) best = x;
    }
    return best;
  }
}
