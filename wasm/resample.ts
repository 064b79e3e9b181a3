/**
 * 48 kHz ↔ 8 kHz resampling for Opus ↔ G.711, AssemblyScript → wasm with 128-bit SIMD.
 *
 * One windowed-sinc low-pass (192 taps at 48 kHz, Blackman window, cutoff 3.8 kHz) serves both
 * ways: decimation by 6 (filter, keep every 6th output) and interpolation by 6 (zero-stuff, filter,
 * gain 6), both polyphase so no multiply is spent on a zero or a dropped sample. Blackman's side
 * lobes sit near -74 dB; with 192 taps the transition is about 1.4 kHz wide, so 0–3.1 kHz is flat
 * and images and aliases above 4.5 kHz are well under -50 dB.
 *
 * Stateless by design: the host keeps each stream's history and passes [history | new samples]
 * (f32, in the scratch area); the functions return how many samples they wrote after the input.
 */

const TAPS: i32 = 192;
const FACTOR: i32 = 6;
const PHASE_TAPS: i32 = TAPS / FACTOR; // 32
const CUTOFF: f64 = 3800.0 / 48000.0;

// Layout: [decimation taps, reversed: 192 f32][interpolation taps: 6 phases × 32 f32, reversed][scratch]
const DEC_TAPS: usize = 16384;
const INT_TAPS: usize = DEC_TAPS + <usize>TAPS * 4;
const SCRATCH: usize = 24576;

let ready = false;

/** Tap i of the prototype low-pass: windowed sinc (Blackman), before normalisation. */
function tap(i: i32): f64 {
  const mid: f64 = (<f64>TAPS - 1.0) / 2.0;
  const t = <f64>i - mid;
  const sinc = t == 0 ? 2.0 * CUTOFF : Math.sin(2.0 * Math.PI * CUTOFF * t) / (Math.PI * t);
  const w = 0.42 - 0.5 * Math.cos((2.0 * Math.PI * <f64>i) / (<f64>TAPS - 1.0)) + 0.08 * Math.cos((4.0 * Math.PI * <f64>i) / (<f64>TAPS - 1.0));
  return sinc * w;
}

// No allocation anywhere (the stub runtime's heap would land on the fixed regions above).
function design(): void {
  let sum: f64 = 0;
  for (let i = 0; i < TAPS; i++) sum += tap(i);
  // Unity gain at DC for decimation; ×6 per phase for interpolation (each phase sums to ~1/6).
  for (let i = 0; i < TAPS; i++) store<f32>(DEC_TAPS + <usize>(TAPS - 1 - i) * 4, <f32>(tap(i) / sum));
  for (let p = 0; p < FACTOR; p++) {
    for (let j = 0; j < PHASE_TAPS; j++) {
      // y[6n+p] = 6 Σ_j h[6j+p] x[n-j]; stored reversed so the inner loop walks x forwards.
      store<f32>(INT_TAPS + <usize>(p * PHASE_TAPS + (PHASE_TAPS - 1 - j)) * 4, <f32>((tap(FACTOR * j + p) / sum) * <f64>FACTOR));
    }
  }
  ready = true;
}

/** Where the host writes input and reads output (f32 samples). */
export function scratchBase(): usize {
  if (!ready) design();
  return SCRATCH;
}

export function historyDecimate(): i32 {
  return TAPS - 1;
}

export function historyInterpolate(): i32 {
  return PHASE_TAPS - 1;
}

@inline
function dot(x: usize, c: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  for (let k = 0; k < n; k += 4) {
    acc = f32x4.add(acc, f32x4.mul(v128.load(x + <usize>k * 4), v128.load(c + <usize>k * 4)));
  }
  return f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
}

/**
 * 48 kHz → 8 kHz. Input at scratch: `count` samples, the first TAPS-1 of them history. Writes
 * (count - (TAPS-1)) / 6 samples right after the input and returns that number.
 */
export function decimate(count: i32): i32 {
  if (!ready) design();
  const outN = (count - (TAPS - 1)) / FACTOR;
  const out = SCRATCH + <usize>count * 4;
  for (let n = 0; n < outN; n++) {
    // Output n lines up with input sample TAPS-1 + 6n + 5 (the newest of its six).
    const start = SCRATCH + <usize>(FACTOR * n + FACTOR - 1) * 4;
    store<f32>(out + <usize>n * 4, dot(start, DEC_TAPS, TAPS));
  }
  return outN;
}

/**
 * 8 kHz → 48 kHz. Input at scratch: `count` samples, the first PHASE_TAPS-1 of them history.
 * Writes (count - (PHASE_TAPS-1)) × 6 samples right after the input and returns that number.
 */
export function interpolate(count: i32): i32 {
  if (!ready) design();
  const inN = count - (PHASE_TAPS - 1);
  const out = SCRATCH + <usize>count * 4;
  for (let n = 0; n < inN; n++) {
    const start = SCRATCH + <usize>n * 4;
    for (let p = 0; p < FACTOR; p++) {
      store<f32>(out + <usize>(n * FACTOR + p) * 4, dot(start, INT_TAPS + <usize>(p * PHASE_TAPS) * 4, PHASE_TAPS));
    }
  }
  return inN * FACTOR;
}
