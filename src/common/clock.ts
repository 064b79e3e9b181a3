/**
 * Time as the SIP stack sees it. Transactions take a Clock so tests can drive every timer
 * (RFC 3261 §17 A–K, RFC 6026 L/M) with a fake one instead of waiting for real seconds.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    // Timers must never keep a closing process alive.
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
