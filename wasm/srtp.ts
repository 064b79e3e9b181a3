/**
 * SRTP's per-packet arithmetic, AssemblyScript → wasm: HMAC-SHA1 (RFC 2104 over FIPS 180-4's SHA-1)
 * for SRTP/SRTCP authentication, AES-CM counter blocks and the keystream XOR. AES itself stays in
 * OpenSSL (src/media/rtp/srtp-crypto.ts), which has AES-NI and constant-time code.
 *
 * Why here and not node:crypto: an SRTP tag covers ~200 bytes, four SHA-1 blocks with the keyed
 * states precomputed. node:crypto spends most of its time per packet on objects (an Hmac, or two
 * Hash copies, and their digests), not on hashing. Here a keyed state is ten words the host keeps
 * (`keyState` computes them once per key) and a tag is one call on bytes already in linear memory:
 * nothing is allocated. SHA-1 has no secret-dependent table lookups or branches, and `verify`
 * compares in constant time.
 *
 * Memory: fixed regions below `scratchBase()` (message schedule, padding blocks); the host owns
 * everything from `scratchBase()` up. No imports, no allocator.
 */

// Layout: [W: 80 words][tail: two 64-byte blocks][digest: 20 bytes] — above any static data, below HEAP.
const W: usize = 16384;
const TAIL: usize = W + 80 * 4;
const INNER: usize = TAIL + 128;
const HEAP: usize = 20480;


// Chaining state, kept in globals between blocks of one message.
let h0: u32 = 0;
let h1: u32 = 0;
let h2: u32 = 0;
let h3: u32 = 0;
let h4: u32 = 0;

/** One 64-byte block at `p` into (h0..h4). */
function compress(p: usize): void {
  for (let i: usize = 0; i < 16; i++) store<u32>(W + (i << 2), bswap<u32>(load<u32>(p + (i << 2))));
  for (let i: usize = 16; i < 80; i++) {
    const x = load<u32>(W + ((i - 3) << 2)) ^ load<u32>(W + ((i - 8) << 2)) ^ load<u32>(W + ((i - 14) << 2)) ^ load<u32>(W + ((i - 16) << 2));
    store<u32>(W + (i << 2), rotl<u32>(x, 1));
  }
  let a = h0;
  let b = h1;
  let c = h2;
  let d = h3;
  let e = h4;
  for (let i: usize = 0; i < 20; i++) {
    const t = rotl<u32>(a, 5) + ((b & c) | (~b & d)) + e + 0x5a827999 + load<u32>(W + (i << 2));
    e = d;
    d = c;
    c = rotl<u32>(b, 30);
    b = a;
    a = t;
  }
  for (let i: usize = 20; i < 40; i++) {
    const t = rotl<u32>(a, 5) + (b ^ c ^ d) + e + 0x6ed9eba1 + load<u32>(W + (i << 2));
    e = d;
    d = c;
    c = rotl<u32>(b, 30);
    b = a;
    a = t;
  }
  for (let i: usize = 40; i < 60; i++) {
    const t = rotl<u32>(a, 5) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + load<u32>(W + (i << 2));
    e = d;
    d = c;
    c = rotl<u32>(b, 30);
    b = a;
    a = t;
  }
  for (let i: usize = 60; i < 80; i++) {
    const t = rotl<u32>(a, 5) + (b ^ c ^ d) + e + 0xca62c1d6 + load<u32>(W + (i << 2));
    e = d;
    d = c;
    c = rotl<u32>(b, 30);
    b = a;
    a = t;
  }
  h0 += a;
  h1 += b;
  h2 += c;
  h3 += d;
  h4 += e;
}

function loadState(s: usize): void {
  h0 = load<u32>(s);
  h1 = load<u32>(s, 4);
  h2 = load<u32>(s, 8);
  h3 = load<u32>(s, 12);
  h4 = load<u32>(s, 16);
}

/** (h0..h4) as the 20-byte big-endian digest at `out`. */
function storeDigest(out: usize): void {
  store<u32>(out, bswap<u32>(h0));
  store<u32>(out, bswap<u32>(h1), 4);
  store<u32>(out, bswap<u32>(h2), 8);
  store<u32>(out, bswap<u32>(h3), 12);
  store<u32>(out, bswap<u32>(h4), 16);
}

/**
 * The message's last bytes: `rest` (< 64) bytes at `p`, then `suffixLen` (0 or 4) bytes of
 * `suffix` big-endian, then SHA-1 padding for a message of `totalLen` bytes (the keyed block
 * included), in one or two blocks.
 */
