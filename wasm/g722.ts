/**
 * G.722 (ITU-T Rec. G.722, 7 kHz audio coding within 64 kbit/s), mode 1 (64 kbit/s: 6 bits for the
 * lower sub-band, 2 for the higher), AssemblyScript → wasm. Written from the Recommendation's block
 * description; the block names in the comments are the Recommendation's.
 *
 *   encoder: 16 kHz linear → transmit QMF (24 taps) → two 8 kHz sub-bands → lower: 6-bit ADPCM
 *            (60-level adaptive quantiser), higher: 2-bit ADPCM → one byte per pair of samples
 *            (higher bits 7–6, lower bits 5–0)
 *   decoder: the inverse, with the receive QMF; both sides run the same predictor update (block 4:
 *            a pole-zero predictor, two poles, six zeros, sign-sign adaptation).
 *
 * Samples are signed 16-bit (the Recommendation's 14-bit uniform PCM, scaled by 4: the QMF shifts
 * are 14 on the way in and 11 on the way out, so full scale is kept). RTP: RFC 3551 §4.5.2, 16 kHz
 * audio on an 8000 Hz RTP clock, 160 bytes per 20 ms.
 *
 * Stateless module: a stream's state (QMF delay line, both sub-bands' predictors and scale factors)
 * is STATE_WORDS i32 at a pointer the host gives, so any number of streams share the module.
 * No imports, no allocator.
 */

// ---- State layout (i32 words) ----
const X = 0; // QMF delay line, 24 words
const BAND0 = 24;
const BAND_WORDS = 45;
const BAND1 = BAND0 + BAND_WORDS;
const STATE_WORDS: i32 = BAND1 + BAND_WORDS; // 114

// Within a band:
const S = 0; // predictor output s
const SP = 1; // pole section output
const SZ = 2; // zero section output
const R = 3; // reconstructed signal r[0..2]
const A = 6; // pole coefficients a[0..2] (a[1], a[2] used)
const AP = 9; // updated pole coefficients
const P = 12; // partially reconstructed signal p[0..2]
const D = 15; // quantised difference d[0..6]
const B = 22; // zero coefficients b[0..6] (b[1..6] used)
const BP = 29; // updated zero coefficients
const SG = 36; // signs, scratch
const NB = 43; // log scale factor (nabla)
const DET = 44; // scale factor (delta)

