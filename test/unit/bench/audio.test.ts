import { describe, expect, it } from 'vitest';
import type dgram from 'node:dgram';
import { locateInLoop, ncc, nccToSnrDb, upsample6Loop, withTail } from '../../../bench/lib/audio.js';
import { AudioReceiver, latencyOfLast, LocateBudget, LocatePrior } from '../../../bench/lib/audio-leg.js';
import { codecMedia, linearTable } from '../../../bench/lib/calls.js';
import { minMos } from '../../../bench/lib/find-max.js';
import { mos, rFactor } from '../../../bench/lib/metrics.js';
import { DirectionStats, RING, Sender } from '../../../bench/lib/rtp-leg.js';
import { buildSdp, parseSdp } from '../../../bench/lib/sdp.js';
import { SIGNAL_SAMPLES, speechLikePcm } from '../../../bench/lib/signal.js';

/** A socket that keeps what is sent. */
function fakeSocket(): { socket: dgram.Socket; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const socket = {
    send: (b: Buffer, off?: number, len?: number) => void sent.push(Buffer.from(b.subarray(off ?? 0, (off ?? 0) + (len ?? b.length)))),
  } as unknown as dgram.Socket;
  return { socket, sent };
}

describe('bench audio: interpolation and correlation', () => {
  it('upsample6Loop keeps the 8 kHz samples and interpolates a tone between them', () => {
    const n = 8000;
    const f = 1000; // a whole number of periods in the loop, so it loops without a seam
    const x = Float64Array.from({ length: n }, (_, i) => 10000 * Math.sin((2 * Math.PI * f * i) / 8000 + 0.3));
    const y = upsample6Loop(x);
    expect(y.length).toBe(6 * n);
    for (let i = 0; i < n; i += 97) expect(y[6 * i]).toBeCloseTo(x[i], 2);
    let worst = 0;
    for (let m = 0; m < 6 * n; m++) worst = Math.max(worst, Math.abs(y[m] - 10000 * Math.sin((2 * Math.PI * f * m) / 48000 + 0.3)));
    expect(worst).toBeLessThan(10000 * 0.002); // circular: the wrap is as clean as the middle
  });

  it('ncc: 1 for the same audio, −1 inverted, 0 against silence; SDR from ρ', () => {
    const ref = withTail(upsample6Loop(speechLikePcm().subarray(0, 8000)), 2000);
    const rx = Float32Array.from({ length: 160 }, (_, i) => 0.5 * ref[600 + 6 * i]);
    expect(ncc(rx, 0, 160, ref, 600)).toBeCloseTo(1, 9);
    expect(ncc(Float32Array.from(rx, (v) => -v), 0, 160, ref, 600)).toBeCloseTo(-1, 9);
    expect(ncc(new Float32Array(160), 0, 160, ref, 600)).toBe(0);
    expect(ncc(rx, 0, 160, ref, 600, 4)).toBeCloseTo(1, 9);
    expect(nccToSnrDb(Math.sqrt(0.5))).toBeCloseTo(0, 9);
    expect(nccToSnrDb(Math.sqrt(10 / 11))).toBeCloseTo(10, 9);
    expect(nccToSnrDb(0)).toBe(-Infinity);
  });

  it('locateInLoop finds a noisy excerpt at 1/48 ms, also across the loop seam', () => {
    const loop = upsample6Loop(speechLikePcm());
    const L = loop.length;
    const ref = withTail(loop, 6 * 3200 + 64);
    let seed = 7;
    const noise = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 400;
    for (const at of [123_457, L - 4_003]) {
      const rx = Float32Array.from({ length: 1600 }, (_, i) => ref[(at + 6 * i) % L] * 0.7 + noise());
      const found = locateInLoop(rx, 0, 1600, ref, L, at - 20_000, at + 3_000);
      expect(found.at48).toBe(at);
      expect(found.off48).toBe(at % L);
      expect(found.rho).toBeGreaterThan(0.95);
    }
  });
});

describe('bench audio: latency, prior, MOS with Ie', () => {
  it('latencyOfLast adds how far the last sample lies before the end of its packet', () => {
    const times = new Float64Array(RING);
    times[3] = 100;
    // 960 positions per packet: packet 3 is [2880, 3840)
    expect(latencyOfLast(130, 3839, 960, 10, times)).toBe(30);
    expect(latencyOfLast(130, 3839 - 312, 960, 10, times)).toBeCloseTo(36.5, 9); // 6.5 ms of look-ahead
    expect(latencyOfLast(130, 3839, 960, 3, times)).toBeUndefined(); // not sent yet
    expect(latencyOfLast(130, 3839, 960, 3 + RING + 1, times)).toBeUndefined(); // out of the ring
    expect(latencyOfLast(130, -1, 960, 10, times)).toBeUndefined();
  });

  it('LocatePrior: the median of the last 15 lags', () => {
    const p = new LocatePrior();
    expect(p.median()).toBeUndefined();
    for (const v of [5, 1, 9]) p.add(v);
    expect(p.median()).toBe(5);
    for (let i = 0; i < 15; i++) p.add(100);
    expect(p.median()).toBe(100);
  });

  it('Ie lowers R one for one, and the find-max MOS bar by as much as the ceiling falls', () => {
    expect(rFactor({ lossPercent: 0, oneWayDelayMs: 0, ie: 5 })).toBeCloseTo(88.2, 9);
    const ceiling5 = mos({ lossPercent: 0, oneWayDelayMs: 0, ie: 5 });
    expect(ceiling5).toBeLessThan(4.3);
    expect(minMos({ mosCeiling: mos({ lossPercent: 0, oneWayDelayMs: 0 }) })).toBe(4.3);
    expect(minMos({ mosCeiling: Math.round(mos({ lossPercent: 0, oneWayDelayMs: 0 }) * 1000) / 1000 })).toBe(4.3);
    expect(minMos({ mosCeiling: ceiling5 })).toBeCloseTo(4.3 - (mos({ lossPercent: 0, oneWayDelayMs: 0 }) - ceiling5), 9);
  });
});

