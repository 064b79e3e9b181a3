/**
 * G.711 A-law and µ-law (ITU-T Rec. G.711, 11/1988), AssemblyScript → wasm.
 *
 * The algorithm is the classic reference one (the CCITT/Sun formulation used by sox and most
 * telephony stacks): quantise the linear sample to a segment (chord) and a 4-bit step inside it.
 *   A-law:  13-bit magnitude, segments end at 0x1F, 0x3F, ... 0xFFF; the code has its even bits
 *           inverted (XOR 0x55), sign bit set for positive samples (§A-law, Table 1a/G.711).
 *   µ-law:  14-bit magnitude plus a bias of 33 (0x84 on the 16-bit scale), segments end at
 *           0x3F, 0x7F, ... 0x1FFF; the whole code is complemented (Table 2a/G.711).
 * Linear samples are signed 16-bit; the low 3 (A-law) or 2 (µ-law) bits are below the codec's
 * resolution and are dropped on encode, and decode returns the step mid-point on that scale.
 *
 * Bulk functions work on linear memory: the host copies into the scratch area (`scratchBase()`),
 * calls one function for a whole frame, and copies the result out. No imports, no allocator.
 */

const SIGN_BIT: i32 = 0x80;
const QUANT_MASK: i32 = 0x0f;
const SEG_SHIFT: i32 = 4;
const SEG_MASK: i32 = 0x70;

/** µ-law bias on the 16-bit scale (0x84 = 132 = 33 << 2). */
const ULAW_BIAS: i32 = 0x84;
/** Largest µ-law 14-bit magnitude before the bias is added: 8159 + 33 = 8192 tops segment 7. */
const ULAW_CLIP: i32 = 8159;

/** A-law: segment of a 12-bit magnitude. Segment s ends at (32 << s) - 1, so for magnitudes above
 *  0x1F the segment is (bit length - 5); 8 means "beyond the last segment". Same result as a linear
 *  search through the end-points table, without the loop. */
// @ts-ignore: decorator
@inline function alawSegment(mag: i32): i32 {
  return mag <= 0x1f ? 0 : 27 - <i32>clz<i32>(mag);
}

/** µ-law: segment of a biased 13-bit magnitude. Segment s ends at (64 << s) - 1. */
// @ts-ignore: decorator
@inline function ulawSegment(mag: i32): i32 {
  return mag <= 0x3f ? 0 : 26 - <i32>clz<i32>(mag);
}

/** Signed 16-bit linear → A-law code (0..255). */
export function linearToAlaw(pcm: i32): i32 {
  let v = <i32>(<i16>pcm) >> 3; // 13-bit signed
  let mask: i32;
  if (v >= 0) {
    mask = 0xd5; // sign bit set (positive) and even bits inverted
  } else {
    mask = 0x55; // even bits inverted
    v = -v - 1; // one's-complement magnitude: -1 → 0, -4096 → 4095
  }
  const seg = alawSegment(v);
  if (seg >= 8) return 0x7f ^ mask; // unreachable for 16-bit input; kept as the spec's clip
  const step = seg < 2 ? v >> 1 : v >> seg;
  return ((seg << SEG_SHIFT) | (step & QUANT_MASK)) ^ mask;
}

/** A-law code (low 8 bits used) → signed 16-bit linear. */
export function alawToLinear(code: i32): i32 {
  const a = (code & 0xff) ^ 0x55;
  let t = (a & QUANT_MASK) << 4;
  const seg = (a & SEG_MASK) >> SEG_SHIFT;
  if (seg == 0) {
    t += 8; // mid-point of the step (segment 0 has no implicit leading one)
  } else {
    t = (t + 0x108) << (seg - 1); // implicit leading one (0x100) plus mid-point (8)
  }
  return (a & SIGN_BIT) != 0 ? t : -t;
}

/** Signed 16-bit linear → µ-law code (0..255). */
export function linearToUlaw(pcm: i32): i32 {
  let v = <i32>(<i16>pcm) >> 2; // 14-bit signed
  let mask: i32 = 0xff;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  }
  if (v > ULAW_CLIP) v = ULAW_CLIP;
  v += ULAW_BIAS >> 2;
  const seg = ulawSegment(v);
  if (seg >= 8) return 0x7f ^ mask; // only v == 8192: the largest code of that sign
  return ((seg << SEG_SHIFT) | ((v >> (seg + 1)) & QUANT_MASK)) ^ mask;
}

/** µ-law code (low 8 bits used) → signed 16-bit linear. */
export function ulawToLinear(code: i32): i32 {
  const u = ~code & 0xff;
  const t = (((u & QUANT_MASK) << 3) + ULAW_BIAS) << ((u & SEG_MASK) >> SEG_SHIFT);
  return (u & SIGN_BIT) != 0 ? ULAW_BIAS - t : t - ULAW_BIAS;
}

/** n A-law bytes at src → n little-endian i16 at dst. */
export function alawDecode(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    store<i16>(dst + (<usize>i << 1), <i16>alawToLinear(<i32>load<u8>(src + <usize>i)));
  }
}

/** n i16 at src → n A-law bytes at dst. */
export function alawEncode(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    store<u8>(dst + <usize>i, <u8>linearToAlaw(<i32>load<i16>(src + (<usize>i << 1))));
  }
}

/** n µ-law bytes at src → n little-endian i16 at dst. */
export function ulawDecode(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    store<i16>(dst + (<usize>i << 1), <i16>ulawToLinear(<i32>load<u8>(src + <usize>i)));
  }
}

/** n i16 at src → n µ-law bytes at dst. */
export function ulawEncode(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    store<u8>(dst + <usize>i, <u8>linearToUlaw(<i32>load<i16>(src + (<usize>i << 1))));
  }
}

/** First free byte after static data, 16-byte aligned: the host's scratch area starts here. */
export function scratchBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}
