import { createCipheriv, type Cipher } from 'node:crypto';
import { TandemError } from '../../common/errors.js';
import { wasmInstance, type WasmMemory } from '../codecs/wasm.js';

/**
 * SRTP's two primitives, keyed once per context and reused for every packet (RFC 3711 §4.1.1,
 * §4.2.1), on one work area in this thread's wasm memory (wasm/srtp.ts):
 *
 * - AES-CM: one `aes-128-ecb` cipher per session key (OpenSSL, AES-NI where the CPU has it)
 *   encrypts the packet's counter blocks; the keystream is XORed onto the payload in wasm. No
 *   cipher object per packet, only the keystream Buffer `Cipher.update` returns.
 * - HMAC-SHA1: the keyed inner/outer states are computed once per key; a tag is one wasm call over
 *   bytes already in wasm memory. node:crypto's Hmac (or two `Hash.copy()`s) cost ~3× as much here,
 *   almost all of it in objects (bench/srtp-micro.ts measures the whole protect/unprotect).
 *
 * The work area is shared by every context of the thread: a packet is copied in, processed and
 * copied out synchronously, so no two packets ever overlap in it.
 */

interface Sha1Exports {
  memory: WasmMemory;
  scratchBase(): number;
  keyState(key: number, keyLen: number, state: number): void;
  hmac(state: number, data: number, len: number, suffix: number, suffixLen: number, out: number): void;
  verify(a: number, b: number, n: number): number;
  xor(dst: number, src: number, n: number): void;
  counterBlocks(iv: number, blocks: number): void;
}

const FUNCTIONS = ['scratchBase', 'keyState', 'hmac', 'verify', 'xor', 'counterBlocks'] as const;

/** Largest SRTP/SRTCP packet handled: a UDP datagram's payload is at most 65 507 bytes. */
export const MAX_SRTP_PACKET = 65536;
const STATE_BYTES = 40;
/** Counter blocks for MAX_SRTP_PACKET bytes of payload, plus one for a partial block. */
const COUNTER_BYTES = MAX_SRTP_PACKET + 16;

/** The thread's work area: offsets into `mem`, the wasm memory as a Buffer. */
export interface SrtpWork {
  readonly x: Sha1Exports;
  readonly mem: Buffer;
  /** A keyed HMAC state is copied here for each tag. */
  readonly state: number;
  /** A computed tag (20 bytes), to compare with the one received. */
  readonly tag: number;
  /** Counter blocks, then the keystream over them. */
  readonly counters: number;
  /** The packet (and the tag that follows it). */
  readonly data: number;
}

let work: SrtpWork | undefined;
/** Views over the counter area, by block count: made once each, reused for every packet. */
const counterViews: Buffer[] = [];

function checkExports(e: Readonly<Record<string, unknown>>): Sha1Exports {
  for (const f of FUNCTIONS) {
    if (typeof e[f] !== 'function') throw new TandemError('CODEC', `srtp.wasm lacks export ${f}()`);
  }
  const mem = e.memory as Partial<WasmMemory> | undefined;
  if (!mem || !(mem.buffer instanceof ArrayBuffer)) throw new TandemError('CODEC', 'srtp.wasm exports no memory');
  return e as unknown as Sha1Exports;
}

/** The work area, instantiated on first use in this thread (memory is sized once, never grown after). */
export function srtpWork(): SrtpWork {
  if (work !== undefined) return work;
  const x = checkExports(wasmInstance('srtp').exports);
  const state = x.scratchBase();
  const tag = state + 64;
  const counters = tag + 64;
  const data = counters + COUNTER_BYTES;
  const need = data + MAX_SRTP_PACKET + 64;
  const have = x.memory.buffer.byteLength;
  if (have < need) x.memory.grow(Math.ceil((need - have) / 65536));
  work = { x, mem: Buffer.from(x.memory.buffer), state, tag, counters, data };
  return work;
}

/**
 * `src[0..len)` into the work area at `at`: TypedArray `set` for a whole buffer (~20 % cheaper than
 * Buffer.copy for a 172-byte packet here, which checks its arguments first), Buffer.copy for a part.
 */
export function copyIn(w: SrtpWork, src: Buffer, len: number, at: number): void {
  if (len === src.length) w.mem.set(src, at);
  else src.copy(w.mem, at, 0, len);
}

/** HMAC-SHA1 under one key: the keyed inner and outer SHA-1 states, computed once. */
export class HmacSha1Key {
  private readonly keyed = Buffer.alloc(STATE_BYTES);

  constructor(key: Buffer) {
    if (key.length > 64) throw new RangeError('HMAC key longer than one SHA-1 block');
    const w = srtpWork();
    key.copy(w.mem, w.data);
    w.x.keyState(w.data, key.length, w.state);
    w.mem.copy(this.keyed, 0, w.state, w.state + STATE_BYTES);
  }

  /**
   * The 20-byte tag of `len` bytes at `at` in the work area, followed by `roc` (32 bits, big
   * endian) when `withRoc` (SRTP authenticates its rollover counter without sending it); written
   * at `out` (which may be `at + len`).
   */
  tagAt(w: SrtpWork, at: number, len: number, roc: number, withRoc: boolean, out: number): void {
    w.mem.set(this.keyed, w.state);
    w.x.hmac(w.state, at, len, roc, withRoc ? 4 : 0, out);
  }
}

/** AES in counter mode (RFC 3711 §4.1.1) under one session key and salt. */
export class AesCmKey {
  private readonly ecb: Cipher;
  private readonly salt0: number;
  private readonly salt1: number;
  private readonly salt2: number;
  private readonly salt3: number;

  constructor(key: Buffer, salt: Buffer) {
    this.ecb = createCipheriv('aes-128-ecb', key, null);
    this.ecb.setAutoPadding(false);
    const s = Buffer.alloc(16);
    salt.copy(s, 0, 0, 14);
    this.salt0 = s.readUInt32BE(0);
    this.salt1 = s.readUInt32BE(4);
    this.salt2 = s.readUInt32BE(8);
    this.salt3 = s.readUInt32BE(12);
  }

  /**
   * XORs the keystream of packet `index` (48 bits) of `ssrc` onto the `n` bytes at `at` in the work
   * area. IV = (k_s·2^16) ⊕ (SSRC·2^64) ⊕ (i·2^16); block j's counter is IV + j.
   */
  applyAt(w: SrtpWork, ssrc: number, index: number, at: number, n: number): void {
    if (n <= 0) return;
    const blocks = (n + 15) >>> 4;
    const c = w.counters;
    const hi = Math.floor(index / 0x100000000);
    const mem = w.mem;
    mem.writeUInt32BE(this.salt0, c);
    mem.writeUInt32BE((this.salt1 ^ ssrc) >>> 0, c + 4);
    mem.writeUInt32BE((this.salt2 ^ ((hi << 16) | (index >>> 16))) >>> 0, c + 8);
    mem.writeUInt32BE((this.salt3 ^ (index << 16)) >>> 0, c + 12);
    w.x.counterBlocks(c, blocks);
    let view = counterViews[blocks];
    if (view === undefined) {
      view = mem.subarray(c, c + blocks * 16);
      counterViews[blocks] = view;
    }
    mem.set(this.ecb.update(view), c);
    w.x.xor(at, c, n);
  }
}
