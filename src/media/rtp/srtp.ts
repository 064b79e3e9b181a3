import { createCipheriv } from 'node:crypto';
import { rtpHeaderSize } from './packet.js';
import { AesCmKey, HmacSha1Key, MAX_SRTP_PACKET, copyIn, srtpWork } from './srtp-crypto.js';

/**
 * SRTP and SRTCP (RFC 3711) with the two SDES/DTLS-SRTP suites everybody speaks:
 * AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (RFC 4568 §6.2, RFC 5764 §4.1.2).
 * Key derivation rate 0, no MKI. One context protects or unprotects one direction of one stream
 * (one master key), for any number of SSRCs.
 *
 *   SRTP:  | RTP header | encrypted payload | auth tag (10 or 4 bytes) |
 *          authenticated: header + encrypted payload + ROC (32 bits, not sent)
 *   SRTCP: | first 8 bytes | encrypted rest | E (1 bit) + SRTCP index (31 bits) | auth tag (10 bytes) |
 */
export type SrtpProfile = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

export const SRTP_PROFILES: readonly SrtpProfile[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];
export const MASTER_KEY_LENGTH = 16;
export const MASTER_SALT_LENGTH = 14;

/** Key derivation labels (RFC 3711 §4.3.2). */
export const LABEL = { rtpCipher: 0, rtpAuth: 1, rtpSalt: 2, rtcpCipher: 3, rtcpAuth: 4, rtcpSalt: 5 } as const;

const REPLAY_WINDOW = 64;

export type UnprotectFailure = 'short' | 'auth' | 'replay' | 'malformed';
export type UnprotectResult = { ok: true; packet: Buffer } | { ok: false; reason: UnprotectFailure };

/**
 * The session key for `label` (RFC 3711 §4.3.1 with kdr = 0): AES-CM keystream under the master
 * key, starting at IV = (master_salt XOR label·2^48) · 2^16.
 */
export function deriveSessionKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  if (masterKey.length !== MASTER_KEY_LENGTH) throw new RangeError(`SRTP master key must be ${MASTER_KEY_LENGTH} bytes`);
  if (masterSalt.length !== MASTER_SALT_LENGTH) throw new RangeError(`SRTP master salt must be ${MASTER_SALT_LENGTH} bytes`);
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0);
  iv[7] ^= label;
  return createCipheriv('aes-128-ctr', masterKey, iv).update(Buffer.alloc(length));
}

/** IV = (k_s·2^16) XOR (SSRC·2^64) XOR (i·2^16) (RFC 3711 §4.1.1); `index` is the 48-bit packet index. */
export function counterIv(sessionSalt: Buffer, ssrc: number, index: number): Buffer {
  const iv = Buffer.alloc(16);
  sessionSalt.copy(iv, 0, 0, 14);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  const hi = Math.floor(index / 0x100000000);
  const lo = index >>> 0;
  iv.writeUInt16BE(iv.readUInt16BE(8) ^ hi, 8);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ lo) >>> 0, 10);
  return iv;
}

interface ReplayWindow {
  /** highest index accepted. */
  maxIndex: number;
  /** bitmap of the REPLAY_WINDOW indexes at and below maxIndex (bit d = maxIndex − d), in two 32-bit halves. */
  windowLo: number;
  windowHi: number;
}

interface ReceiveState extends ReplayWindow {
  roc: number;
  /** highest sequence number seen (s_l of RFC 3711 §3.3.1). */
  sl: number;
}

interface SendState {
  roc: number;
  lastSeq: number;
  /** SRTCP index of the next compound packet. */
  rtcpIndex: number;
}

export interface SrtpCounters {
  protected: number;
  unprotected: number;
  authFailures: number;
  replays: number;
  malformed: number;
}

function replayed(st: ReplayWindow, index: number): boolean {
  if (index > st.maxIndex) return false;
  const d = st.maxIndex - index;
  if (d >= REPLAY_WINDOW) return true;
  return ((d < 32 ? st.windowLo >>> d : st.windowHi >>> (d - 32)) & 1) === 1;
}

