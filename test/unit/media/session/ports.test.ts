import { describe, it, expect } from 'vitest';
import { PortAllocator } from '../../../../src/media/session/ports.js';

describe('PortAllocator', () => {
  it('hands out even RTP ports with the odd RTCP port free, until exhausted', () => {
    const a = new PortAllocator(30001, 30010); // pairs 30002, 30004, 30006, 30008
    expect(a.capacity).toBe(4);
    const got = [a.allocate(), a.allocate(), a.allocate(), a.allocate()];
    expect(got.every((p) => p % 2 === 0 && p >= 30002 && p <= 30008)).toBe(true);
    expect(new Set(got).size).toBe(4);
    expect(() => a.allocate()).toThrow(/Ran out of ports/);
    a.release(got[1]);
    expect(a.free).toBe(1);
    expect(a.allocate()).toBe(got[1]);
  });

  it('does not reuse a just-released pair while others are free', () => {
    const a = new PortAllocator(40000, 40019);
    const first = a.allocate();
    a.release(first);
    expect(a.allocate()).not.toBe(first);
  });

  it('ignores releases of ports it never gave out', () => {
    const a = new PortAllocator(40000, 40009);
    a.release(12345);
    a.release(40001);
    expect(a.free).toBe(a.capacity);
  });

  it('rejects a range with no pair', () => {
    expect(() => new PortAllocator(40001, 40001)).toThrow(/no RTP\/RTCP pair/);
  });
});

describe('PortAllocator against port guessing', () => {
  it('does not hand out pairs in sequence: the next port cannot be guessed from the last', () => {
    const a = new PortAllocator(20000, 29999);
    const got = Array.from({ length: 50 }, () => a.allocate());
    const steps = got.slice(1).map((p, i) => p - got[i]);
    // A sequential allocator makes every step +2; random picks almost never repeat one step.
    expect(new Set(steps).size).toBeGreaterThan(40);
    expect(got.every((p) => p % 2 === 0 && p >= 20000 && p <= 29998)).toBe(true);
    expect(new Set(got).size).toBe(50);
  });

  it('keeps released pairs cooling (up to half the range) while others are free, and uses them last', () => {
    const a = new PortAllocator(40000, 40019); // 10 pairs, 5 may cool
    const all = Array.from({ length: 10 }, () => a.allocate());
    for (const p of all.slice(0, 3)) a.release(p);
    const again = [a.allocate(), a.allocate(), a.allocate()];
    expect(again).toEqual(all.slice(0, 3)); // nothing else free: the longest-cooled first
    for (const p of all) a.release(p);
    // 5 pairs cool, 5 became free: the next 5 come from the free ones.
    const fresh = Array.from({ length: 5 }, () => a.allocate());
    const stillCooling = all.slice(5);
    expect(fresh.some((p) => stillCooling.includes(p))).toBe(false);
  });
});
