import { describe, it, expect } from 'vitest';
import { RtpReceiveStats } from '../../../../src/media/rtp/stats.js';

/** Feed (seq, rtpTs, arrival) triples; arrival in timestamp units. */
function feed(s: RtpReceiveStats, pkts: [number, number, number][]): void {
  for (const [seq, ts, at] of pkts) s.update(seq, ts, at, 172);
}

describe('RTP receive statistics (RFC 3550 A.1, A.8)', () => {
  it('counts in-order packets with no loss and no jitter', () => {
    const s = new RtpReceiveStats();
    feed(s, Array.from({ length: 10 }, (_v, i) => [100 + i, i * 160, 1000 + i * 160] as [number, number, number]));
    expect([s.packets, s.bytes, s.expected, s.lost, s.jitter]).toEqual([10, 1720, 10, 0, 0]);
  });

  it('counts lost packets from the sequence gap', () => {
    const s = new RtpReceiveStats();
    feed(s, [[1, 0, 0], [2, 160, 160], [5, 640, 640], [6, 800, 800]]);
    expect(s.expected).toBe(6);
    expect(s.lost).toBe(2);
  });

  it('handles reordering and duplicates (lost may go negative, as the RFC says)', () => {
    const s = new RtpReceiveStats();
    feed(s, [[10, 0, 0], [12, 320, 320], [11, 160, 330], [12, 320, 340], [13, 480, 480]]);
    expect(s.expected).toBe(4);
    expect(s.packets).toBe(5);
    expect(s.lost).toBe(-1);
  });

  it('extends the sequence number across the 65535 wrap', () => {
    const s = new RtpReceiveStats();
    feed(s, [[65534, 0, 0], [65535, 160, 160], [0, 320, 320], [1, 480, 480]]);
    expect(s.extendedMaxSeq).toBe(65536 + 1);
    expect(s.expected).toBe(4);
    expect(s.lost).toBe(0);
  });

  it('takes a large jump as a restart only when the next packet confirms it', () => {
    const s = new RtpReceiveStats();
    feed(s, [[100, 0, 0], [101, 160, 160], [30000, 320, 320]]);
    expect(s.packets).toBe(2); // the stray packet is not counted
    feed(s, [[30001, 480, 480]]);
    expect(s.packets).toBe(1);
    expect(s.expected).toBe(1);
  });

  it('computes interarrival jitter as the RFC 3550 A.8 running estimate', () => {
    // Transit times: 0, 10, 0 (timestamp units). D = 10 then 10.
    // J1 = 0 + (10 − 0)/16 = 0.625; J2 = 0.625 + (10 − 0.625)/16 = 1.2109375.
    const s = new RtpReceiveStats();
    feed(s, [[1, 0, 0], [2, 160, 170], [3, 320, 320]]);
    expect(s.jitter).toBeCloseTo(1.2109375, 10);
    expect(s.jitterMs(8000)).toBeCloseTo((1.2109375 * 1000) / 8000, 10);
  });

  it('jitter survives a timestamp wrap at 2^32', () => {
    const s = new RtpReceiveStats();
    feed(s, [[1, 0xffffff60, 0], [2, 0, 160]]);
    expect(s.jitter).toBe(0);
  });

  it('reset() forgets everything (new SSRC)', () => {
    const s = new RtpReceiveStats();
    feed(s, [[1, 0, 0], [5, 640, 700]]);
    s.reset();
    expect([s.packets, s.expected, s.lost, s.jitter]).toEqual([0, 0, 0, 0]);
  });
});
