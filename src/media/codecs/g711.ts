/**
 * G.711 (ITU-T Rec. G.711) through the wasm codec in wasm/g711.ts, and the A-law ↔ µ-law tables the
 * RTP hot path uses.
 *
 * PCMA ↔ PCMU transcoding does not decode to linear per packet: each code of one law maps to exactly
 * one code of the other, so a 256-entry table rewrites the payload bytes in place (no allocation, no
 * copy into wasm memory). The tables are derived from the wasm codec, encode(decode(x)).
 *
 * Implementations disagree on a few µ→A entries, all at µ-law levels that fall half-way between two
 * 13-bit values (odd multiples of 4), because they reduce 16-bit samples to 13 bits differently:
 *   - this codec, like the Sun/CCITT g711.c and ITU-T G.191 STL: truncate (arithmetic shift);
 *   - sox: round half up (39 of 256 entries differ from ours; A→µ is identical);
 *   - libavcodec's pcm_alaw encoder (nearest-level table on 14 bits): 7 differ from ours;
 *   - the direct conversion table printed in G.711 itself (as in Sun's _u2a): 44 differ.
 * The unit tests pin the sox comparison exactly (see test/unit/media/codecs/g711.test.ts).
 */
import { TandemError } from '../../common/errors.js';
import { wasmInstance, WASM_PAGE_BYTES, type WasmMemory } from './wasm.js';

interface G711Exports {
  memory: WasmMemory;
  scratchBase(): number;
  linearToAlaw(pcm: number): number;
  alawToLinear(code: number): number;
  linearToUlaw(pcm: number): number;
  ulawToLinear(code: number): number;
  alawDecode(src: number, dst: number, n: number): void;
  alawEncode(src: number, dst: number, n: number): void;
  ulawDecode(src: number, dst: number, n: number): void;
  ulawEncode(src: number, dst: number, n: number): void;
}

const FUNCTIONS = [
  'scratchBase',
  'linearToAlaw',
  'alawToLinear',
  'linearToUlaw',
  'ulawToLinear',
  'alawDecode',
  'alawEncode',
  'ulawDecode',
  'ulawEncode',
] as const;

/** Samples per call into wasm: the scratch area holds CHUNK i16 in and CHUNK i16 out (64 KiB). */
const CHUNK = 16384;
const REGION_BYTES = CHUNK * 2;

interface Codec {
  x: G711Exports;
  inOff: number; // byte offset of the input region (16-byte aligned)
  outOff: number; // byte offset of the output region
  buffer: ArrayBuffer; // memory.buffer the views were made on
  u8: Uint8Array; // whole memory
  i16: Int16Array; // whole memory (wasm is little-endian, as are the hosts Node runs on)
}

let codec: Codec | undefined;

function checkExports(e: Readonly<Record<string, unknown>>): G711Exports {
  for (const f of FUNCTIONS) {
    if (typeof e[f] !== 'function') throw new TandemError('CODEC', `g711.wasm lacks export ${f}()`);
  }
  const mem = e.memory as Partial<WasmMemory> | undefined;
  if (!mem || !(mem.buffer instanceof ArrayBuffer)) throw new TandemError('CODEC', 'g711.wasm exports no memory');
  return e as unknown as G711Exports;
}

function load(): Codec {
  if (codec !== undefined) return codec;
  const x = checkExports(wasmInstance('g711').exports);
  const inOff = x.scratchBase();
  const outOff = inOff + REGION_BYTES;
  const need = outOff + REGION_BYTES;
  const have = x.memory.buffer.byteLength;
  if (have < need) x.memory.grow(Math.ceil((need - have) / WASM_PAGE_BYTES));
  const buffer = x.memory.buffer;
  codec = { x, inOff, outOff, buffer, u8: new Uint8Array(buffer), i16: new Int16Array(buffer) };
  return codec;
}

/** Views over wasm memory; remade only if the memory was ever replaced (it is not grown after load). */
function views(): Codec {
  const c = load();
  if (c.x.memory.buffer !== c.buffer) {
    c.buffer = c.x.memory.buffer;
    c.u8 = new Uint8Array(c.buffer);
    c.i16 = new Int16Array(c.buffer);
  }
  return c;
}

type Kernel = (src: number, dst: number, n: number) => void;

function decode(src: Uint8Array, dst: Int16Array, pick: (x: G711Exports) => Kernel): number {
  const n = src.length;
  if (dst.length < n) throw new RangeError(`G.711 decode: dst holds ${dst.length} samples, need ${n}`);
  const c = views();
  const kernel = pick(c.x);
  const outIdx = c.outOff >> 1;
  for (let off = 0; off < n; off += CHUNK) {
    const len = Math.min(CHUNK, n - off);
    c.u8.set(src.subarray(off, off + len), c.inOff);
    kernel(c.inOff, c.outOff, len);
    dst.set(c.i16.subarray(outIdx, outIdx + len), off);
  }
  return n;
}