function accept(st: ReplayWindow, index: number): void {
  if (index > st.maxIndex) {
    const shift = index - st.maxIndex;
    if (shift >= REPLAY_WINDOW) {
      st.windowHi = 0;
      st.windowLo = 1;
    } else if (shift >= 32) {
      st.windowHi = st.windowLo << (shift - 32);
      st.windowLo = 1;
    } else {
      st.windowHi = (st.windowHi << shift) | (st.windowLo >>> (32 - shift));
      st.windowLo = (st.windowLo << shift) | 1;
    }
    st.maxIndex = index;
  } else {
    const d = st.maxIndex - index;
    if (d < 32) st.windowLo |= 1 << d;
    else st.windowHi |= 1 << (d - 32);
  }
}

function freshWindow(index: number): ReplayWindow {
  return { maxIndex: index, windowLo: 1, windowHi: 0 };
}

/** What `unprotectRtpInPlace` / `unprotectRtcpInPlace` return for a packet they drop (a length is ≥ 0). */
export const UNPROTECT_FAILED: Readonly<Record<UnprotectFailure, number>> = { short: -1, malformed: -2, auth: -3, replay: -4 };

function failureOf(code: number): UnprotectFailure {
  return code === UNPROTECT_FAILED.short ? 'short' : code === UNPROTECT_FAILED.auth ? 'auth' : code === UNPROTECT_FAILED.replay ? 'replay' : 'malformed';
}

/**
 * One direction's SRTP/SRTCP context: session keys derived once (and keyed into a reusable AES-ECB
 * cipher and HMAC states, srtp-crypto.ts), per-SSRC rollover counters and replay windows. Failures
 * are counted and reported, never thrown: a bad packet is dropped.
 *
 * Per packet: protect allocates its output (the packet grows by the tag) and node:crypto's
 * keystream Buffer; unprotect works in place and allocates only the keystream.
 */
export class SrtpContext {
  readonly counters: SrtpCounters = { protected: 0, unprotected: 0, authFailures: 0, replays: 0, malformed: 0 };
  private readonly rtpCipher: AesCmKey;
  private readonly rtpMac: HmacSha1Key;
  private readonly rtcpCipher: AesCmKey;
  private readonly rtcpMac: HmacSha1Key;
  private readonly tagLength: number;
  private readonly rtcpTagLength = 10; // 80 bits for both suites (RFC 4568 §6.2.2, RFC 5764 §4.1.2)
  private readonly receivers = new Map<number, ReceiveState>();
  private readonly rtcpReceivers = new Map<number, ReplayWindow>();
  private readonly senders = new Map<number, SendState>();

  constructor(readonly profile: SrtpProfile, masterKey: Buffer, masterSalt: Buffer) {
    const key = (label: number, length: number): Buffer => deriveSessionKey(masterKey, masterSalt, label, length);
    this.rtpCipher = new AesCmKey(key(LABEL.rtpCipher, 16), key(LABEL.rtpSalt, 14));
    this.rtpMac = new HmacSha1Key(key(LABEL.rtpAuth, 20));
    this.rtcpCipher = new AesCmKey(key(LABEL.rtcpCipher, 16), key(LABEL.rtcpSalt, 14));
    this.rtcpMac = new HmacSha1Key(key(LABEL.rtcpAuth, 20));
    this.tagLength = profile === 'AES_CM_128_HMAC_SHA1_32' ? 4 : 10;
  }

