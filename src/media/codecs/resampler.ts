import { TandemError } from '../../common/errors.js';
import { wasmInstance, type WasmMemory } from './wasm.js';

/**
 * 48 kHz ↔ 8 kHz for one stream and one direction, over wasm/resample.ts (SIMD FIR, polyphase).
 * The wasm side is stateless; this object keeps the stream's filter history between frames, so
 * frame boundaries leave no click. Samples are signed 16-bit; the filter runs in f32.
 */
interface ResampleExports {
  memory: WasmMemory;
  scratchBase(): number;
  historyDecimate(): number;
  historyInterpolate(): number;
  decimate(count: number): number;
  interpolate(count: number): number;
}

let exportsCache: ResampleExports | undefined;

function api(): ResampleExports {
  if (exportsCache !== undefined) return exportsCache;
  const e = wasmInstance('resample').exports as Partial<ResampleExports>;
  if (e.memory === undefined || typeof e.decimate !== 'function' || typeof e.interpolate !== 'function' || typeof e.scratchBase !== 'function'
    || typeof e.historyDecimate !== 'function' || typeof e.historyInterpolate !== 'function') {
    throw new TandemError('CODEC', 'resample.wasm lacks its exports: rebuild with `npm run build:wasm`');
  }
  exportsCache = e as ResampleExports;
  return exportsCache;
}

export type ResampleDirection = '48k-to-8k' | '8k-to-48k';

export class Resampler {
  private readonly history: Float32Array;
  private readonly x: ResampleExports;

  constructor(readonly direction: ResampleDirection) {
    this.x = api();
    this.history = new Float32Array(direction === '48k-to-8k' ? this.x.historyDecimate() : this.x.historyInterpolate());
  }

  /** One frame in, the resampled frame out. 48k→8k needs a multiple of 6 samples. */
  process(input: Int16Array): Int16Array {
    if (this.direction === '48k-to-8k' && input.length % 6 !== 0) throw new TandemError('CODEC', 'decimation needs whole groups of 6 samples');
    const h = this.history.length;
    const count = h + input.length;
    const base = this.x.scratchBase();
    const outLen = this.direction === '48k-to-8k' ? input.length / 6 : input.length * 6;
    const need = base + (count + outLen) * 4;
    if (this.x.memory.buffer.byteLength < need) this.x.memory.grow(Math.ceil((need - this.x.memory.buffer.byteLength) / 65536));
    const f = new Float32Array(this.x.memory.buffer, base, count + outLen);
    f.set(this.history, 0);
    for (let i = 0; i < input.length; i++) f[h + i] = input[i];
    const n = this.direction === '48k-to-8k' ? this.x.decimate(count) : this.x.interpolate(count);
    // The newest samples become the next frame's history.
    this.history.set(f.subarray(count - h, count));
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const v = Math.round(f[count + i]);
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    return out;
  }
}
