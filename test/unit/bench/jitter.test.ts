import { describe, expect, it } from 'vitest';
import { JitterEstimator } from '../../../bench/lib/metrics.js';

// RFC 3550 §6.4.1 / A.8: J(i) = J(i-1) + (|D(i-1,i)| - J(i-1))/16, D = (Rj - Ri) - (Sj - Si).
describe('RFC 3550 interarrival jitter', () => {
  it('matches a hand-worked sequence', () => {
    // 20 ms packets at 8 kHz (160 ts units); arrivals in the same units.
    // transit = R - S: 1000, 1010, 990, 1000 → |D| = 10, 20, 10
    //   J1 = 0 + (10 - 0)/16                = 0.625
    //   J2 = 0.625 + (20 - 0.625)/16        = 1.8359375
    //   J3 = 1.8359375 + (10 - 1.8359375)/16 = 2.34619140625
    const j = new JitterEstimator();
    const sent = [0, 160, 320, 480];
    const arrived = [1000, 1170, 1310, 1480];
    const want = [0, 0.625, 1.8359375, 2.34619140625];
    sent.forEach((s, i) => {
      j.push(s, arrived[i]);
      expect(j.jitter).toBeCloseTo(want[i], 12);
    });
  });

  it('is zero for a constant transit time, whatever the offset or timestamp wrap', () => {
    const j = new JitterEstimator();
    for (let i = 0; i < 100; i++) j.push(i * 160, 123_456 + i * 160);
    expect(j.jitter).toBe(0);
  });

  it('converges to |D| when transit alternates by D', () => {
    const j = new JitterEstimator();
    for (let i = 0; i < 400; i++) j.push(i * 160, i * 160 + (i % 2 ? 40 : 0));
    expect(j.jitter).toBeCloseTo(40, 6);
  });
});

describe('JitterEstimator across an RTP timestamp wrap', () => {
  it('does not count the 2^32 wrap as jitter', () => {
    const j = new JitterEstimator();
    j.push(0xffffff60, 1000);
    j.push(0x00000000, 1160); // 160 samples later, timestamp wrapped
    expect(j.jitter).toBe(0);
  });
});