  /**
   * RTP (`packet[0..len)`) → a new SRTP packet. The sender's rollover counter advances when the
   * sequence number wraps (§3.3.1).
   */
  protectRtp(packet: Buffer, len = packet.length): Buffer {
    const hl = rtpHeaderSize(packet, len);
    if (hl < 0) throw new RangeError('RTP packet shorter than its header');
    if (len > MAX_SRTP_PACKET - this.tagLength) throw new RangeError('RTP packet too long for SRTP');
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    let s = this.senders.get(ssrc);
    if (s === undefined) {
      s = { roc: 0, lastSeq: seq, rtcpIndex: 0 };
      this.senders.set(ssrc, s);
    } else {
      if (seq < s.lastSeq && s.lastSeq - seq > 0x8000) s.roc = (s.roc + 1) >>> 0;
      if (((seq - s.lastSeq) & 0xffff) < 0x8000) s.lastSeq = seq;
    }
    const w = srtpWork();
    const at = w.data;
    copyIn(w, packet, len, at);
    this.rtpCipher.applyAt(w, ssrc, s.roc * 0x10000 + seq, at + hl, len - hl);
    this.rtpMac.tagAt(w, at, len, s.roc, true, at + len);
    const out = Buffer.allocUnsafe(len + this.tagLength);
    w.mem.copy(out, 0, at, at + len + this.tagLength);
    this.counters.protected++;
    return out;
  }

  /**
   * SRTP (`packet[0..len)`) → RTP in place: authenticate (with the estimated ROC), check replay,
   * decrypt. Returns the RTP packet's length (it starts at `packet[0]`), or a negative
   * `UNPROTECT_FAILED` code, counted; the packet is then left as it came.
   */
  unprotectRtpInPlace(packet: Buffer, len: number): number {
    const hl = rtpHeaderSize(packet, len);
    if (hl < 0 || len < hl + this.tagLength || len > MAX_SRTP_PACKET) {
      this.counters.malformed++;
      return hl < 0 ? UNPROTECT_FAILED.malformed : UNPROTECT_FAILED.short;
    }
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const st = this.receivers.get(ssrc);
    // Index estimate (RFC 3711 §3.3.1, Appendix A).
    let v = 0;
    if (st !== undefined) {
      v = st.roc;
      if (st.sl < 0x8000) {
        if (seq - st.sl > 0x8000) v = st.roc - 1;
      } else if (st.sl - 0x8000 > seq) v = st.roc + 1;
      if (v < 0) v = 0;
    }
    const index = v * 0x10000 + seq;
    if (st !== undefined && replayed(st, index)) {
      this.counters.replays++;
      return UNPROTECT_FAILED.replay;
    }
    const end = len - this.tagLength;
    const w = srtpWork();
    const at = w.data;
    copyIn(w, packet, len, at);
    this.rtpMac.tagAt(w, at, end, v, true, w.tag);
    if (w.x.verify(w.tag, at + end, this.tagLength) !== 1) {
      this.counters.authFailures++;
      return UNPROTECT_FAILED.auth;
    }
    this.rtpCipher.applyAt(w, ssrc, index, at + hl, end - hl);
    w.mem.copy(packet, hl, at + hl, at + end);
    if (st === undefined) this.receivers.set(ssrc, { roc: v, sl: seq, ...freshWindow(index) });
    else {
      if (index > st.maxIndex) {
        st.roc = v;
        st.sl = seq;
      }
      accept(st, index);
    }
    this.counters.unprotected++;
    return end;
  }

  /** SRTP → RTP in a new Buffer, the input untouched (tools and tests; the worker works in place). */
  unprotectRtp(packet: Buffer): UnprotectResult {
    const copy = Buffer.from(packet);
    const n = this.unprotectRtpInPlace(copy, copy.length);
    return n >= 0 ? { ok: true, packet: copy.subarray(0, n) } : { ok: false, reason: failureOf(n) };
  }

