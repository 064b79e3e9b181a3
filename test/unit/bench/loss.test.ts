import { describe, expect, it } from 'vitest';
import { SeqTracker, lossPercent } from '../../../bench/lib/metrics.js';

function feed(seqs: number[]): SeqTracker {
  const t = new SeqTracker();
  for (const s of seqs) t.push(s & 0xffff);
  return t;
}

describe('RTP loss counting (RFC 3550 §A.3) with reordering and duplicates', () => {
  it('counts nothing lost for an in-order stream', () => {
    const t = feed([10, 11, 12, 13, 14]);
    expect([t.expected, t.received, t.lost, t.duplicates, t.reordered]).toEqual([5, 5, 0, 0, 0]);
  });

  it('counts gaps as loss', () => {
    const t = feed([10, 11, 13, 14, 17]);
    expect([t.expected, t.received, t.lost]).toEqual([8, 5, 3]);
    expect(lossPercent(t.expected, t.lost)).toBeCloseTo(37.5, 9);
  });

  it('a reordered packet fills its gap: no loss, one reorder', () => {
    const t = feed([1, 2, 4, 3, 5]);
    expect([t.expected, t.received, t.lost, t.reordered]).toEqual([5, 5, 0, 1]);
  });

  it('duplicates never hide a loss', () => {
    // 3 is lost, 2 arrives three times: a naive received-count would say 0 lost.
    const t = feed([1, 2, 2, 2, 4]);
    expect([t.expected, t.received, t.lost, t.duplicates]).toEqual([4, 3, 1, 2]);
  });

  it('duplicates and reordering together', () => {
    const t = feed([100, 102, 101, 102, 104, 101, 103, 105]);
    expect([t.expected, t.received, t.lost, t.duplicates, t.reordered]).toEqual([6, 6, 0, 2, 2]);
  });

  it('handles the 16-bit sequence wrap, with reordering across it', () => {
    const t = feed([65533, 65534, 0, 65535, 1, 3]);
    expect([t.expected, t.received, t.lost, t.reordered]).toEqual([7, 6, 1, 1]);
  });

  it('a packet reordered to before the first one seen still counts once', () => {
    const t = feed([10, 9, 11]);
    // 9 is older than the base the tracker started from: counted late, not received and not lost.
    expect([t.expected, t.received, t.lost, t.late]).toEqual([2, 2, 0, 1]);
  });

  it('a measurement window starts after the highest seq seen; late packets from before it do not count', () => {
    const t = feed([1, 2, 3, 5]);
    t.resetWindow();
    for (const s of [4, 6, 7, 9]) t.push(s); // 4 belongs to the previous window; 8 is lost
    expect([t.expected, t.received, t.lost, t.late]).toEqual([4, 3, 1, 1]);
  });

  it('a very late packet (older than the window) is not a duplicate and not received', () => {
    const t = new SeqTracker();
    for (let s = 0; s < 2000; s++) if (s !== 5) t.push(s);
    t.push(5);
    expect([t.expected, t.received, t.lost, t.late, t.duplicates]).toEqual([2000, 1999, 1, 1, 0]);
  });
});
