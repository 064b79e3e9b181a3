/**
 * Integer-ratio resampling (×2, ×3, ×6 up or down: 8↔16, 16↔48, 8↔48 kHz) for transcoding,
 * AssemblyScript → wasm with 128-bit SIMD.
 *
 * One linear-phase low-pass per factor F, designed at the high rate: a Kaiser-windowed sinc of odd
 * length N = 2·F·m + 1. Its group delay, (N − 1)/2 = F·m high-rate samples, is a whole number of
 * low-rate samples (m), so the output is the input delayed by exactly m low-rate samples (F·m at the
 * high rate), with no fractional part: a decimated sample lands on an input sample, not between two.
 * (The previous filter had an even length, a delay of 95.5 samples at 48 kHz: half a sample of
 * phase shift everywhere, which is what cost Opus → PCMA its SDR.)
 *
 * The same taps serve both ways, polyphase so no multiply is spent on a zero or on a dropped sample:
 *   decimation   y[j]      = Σ_k h[k] · x[F·j − k]             (every output a full N-tap dot product)
 *   interpolation y[F·n+p] = F · Σ_i h[p + F·i] · x[n − i]      (phase p uses every F-th tap)
 * The taps are padded with zeros to F·P, P a multiple of 4, so every dot product is whole v128s.
 *
 * Stateless by design: the host keeps each stream's history and passes [history | new samples] (f32,
 * in the scratch area); the functions write their output right after the input and return its length.
 * No allocation: the taps live at fixed addresses (one slot per factor), the scratch area above them.
 */

const SLOT_BYTES: usize = 16384; // per factor: decimation taps (8 KiB) then interpolation taps (8 KiB)
const TAPS_BASE: usize = 16384;
const MAX_PADDED: i32 = 2048; // f32 taps per table
const SCRATCH: usize = TAPS_BASE + 3 * SLOT_BYTES; // 64 KiB

// Per slot (factor 2, 3, 6): padded length F·P, 0 until designed. Static data, not the heap.
const PADDED: usize = memory.data(12);
// @ts-ignore: decorator
@inline function paddedOf(s: i32): i32 {
  return load<i32>(PADDED + <usize>s * 4);
}

// @ts-ignore: decorator
@inline function slot(factor: i32): i32 {
  return factor == 2 ? 0 : factor == 3 ? 1 : factor == 6 ? 2 : -1;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for x < 30). */