  /** RTCP (compound) → SRTCP, encrypted, with the sender's next SRTCP index. */
  protectRtcp(packet: Buffer): Buffer {
    if (packet.length < 8) throw new RangeError('RTCP packet shorter than 8 bytes');
    if (packet.length > MAX_SRTP_PACKET - 4 - this.rtcpTagLength) throw new RangeError('RTCP packet too long for SRTCP');
    const ssrc = packet.readUInt32BE(4);
    let s = this.senders.get(ssrc);
    if (s === undefined) {
      s = { roc: 0, lastSeq: 0, rtcpIndex: 0 };
      this.senders.set(ssrc, s);
    }
    const index = s.rtcpIndex;
    s.rtcpIndex = (s.rtcpIndex + 1) & 0x7fffffff;
    const w = srtpWork();
    const at = w.data;
    const len = packet.length;
    copyIn(w, packet, len, at);
    this.rtcpCipher.applyAt(w, ssrc, index, at + 8, len - 8);
    w.mem.writeUInt32BE((0x80000000 | index) >>> 0, at + len);
    this.rtcpMac.tagAt(w, at, len + 4, 0, false, at + len + 4);
    const out = Buffer.allocUnsafe(len + 4 + this.rtcpTagLength);
    w.mem.copy(out, 0, at, at + out.length);
    this.counters.protected++;
    return out;
  }

  /**
   * SRTCP (`packet[0..len)`) → RTCP in place: authenticate, check the SRTCP index against replays,
   * decrypt if E is set. Returns the RTCP compound's length, or a negative `UNPROTECT_FAILED` code.
   */
  unprotectRtcpInPlace(packet: Buffer, len: number): number {
    if (len < 8 + 4 + this.rtcpTagLength || len > MAX_SRTP_PACKET || len > packet.length) {
      this.counters.malformed++;
      return UNPROTECT_FAILED.short;
    }
    const end = len - this.rtcpTagLength;
    const w = srtpWork();
    const at = w.data;
    copyIn(w, packet, len, at);
    this.rtcpMac.tagAt(w, at, end, 0, false, w.tag);
    if (w.x.verify(w.tag, at + end, this.rtcpTagLength) !== 1) {
      this.counters.authFailures++;
      return UNPROTECT_FAILED.auth;
    }
    const word = packet.readUInt32BE(end - 4);
    const index = word & 0x7fffffff;
    const ssrc = packet.readUInt32BE(4);
    const st = this.rtcpReceivers.get(ssrc);
    if (st !== undefined && replayed(st, index)) {
      this.counters.replays++;
      return UNPROTECT_FAILED.replay;
    }
    if ((word & 0x80000000) !== 0) {
      this.rtcpCipher.applyAt(w, ssrc, index, at + 8, end - 12);
      w.mem.copy(packet, 8, at + 8, at + end - 4);
    }
    if (st === undefined) this.rtcpReceivers.set(ssrc, freshWindow(index));
    else accept(st, index);
    this.counters.unprotected++;
    return end - 4;
  }

  /** SRTCP → RTCP in a new Buffer, the input untouched (tools and tests). */
  unprotectRtcp(packet: Buffer): UnprotectResult {
    const copy = Buffer.from(packet);
    const n = this.unprotectRtcpInPlace(copy, copy.length);
    return n >= 0 ? { ok: true, packet: copy.subarray(0, n) } : { ok: false, reason: failureOf(n) };
  }
}

/**
 * Instantiates the SRTP wasm module in this thread and runs a few packets through a context pair,
 * so the first SRTP call neither compiles it nor finds out then that wasm/build/srtp.wasm is missing.
 * Returns the time it took (ms); throws what loading throws (TandemError CODEC).
 */
export function warmUpSrtp(): number {
  const t0 = performance.now();
  const key = Buffer.alloc(MASTER_KEY_LENGTH, 1);
  const salt = Buffer.alloc(MASTER_SALT_LENGTH, 2);
  const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
  const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
  const rtp = Buffer.alloc(172);
  rtp[0] = 0x80;
  for (let seq = 0; seq < 64; seq++) {
    rtp.writeUInt16BE(seq, 2);
    const s = tx.protectRtp(rtp);
    if (rx.unprotectRtpInPlace(s, s.length) < 0) throw new Error('SRTP warm-up: a packet did not come back');
  }
  return performance.now() - t0;
}