// ---- Tables of the Recommendation ----
/** QMF coefficients h0, h2, … h22 (h(2i)); the odd ones are the same reversed. Sum 4096 each. */
const QMF: StaticArray<i32> = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];
/** Lower sub-band quantiser decision levels (×det >> 12), index 1..29. */
const Q6: StaticArray<i32> = [0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0];
/** Lower sub-band codes for a negative / positive difference in interval i. */
const ILN: StaticArray<i32> = [0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0];
const ILP: StaticArray<i32> = [0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 0];
/** Inverse quantiser, 6-bit lower code (decoder output, mode 1). */
const QM6: StaticArray<i32> = [
  -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
  -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
  24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
  4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/** Inverse quantiser, 4-bit lower code (the predictor's, every mode). */
const QM4: StaticArray<i32> = [0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0];
/** 4-bit code → magnitude index, and the lower band's log scale factor steps. */
const RL42: StaticArray<i32> = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
const WL: StaticArray<i32> = [-60, -30, 58, 172, 334, 538, 1198, 3042];
/** Higher sub-band: codes, inverse quantiser, magnitude index, log scale factor steps. */
const IHN: StaticArray<i32> = [0, 1, 0];
const IHP: StaticArray<i32> = [0, 3, 2];
const QM2: StaticArray<i32> = [-7408, -1616, 7408, 1616];
const RH2: StaticArray<i32> = [2, 1, 2, 1];
const WH: StaticArray<i32> = [0, -214, 798];
/** Log-to-linear table of the scale factor (block 3, SCALEL/SCALEH). */
const ILB: StaticArray<i32> = [
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
  2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

// @ts-ignore: decorator
@inline function ld(st: usize, i: i32): i32 {
  return load<i32>(st + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline function sto(st: usize, i: i32, v: i32): void {
  store<i32>(st + (<usize>i << 2), v);
}
// @ts-ignore: decorator
@inline function sat16(v: i32): i32 {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}
// @ts-ignore: decorator
@inline function tbl(t: StaticArray<i32>, i: i32): i32 {
  return unchecked(t[i]);
}

/** Resets a stream's state (the Recommendation's reset: all zero, scale factors at their minimum). */
export function init(st: usize): void {
  for (let i = 0; i < STATE_WORDS; i++) sto(st, i, 0);
  sto(st, BAND0 + DET, 32);
  sto(st, BAND1 + DET, 8);
}

/** Blocks 3L/3H: log scale factor update (LOGSCL/LOGSCH) and its linear value (SCALEL/SCALEH). */
function scale(st: usize, band: i32, step: i32, nbMax: i32, shift: i32): void {
  let nb = ((ld(st, band + NB) * 127) >> 7) + step;
  if (nb < 0) nb = 0;
  else if (nb > nbMax) nb = nbMax;
  sto(st, band + NB, nb);
  const lin = tbl(ILB, (nb >> 6) & 31);
  const e = shift - (nb >> 11);
  sto(st, band + DET, (e < 0 ? lin << -e : lin >> e) << 2);
}

/** Block 4: reconstruction, pole and zero coefficient adaptation, and the next prediction. */
function predictor(st: usize, band: i32, d: i32): void {
  const b = band;
  // RECONS, PARREC
  sto(st, b + D, d);
  sto(st, b + R, sat16(ld(st, b + S) + d));
  sto(st, b + P, sat16(ld(st, b + SZ) + d));
  // UPPOL2
  const sg0 = ld(st, b + P) >> 15;
  const sg1 = ld(st, b + P + 1) >> 15;
  const sg2 = ld(st, b + P + 2) >> 15;
  const f = sat16(ld(st, b + A + 1) << 2);
  let wd2 = sg0 == sg1 ? -f : f;
  if (wd2 > 32767) wd2 = 32767;
  let a2 = (wd2 >> 7) + (sg0 == sg2 ? 128 : -128) + ((ld(st, b + A + 2) * 32512) >> 15);
  if (a2 > 12288) a2 = 12288;
  else if (a2 < -12288) a2 = -12288;
  sto(st, b + AP + 2, a2);
  // UPPOL1
  let a1 = sat16((sg0 == sg1 ? 192 : -192) + ((ld(st, b + A + 1) * 32640) >> 15));
  const lim = sat16(15360 - a2);
  if (a1 > lim) a1 = lim;
  else if (a1 < -lim) a1 = -lim;
  sto(st, b + AP + 1, a1);
  // UPZERO
  const step = d == 0 ? 0 : 128;
  const sgd = d >> 15;
  for (let i = 1; i < 7; i++) {
    const same = (ld(st, b + D + i) >> 15) == sgd;
    sto(st, b + BP + i, sat16((same ? step : -step) + ((ld(st, b + B + i) * 32640) >> 15)));
  }
  // DELAYZ, DELAYL, DELAYA
  for (let i = 6; i > 0; i--) {
    sto(st, b + D + i, ld(st, b + D + i - 1));
    sto(st, b + B + i, ld(st, b + BP + i));
  }
  for (let i = 2; i > 0; i--) {
    sto(st, b + R + i, ld(st, b + R + i - 1));
    sto(st, b + P + i, ld(st, b + P + i - 1));
    sto(st, b + A + i, ld(st, b + AP + i));
  }
  // FILTEP
  const r1 = sat16(ld(st, b + R + 1) << 1);
  const r2 = sat16(ld(st, b + R + 2) << 1);
  const sp = sat16(((ld(st, b + A + 1) * r1) >> 15) + ((ld(st, b + A + 2) * r2) >> 15));
  sto(st, b + SP, sp);
  // FILTEZ
  let sz = 0;
  for (let i = 6; i > 0; i--) sz += (ld(st, b + B + i) * sat16(ld(st, b + D + i) << 1)) >> 15;
  sz = sat16(sz);
  sto(st, b + SZ, sz);
  // PREDIC
  sto(st, b + S, sat16(sp + sz));
}

/** Pushes two samples into the QMF delay line (oldest first out). */
// @ts-ignore: decorator
@inline function qmfShift(st: usize, first: i32, second: i32): void {
  for (let i = 0; i < 22; i++) sto(st, X + i, ld(st, X + i + 2));
  sto(st, X + 22, first);
  sto(st, X + 23, second);
}

/** SB-ADPCM encoder for one pair of sub-band samples (xl, xh): the code byte (higher bits 7–6). */
function encodeBands(st: usize, xl: i32, xh: i32): i32 {
  const lo = BAND0;
  const hi = BAND1;
  // Lower sub-band. SUBTRA, QUANTL
  const el = sat16(xl - ld(st, lo + S));
  const mag = el >= 0 ? el : -(el + 1);
  const detL = ld(st, lo + DET);
  let k = 1;
  for (; k < 30; k++) if (mag < (tbl(Q6, k) * detL) >> 12) break;
  const il = el < 0 ? tbl(ILN, k) : tbl(ILP, k);
  // INVQAL (4-bit), LOGSCL, SCALEL, block 4
  const il4 = il >> 2;
  const dl = (detL * tbl(QM4, il4)) >> 15;
  scale(st, lo, tbl(WL, tbl(RL42, il4)), 18432, 8);
  predictor(st, lo, dl);

  // Higher sub-band. SUBTRA, QUANTH
  const eh = sat16(xh - ld(st, hi + S));
  const magH = eh >= 0 ? eh : -(eh + 1);
  const detH = ld(st, hi + DET);
  const mih = magH >= (564 * detH) >> 12 ? 2 : 1;
  const ih = eh < 0 ? tbl(IHN, mih) : tbl(IHP, mih);
  // INVQAH, LOGSCH, SCALEH, block 4
  const dh = (detH * tbl(QM2, ih)) >> 15;
  scale(st, hi, tbl(WH, tbl(RH2, ih)), 22528, 10);
  predictor(st, hi, dh);
  return (ih << 6) | il;
}

/** The decoder's reconstructed sub-band samples of the last code (rl, rh). */
let outLow: i32 = 0;
let outHigh: i32 = 0;

/** SB-ADPCM decoder for one code byte (mode 1): sets outLow and outHigh. */
function decodeBands(st: usize, code: i32): void {
  const lo = BAND0;
  const hi = BAND1;
  const il = code & 0x3f;
  const ih = (code >> 6) & 3;

  // Lower sub-band. INVQBL (6-bit, the output), RECONS, LIMIT
  const detL = ld(st, lo + DET);
  let rl = ld(st, lo + S) + ((detL * tbl(QM6, il)) >> 15);
  if (rl > 16383) rl = 16383;
  else if (rl < -16384) rl = -16384;
  // INVQAL (4-bit, the predictor's), LOGSCL, SCALEL, block 4
  const il4 = il >> 2;
  const dl = (detL * tbl(QM4, il4)) >> 15;
  scale(st, lo, tbl(WL, tbl(RL42, il4)), 18432, 8);
  predictor(st, lo, dl);

  // Higher sub-band. INVQAH, RECONS, LIMIT, LOGSCH, SCALEH, block 4
  const detH = ld(st, hi + DET);
  const dh = (detH * tbl(QM2, ih)) >> 15;
  let rh = dh + ld(st, hi + S);
  if (rh > 16383) rh = 16383;
  else if (rh < -16384) rh = -16384;
  scale(st, hi, tbl(WH, tbl(RH2, ih)), 22528, 10);
  predictor(st, hi, dh);
  outLow = rl;
  outHigh = rh;
}

/** n samples (n even; i16 at src) → n/2 code bytes at dst, with the stream state at st. */
export function encode(st: usize, src: usize, dst: usize, n: i32): void {
  for (let j = 0; j + 1 < n; j += 2) {
    // Transmit QMF: one lower and one higher sub-band sample per input pair.
    qmfShift(st, <i32>load<i16>(src + (<usize>j << 1)), <i32>load<i16>(src + (<usize>(j + 1) << 1)));
    let even = 0;
    let odd = 0;
    for (let i = 0; i < 12; i++) {
      odd += ld(st, X + 2 * i) * tbl(QMF, i);
      even += ld(st, X + 2 * i + 1) * tbl(QMF, 11 - i);
    }
    store<u8>(dst + <usize>(j >> 1), <u8>encodeBands(st, (even + odd) >> 14, (even - odd) >> 14));
  }
}

/** n code bytes at src → 2n samples (i16 at dst), with the stream state at st. */
export function decode(st: usize, src: usize, dst: usize, n: i32): void {
  for (let j = 0; j < n; j++) {
    decodeBands(st, <i32>load<u8>(src + <usize>j));
    // Receive QMF: two output samples per code.
    qmfShift(st, outLow + outHigh, outLow - outHigh);
    let o1 = 0;
    let o2 = 0;
    for (let i = 0; i < 12; i++) {
      o2 += ld(st, X + 2 * i) * tbl(QMF, i);
      o1 += ld(st, X + 2 * i + 1) * tbl(QMF, 11 - i);
    }
    store<i16>(dst + (<usize>(2 * j) << 1), <i16>sat16(o1 >> 11));
    store<i16>(dst + (<usize>(2 * j + 1) << 1), <i16>sat16(o2 >> 11));
  }
}

/**
 * The Recommendation's test configuration (Appendix II digital test sequences): the QMFs are left
 * out, each 16-bit input word w feeds both sub-band encoders as w >> 1, one code per word.
 */
export function encodeTest(st: usize, src: usize, dst: usize, n: i32): void {
  for (let j = 0; j < n; j++) {
    const x = <i32>load<i16>(src + (<usize>j << 1)) >> 1;
    store<u8>(dst + <usize>j, <u8>encodeBands(st, x, x));
  }
}

/** Test configuration of the decoder: per code, the lower then the higher sub-band output, each << 1. */
export function decodeTest(st: usize, src: usize, dst: usize, n: i32): void {
  for (let j = 0; j < n; j++) {
    decodeBands(st, <i32>load<u8>(src + <usize>j));
    store<i16>(dst + (<usize>(2 * j) << 1), <i16>(outLow << 1));
    store<i16>(dst + (<usize>(2 * j + 1) << 1), <i16>(outHigh << 1));
  }
}

/** First free byte after static data, 16-byte aligned: the host's state and scratch areas start here. */
export function scratchBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/** Words of state per stream. */
export function stateWords(): i32 {
  return STATE_WORDS;
}
