import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { G722Decoder, G722Encoder } from '../../../../src/media/codecs/g722.js';
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
