import { TandemError } from '../../common/errors.js';
import { wasmInstance, WASM_PAGE_BYTES, type WasmMemory } from './wasm.js';

/**
 * Integer-ratio resampling between the rates Tandem's codecs run at (8 kHz G.711, 16 kHz G.722,
 * 48 kHz Opus) for one stream and one direction, over wasm/resample.ts (linear-phase polyphase FIR,
 * 128-bit SIMD). The wasm side is stateless; this object keeps the stream's filter history between
 * frames, so frames join without a seam: a stream cut into frames of any size gives the same samples
 * as the whole stream in one call.
 *
 * Delay: the output is the input delayed by exactly `delay` output samples (a whole number; the
 * filters are symmetric with a group delay that is a whole number of low-rate samples), the first
 * `delay` output samples being the filter settling from silence. Samples are signed 16-bit; the filter
 * runs in f32 and the output is rounded and clipped.
 */
interface ResampleExports {
  memory: WasmMemory;
  scratchBase(): number;
  design(factor: number, m: number, cutoff: number, beta: number): number;
  historyDecimate(factor: number): number;
  historyInterpolate(factor: number): number;
  decimate(factor: number, count: number): number;
  interpolate(factor: number, count: number): number;
}

export type SampleRateName = '8k' | '16k' | '48k';
export type ResampleDirection = `${SampleRateName}-to-${SampleRateName}`;

const HZ: Record<SampleRateName, number> = { '8k': 8000, '16k': 16000, '48k': 48000 };

/**
 * The low-pass of each factor, at the high rate. m: half-length in low-rate samples (the filter has
 * 2·F·m + 1 taps and delays by m low-rate samples); pass/stop: the band edges as fractions of the low
 * rate (8 kHz: flat to 3.6 kHz, ≥ 60 dB down from 4.4 kHz; 16 kHz: 7.2 and 8.8 kHz); stopDb: Kaiser's
 * β = 0.1102·(A − 8.7) for A dB. The cutoff sits mid-way, on the low rate's Nyquist frequency: a
 * cutoff below it (3.85 kHz tried) attenuates the top of the band the peer sent, which costs 5 dB of
 * SDR in the bench; what folds back from just above Nyquist lands above 3.6 kHz, out of the voice band.
 */
interface FilterSpec {
  readonly m: number;
  readonly pass: number;
  readonly stop: number;
  readonly stopDb: number;
}
const SPEC: FilterSpec = Object.freeze({ m: 24, pass: 0.45, stop: 0.55, stopDb: 70 });
export const FILTERS: Readonly<Record<2 | 3 | 6, FilterSpec>> = Object.freeze({ 2: SPEC, 3: SPEC, 6: SPEC });

let exportsCache: ResampleExports | undefined;

function api(): ResampleExports {
  if (exportsCache !== undefined) return exportsCache;
  const e = wasmInstance('resample').exports as Partial<ResampleExports>;
  for (const f of ['scratchBase', 'design', 'historyDecimate', 'historyInterpolate', 'decimate', 'interpolate'] as const) {
    if (typeof e[f] !== 'function') throw new TandemError('CODEC', `resample.wasm lacks export ${f}(): rebuild with \`npm run build:wasm\``);
  }
  if (e.memory === undefined) throw new TandemError('CODEC', 'resample.wasm exports no memory');
  exportsCache = e as ResampleExports;
  return exportsCache;
}

/** Designs factor F's filter in this thread's module, once. */
function ensureDesigned(x: ResampleExports, factor: 2 | 3 | 6): void {
  if (x.historyDecimate(factor) > 0) return;
  const s = FILTERS[factor];
  const cutoff = ((s.pass + s.stop) / 2) / factor; // cycles per high-rate sample
  const beta = 0.1102 * (s.stopDb - 8.7);
  if (x.design(factor, s.m, cutoff, beta) <= 0) throw new TandemError('CODEC', `resampler filter for factor ${factor} does not fit`, { factor: String(factor), m: String(s.m) });
}

export class Resampler {
  /** Output samples by which the output lags the input (see the module comment). */
  readonly delay: number;
  private readonly history: Float32Array;
  private readonly x: ResampleExports;
  private readonly factor: 2 | 3 | 6;
  private readonly down: boolean;

  constructor(readonly direction: ResampleDirection) {
    const [from, to] = direction.split('-to-') as [SampleRateName, SampleRateName];
    const a = HZ[from];
    const b = HZ[to];
    const ratio = a > b ? a / b : b / a;
    if (a === undefined || b === undefined || (ratio !== 2 && ratio !== 3 && ratio !== 6)) {
      throw new TandemError('CODEC', `no resampler for ${direction}`, { direction });
    }
    this.factor = ratio;
    this.down = a > b;
    this.x = api();
    ensureDesigned(this.x, this.factor);
    const m = FILTERS[this.factor].m;
    this.delay = this.down ? m : m * this.factor;
    this.history = new Float32Array(this.down ? this.x.historyDecimate(this.factor) : this.x.historyInterpolate(this.factor));
  }

  /** One frame in, the resampled frame out. Going down, the frame is whole groups of the factor. */
  process(input: Int16Array): Int16Array {
    const f = this.factor;
    if (this.down && input.length % f !== 0) throw new TandemError('CODEC', `down by ${f} needs whole groups of ${f} samples, got ${input.length}`);
    const h = this.history.length;
    const count = h + input.length;
    const base = this.x.scratchBase();
    const outLen = this.down ? input.length / f : input.length * f;
    const need = base + (count + outLen) * 4;
    const have = this.x.memory.buffer.byteLength;
    if (have < need) this.x.memory.grow(Math.ceil((need - have) / WASM_PAGE_BYTES));
    const buf = new Float32Array(this.x.memory.buffer, base, count + outLen);
    buf.set(this.history, 0);
    for (let i = 0; i < input.length; i++) buf[h + i] = input[i];
    const n = this.down ? this.x.decimate(f, count) : this.x.interpolate(f, count);
    // The newest samples become the next frame's history.
    this.history.set(buf.subarray(count - h, count));
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const v = Math.round(buf[count + i]);
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    return out;
  }
}
