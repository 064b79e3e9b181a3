import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { G722Decoder, G722Encoder } from '../../../../src/media/codecs/g722.js';
import { wasmInstance } from '../../../../src/media/codecs/wasm.js';
import { describeWithPeers, requirePeerPath } from '../../../helpers/peers.js';
import { tone } from '../../../helpers/audio.js';

const FS = 16000;
/** The codec's delay, encoder and decoder together (the two QMFs): 22 samples at 16 kHz. */
const CODEC_DELAY = 22;

/** Encodes and decodes in 20 ms frames (320 samples) through one encoder and one decoder. */
function roundTrip(x: Int16Array, frame = 320): Int16Array {
  const enc = new G722Encoder();
  const dec = new G722Decoder();
  const y = new Int16Array(x.length);
  for (let k = 0; k < x.length; k += frame) y.set(dec.decode(enc.encode(x.subarray(k, k + frame))), k);
  return y;
}

/** Signal-to-distortion (dB) of y against x delayed by `delay`, from sample `from` on. */
function sdr(x: Int16Array, y: Int16Array, delay: number, from: number): number {
  let sig = 0;
  let err = 0;
  for (let i = from; i < y.length; i++) {
    sig += x[i - delay] ** 2;
    err += (y[i] - x[i - delay]) ** 2;
  }
  return 10 * Math.log10(sig / err);
}

/** A mix of tones across the wideband plus a little noise: something no codec gets exactly right. */
function mix(n: number): Int16Array {
  let seed = 12345;
  const noise = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
  return Int16Array.from({ length: n }, (_, i) =>
    Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / FS) + 3000 * Math.sin((2 * Math.PI * 2900 * i) / FS + 1) + 1500 * Math.sin((2 * Math.PI * 5100 * i) / FS) + 800 * noise()),
  );
}

describe('G.722 (wasm, 64 kbit/s)', () => {
  it('a tone comes back at ≥ 30 dB SDR in the lower sub-band (200 Hz–3.4 kHz, 6-bit ADPCM), ≥ 18 dB in the higher (5–6.5 kHz, 2-bit), delayed by 22 samples', () => {
    for (const [f, min] of [[200, 30], [1000, 30], [2000, 30], [3400, 30], [5000, 18], [6500, 18]]) {
      const x = tone(f, FS, FS, 10000);
      const got = sdr(x, roundTrip(x), CODEC_DELAY, 1600);
      expect(got, `${f} Hz: ${got.toFixed(1)} dB`).toBeGreaterThan(min);
    }
  });

  it('the delay is 22 samples: a neighbouring delay scores far worse on a low tone', () => {
    const x = tone(300, FS, FS, 10000);
    const y = roundTrip(x);
    const at = sdr(x, y, CODEC_DELAY, 1600);
    expect(at).toBeGreaterThan(sdr(x, y, CODEC_DELAY - 1, 1600) + 10);
    expect(at).toBeGreaterThan(sdr(x, y, CODEC_DELAY + 1, 1600) + 10);
  });

  it('carries its state across frames: frame by frame equals one shot, both ways', () => {
    const x = mix(FS);
    const whole = new G722Encoder().encode(x);
    const enc = new G722Encoder();
    const parts = [];
    for (let k = 0; k < x.length; k += 320) parts.push(enc.encode(x.subarray(k, k + 320)));
    expect(Buffer.concat(parts).equals(whole)).toBe(true);
    const oneShot = new G722Decoder().decode(whole);
    const dec = new G722Decoder();
    const framed = new Int16Array(oneShot.length);
    for (let k = 0; k < whole.length; k += 160) framed.set(dec.decode(whole.subarray(k, k + 160)), 2 * k);
    expect(framed).toEqual(oneShot);
    // Two streams do not share state: a second encoder started now gives the first one's output.
    expect(new G722Encoder().encode(x.subarray(0, 320)).equals(whole.subarray(0, 160))).toBe(true);
  });

  it('an odd number of samples is a CODEC error; any byte string decodes (every code is valid)', () => {
    expect(() => new G722Encoder().encode(new Int16Array(3))).toThrow(/pairs of samples/);
    let seed = 7;
    const junk = Uint8Array.from({ length: 4000 }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24);
    const out = new G722Decoder().decode(junk);
    expect(out.length).toBe(8000);
    expect(new G722Decoder().decode(new Uint8Array(0)).length).toBe(0);
  });
});

