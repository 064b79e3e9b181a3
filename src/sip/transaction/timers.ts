import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { SipMessage } from '../message.js';
import type { SipEndpoint, SipSender, StreamWatcher } from '../transport/types.js';
import { DEFAULT_TIMERS, type TimerSettings } from './types.js';

/**
 * The RFC 3261 §17 / RFC 6026 timers in one place (RFC 3261 Table 4), so every machine reads the
 * same values. `reliable` is the transport of the hop: over TCP/TLS the "absorb retransmissions"
 * timers (D, I, J, K) are zero because nothing is retransmitted (§17.1.1.2, §17.2.1, …).
 */
export interface TimerValues {
  /** INVITE request retransmit, first interval (doubles, UDP only). */
  A: number;
  /** INVITE client timeout. */
  B: number;
  /** INVITE client Completed: absorb retransmitted non-2xx finals (≥ 32 s over UDP). */
  D: number;
  /** non-INVITE request retransmit, first interval (doubles up to T2, UDP only). */
  E: number;
  /** non-INVITE client timeout. */
  F: number;
  /** INVITE server non-2xx final retransmit, first interval (doubles up to T2, UDP only). */
  G: number;
  /** INVITE server: wait for the ACK of a non-2xx final. */
  H: number;
  /** INVITE server Confirmed: absorb ACK retransmissions. */
  I: number;
  /** non-INVITE server Completed: absorb request retransmissions. */
  J: number;
  /** non-INVITE client Completed: absorb final response retransmissions. */
  K: number;
  /** RFC 6026 INVITE server Accepted: absorb INVITE retransmissions, let 2xx retransmissions through. */
  L: number;
  /** RFC 6026 INVITE client Accepted: pass 2xx retransmissions (and forks) to the TU. */
  M: number;
}

export function timerValues(t: TimerSettings, reliable: boolean): TimerValues {
  const t64 = 64 * t.t1;
  return {
    A: t.t1,
    B: t64,
    // §17.1.1.2 asks for "at least 32 s"; with a larger T1 the server's Timer H is longer, so cover it too.
    D: reliable ? 0 : Math.max(t64, 32_000),
    E: t.t1,
    F: t64,
    G: t.t1,
    H: t64,
    I: reliable ? 0 : t.t4,
    J: reliable ? 0 : t64,
    K: reliable ? 0 : t.t4,
    L: t64,
    M: t64,
  };
}

/**
 * Merges user settings over the defaults. A value that is missing, `undefined` (a partial object
 * built from optional config) or not a positive finite number keeps its default, so a bad
 * setting can never turn a schedule into NaN or a busy loop.
 */
export function resolveTimers(partial: Partial<TimerSettings> | undefined): TimerSettings {
  const pick = (k: keyof TimerSettings): number => {
    const v = partial?.[k];
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : DEFAULT_TIMERS[k];
  };
  return { t1: pick('t1'), t2: pick('t2'), t4: pick('t4') };
}

/**
 * A retransmission timer (A, E, G, and the UAS core's 2xx retransmission of §13.3.1.4): fires
 * first after `first` ms, then after `next(previous)` ms, for as long as `fire` returns true or
 * until `cancel()`.
 */
export class Retransmitter {
  private handle: TimerHandle | undefined;
  private interval = 0;

  constructor(private readonly clock: Clock) {}

  start(first: number, next: (previous: number) => number, fire: () => boolean): void {
    this.cancel();
    const arm = (ms: number): void => {
      this.interval = ms;
      this.handle = this.clock.setTimer(ms, () => {
        this.handle = undefined;
        if (fire()) arm(next(this.interval));
      });
    };
    arm(first);
  }

  get running(): boolean {
    return this.handle !== undefined;
  }

  cancel(): void {
    this.handle?.cancel();
    this.handle = undefined;
  }
}

/** Doubling, optionally capped (T1, 2·T1, 4·T1 … up to T2). */
export const doubling = (cap = Number.POSITIVE_INFINITY) => (previous: number): number => Math.min(previous * 2, cap);

/** One-shot timer slot: arming again cancels the previous one. */
export class OneShot {
  private handle: TimerHandle | undefined;

  constructor(private readonly clock: Clock) {}

  arm(ms: number, fn: () => void): void {
    this.cancel();
    this.handle = this.clock.setTimer(ms, () => {
      this.handle = undefined;
      fn();
    });
  }

  cancel(): void {
    this.handle?.cancel();
    this.handle = undefined;
  }
}

// ---- shared by the machines ------------------------------------------------------------------

/**
 * Sends through the transport. A sender that throws instead of rejecting is treated the same, so
 * a faulty transport can never throw out of a timer callback (which, on the system clock, would
 * be an uncaught exception).
 */
export function transmit(sender: SipSender, msg: SipMessage, dest: SipEndpoint, watcher?: StreamWatcher): Promise<void> {
  try {
    return watcher === undefined ? sender.send(msg, dest) : sender.send(msg, dest, watcher);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * Calls up into the TU; an exception there is logged, not thrown back into the layer or a timer.
 * Returns false when the TU threw, so the caller can make sure nothing is left hanging on it.
 */
export function callUp(log: Logger, what: string, fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    log.error({ err: toError(err), callback: what }, 'transaction user threw');
    return false;
  }
}

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
