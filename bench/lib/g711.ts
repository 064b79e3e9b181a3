/**
 * ITU-T G.711 A-law / µ-law, scalar, after the Sun/CCITT reference g711.c (public domain): the bench's
 * own copy so it needs no wasm and no src/ import. Only used at set-up (encoding the test signal once,
 * building the reference conversion tables), never per packet.
 */
const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];

function seg(v: number, table: number[]): number {
  for (let i = 0; i < table.length; i++) if (v <= table[i]) return i;
  return table.length;
}

/** 16-bit linear → A-law (13-bit magnitude, truncating). */
export function linearToAlaw(pcm16: number): number {
  let pcm = pcm16 >> 3;
  let mask: number;
  if (pcm >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  const s = seg(pcm, SEG_AEND);
  if (s >= 8) return 0x7f ^ mask;
  let a = s << 4;
  a |= s < 2 ? (pcm >> 1) & 0xf : (pcm >> s) & 0xf;
  return a ^ mask;
}

export function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  let t = (a & 0xf) << 4;
  const s = (a & 0x70) >> 4;
  if (s === 0) t += 8;
  else if (s === 1) t += 0x108;
  else {
    t += 0x108;
    t <<= s - 1;
  }
  return a & 0x80 ? t : -t;
}

const BIAS = 0x84;
const CLIP = 8159;

/** 16-bit linear → µ-law (14-bit magnitude, truncating). */
export function linearToUlaw(pcm16: number): number {
  let pcm = pcm16 >> 2;
  let mask: number;
  if (pcm < 0) {
    pcm = -pcm;
    mask = 0x7f;
  } else mask = 0xff;
  if (pcm > CLIP) pcm = CLIP;
  pcm += BIAS >> 2;
  const s = seg(pcm, SEG_UEND);
  if (s >= 8) return 0x7f ^ mask;
  return ((s << 4) | ((pcm >> (s + 1)) & 0xf)) ^ mask;
}

export function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & 0x0f) << 3) + BIAS;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? BIAS - t : t - BIAS;
}

export type G711Law = 'PCMA' | 'PCMU';

export function encoder(law: G711Law): (pcm16: number) => number {
  return law === 'PCMA' ? linearToAlaw : linearToUlaw;
}
export function decoder(law: G711Law): (code: number) => number {
  return law === 'PCMA' ? alawToLinear : ulawToLinear;
}

/** Reference conversion table from → to: encode(decode(x)), the way a transcoder through linear does it. */
export function conversionTable(from: G711Law, to: G711Law): Uint8Array {
  const t = new Uint8Array(256);
  const dec = decoder(from);
  const enc = encoder(to);
  for (let i = 0; i < 256; i++) t[i] = from === to ? i : enc(dec(i));
  return t;
}

/**
 * Rank of each code by its decoded level (monotone), so "one quantisation step apart" is |rank a − rank b| ≤ 1.
 * Implementations of µ→A disagree by one step at half-way levels (rounding 16 → 13 bits): the bench counts
 * exact matches and within-one-step matches separately.
 */
export function rankTable(law: G711Law): Int16Array {
  const dec = decoder(law);
  const codes = Array.from({ length: 256 }, (_, i) => i).sort((a, b) => dec(a) - dec(b));
  const rank = new Int16Array(256);
  let r = 0;
  for (let i = 0; i < 256; i++) {
    if (i > 0 && dec(codes[i]) !== dec(codes[i - 1])) r++;
    rank[codes[i]] = r;
  }
  return rank;
}
