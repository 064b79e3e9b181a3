import { randomBytes } from 'node:crypto';

/**
 * When Tandem sends its own RTCP reports to the legs whose RTCP it terminates (rtcp-terminator.ts),
 * by RFC 3550 §6.3.1: each interval is the deterministic interval Td times a random factor in
 * [0.5, 1.5], divided by e − 3/2 ≈ 1.21828 (the RFC's compensation, since Tandem does no timer
 * reconsideration either). With two members and any voice codec's bandwidth the computed Td is far
 * below the 5 s minimum (§6.2), so Td is the minimum; the first report waits for half of it
 * (§6.2, "initial delay"). Randomised so that the reports of the many calls a worker carries do
 * not all leave together, and so that the timing does not say which reports came from one box.
 * Each bridge draws from its own seeded PRNG, so a test can replay a schedule exactly.
 */

/** e − 3/2 (RFC 3550 §6.3.1 and A.7). */
export const RTCP_COMPENSATION = Math.E - 1.5;
/** RFC 3550 §6.2's minimum interval. */
export const RTCP_MIN_INTERVAL_MS = 5000;

/** The worker's settings (entry.ts sets them from WorkerInit); tests may set a seed source. */
export const rtcpTiming: { minIntervalMs: number; seed: () => number } = {
  minIntervalMs: RTCP_MIN_INTERVAL_MS,
  seed: () => randomBytes(4).readUInt32BE(0),
};

/** How often the worker looks for reports that are due: a report leaves at most this late. */
export function rtcpTickMs(minIntervalMs: number): number {
  return Math.min(100, Math.max(10, Math.round(minIntervalMs / 50)));
}

/** A small 32-bit PRNG (mulberry32): uniform in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
}

/** One randomised interval for the deterministic interval `tdMs` and a uniform draw `u` in [0, 1). */
export function rtcpInterval(tdMs: number, u: number): number {
  return (tdMs * (0.5 + u)) / RTCP_COMPENSATION;
}

/** The report schedule of one bridge's two sides. */
export class RtcpSchedule {
  private readonly random: () => number;
  /** When each side's next report is due; undefined while that side's RTCP is not terminated. */
  private readonly next: [number | undefined, number | undefined] = [undefined, undefined];

  constructor(readonly minIntervalMs: number, seed: number) {
    this.random = seededRandom(seed);
  }

  /** The side's RTCP is terminated from `nowMs`: its first report comes after half the minimum. */
  start(side: 0 | 1, nowMs: number): void {
    if (this.next[side] === undefined) this.next[side] = nowMs + rtcpInterval(this.minIntervalMs / 2, this.random());
  }

  stop(side: 0 | 1): void {
    this.next[side] = undefined;
  }

  /** True when the side's report is due at `nowMs`; the next one is then drawn from now. */
  due(side: 0 | 1, nowMs: number): boolean {
    const at = this.next[side];
    if (at === undefined || nowMs < at) return false;
    this.next[side] = nowMs + rtcpInterval(this.minIntervalMs, this.random());
    return true;
  }
}