function encode(src: Int16Array, dst: Uint8Array, pick: (x: G711Exports) => Kernel): number {
  const n = src.length;
  if (dst.length < n) throw new RangeError(`G.711 encode: dst holds ${dst.length} bytes, need ${n}`);
  const c = views();
  const kernel = pick(c.x);
  const inIdx = c.inOff >> 1;
  for (let off = 0; off < n; off += CHUNK) {
    const len = Math.min(CHUNK, n - off);
    c.i16.set(src.subarray(off, off + len), inIdx);
    kernel(c.inOff, c.outOff, len);
    dst.set(c.u8.subarray(c.outOff, c.outOff + len), off);
  }
  return n;
}

/** A-law bytes → 16-bit linear. Writes src.length samples to dst (RangeError if it is shorter); returns that count. */
export function decodeAlaw(src: Uint8Array, dst: Int16Array): number {
  return decode(src, dst, (x) => x.alawDecode);
}

/** 16-bit linear → A-law bytes. Writes src.length bytes to dst (RangeError if it is shorter); returns that count. */
export function encodeAlaw(src: Int16Array, dst: Uint8Array): number {
  return encode(src, dst, (x) => x.alawEncode);
}

/** µ-law bytes → 16-bit linear. Writes src.length samples to dst (RangeError if it is shorter); returns that count. */
export function decodeUlaw(src: Uint8Array, dst: Int16Array): number {
  return decode(src, dst, (x) => x.ulawDecode);
}

/** 16-bit linear → µ-law bytes. Writes src.length bytes to dst (RangeError if it is shorter); returns that count. */
export function encodeUlaw(src: Int16Array, dst: Uint8Array): number {
  return encode(src, dst, (x) => x.ulawEncode);
}

/** One A-law code (0..255) → linear sample. */
export function alawToLinear(code: number): number {
  return load().x.alawToLinear(code);
}

/** One linear sample (int16; wider values wrap) → A-law code. */
export function linearToAlaw(sample: number): number {
  return load().x.linearToAlaw(sample);
}

/** One µ-law code (0..255) → linear sample. */
export function ulawToLinear(code: number): number {
  return load().x.ulawToLinear(code);
}

/** One linear sample (int16; wider values wrap) → µ-law code. */
export function linearToUlaw(sample: number): number {
  return load().x.linearToUlaw(sample);
}

let alawToUlaw: Uint8Array | undefined;
let ulawToAlaw: Uint8Array | undefined;

/**
 * The A-law → µ-law table: table[alawCode] = µ-law code. A function so that it is built lazily, on
 * the first call (compiling the wasm if needed); every later call returns the same Uint8Array(256).
 * Treat it as read-only. Call it once per stream setup and keep the array for the packet loop.
 */
export function ALAW_TO_ULAW(): Uint8Array {
  if (alawToUlaw === undefined) {
    const { x } = load();
    const t = new Uint8Array(256);
    for (let a = 0; a < 256; a++) t[a] = x.linearToUlaw(x.alawToLinear(a));
    alawToUlaw = t;
  }
  return alawToUlaw;
}

/**
 * The µ-law → A-law table: table[ulawCode] = A-law code. Lazy and shared; see ALAW_TO_ULAW().
 * A µ-law level (14-bit grid) can sit half-way between two 13-bit A-law input steps; the
 * encoder truncates, so we round half up first. That is what sox and other transcoders do,
 * and the issue requires all 256 entries to equal an independent implementation (sox).
 */
export function ULAW_TO_ALAW(): Uint8Array {
  if (ulawToAlaw === undefined) {
    const { x } = load();
    const t = new Uint8Array(256);
    for (let u = 0; u < 256; u++) t[u] = x.linearToAlaw(Math.min(32767, Math.floor((x.ulawToLinear(u) + 4) / 8) * 8));
    ulawToAlaw = t;
  }
  return ulawToAlaw;
}

/**
 * The table that rewrites `from` payload bytes into `to` ('PCMA' or 'PCMU', case-insensitive).
 * Look it up once per stream, not per packet. Throws TandemError('CODEC') for any other pair.
 */
export function g711TranscodeTable(from: string, to: string): Uint8Array {
  const f = from.toUpperCase();
  const t = to.toUpperCase();
  if (f === 'PCMA' && t === 'PCMU') return ALAW_TO_ULAW();
  if (f === 'PCMU' && t === 'PCMA') return ULAW_TO_ALAW();
  throw new TandemError('CODEC', 'no G.711 table for this pair', { from, to });
}

/**
 * Hot path: buf[i] = table[buf[i]] for start <= i < end (end clamped to buf.length, start to 0).
 * Typically buf is an RTP packet and start its payload offset. No allocation.
 */
export function transcodeInPlace(buf: Uint8Array, start: number, end: number, table: Uint8Array): void {
  const e = end < buf.length ? end : buf.length;
  for (let i = start > 0 ? start : 0; i < e; i++) buf[i] = table[buf[i]];
}
