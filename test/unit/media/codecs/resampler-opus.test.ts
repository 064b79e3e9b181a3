import { describe, it, expect } from 'vitest';
import { Resampler } from '../../../../src/media/codecs/resampler.js';
import { OpusDecoderStream, OpusEncoderStream, OPUS_FRAME_SAMPLES } from '../../../../src/media/codecs/opus.js';
import { goertzelAmplitude, tone, dB } from '../../../helpers/audio.js';

/** Runs `frames` frames through a resampler and returns the output after the filter has settled. */
function run(r: Resampler, f: number, fsIn: number, frameLen: number, frames: number): Int16Array {
  const outs: Int16Array[] = [];
  for (let k = 0; k < frames; k++) outs.push(r.process(tone(f, fsIn, frameLen, 10000, k * frameLen)));
  const all = new Int16Array(outs.reduce((s, o) => s + o.length, 0));
  let off = 0;
  for (const o of outs) {
    all.set(o, off);
    off += o.length;
  }
  return all.subarray(Math.floor(all.length / 5)); // skip the start-up transient
}

describe('48 kHz ↔ 8 kHz resampler (wasm SIMD FIR)', () => {
  it('48k → 8k keeps in-band tones at their frequency and level (±0.5 dB up to 3 kHz)', () => {
    for (const f of [300, 1000, 2000, 3000]) {
      const out = run(new Resampler('48k-to-8k'), f, 48000, 960, 10);
      const at = goertzelAmplitude(out, f, 8000);
      expect(Math.abs(dB(at, 10000)), `${f} Hz`).toBeLessThan(0.5);
      // The energy is at f, not next to it.
      expect(goertzelAmplitude(out, f + 250, 8000)).toBeLessThan(at / 20);
    }
  });

  it('48k → 8k removes content above 4 kHz before it can alias (≥ 50 dB down from 4.6 kHz)', () => {
    for (const f of [4600, 6000, 9000, 15000]) {
      const out = run(new Resampler('48k-to-8k'), f, 48000, 960, 10);
      const alias = Math.abs(((f + 4000) % 8000) - 4000);
      expect(dB(goertzelAmplitude(out, alias, 8000) + 1e-9, 10000), `${f} Hz → ${alias} Hz`).toBeLessThan(-50);
    }
  });

  it('8k → 48k keeps in-band tones and suppresses the images (≥ 50 dB)', () => {
    for (const f of [300, 1000, 3000]) {
      const out = run(new Resampler('8k-to-48k'), f, 8000, 160, 10);
      expect(out.length % 6).toBe(0);
      expect(Math.abs(dB(goertzelAmplitude(out, f, 48000), 10000)), `${f} Hz`).toBeLessThan(0.5);
      for (const image of [8000 - f, 8000 + f]) expect(dB(goertzelAmplitude(out, image, 48000) + 1e-9, 10000), `image ${image} Hz`).toBeLessThan(-50);
    }
  });

  it('frames join without a seam: one long run equals the same signal in frames', () => {
    const whole = new Resampler('8k-to-48k').process(tone(700, 8000, 1600, 9000));
    const r = new Resampler('8k-to-48k');
    const parts = Array.from({ length: 10 }, (_, k) => r.process(tone(700, 8000, 160, 9000, k * 160)));
    const joined = Int16Array.from(parts.flatMap((p) => [...p]));
    expect(Math.max(...joined.map((v, i) => Math.abs(v - whole[i])))).toBeLessThanOrEqual(1);
  });
});

describe('Opus (libopus via wasm)', () => {
  it('round trip: a 1 kHz tone comes back at 1 kHz at about its level', () => {
    const enc = new OpusEncoderStream(32000);
    const dec = new OpusDecoderStream();
    const out: number[] = [];
    let bytes = 0;
    for (let k = 0; k < 25; k++) {
      const pkt = enc.encode(tone(1000, 48000, OPUS_FRAME_SAMPLES, 8000, k * OPUS_FRAME_SAMPLES));
      bytes += pkt.length;
      out.push(...dec.decode(pkt));
    }
    const settled = out.slice(out.length / 2);
    expect(Math.abs(dB(goertzelAmplitude(settled, 1000, 48000), 8000))).toBeLessThan(1.5);
    expect(goertzelAmplitude(settled, 1500, 48000)).toBeLessThan(goertzelAmplitude(settled, 1000, 48000) / 30);
    // 32 kbit/s ≈ 80 bytes per 20 ms frame.
    expect(bytes / 25).toBeGreaterThan(40);
    expect(bytes / 25).toBeLessThan(120);
  });

  it('encodes at the bit rate asked for (32 kb/s ≈ 80 bytes per 20 ms frame of voice-band audio)', () => {
    const enc = new OpusEncoderStream(32000);
    expect(enc.bitrate).toBe(32000);
    let bytes = 0;
    for (let k = 0; k < 50; k++) bytes += enc.encode(tone(440 + (k % 5) * 200, 48000, OPUS_FRAME_SAMPLES, 8000, k * OPUS_FRAME_SAMPLES)).length;
    // 1 s of audio: 4000 bytes at 32 kb/s; libopus's VBR stays near it (it used ~6400 at its default).
    expect(bytes).toBeGreaterThan(2800);
    expect(bytes).toBeLessThan(4800);
    expect(new OpusEncoderStream(16000).bitrate).toBe(16000);
  });

  it('a garbage packet is a CODEC error, not a crash', () => {
    const dec = new OpusDecoderStream();
    let err: unknown;
    try {
      dec.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]));
    } catch (e) {
      err = e;
    }
    if (err !== undefined) expect(String(err)).toMatch(/Opus packet rejected/);
    expect(() => new OpusEncoderStream().encode(new Int16Array(100))).toThrow(/960 samples/);
  });
});
