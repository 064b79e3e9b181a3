import { describe, it, expect } from 'vitest';
import { RtpReceiveStats } from '../../../../src/media/rtp/stats.js';

/** Feed (seq, rtpTs, arrival) triples; arrival in timestamp units; 172 bytes each. */
function feed(s: RtpReceiveStats, pkts: [number, number, number][]): void {
  for (const [seq, ts, at] of pkts) s.update(seq, ts, at, 172);
}
/** n in-order packets from seq0, 20 ms of 8 kHz audio apart, arriving perfectly paced. */
const steady = (seq0: number, n: number, ts0 = 0): [number, number, number][] =>
  Array.from({ length: n }, (_v, i) => [(seq0 + i) % 65536, (ts0 + i * 160) % 2 ** 32, 5000 + i * 160]);

describe('RTP receive statistics (RFC 3550 A.1, A.3, A.8)', () => {
  it('starts at zero', () => {
    const s = new RtpReceiveStats();
    expect([s.packets, s.bytes, s.expected, s.lost, s.jitter, s.extendedMaxSeq, s.takeFractionLost()]).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('counts in-order packets with no loss and no jitter', () => {
    const s = new RtpReceiveStats();
    feed(s, steady(100, 10));
    expect([s.packets, s.bytes, s.expected, s.lost, s.jitter, s.extendedMaxSeq]).toEqual([10, 1720, 10, 0, 0, 109]);
  });

  it('counts lost packets from the sequence gap', () => {
    const s = new RtpReceiveStats();
    feed(s, [[1, 0, 0], [2, 160, 160], [5, 640, 640], [6, 800, 800]]);
    expect([s.expected, s.packets, s.lost]).toEqual([6, 4, 2]);
  });

  it('a reordered packet fills its gap; it does not move the highest sequence back', () => {
    const s = new RtpReceiveStats();
    feed(s, [[10, 0, 0], [12, 320, 320], [11, 160, 330], [13, 480, 480]]);
    expect([s.expected, s.packets, s.lost, s.extendedMaxSeq]).toEqual([4, 4, 0, 13]);
  });

  it('duplicates make lost negative, as RFC 3550 §6.4.1 says', () => {
    const s = new RtpReceiveStats();
    feed(s, [[10, 0, 0], [11, 160, 160], [11, 160, 170], [11, 160, 180], [12, 320, 320]]);
    expect([s.expected, s.packets, s.lost]).toEqual([3, 5, -2]);
  });

  it('counts a packet older than the first one as received but not expected', () => {
    const s = new RtpReceiveStats();
    feed(s, [[10, 160, 160], [9, 0, 170], [11, 320, 320]]);
    expect([s.expected, s.packets, s.lost]).toEqual([2, 3, -1]);
  });

  it('extends the sequence number across the 65535 → 0 wrap', () => {
    const s = new RtpReceiveStats();
    feed(s, steady(65533, 6)); // 65533, 65534, 65535, 0, 1, 2
    expect(s.extendedMaxSeq).toBe(65536 + 2);
    expect([s.expected, s.lost]).toEqual([6, 0]);
  });

  it('counts loss across the wrap, and a late pre-wrap packet does not add a cycle', () => {
    const s = new RtpReceiveStats();
    feed(s, [[65534, 0, 0], [1, 480, 480], [65535, 160, 490], [2, 640, 640]]);
    expect(s.extendedMaxSeq).toBe(65536 + 2);
    expect([s.expected, s.packets, s.lost]).toEqual([5, 4, 1]); // 0 was lost
  });

  it('survives many wraps', () => {
    const s = new RtpReceiveStats();
    for (let i = 0; i < 3 * 65536 + 10; i++) s.update(i % 65536, (i * 160) % 2 ** 32, i * 160, 1);
    expect(s.extendedMaxSeq).toBe(3 * 65536 + 9);
    expect([s.expected, s.lost, s.jitter]).toEqual([3 * 65536 + 10, 0, 0]);
  });

  it('accepts a gap just under MAX_DROPOUT (3000) as loss', () => {
    const s = new RtpReceiveStats();
    feed(s, [[100, 0, 0], [100 + 2999, 160, 160]]);
    expect([s.expected, s.packets, s.lost, s.strayPackets]).toEqual([3000, 2, 2998, 0]);
  });

  it('takes a large jump as a restart only when the next packet confirms it', () => {
    const s = new RtpReceiveStats();
    feed(s, [[100, 0, 0], [101, 160, 160], [101 + 3000, 320, 320]]); // udelta = MAX_DROPOUT: a jump
    expect([s.packets, s.bytes, s.expected, s.strayPackets]).toEqual([2, 344, 2, 1]); // the stray packet is not counted
    feed(s, [[3102, 480, 480]]);
    expect([s.packets, s.bytes, s.expected, s.lost, s.extendedMaxSeq, s.restarts]).toEqual([1, 172, 1, 0, 3102, 1]);
    feed(s, [[3103, 640, 640], [3105, 960, 960]]);
    expect([s.packets, s.expected, s.lost]).toEqual([3, 4, 1]);
  });

  it('ignores a lone stray packet and carries on with the stream', () => {
    const s = new RtpReceiveStats();
    feed(s, [[100, 0, 0], [101, 160, 160], [40000, 320, 320], [102, 320, 330], [103, 480, 480]]);
    expect([s.packets, s.expected, s.lost, s.strayPackets, s.restarts]).toEqual([4, 4, 0, 1, 0]);
  });

  it('a step back of MAX_MISORDER (100) or more is a jump; of 99, a reordering', () => {
    const s = new RtpReceiveStats();
    feed(s, steady(1000, 3)); // 1000..1002
    feed(s, [[1002 - 100, 0, 0]]);
    expect([s.packets, s.strayPackets]).toEqual([3, 1]);
    feed(s, [[1002 - 99, 0, 0]]); // reordered: counted, and not a restart confirmation either
    expect([s.packets, s.strayPackets, s.restarts, s.extendedMaxSeq]).toEqual([4, 1, 0, 1002]);
  });

  it('computes interarrival jitter as the RFC 3550 A.8 running estimate (hand-computed)', () => {
    // 8 kHz, 160 timestamp units (20 ms) per packet; arrival in the same units:
    //   seq ts   arrival transit  D      |D|  J
    //   1   0    1000    1000     –      –    0
    //   2   160  1160    1000     0      0    0 + (0 − 0)/16            = 0
    //   3   320  1400    1080     +80    80   0 + (80 − 0)/16           = 5
    //   4   480  1500    1020     −60    60   5 + (60 − 5)/16           = 8.4375
    //   5   640  1640    1000     −20    20   8.4375 + (20 − 8.4375)/16 = 9.16015625
    // In ms: 9.16015625 / 8000 × 1000 = 1.14501953125.
    const s = new RtpReceiveStats();
    const expected = [0, 0, 5, 8.4375, 9.16015625];
    const pkts: [number, number, number][] = [[1, 0, 1000], [2, 160, 1160], [3, 320, 1400], [4, 480, 1500], [5, 640, 1640]];
    pkts.forEach(([seq, ts, at], i) => {
      s.update(seq, ts, at, 172);
      expect(s.jitter).toBeCloseTo(expected[i], 12);
    });
    expect(s.jitterMs(8000)).toBeCloseTo(1.14501953125, 12);
    expect(s.jitterMs(0)).toBe(0);
  });

  it('jitter survives a timestamp wrap at 2^32 (arrival not wrapped)', () => {
    const s = new RtpReceiveStats();
    feed(s, [[1, 0xffffff60, 0], [2, 0, 160], [3, 160, 320 + 16]]);
    // D = 0 across the wrap, then 16: J = 16/16 = 1.
    expect(s.jitter).toBeCloseTo(1, 12);
  });

  it('jitter is computed in arrival order for reordered packets', () => {
    const s = new RtpReceiveStats();
    // seq 2 arrives before seq 1, each exactly on time: transits 0, 0, 0 → no jitter.
    feed(s, [[0, 0, 0], [2, 320, 320], [1, 160, 160]]);
    expect(s.jitter).toBe(0);
  });

  it('a confirmed restart does not count the timestamp discontinuity as jitter', () => {
    const s = new RtpReceiveStats();
    feed(s, steady(100, 5));
    feed(s, [[20000, 1_000_000, 6000], [20001, 1_000_160, 6160], [20002, 1_000_320, 6320]]);
    expect([s.restarts, s.jitter]).toEqual([1, 0]);
  });

  it('reports the fraction lost per interval (A.3), 0 when duplicates cover losses', () => {
    const s = new RtpReceiveStats();
    feed(s, steady(0, 4)); // 0..3, nothing lost
    expect(s.takeFractionLost()).toBe(0);
    feed(s, [[4, 0, 0], [6, 0, 0], [8, 0, 0], [9, 0, 0]]); // expected 6 (4..9), received 4: 2/6 × 256 = 85.33
    expect(s.takeFractionLost()).toBe(85);
    feed(s, [[10, 0, 0], [10, 0, 0]]); // expected 1, received 2
    expect(s.takeFractionLost()).toBe(0);
    expect(s.takeFractionLost()).toBe(0); // empty interval
    feed(s, [[20, 0, 0]]); // expected 10 (11..20), received 1: 9/10 × 256 = 230.4
    expect(s.takeFractionLost()).toBe(230);
  });

  it('reset() forgets everything (new SSRC)', () => {
    const s = new RtpReceiveStats();
    feed(s, [[1, 0, 0], [5, 640, 700], [30000, 0, 0]]);
    s.reset();
    expect([s.packets, s.bytes, s.expected, s.lost, s.jitter, s.extendedMaxSeq, s.strayPackets, s.restarts]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    feed(s, [[30001, 0, 0], [30002, 160, 160]]);
    expect([s.packets, s.expected, s.lost, s.strayPackets]).toEqual([2, 2, 0, 0]);
  });
});
