import { describe, it, expect } from 'vitest';
import { detectFrame, DtmfDetector, DtmfSynth } from '../../../../src/media/worker/inband-dtmf.js';
import { decodeAlaw, decodeUlaw, encodeAlaw } from '../../../../src/media/codecs/g711.js';

const ROWS = [697, 770, 852, 941];
const COLS = [1209, 1336, 1477, 1633];
const KEYS = ['123A', '456B', '789C', '*0#D'];
const CODE: Record<string, number> = { '*': 10, '#': 11, A: 12, B: 13, C: 14, D: 15 };
const code = (k: string): number => CODE[k] ?? Number(k);

function dual(f1: number, f2: number, n: number, amp1 = 8000, amp2 = amp1, at = 0): Int16Array {
  const x = new Int16Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.round(amp1 * Math.sin((2 * Math.PI * f1 * (at + i)) / 8000) + amp2 * Math.sin((2 * Math.PI * f2 * (at + i)) / 8000));
  return x;
}

function rtp(pt: number, seq: number, ts: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(0x1234, 8);
  payload.copy(b, 12);
  return b;
}

describe('detectFrame (Goertzel over 20 ms)', () => {
  it('finds each of the 16 digits, also through A-law', () => {
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) {
      const x = dual(ROWS[r], COLS[c], 160);
      expect(detectFrame(x)).toBe(code(KEYS[r][c]));
      const codes = Buffer.alloc(160);
      encodeAlaw(x, codes);
      const back = new Int16Array(160);
      decodeAlaw(codes, back);
      expect(detectFrame(back)).toBe(code(KEYS[r][c]));
    }
  });

  it('finds nothing in one tone, speech-like mixtures, noise, silence, a faint digit or one with a strong twist', () => {
    expect(detectFrame(dual(440, 440, 160))).toBe(-1);
    expect(detectFrame(dual(770, 1000, 160))).toBe(-1);
    let seed = 1;
    const noise = new Int16Array(160).map(() => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 20000) - 10000);
    expect(detectFrame(noise)).toBe(-1);
    expect(detectFrame(new Int16Array(160))).toBe(-1);
    expect(detectFrame(dual(770, 1336, 160, 200))).toBe(-1);
    expect(detectFrame(dual(770, 1336, 160, 10000, 800))).toBe(-1);
    // A digit under speech-level noise of a third of its level is still a digit.
    const mixed = dual(852, 1477, 160).map((v, i) => v + (noise[i] >> 3));
    expect(detectFrame(mixed)).toBe(9);
  });
});

describe('DtmfDetector → RFC 4733', () => {
  it('a digit held 200 ms between speech gives one event: start with marker, updates, three end packets, one timestamp', () => {
    const d = new DtmfDetector('alaw', 101, 8000);
    const out: Buffer[] = [];
    const frames = [...Array(5).fill('speech'), ...Array(10).fill('5'), ...Array(5).fill('speech')];
    frames.forEach((what, k) => {
      const x = what === 'speech' ? dual(440, 300, 160, 6000, 3000, k * 160) : dual(770, 1336, 160, 8000, 8000, k * 160);
      const codes = Buffer.alloc(160);
      encodeAlaw(x, codes);
      d.push(rtp(8, k, 1000 + k * 160, codes), 12, 172, null, (p) => out.push(p));
      expect(d.inDigit).toBe(k >= 6 && k < 16);
    });
    expect(out.length).toBe(1 + 8 + 3);
    expect(out.every((p) => (p[1] & 0x7f) === 101 && p[12] === 5 && p.readUInt32BE(4) === 1000 + 5 * 160)).toBe(true);
    expect(out.map((p) => p[1] >> 7)).toEqual([1, ...Array(11).fill(0)]);
    expect(out.map((p) => p.readUInt16BE(14))).toEqual([320, 480, 640, 800, 960, 1120, 1280, 1440, 1600, 1600, 1600, 1600]);
    expect(out.map((p) => p[13] >> 7)).toEqual([...Array(9).fill(0), 1, 1, 1]);
    expect(d.detected).toBe(1);
  });

  it('puts the event on the output timeline and scales durations to its clock (48 kHz toward Opus)', () => {
    const d = new DtmfDetector('alaw', 110, 48000);
    const out: Buffer[] = [];
    const codes = Buffer.alloc(160);
    encodeAlaw(dual(941, 1477, 160), codes);
    for (let k = 0; k < 3; k++) d.push(rtp(8, k, k * 160, codes), 12, 172, { outTs: (t) => 5_000_000 + t * 6 }, (p) => out.push(p));
    expect(out.map((p) => [p[12], p.readUInt32BE(4), p.readUInt16BE(14)])).toEqual([[11, 5_000_000, 1920], [11, 5_000_000, 2880]]);
  });
});

describe('DtmfSynth: RFC 4733 → in-band', () => {
  it('turns an event into G.711 frames of its two tones, as long as its durations say, and holds audio back meanwhile', () => {
    const s = new DtmfSynth(48000, 'ulaw', 0);
    const out: Buffer[] = [];
    const ev = (dur: number, end: boolean): Buffer => rtp(110, 1, 96_000, Buffer.from([11, (end ? 0x80 : 0) | 10, dur >> 8, dur & 0xff]));
    const tl = { outTs: (t: number): number => t / 6 };
    expect(s.event(ev(960 * 3, false), 12, 16, tl, (p) => out.push(p))).toBe(true);
    expect(out.length).toBe(3);
    expect(s.suppresses(96_000 + 960 * 3)).toBe(true);
    s.event(ev(960 * 5 + 480, true), 12, 16, tl, (p) => out.push(p));
    s.event(ev(960 * 5 + 480, true), 12, 16, tl, (p) => out.push(p));
    expect(out.map((p) => p.length - 12)).toEqual([160, 160, 160, 160, 160, 80]);
    expect(out.map((p) => p.readUInt32BE(4) - 16_000)).toEqual([0, 160, 320, 480, 640, 800]);
    expect(out.map((p) => p[1] >> 7)).toEqual([1, 0, 0, 0, 0, 0]);
    // Each whole frame is the digit #, as a detector hears it.
    for (const p of out.slice(0, 5)) {
      const pcm = new Int16Array(160);
      decodeUlaw(p.subarray(12), pcm);
      expect(detectFrame(pcm)).toBe(11);
    }
    expect(s.suppresses(96_000 + 960 * 6)).toBe(false);
    expect(s.event(rtp(110, 2, 1, Buffer.from([1, 2, 3])), 12, 15, tl, () => undefined)).toBe(false);
  });
});
