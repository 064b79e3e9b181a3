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