describe('bench Opus scenario plumbing', () => {
  it('offers Opus as opus/48000/2 on PT 111', () => {
    const sdp = buildSdp({ sessionId: 1, port: 4000, codec: 'opus', ptime: 20 });
    expect(sdp).toContain('m=audio 4000 RTP/AVP 111\r\n');
    expect(sdp).toContain('a=rtpmap:111 opus/48000/2\r\n');
    expect(sdp).toContain('a=fmtp:111 minptime=10;useinbandfec=1\r\n');
    expect(parseSdp(sdp)).toMatchObject({ port: 4000, payloadTypes: [111], ptime: 20 });
  });

  it('a Sender replays pre-encoded frames in a circle with a 48 kHz timestamp step', () => {
    const { socket, sent } = fakeSocket();
    const frames = [Buffer.from([1, 2, 3]), Buffer.from([4, 5]), Buffer.from([6])];
    const s = new Sender(socket, frames, 111, 160, 20, 960);
    s.stats = new DirectionStats('x');
    for (let k = 0; k < 4; k++) s.send(k * 20);
    expect(sent.map((p) => [...p.subarray(12)])).toEqual([[1, 2, 3], [4, 5], [6], [1, 2, 3]]);
    expect(sent.every((p) => (p[1] & 0x7f) === 111)).toBe(true);
    expect(sent[1].readUInt32BE(4) - sent[0].readUInt32BE(4)).toBe(960);
    expect((sent[3].readUInt16BE(2) - sent[0].readUInt16BE(2)) & 0xffff).toBe(3);
    expect(new Set(sent.map((p) => p.readUInt32BE(8))).size).toBe(1);
  });

  it('an AudioReceiver locates a re-timed, delayed PCMA stream and measures its latency', () => {
    const media = codecMedia('PCMA');
    const { socket } = fakeSocket();
    const peer = new Sender(socket, media.signal, 8, 160, 20);
    const stats = new DirectionStats('a→b');
    peer.stats = stats;
    const pcma = media.signal as Buffer;
    const rx = new AudioReceiver(peer, 8000, 'alaw', { ref48: media.reference, table: linearTable('PCMA') }, stats);
    // A "server": 7 samples (0.875 ms) of extra delay, its own seq/ts/SSRC, 20 ms packets.
    const D = 7;
    let seq = 1000;
    let ts = 50_000;
    const pkt = (k: number): Buffer => {
      const b = Buffer.alloc(12 + 160);
      b[0] = 0x80;
      b[1] = 8;
      b.writeUInt16BE(seq++ & 0xffff, 2);
      b.writeUInt32BE(ts, 4);
      ts += 160;
      b.writeUInt32BE(0xabcdef, 8);
      const start = k * 160 - D;
      for (let i = 0; i < 160; i++) b[12 + i] = pcma[(((start + i) % SIGNAL_SAMPLES) + SIGNAL_SAMPLES) % SIGNAL_SAMPLES];
      return b;
    };
    for (let k = 0; k < 40; k++) {
      peer.send(performance.now());
      if (k >= 1) rx.onMessage(pkt(k)); // received at once: latency ≈ the 7 samples only
      if (k === 19) rx.startWindow();
    }
    expect(stats.audioChecked).toBeGreaterThanOrEqual(15);
    expect(stats.audioOk).toBe(stats.audioChecked);
    expect(stats.snrDb.quantile(0.5)).toBeGreaterThan(30);
    expect(stats.unlocated).toBe(0);
    // The last sample of each received packet lies D samples before the end of a sent one: D/8 ms,
    // plus however long the test took between send and receive (well under 5 ms).
    expect(stats.latency.quantile(0.5)).toBeGreaterThanOrEqual(D / 8 - 0.01);
    expect(stats.latency.quantile(0.5)).toBeLessThan(D / 8 + 5);
    expect(rx.jitterMs()).toBeGreaterThanOrEqual(0);
  });
});

describe('bench audio: the shared search budget', () => {
  it('lets searches run while tokens last and refills at its share of wall time', () => {
    const b = new LocateBudget(0.1, 100, 0);
    expect(b.take(0)).toBe(true);
    b.spend(150); // one long search may overdraw
    expect(b.take(0)).toBe(false);
    expect(b.take(400)).toBe(false); // −50 + 40
    expect(b.take(600)).toBe(true); // −10 + 20
    b.spend(10);
    expect(b.take(10_000)).toBe(true);
    b.spend(100); // capped at 100: nothing left
    expect(b.take(10_000)).toBe(false);
  });
});
