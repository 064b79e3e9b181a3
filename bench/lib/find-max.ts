/**
 * `--find-max`: the largest number of concurrent calls a server carries within the criteria of
 * issue 3 (loss < 0.1 % both ways, mean jitter < 5 ms, MOS ≥ 4.3) on a valid step. Grows N
 * geometrically until a step fails, then bisects between the last pass and the first failure.
 * A step the generator could not drive (invalid) ends the search: the answer is then "at least
 * the last pass", and the limit is the generator's, not the server's.
 */
import { mosFromR, R_DEFAULT } from './metrics.js';
import type { StepResult } from './step.js';

export const CRITERIA = { maxLossPct: 0.1, maxJitterMs: 5, minMos: 4.3 } as const;

export type Verdict = 'pass' | 'fail' | 'invalid';

/**
 * The MOS a step must reach: 4.3, lowered by as much as the codec chain's Ie (--ie) lowers the MOS
 * ceiling (no loss, no delay) below G.711's 4.41, so the criterion stays "the server costs ≤ 0.11 MOS".
 */
export function minMos(r: Pick<StepResult, 'mosCeiling'>): number {
  const g711 = mosFromR(R_DEFAULT);
  const drop = r.mosCeiling === undefined ? 0 : g711 - r.mosCeiling;
  return drop < 0.001 ? CRITERIA.minMos : CRITERIA.minMos - drop;
}

export function judge(r: StepResult): Verdict {
  if (!r.valid) return 'invalid';
  const ok =
    r.callsUp === r.calls &&
    r.ab.lossPct < CRITERIA.maxLossPct &&
    r.ba.lossPct < CRITERIA.maxLossPct &&
    r.ab.jitterMeanMs < CRITERIA.maxJitterMs &&
    r.ba.jitterMeanMs < CRITERIA.maxJitterMs &&
    r.mos >= minMos(r);
  return ok ? 'pass' : 'fail';
}

export interface FindMaxResult {
  server: string;
  /** Largest N that passed (0 if none). */
  maxCalls: number;
  /** Why the search stopped above maxCalls. */
  limit: 'server' | 'generator' | 'ceiling';
  /** The first N that did not pass, if any. */
  firstFailure?: number;
}

export interface FindMaxOptions {
  start: number;
  ceiling: number;
  /** Stop bisecting when the bracket is narrower than this fraction of the pass (e.g. 0.1 = 10 %). */
  resolution: number;
}

/** Drives `step(n)` until the capacity is bracketed. `step` runs one measured step at n calls. */
export async function findMax(server: string, o: FindMaxOptions, step: (n: number) => Promise<StepResult>): Promise<FindMaxResult> {
  let pass = 0;
  let n = o.start;
  for (;;) {
    const v = judge(await step(n));
    if (v === 'invalid') return { server, maxCalls: pass, limit: 'generator', firstFailure: n };
    if (v === 'fail') return bisect(server, pass, n, o, step);
    pass = n;
    if (n >= o.ceiling) return { server, maxCalls: pass, limit: 'ceiling' };
    n = Math.min(o.ceiling, Math.ceil(n * 1.5));
  }
}

async function bisect(server: string, pass: number, fail: number, o: FindMaxOptions, step: (n: number) => Promise<StepResult>): Promise<FindMaxResult> {
  let lo = pass;
  let hi = fail;
  while (hi - lo > Math.max(1, Math.ceil(lo * o.resolution))) {
    const mid = Math.floor((lo + hi) / 2);
    const v = judge(await step(mid));
    if (v === 'invalid') return { server, maxCalls: lo, limit: 'generator', firstFailure: mid };
    if (v === 'pass') lo = mid;
    else hi = mid;
  }
  return { server, maxCalls: lo, limit: 'server', firstFailure: hi };
}
