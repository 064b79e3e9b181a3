/**
 * Audio arithmetic for transcoded streams, where received bytes cannot be compared with sent bytes:
 * band-limited ×6 interpolation (8 → 48 kHz) of a looped signal, and normalised cross-correlation of
 * received audio (at 8 kHz) against a 48 kHz reference at any 48 kHz offset, i.e. 1/6-sample resolution
 * at 8 kHz, so a server's resampler phase costs no correlation. Pure; pinned in test/unit/bench/.
 */

/** Half-length, in 8 kHz samples, of the interpolation filter (Blackman-windowed sinc). */
const HALF = 16;

function sinc(x: number): number {
  if (x === 0) return 1;
  const a = Math.PI * x;
  return Math.sin(a) / a;
}

/**
 * A looped 8 kHz signal interpolated ×6 to 48 kHz, circularly (the loop's end runs into its start, so
 * the result loops without a seam). y[6i] = x[i] exactly; in between, a windowed sinc at 4 kHz.
 */
export function upsample6Loop(x: ArrayLike<number>): Float32Array {
  const n = x.length;
  const taps: Float64Array[] = [];
  for (let p = 0; p < 6; p++) {
    const h = new Float64Array(2 * HALF);
    for (let k = 0; k < 2 * HALF; k++) {
      // tap k weighs x[i + k − HALF + 1] for the output at i + p/6
      const t = p / 6 - (k - HALF + 1);
      const w = 0.42 + 0.5 * Math.cos((Math.PI * t) / HALF) + 0.08 * Math.cos((2 * Math.PI * t) / HALF);
      h[k] = Math.abs(t) >= HALF ? 0 : sinc(t) * w;
    }
    taps.push(h);
  }
  const y = new Float32Array(6 * n);
  for (let i = 0; i < n; i++) {
    y[6 * i] = x[i];
    for (let p = 1; p < 6; p++) {
      const h = taps[p];
      let s = 0;
      for (let k = 0; k < 2 * HALF; k++) {
        let j = i + k - HALF + 1;
        if (j < 0) j += n;
        else if (j >= n) j -= n;
        s += h[k] * x[j];
      }
      y[6 * i + p] = s;
    }
  }
  return y;
}

/** `loop` followed by its first `tail` samples again, so any window starting inside the loop is contiguous. */
export function withTail(loop: Float32Array, tail: number): Float32Array {
  const out = new Float32Array(loop.length + tail);
  out.set(loop, 0);
  for (let i = 0; i < tail; i++) out[loop.length + i] = loop[i % loop.length];
  return out;
}

/**
 * Normalised cross-correlation of rx[rxOff .. rxOff+n) (8 kHz) with ref[off48 + 6i] (48 kHz reference):
 * Σ r·x / √(Σ r² · Σ x²), in [−1, 1]; 0 when either side is silent. With `stride` > 1 only every
 * stride-th term is summed (a cheaper estimate for a coarse search). The caller keeps off48 + 6n inside ref.
 */
export function ncc(rx: Float32Array, rxOff: number, n: number, ref: Float32Array, off48: number, stride = 1): number {
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  const step = 6 * stride;
  for (let i = 0, j = off48; i < n; i += stride, j += step) {
    const a = rx[rxOff + i];
    const b = ref[j];
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}

/** Correlation as a signal-to-distortion ratio (dB) after the best gain: ρ²/(1 − ρ²). */
export function nccToSnrDb(rho: number): number {
  const r2 = Math.min(rho * rho, 0.999999999);
  return rho <= 0 ? -Infinity : 10 * Math.log10(r2 / (1 - r2));
}

export interface Located {
  /** the start offset found, as given (lo48 ≤ at48 ≤ hi48, not reduced modulo the loop). */
  at48: number;
  /** the same modulo the loop: 0 ≤ off48 < loopLen48. */
  off48: number;
  rho: number;
}

/**
 * Where rx[rxOff .. rxOff+n) sits in a looped reference: the best correlation over start offsets
 * [lo48, hi48] (any integers, taken modulo loopLen48). Three passes, each around the best peaks of the
 * one before: every 12th offset (¼ ms) with every 4th term summed (speech energy is mostly below 1 kHz,
 * so the peaks are wider than that), then every 2nd offset ±12 with all terms, then every offset ±2.
 * `ref` is the loop with a tail of at least 6n + 24 samples.
 */
export function locateInLoop(rx: Float32Array, rxOff: number, n: number, ref: Float32Array, loopLen48: number, lo48: number, hi48: number): Located {
  const norm = (o: number): number => ((o % loopLen48) + loopLen48) % loopLen48;
  const KEEP = 4;
  const top: { o: number; r: number }[] = [];
  for (let o = lo48; o <= hi48; o += 12) {
    const r = ncc(rx, rxOff, n, ref, norm(o), 4);
    if (top.length === KEEP && r <= top[KEEP - 1].r) continue;
    // Keep peaks apart: an offset near a kept one replaces it only when better.
    const near = top.findIndex((t) => Math.abs(t.o - o) <= 24);
    if (near >= 0) {
      if (r > top[near].r) top[near] = { o, r };
    } else {
      if (top.length === KEEP) top.pop();
      top.push({ o, r });
    }
    top.sort((a, b) => b.r - a.r);
  }
  let best = -2;
  let bestAt = lo48;
  const consider = (from: number, to: number, step: number): void => {
    for (let o = Math.max(lo48, from); o <= Math.min(hi48, to); o += step) {
      const r = ncc(rx, rxOff, n, ref, norm(o));
      if (r > best) {
        best = r;
        bestAt = o;
      }
    }
  };
  for (const t of top) consider(t.o - 12, t.o + 12, 2);
  const mid = bestAt;
  consider(mid - 2, mid + 2, 1);
  return { at48: bestAt, off48: norm(bestAt), rho: best };
}