function finish(p: usize, rest: i32, suffix: u32, suffixLen: i32, totalLen: i32): void {
  memory.fill(TAIL, 0, 128);
  memory.copy(TAIL, p, <usize>rest);
  let n = rest;
  if (suffixLen == 4) {
    store<u32>(TAIL + <usize>n, bswap<u32>(suffix));
    n += 4;
  }
  store<u8>(TAIL + <usize>n, 0x80);
  const blocks: usize = n + 1 + 8 <= 64 ? 1 : 2;
  const end = TAIL + (blocks << 6);
  // Bit length as a 64-bit big-endian integer; messages here are far below 2^29 bytes.
  store<u32>(end - 4, bswap<u32>(<u32>totalLen << 3));
  store<u32>(end - 8, bswap<u32>(<u32>totalLen >>> 29));
  compress(TAIL);
  if (blocks == 2) compress(TAIL + 64);
}

/**
 * The keyed state of `key` (`keyLen` ≤ 64 bytes, as SRTP's 20-byte keys are): the SHA-1 state after
 * the block K⊕ipad at `state`, after K⊕opad at `state + 20` (host-opaque words).
 */
export function keyState(key: usize, keyLen: i32, state: usize): void {
  for (let pad: u32 = 0; pad < 2; pad++) {
    const x: u8 = pad == 0 ? 0x36 : 0x5c;
    for (let i: i32 = 0; i < 64; i++) store<u8>(TAIL + <usize>i, (i < keyLen ? load<u8>(key + <usize>i) : 0) ^ x);
    h0 = 0x67452301;
    h1 = 0xefcdab89;
    h2 = 0x98badcfe;
    h3 = 0x10325476;
    h4 = 0xc3d2e1f0;
    compress(TAIL);
    const s = state + <usize>pad * 20;
    store<u32>(s, h0);
    store<u32>(s, h1, 4);
    store<u32>(s, h2, 8);
    store<u32>(s, h3, 12);
    store<u32>(s, h4, 16);
  }
}

/**
 * HMAC-SHA1 under the keyed `state` of `len` bytes at `data`, followed by the 32-bit big-endian
 * `suffix` when `suffixLen` is 4 (SRTP's ROC, authenticated but not sent); the 20-byte tag goes to
 * `out` (which may be `data + len`: the message is read before the tag is written).
 */
export function hmac(state: usize, data: usize, len: i32, suffix: u32, suffixLen: i32, out: usize): void {
  loadState(state);
  let p = data;
  let rest = len;
  while (rest >= 64) {
    compress(p);
    p += 64;
    rest -= 64;
  }
  finish(p, rest, suffix, suffixLen, 64 + len + suffixLen);
  storeDigest(INNER);
  loadState(state + 20);
  finish(INNER, 20, 0, 0, 64 + 20);
  storeDigest(out);
}

/** 1 when the `n` bytes at `a` and `b` are equal; the time does not depend on where they differ. */
export function verify(a: usize, b: usize, n: i32): i32 {
  let diff: u32 = 0;
  for (let i: usize = 0; i < <usize>n; i++) diff |= load<u8>(a + i) ^ load<u8>(b + i);
  return diff == 0 ? 1 : 0;
}

/** dst[i] ^= src[i] for `n` bytes (the AES-CM keystream onto a payload). */
export function xor(dst: usize, src: usize, n: i32): void {
  let i: usize = 0;
  const n8 = <usize>n & ~(<usize>7);
  for (; i < n8; i += 8) store<u64>(dst + i, load<u64>(dst + i) ^ load<u64>(src + i));
  for (; i < <usize>n; i++) store<u8>(dst + i, load<u8>(dst + i) ^ load<u8>(src + i));
}

/**
 * Counter blocks for AES-CM (RFC 3711 §4.1.1): the IV is at `iv` (its last 16 bits zero, as SRTP's
 * are); block j (1 ≤ j < `blocks`) is IV + j, i.e. the IV with j in its last two bytes.
 */
export function counterBlocks(iv: usize, blocks: i32): void {
  for (let j: i32 = 1; j < blocks; j++) {
    const b = iv + (<usize>j << 4);
    store<u64>(b, load<u64>(iv));
    store<u32>(b, load<u32>(iv, 8), 8);
    store<u16>(b, load<u16>(iv, 12), 12);
    store<u16>(b, bswap<u16>(<u16>j), 14);
  }
}

/** First byte the host may use (16-byte aligned, above the fixed regions). */
export function scratchBase(): usize {
  const b = (__heap_base + 15) & ~(<usize>15);
  return b > HEAP ? b : HEAP;
}
