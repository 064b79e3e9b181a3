import { describe, it, expect } from 'vitest';
import { FakeClock } from '../../../helpers/fake-clock.js';

describe('FakeClock (test helper)', () => {
  it('fires due timers in time order, at their due time, ties in the order set', () => {
    const c = new FakeClock();
    const fired: string[] = [];
    c.setTimer(300, () => fired.push(`c@${c.now()}`));
    c.setTimer(100, () => fired.push(`a@${c.now()}`));
    c.setTimer(100, () => fired.push(`b@${c.now()}`));
    c.advance(250);
    expect(fired).toEqual(['a@100', 'b@100']);
    expect(c.now()).toBe(250);
    c.advance(50);
    expect(fired).toEqual(['a@100', 'b@100', 'c@300']);
  });

  it('fires timers set by callbacks within the same advance, and not ones beyond it', () => {
    const c = new FakeClock();
    const fired: number[] = [];
    const tick = (ms: number): void => {
      c.setTimer(ms, () => {
        fired.push(c.now());
        tick(ms * 2);
      });
    };
    tick(100);
    c.advance(1000);
    expect(fired).toEqual([100, 300, 700]);
    expect(c.pending()).toBe(1);
    expect(c.nextAt()).toBe(1500);
  });

  it('cancel stops a timer; advance(0) fires zero-delay timers; step jumps to the next one', () => {
    const c = new FakeClock(1000);
    const fired: string[] = [];
    c.setTimer(10, () => fired.push('cancelled')).cancel();
    c.setTimer(0, () => fired.push('now'));
    c.setTimer(-5, () => fired.push('negative'));
    expect(fired).toEqual([]);
    c.advance(0);
    expect(fired).toEqual(['now', 'negative']);
    c.setTimer(500, () => fired.push('later'));
    expect(c.step()).toBe(true);
    expect(c.now()).toBe(1500);
    expect(fired.at(-1)).toBe('later');
    expect(c.step()).toBe(false);
    expect(() => c.advance(-1)).toThrow(RangeError);
  });
});