describeWithPeers('G.722 against libavcodec (ffmpeg)', ['ffmpeg'], () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-g722-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ffmpeg = (...args: string[]): void => {
    execFileSync(requirePeerPath('ffmpeg'), ['-hide_banner', '-loglevel', 'error', '-y', ...args], { timeout: 20_000 });
  };

  it('our encoder writes the bytes ffmpeg\'s does, and ffmpeg decodes them to the samples ours does', () => {
    const x = mix(2 * FS);
    writeFileSync(join(dir, 'in.raw'), x);
    ffmpeg('-f', 's16le', '-ar', '16000', '-ac', '1', '-i', join(dir, 'in.raw'), '-c:a', 'g722', '-f', 'g722', join(dir, 'ff.g722'));
    const theirs = readFileSync(join(dir, 'ff.g722'));
    const ours = new G722Encoder().encode(x);
    expect(theirs.length).toBe(ours.length);
    expect(theirs.equals(ours)).toBe(true);

    writeFileSync(join(dir, 'ours.g722'), ours);
    ffmpeg('-f', 'g722', '-i', join(dir, 'ours.g722'), '-f', 's16le', '-ar', '16000', join(dir, 'dec.raw'));
    const b = readFileSync(join(dir, 'dec.raw'));
    const theirPcm = new Int16Array(b.buffer, b.byteOffset, b.byteLength >> 1);
    expect(theirPcm).toEqual(new G722Decoder().decode(ours));
  });
});

/**
 * ITU-T G.722 Appendix II digital test sequences (ASCII form, as distributed with the Recommendation:
 * lines of sixteen 4-digit hex words and a check byte, framed by 16 words of 0001). They are ITU's,
 * not in this repository: point G722_ITU_VECTORS at a directory holding them to run this group.
 * They test the SB-ADPCM coder with the QMFs left out (wasm/g722.ts encodeTest/decodeTest); mode 1.
 */
const ITU_DIR = process.env.G722_ITU_VECTORS ?? '';
describe.skipIf(ITU_DIR === '')(`G.722 against the ITU-T test sequences${ITU_DIR === '' ? ' (skipped: set G722_ITU_VECTORS to the directory of the ASCII sequences)' : ''}`, () => {
  const words = (name: string): number[] | undefined => {
    let text: string;
    try {
      text = readFileSync(join(ITU_DIR, name), 'utf8');
    } catch {
      return undefined;
    }
    const out: number[] = [];
    for (const line of text.split(/\r?\n/)) {
      if (!/^[0-9A-F]{66}$/.test(line.trim())) continue;
      for (let i = 0; i < 16; i++) out.push(parseInt(line.slice(4 * i, 4 * i + 4), 16));
    }
    return out.slice(16, out.length - 16);
  };
  interface TestExports {
    memory: { buffer: ArrayBuffer; grow(n: number): number };
    scratchBase(): number;
    init(st: number): void;
    encodeTest(st: number, src: number, dst: number, n: number): void;
    decodeTest(st: number, src: number, dst: number, n: number): void;
  }
  const x = wasmInstance('g722').exports as unknown as TestExports;
  const st = x.scratchBase();
  const src = st + 1024;
  const dst = src + 65536;
  if (x.memory.buffer.byteLength < dst + 131072) x.memory.grow(4);
  const s16 = (w: number): number => (w << 16) >> 16;
  const encodeSets = [['T1C1.XMT', 'T2R1.COD'], ['T1C2.XMT', 'T2R2.COD']];
  const decodeSets = [['T2R1.COD', 'T3L1.RC1', 'T3H1.RC0'], ['T2R2.COD', 'T3L2.RC1', 'T3H2.RC0'], ['T1D3.COD', 'T3L3.RC1', 'T3H3.RC0']];

  it('the encoder gives the reference codes (codes left-justified in the .COD words)', () => {
    let ran = 0;
    for (const [input, reference] of encodeSets) {
      const inp = words(input);
      const ref = words(reference);
      if (inp === undefined || ref === undefined) continue;
      x.init(st);
      new Int16Array(x.memory.buffer, src, inp.length).set(inp.map(s16));
      x.encodeTest(st, src, dst, inp.length);
      const codes = Array.from(new Uint8Array(x.memory.buffer, dst, inp.length));
      expect(codes, input).toEqual(ref.map((w) => w >> 8));
      ran++;
    }
    expect(ran, 'no encoder sequence pair found').toBeGreaterThan(0);
  });

  it('the decoder gives the reference lower (.RC1, mode 1) and higher (.RC0) sub-band outputs', () => {
    let ran = 0;
    for (const [input, low, high] of decodeSets) {
      const cod = words(input);
      const rl = words(low);
      const rh = words(high);
      if (cod === undefined || rl === undefined || rh === undefined) continue;
      x.init(st);
      new Uint8Array(x.memory.buffer, src, cod.length).set(cod.map((w) => w >> 8));
      x.decodeTest(st, src, dst, cod.length);
      const out = new Int16Array(x.memory.buffer, dst, cod.length * 2);
      expect(Array.from(out.filter((_, i) => i % 2 === 0)), low).toEqual(rl.map(s16));
      expect(Array.from(out.filter((_, i) => i % 2 === 1)), high).toEqual(rh.map(s16));
      ran++;
    }
    expect(ran, 'no decoder sequence set found').toBeGreaterThan(0);
  });
});
