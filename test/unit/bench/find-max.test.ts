import { describe, it, expect } from 'vitest';
import { findMax, judge } from '../../../bench/lib/find-max.js';
import type { StepResult } from '../../../bench/lib/step.js';

/** A fake step whose server holds `capacity` calls and whose generator gives up above `genLimit`. */
function fakeStep(capacity: number, genLimit = Infinity): { step: (n: number) => Promise<StepResult>; tried: number[] } {
  const tried: number[] = [];
  const step = async (n: number): Promise<StepResult> => {
    tried.push(n);
    const loss = n > capacity ? 1 : 0;
    const dir = { lossPct: loss, jitterMeanMs: 1 } as StepResult['ab'];
    return { calls: n, callsUp: n, ab: dir, ba: dir, mos: loss ? 3.9 : 4.41, valid: n <= genLimit } as StepResult;
  };
  return { step, tried };
}

describe('find-max', () => {
  it('judges a step by loss, jitter, MOS and validity', () => {
    const dir = (lossPct: number, jitterMeanMs: number) => ({ lossPct, jitterMeanMs }) as StepResult['ab'];
    const base = { calls: 10, callsUp: 10, valid: true, mos: 4.41, ab: dir(0, 1), ba: dir(0, 1) } as StepResult;
    expect(judge(base)).toBe('pass');
    expect(judge({ ...base, ba: dir(0.1, 1) })).toBe('fail');
    expect(judge({ ...base, ab: dir(0, 5) })).toBe('fail');
    expect(judge({ ...base, mos: 4.29 })).toBe('fail');
    expect(judge({ ...base, callsUp: 9 })).toBe('fail');
    expect(judge({ ...base, valid: false })).toBe('invalid');
  });

  it('brackets the capacity to the resolution asked', async () => {
    const { step, tried } = fakeStep(230);
    const r = await findMax('x', { start: 50, ceiling: 2000, resolution: 0.05 }, step);
    expect(r.limit).toBe('server');
    expect(r.maxCalls).toBeLessThanOrEqual(230);
    expect(r.maxCalls).toBeGreaterThanOrEqual(230 * 0.95);
    expect(r.firstFailure).toBeGreaterThan(230);
    expect(tried.length).toBeLessThan(15);
  });

  it('blames the generator, not the server, when a step is invalid', async () => {
    const { step } = fakeStep(1000, 300);
    const r = await findMax('x', { start: 100, ceiling: 2000, resolution: 0.05 }, step);
    expect(r).toMatchObject({ limit: 'generator', maxCalls: 225 });
  });

  it('stops at the ceiling', async () => {
    const { step } = fakeStep(10_000);
    expect(await findMax('x', { start: 100, ceiling: 400, resolution: 0.05 }, step)).toMatchObject({ limit: 'ceiling', maxCalls: 400 });
  });
});
