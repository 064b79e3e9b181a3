import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventGenerator, PcmGenerator, dtmfTone, silencePayload } from '../../../../src/media/worker/generators.js';
import { SideControl } from '../../../../src/media/worker/media-control.js';
import type { LegCodec } from '../../../../src/media/pool/protocol.js';
import { goertzelAmplitude, tone } from '../../../helpers/audio.js';
import { G722Decoder } from '../../../../src/media/codecs/g722.js';

const PCMA: LegCodec = { codec: 'PCMA', pt: 8, clockRate: 8000, ptimeMs: 20, eventPt: 101, eventClockRate: 8000 };
const PCMU_NO_TE: LegCodec = { codec: 'PCMU', pt: 0, clockRate: 8000, ptimeMs: 30 };

function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = pt;
  h.writeUInt16BE(seq, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, payload]);
}

class Sink {
  readonly sent: Buffer[] = [];
  sendGenerated(buf: Buffer, len: number): void {
    this.sent.push(Buffer.from(buf.subarray(0, len)));
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('generators', () => {
  it('EventGenerator: start timestamp, growing durations, marker on the first, three end packets, then done', () => {
    const g = new EventGenerator(PCMA, 11, 70, 10);
    const frames = [];
    for (let f = g.next(); f !== null; f = g.next()) frames.push(f);
    expect(frames.map((f) => [f.pt, f.tsOffset, f.marker, f.payload[0], f.payload[1], f.payload.readUInt16BE(2)])).toEqual([
      [101, 0, true, 11, 10, 160], [101, 0, false, 11, 10, 320], [101, 0, false, 11, 10, 480],
      [101, 0, false, 11, 0x8a, 560], [101, 0, false, 11, 0x8a, 560], [101, 0, false, 11, 0x8a, 560],
    ]);
    expect(g.spanTs).toBe(560);
  });

  it('PcmGenerator: whole frames of the leg\'s ptime (the last padded), repeats, start position', () => {
    const pcm = Int16Array.from({ length: 500 }, (_v, i) => i);
    const g = new PcmGenerator(PCMU_NO_TE, pcm, 2, 100);
    const sizes: number[] = [];
    for (let f = g.next(); f !== null; f = g.next()) sizes.push(f.payload.length);
    // 30 ms = 240 samples: 400 left of the first round (2 frames), 500 of the second (3 frames).
    expect(sizes).toEqual([240, 240, 240, 240, 240]);
    expect(PcmGenerator.durationMs(500, 2, 100)).toBe(113);
  });

  it('PcmGenerator toward a G.722 leg: 160 bytes and 160 ticks per 20 ms, decoding to the tone at 16 kHz', () => {
    const g722: LegCodec = { codec: 'G722', pt: 9, clockRate: 8000, ptimeMs: 20 };
    const g = new PcmGenerator(g722, tone(1000, 8000, 1600, 10000), 1, 0);
    const dec = new G722Decoder();
    const frames = [];
    for (let f = g.next(); f !== null; f = g.next()) frames.push(f);
    expect(frames.map((f) => f.payload.length)).toEqual(new Array(10).fill(160));
    expect(frames.map((f) => f.tsOffset)).toEqual(Array.from({ length: 10 }, (_v, i) => i * 160));
    const pcm = Int16Array.from(frames.flatMap((f) => [...dec.decode(f.payload)]));
    expect(goertzelAmplitude(pcm.subarray(640), 1000, 16000)).toBeGreaterThan(7000);
  });

  it('dtmfTone: the two keypad frequencies of the digit, at the asked level', () => {
    const x = dtmfTone(15, 200, 8); // D: 941 + 1633 Hz
    expect(x.length).toBe(1600);
    const a = goertzelAmplitude(x, 941, 8000);
    const b = goertzelAmplitude(x, 1633, 8000);
    expect(a).toBeGreaterThan(8000);
    expect(Math.abs(a - b) / a).toBeLessThan(0.05);
    expect(goertzelAmplitude(x, 1209, 8000)).toBeLessThan(a / 20);
    expect(goertzelAmplitude(dtmfTone(15, 200, 28), 941, 8000) / a).toBeCloseTo(0.1, 1);
  });

  it('silencePayload: G.711 silence codes in place, the Opus silent frame (not into a shorter packet)', () => {
    const a = rtp(8, 1, 1, 1, Buffer.alloc(160, 0x12));
    expect(silencePayload(a, 12, a.length, PCMA)).toBe(172);
    expect([...a.subarray(12)].every((x) => x === 0xd5)).toBe(true);
    const u = rtp(0, 1, 1, 1, Buffer.alloc(10, 0x12));
    silencePayload(u, 12, u.length, PCMU_NO_TE);
    expect([...u.subarray(12)].every((x) => x === 0xff)).toBe(true);
    const g = rtp(9, 1, 1, 1, Buffer.alloc(160, 0x12));
    silencePayload(g, 12, g.length, { codec: 'G722', pt: 9, clockRate: 8000, ptimeMs: 20 });
    expect([...g.subarray(12)].every((x) => x === 0xff)).toBe(true);
    const opus: LegCodec = { codec: 'opus', pt: 111, clockRate: 48000, ptimeMs: 20 };
    const o = rtp(111, 1, 1, 1, Buffer.alloc(60, 0x33));
    expect(silencePayload(o, 12, o.length, opus)).toBe(15);
    expect([...o.subarray(12, 15)]).toEqual([0xf8, 0xff, 0xfe]);
    const tiny = rtp(111, 1, 1, 1, Buffer.alloc(1, 0x33));
    expect(silencePayload(tiny, 12, tiny.length, opus)).toBe(13);
  });
});

describe('SideControl', () => {
  it('blocks DTMF and media by the leg\'s PTs, counting each', () => {
    const c = new SideControl(new Sink());
    c.setLeg(PCMA);
    c.apply({ kind: 'block-dtmf', toward: 0, on: true });
    expect(c.outgoing(rtp(101, 1, 0, 5, Buffer.alloc(4)), 16)).toBe(-1);
    expect(c.outgoing(rtp(8, 2, 160, 5, Buffer.alloc(160)), 172)).toBe(172);
    c.apply({ kind: 'block-dtmf', toward: 0, on: false });
    c.apply({ kind: 'block-media', toward: 0, on: true });
    expect(c.outgoing(rtp(8, 3, 320, 5, Buffer.alloc(160)), 172)).toBe(-1);
    expect(c.outgoing(rtp(101, 4, 320, 5, Buffer.alloc(4)), 16)).toBe(16);
    expect(c.outgoing(Buffer.alloc(4), 4)).toBe(4); // too short to be RTP: not ours to judge
    expect(c.counters).toMatchObject({ dtmfBlocked: 1, mediaBlocked: 1 });
  });

  it('a play continues the seeded stream and relayed packets after it continue the play', () => {
    vi.useFakeTimers();
    const sink = new Sink();
    const c = new SideControl(sink);
    c.setLeg(PCMA);
    c.seed(0x77, 999, 80_000, 0);
    const r = c.apply({ kind: 'play', toward: 0, pcm: new Int16Array(480), repeat: 1, startSample: 0 });
    expect(r.durationMs).toBe(60);
    // A relayed packet while playing is replaced.
    expect(c.outgoing(rtp(8, 1000, 80_160, 0x77, Buffer.alloc(160)), 172)).toBe(-1);
    vi.advanceTimersByTime(100);
    expect(sink.sent.map((p) => [p.readUInt16BE(2), p.readUInt32BE(4), p.readUInt32BE(8), p[1] >> 7])).toEqual([
      [1000, 80_160, 0x77, 1], [1001, 80_320, 0x77, 0], [1002, 80_480, 0x77, 0],
    ]);
    const next = rtp(8, 1001, 80_320, 0x77, Buffer.alloc(160));
    expect(c.outgoing(next, 172)).toBe(172);
    expect(next.readUInt16BE(2)).toBe(1003);
    expect(next.readUInt32BE(4) - 80_480).toBeGreaterThanOrEqual(160);
    expect(next[1] >> 7).toBe(1);
    expect(c.counters).toMatchObject({ replaced: 1, generated: 3 });
  });

  it('frames follow the clock, not the timer: late wakes do not make the stream slower than real time', () => {
    vi.useFakeTimers();
    const sink = new Sink();
    const c = new SideControl(sink);
    c.setLeg(PCMA);
    c.apply({ kind: 'play', toward: 0, pcm: new Int16Array(8000 * 4), repeat: 1, startSample: 0 });
    // Timers that fire 1 ms late every time (21 ms steps), for 1.05 s: 20 ms frames due at 0, 20, … 1040.
    for (let i = 0; i < 50; i++) vi.advanceTimersByTime(21);
    expect(sink.sent.length).toBe(53);
    // Timestamps stay one frame apart whatever the wakes were.
    const ts = sink.sent.map((p) => p.readUInt32BE(4));
    expect(ts.every((t, i) => i === 0 || ((t - ts[i - 1]) >>> 0) === 160)).toBe(true);
    c.close(); // the worker's frame clock stops with its last job
  });

  it('queued DTMF plays one after another with the pause between; stop clears the queue', () => {
    vi.useFakeTimers();
    const sink = new Sink();
    const c = new SideControl(sink);
    c.setLeg(PCMA);
    c.apply({ kind: 'dtmf', toward: 0, code: 1, durationMs: 100, volumeDb: -10, pauseMs: 100 });
    c.apply({ kind: 'dtmf', toward: 0, code: 2, durationMs: 100, volumeDb: -10, pauseMs: 100 });
    vi.advanceTimersByTime(1000);
    const events = sink.sent.map((p) => p[12]);
    expect(events).toEqual([1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]);
    // Two events: two timestamps, the second at least 100 ms (800) after the first ends.
    const ts = [...new Set(sink.sent.map((p) => p.readUInt32BE(4)))];
    expect(ts.length).toBe(2);
    expect((ts[1] - ts[0]) >>> 0).toBeGreaterThanOrEqual(800);
    c.apply({ kind: 'dtmf', toward: 0, code: 3, durationMs: 100, volumeDb: -10, pauseMs: 100 });
    c.apply({ kind: 'dtmf', toward: 0, code: 4, durationMs: 100, volumeDb: -10, pauseMs: 100 });
    const stop = c.apply({ kind: 'stop', toward: 0 });
    expect(stop.lastFramePos).toBe(0);
    const n = sink.sent.length;
    vi.advanceTimersByTime(1000);
    expect(sink.sent.length).toBe(n);
  });

  it('a send that throws ends the generation, counted; nothing escapes the timer', () => {
    vi.useFakeTimers();
    const c = new SideControl({ sendGenerated: () => { throw new Error('socket gone'); } });
    c.setLeg(PCMA);
    c.apply({ kind: 'play', toward: 0, pcm: new Int16Array(1600), repeat: 1, startSample: 0 });
    vi.advanceTimersByTime(200);
    expect(c.counters).toMatchObject({ failed: 1, generated: 1 });
    // Relayed media flows again.
    expect(c.outgoing(rtp(8, 1, 160, 4, Buffer.alloc(160)), 172)).toBe(172);
  });

  it('refuses to generate toward a leg without a usable codec, with a reason', () => {
    const c = new SideControl(new Sink());
    expect(() => c.apply({ kind: 'play', toward: 1, pcm: new Int16Array(160), repeat: 1, startSample: 0 })).toThrow(/none negotiated yet/);
    c.setLeg({ codec: 'other', pt: 9, clockRate: 8000, ptimeMs: 20 });
    expect(() => c.apply({ kind: 'dtmf', toward: 1, code: 1, durationMs: 100, volumeDb: -8, pauseMs: 100 })).toThrow(/PT 9/);
  });
});