function besselI0(x: f64): f64 {
  let sum: f64 = 1;
  let term: f64 = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 60; k++) {
    term *= q / (<f64>k * <f64>k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/**
 * Designs the filter for `factor` (2, 3 or 6): length 2·factor·m + 1, cutoff `cutoff` (cycles per
 * high-rate sample, e.g. 3800/48000), Kaiser window of shape `beta`; unity gain at DC. Returns the
 * padded length F·P, or 0 when the factor is not one of these or the filter would not fit.
 */
export function design(factor: i32, m: i32, cutoff: f64, beta: f64): i32 {
  const s = slot(factor);
  const n = 2 * factor * m + 1;
  if (s < 0 || m < 1 || n > MAX_PADDED) return 0;
  const p = (((n + factor - 1) / factor + 3) >> 2) << 2; // taps per phase, a multiple of 4
  const total = factor * p;
  if (total > MAX_PADDED) return 0;
  const decTaps = TAPS_BASE + <usize>s * SLOT_BYTES;
  const intTaps = decTaps + SLOT_BYTES / 2;
  const mid = <f64>(factor * m);
  const i0b = besselI0(beta);
  let sum: f64 = 0;
  for (let k = 0; k < n; k++) sum += protoTap(k, mid, cutoff, beta, i0b);
  for (let k = 0; k < total; k++) {
    const h = k < n ? protoTap(k, mid, cutoff, beta, i0b) / sum : 0;
    // Decimation: reversed, so the dot product walks the input forwards (h[k] meets x[F·j − k]).
    store<f32>(decTaps + <usize>(total - 1 - k) * 4, <f32>h);
    // Interpolation: phase ph = k mod F, tap i = k div F, reversed within its phase; gain F.
    const ph = k % factor;
    const i = k / factor;
    store<f32>(intTaps + <usize>(ph * p + (p - 1 - i)) * 4, <f32>(h * <f64>factor));
  }
  store<i32>(PADDED + <usize>s * 4, total);
  return total;
}

/** Tap k of the Kaiser-windowed sinc centred on `mid` (length 2·mid + 1), before normalisation. */
function protoTap(k: i32, mid: f64, cutoff: f64, beta: f64, i0b: f64): f64 {
  const t = <f64>k - mid;
  const sinc = t == 0 ? 2.0 * cutoff : Math.sin(2.0 * Math.PI * cutoff * t) / (Math.PI * t);
  const r = t / mid;
  const w = besselI0(beta * Math.sqrt(Math.max(0.0, 1.0 - r * r))) / i0b;
  return sinc * w;
}

/** Where the host writes input and reads output (f32 samples). */
export function scratchBase(): usize {
  return SCRATCH;
}

/** History samples decimation by `factor` needs before the new input (F·P − 1); 0 if not designed. */
export function historyDecimate(factor: i32): i32 {
  const s = slot(factor);
  return s < 0 || paddedOf(s) == 0 ? 0 : paddedOf(s) - 1;
}

/** History samples interpolation by `factor` needs before the new input (P − 1); 0 if not designed. */
export function historyInterpolate(factor: i32): i32 {
  const s = slot(factor);
  return s < 0 || paddedOf(s) == 0 ? 0 : paddedOf(s) / factor - 1;
}

// @ts-ignore: decorator
@inline function dot(x: usize, c: usize, n: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let k = 0;
  // Two accumulators: the adds of one do not wait on the other's.
  for (; k + 8 <= n; k += 8) {
    a0 = f32x4.add(a0, f32x4.mul(v128.load(x + <usize>k * 4), v128.load(c + <usize>k * 4)));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(x + <usize>k * 4 + 16), v128.load(c + <usize>k * 4 + 16)));
  }
  if (k < n) a0 = f32x4.add(a0, f32x4.mul(v128.load(x + <usize>k * 4), v128.load(c + <usize>k * 4)));
  const acc = f32x4.add(a0, a1);
  return f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
}

/**
 * Down by `factor`. Input at scratch: `count` samples, the first historyDecimate(factor) of them
 * history, the rest a multiple of `factor`. Writes (count − history) / factor samples right after the
 * input and returns that number (−1 if the factor is not designed). Output j is the filtered input at
 * new sample F·j, i.e. the new input delayed by m output samples.
 */
export function decimate(factor: i32, count: i32): i32 {
  const s = slot(factor);
  if (s < 0 || paddedOf(s) == 0) return -1;
  const total = paddedOf(s);
  const outN = (count - (total - 1)) / factor;
  const taps = TAPS_BASE + <usize>s * SLOT_BYTES;
  const out = SCRATCH + <usize>count * 4;
  for (let j = 0; j < outN; j++) {
    // The window ends at history + F·j: the newest sample this output weighs.
    store<f32>(out + <usize>j * 4, dot(SCRATCH + <usize>(factor * j) * 4, taps, total));
  }
  return outN;
}

/**
 * Up by `factor`. Input at scratch: `count` samples, the first historyInterpolate(factor) of them
 * history. Writes (count − history) × factor samples right after the input and returns that number
 * (−1 if the factor is not designed).
 */
export function interpolate(factor: i32, count: i32): i32 {
  const s = slot(factor);
  if (s < 0 || paddedOf(s) == 0) return -1;
  const p = paddedOf(s) / factor;
  const inN = count - (p - 1);
  const taps = TAPS_BASE + <usize>s * SLOT_BYTES + SLOT_BYTES / 2;
  const out = SCRATCH + <usize>count * 4;
  for (let n = 0; n < inN; n++) {
    const start = SCRATCH + <usize>n * 4;
    for (let ph = 0; ph < factor; ph++) {
      store<f32>(out + <usize>(n * factor + ph) * 4, dot(start, taps + <usize>(ph * p) * 4, p));
    }
  }
  return inN * factor;
}
