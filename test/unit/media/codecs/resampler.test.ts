import { describe, it, expect } from 'vitest';
import { Resampler, FILTERS, type ResampleDirection } from '../../../../src/media/codecs/resampler.js';
import { tone, dB } from '../../../helpers/audio.js';

const HZ = { '8k': 8000, '16k': 16000, '48k': 48000 } as const;
const rates = (d: ResampleDirection): [number, number] => {
  const [a, b] = d.split('-to-') as (keyof typeof HZ)[];
  return [HZ[a], HZ[b]];
};
const DOWN: ResampleDirection[] = ['48k-to-8k', '48k-to-16k', '16k-to-8k'];
const UP: ResampleDirection[] = ['8k-to-48k', '16k-to-48k', '8k-to-16k'];
const AMP = 10000;

/**
 * Amplitude of frequency f in x, Blackman-windowed: a plain Goertzel leaks a strong tone ~−57 dB
 * into a bin 200 bins away, which would hide a −60 dB alias; the window's far side lobes are far lower.
 */
function level(x: ArrayLike<number>, f: number, fs: number): number {
  const n = x.length;
  let re = 0;
  let im = 0;
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (n - 1));
    const ph = (2 * Math.PI * f * i) / fs;
    re += w * x[i] * Math.cos(ph);
    im += w * x[i] * Math.sin(ph);
    wsum += w;
  }
  return (2 * Math.hypot(re, im)) / wsum;
}

/** Resamples 200 ms of a tone in 20 ms frames; returns the output after the filter has settled. */
function run(d: ResampleDirection, f: number): Int16Array {
  const [fsIn] = rates(d);
  const r = new Resampler(d);
  const frame = fsIn / 50;
  const parts: Int16Array[] = [];
  for (let k = 0; k < 10; k++) parts.push(r.process(tone(f, fsIn, frame, AMP, k * frame)));
  // The first 2·delay samples still see the silence before the tone (the filter spans ±delay).
  return concat(parts).subarray(2 * r.delay + 16);
}

function concat(parts: Int16Array[]): Int16Array {
  const all = new Int16Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return all;
}

/** The low rate's band edges: flat to `pass`, ≥ 60 dB down from `stop` (Hz). */
function band(d: ResampleDirection): { low: number; high: number; pass: number; stop: number } {
  const [a, b] = rates(d);
  const low = Math.min(a, b);
  const high = Math.max(a, b);
  const spec = FILTERS[(high / low) as 2 | 3 | 6];
  return { low, high, pass: spec.pass * low, stop: spec.stop * low };
}

describe('resampler (wasm SIMD, linear-phase polyphase FIR)', () => {
  it('passes a sweep of in-band tones at their level: within ±0.1 dB from 100 Hz to the band edge (3.4 kHz at 8 kHz, 7 kHz at 16 kHz)', () => {
    for (const d of [...DOWN, ...UP]) {
      const { low, high, pass } = band(d);
      const [, fsOut] = rates(d);
      const edge = Math.min(pass, low === 8000 ? 3400 : 7000);
      for (let f = 100; f <= edge; f += low === 8000 ? 150 : 300) {
        const out = run(d, f);
        const gain = dB(level(out, f, fsOut), AMP);
        expect(Math.abs(gain), `${d} ${f} Hz: ${gain.toFixed(3)} dB`).toBeLessThan(0.1);
      }
      expect(high).toBeGreaterThan(low);
    }
  });

  it('down: a tone from the stopband edge to the input Nyquist frequency leaves an alias ≥ 60 dB down', () => {
    for (const d of DOWN) {
      const { low, high, stop } = band(d);
      for (let f = stop; f < high / 2; f += (high / 2 - stop) / 23) {
        const out = run(d, Math.round(f));
        const alias = Math.abs(((Math.round(f) + low / 2) % low) - low / 2);
        const got = dB(level(out, alias, low) + 1e-9, AMP);
        expect(got, `${d} ${Math.round(f)} Hz → ${alias} Hz: ${got.toFixed(1)} dB`).toBeLessThan(-60);
      }
    }
  });

  it('up: the images of in-band tones are ≥ 60 dB down', () => {
    for (const d of UP) {
      const { low, high } = band(d);
      for (const f of [300, 1000, 2500, 3400]) {
        const out = run(d, f);
        for (let image = low - f; image < high / 2; image += low) {
          for (const im of [image, image + 2 * f]) {
            if (im >= high / 2) continue;
            const got = dB(level(out, im, high) + 1e-9, AMP);
            expect(got, `${d} ${f} Hz image at ${im} Hz: ${got.toFixed(1)} dB`).toBeLessThan(-60);
          }
        }
      }
    }
  });

  it('frame by frame equals one shot, bit for bit, whatever the frame size (no seam at frame boundaries)', () => {
    for (const d of [...DOWN, ...UP]) {
      const [fsIn] = rates(d);
      const factor = Math.max(...rates(d)) / Math.min(...rates(d));
      const signal = concat([tone(700, fsIn, fsIn / 5, 9000), tone(2300, fsIn, fsIn / 5, 12000, 7)]);
      const whole = new Resampler(d).process(signal);
      for (const frame of [fsIn / 50, fsIn / 100 + factor, factor, fsIn / 25 - factor * 3]) {
        const r = new Resampler(d);
        const parts: Int16Array[] = [];
        for (let off = 0; off < signal.length; off += frame) parts.push(r.process(signal.subarray(off, Math.min(signal.length, off + frame))));
        const joined = concat(parts);
        expect(joined.length, `${d} frames of ${frame}`).toBe(whole.length);
        let worst = 0;
        for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(joined[i] - whole[i]));
        expect(worst, `${d} frames of ${frame}`).toBe(0);
      }
    }
  });

  it('delays by exactly `delay` output samples, a whole number (no fractional phase shift)', () => {
    for (const d of [...DOWN, ...UP]) {
      const [fsIn, fsOut] = rates(d);
      const r = new Resampler(d);
      expect(Number.isInteger(r.delay)).toBe(true);
      // delay m low-rate samples: m, or m·F at the high rate
      const m = FILTERS[(Math.max(fsIn, fsOut) / Math.min(fsIn, fsOut)) as 2 | 3 | 6].m;
      expect(r.delay).toBe(fsOut < fsIn ? m : (m * fsOut) / fsIn);
      const f = 1000;
      const out = r.process(tone(f, fsIn, fsIn / 5, AMP));
      // out[i] = the input tone at output time i − delay; half a sample off at 1 kHz would be ~6 % of AMP.
      let worst = 0;
      for (let i = 2 * r.delay + 16; i < out.length; i++) {
        const want = AMP * Math.sin((2 * Math.PI * f * (i - r.delay)) / fsOut);
        worst = Math.max(worst, Math.abs(out[i] - want));
      }
      expect(worst, d).toBeLessThan(AMP * 0.002);
    }
  });

  it('a direction it cannot do and a frame that is not whole groups are CODEC errors', () => {
    expect(() => new Resampler('8k-to-8k')).toThrow(/no resampler for 8k-to-8k/);
    expect(() => new Resampler('bogus' as ResampleDirection)).toThrow(/no resampler/);
    expect(() => new Resampler('48k-to-8k').process(new Int16Array(961))).toThrow(/whole groups of 6/);
    expect(() => new Resampler('16k-to-8k').process(new Int16Array(3))).toThrow(/whole groups of 2/);
  });
});
