import { describe, expect, it } from 'vitest';
import { mosTimes10, SideQuality } from '../../../../src/media/worker/quality.js';
import { RtpReceiveStats } from '../../../../src/media/rtp/stats.js';

/** An RR (PT 201) from `sender` with one report block about `ssrc`. */
function rr(o: { sender: number; ssrc: number; fraction: number; jitter: number; lsr?: number; dlsr?: number }): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 0x81;
  b[1] = 201;
  b.writeUInt16BE(7, 2);
  b.writeUInt32BE(o.sender, 4);
  b.writeUInt32BE(o.ssrc, 8);
  b[12] = o.fraction;
  b.writeUInt32BE(o.jitter, 20);
  b.writeUInt32BE(o.lsr ?? 0, 24);
  b.writeUInt32BE(o.dlsr ?? 0, 28);
  return b;
}

function sr(ntpSec: number, ntpFrac: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(0xaaaa, 4);
  b.writeUInt32BE(ntpSec, 8);
  b.writeUInt32BE(ntpFrac, 12);
  return b;
}

describe('mosTimes10 (E-model, G.711 with PLC)', () => {
  it('a clean call is 4.4; loss, jitter and round trip lower it monotonically; it stays within 1.0–4.5', () => {
    expect(mosTimes10(0, 0, 0)).toBe(44);
    const byLoss = [0, 1, 3, 5, 10, 20, 50].map((l) => mosTimes10(l, 0, 0));
    for (let i = 1; i < byLoss.length; i++) expect(byLoss[i]).toBeLessThanOrEqual(byLoss[i - 1]);
    expect(byLoss[4]).toBeLessThan(40);
    const byJitter = [0, 20, 60, 120, 300].map((j) => mosTimes10(0, j, 0));
    for (let i = 1; i < byJitter.length; i++) expect(byJitter[i]).toBeLessThanOrEqual(byJitter[i - 1]);
    expect(mosTimes10(0, 0, 800_000)).toBeLessThan(mosTimes10(0, 0, 100_000));
    for (const [l, j, r] of [[100, 0, 0], [0, 1e9, 0], [-5, -1, 0], [1e6, 1e6, 1e12]]) {
      const m = mosTimes10(l, j, r);
      expect(m).toBeGreaterThanOrEqual(10);
      expect(m).toBeLessThanOrEqual(45);
    }
  });
});

describe('SideQuality', () => {
  it('samples receive statistics per interval: loss of that interval, not cumulative', () => {
    const stats = new RtpReceiveStats();
    const q = new SideQuality();
    // 10 packets, none lost, 20 ms apart on a 20 ms clock step: no jitter.
    for (let s = 0; s < 10; s++) stats.update(s, s * 160, s * 160, 172);
    q.sampleReceive(stats, 7, 8000, 1_000);
    // Then 10 sequence numbers with 5 missing.
    for (let s = 10; s < 20; s += 2) stats.update(s, s * 160, s * 160, 172);
    q.sampleReceive(stats, 7, 8000, 2_000);
    // Nothing new: no sample.
    q.sampleReceive(stats, 7, 8000, 3_000);
    const { received } = q.summaries();
    expect(received?.samples).toBe(2);
    expect(received?.ssrc).toBe(7);
    expect(received?.highest).toMatchObject({ mos: 44, lossPercent: 0, atMs: 1_000 });
    // The second interval expected 9 (10..18) and got 5: 44 %.
    expect(received?.lowest.atMs).toBe(2_000);
    expect(received?.lowest.lossPercent).toBe(44);
    expect(received?.average.mos).toBe(Math.round((44 + received!.lowest.mos) / 2));
  });

  it('a new SSRC starts a new aggregate', () => {
    const stats = new RtpReceiveStats();
    const q = new SideQuality();
    stats.update(1, 160, 160, 172);
    q.sampleReceive(stats, 1, 8000, 10);
    stats.reset();
    stats.update(500, 160, 160, 172);
    q.sampleReceive(stats, 2, 8000, 20);
    expect(q.summaries().received).toMatchObject({ ssrc: 2, samples: 1 });
  });

  it('takes RR report blocks as samples (fraction lost, jitter in the leg\'s clock) and the round trip from LSR/DLSR', async () => {
    const q = new SideQuality();
    const out = sr(0x12345678, 0x9abc0000);
    q.noteRtcpSent(out);
    await new Promise((r) => setTimeout(r, 30));
    // LSR = middle 32 bits of the SR's NTP time; DLSR 10 ms in 1/65536 s.
    q.noteRtcpReceived(rr({ sender: 9, ssrc: 0x51, fraction: 64, jitter: 160, lsr: 0x56789abc, dlsr: Math.round(0.01 * 65536) }), 8000, 5_000);
    const { reported } = q.summaries();
    expect(reported).toMatchObject({ source: 'rtcp', ssrc: 0x51, samples: 1 });
    expect(reported?.average.lossPercent).toBe(25);
    expect(reported?.average.jitterMs).toBe(20);
    expect(q.rttUs).toBeGreaterThanOrEqual(15_000);
    expect(q.rttUs).toBeLessThan(2_000_000);
    expect(reported?.average.rttUs).toBe(q.rttUs);
  });

  it('an LSR it never sent, a report count past the packet, SDES/BYE only: no round trip, no crash', () => {
    const q = new SideQuality();
    q.noteRtcpReceived(rr({ sender: 9, ssrc: 1, fraction: 0, jitter: 0, lsr: 0xdeadbeef, dlsr: 1 }), 8000, 1);
    expect(q.rttUs).toBe(0);
    const lying = rr({ sender: 9, ssrc: 1, fraction: 0, jitter: 0 });
    lying[0] = 0x85; // claims 5 blocks in a packet with room for 1: only the first is read
    q.noteRtcpReceived(lying, 8000, 2);
    const sdes = Buffer.from([0x81, 202, 0, 1, 0, 0, 0, 1]);
    q.noteRtcpReceived(sdes, 8000, 3);
    const short = Buffer.from([0x81, 201, 0, 1, 0, 0, 0, 1]); // RR header claiming a block it lacks
    q.noteRtcpReceived(short, 8000, 4);
    expect(q.summaries().reported?.samples).toBe(2);
    q.noteRtcpSent(Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 1])); // not an SR: ignored
  });
});
