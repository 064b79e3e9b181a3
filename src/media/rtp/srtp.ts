import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { rtpHeaderSize } from './packet.js';

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

const REPLAY_WINDOW = 64n;

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

function aesCm(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  return createCipheriv('aes-128-ctr', key, iv).update(data);
}


interface ReceiveState {
  roc: number;
  /** highest sequence number seen (s_l of RFC 3711 §3.3.1). */
  sl: number;
  /** highest index accepted, and a bitmap of the REPLAY_WINDOW indexes below it (bit 0 = maxIndex). */
  maxIndex: number;
  window: bigint;
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

function replayed(state: { maxIndex: number; window: bigint }, index: number): boolean {
  if (index > state.maxIndex) return false;
  const delta = BigInt(state.maxIndex - index);
  if (delta >= REPLAY_WINDOW) return true;
  return ((state.window >> delta) & 1n) === 1n;
}

function accept(state: { maxIndex: number; window: bigint }, index: number): void {
  if (index > state.maxIndex) {
    const shift = BigInt(index - state.maxIndex);
    state.window = shift >= REPLAY_WINDOW ? 1n : ((state.window << shift) | 1n) & ((1n << REPLAY_WINDOW) - 1n);
    state.maxIndex = index;
  } else {
    state.window |= 1n << BigInt(state.maxIndex - index);
  }
}

/**
 * One direction's SRTP/SRTCP context: session keys derived once, per-SSRC rollover counters and
 * replay windows. Failures are counted and reported, never thrown: a bad packet is dropped.
 */
export class SrtpContext {
  readonly counters: SrtpCounters = { protected: 0, unprotected: 0, authFailures: 0, replays: 0, malformed: 0 };
  private readonly rtpKey: Buffer;
  private readonly rtpSalt: Buffer;
  private readonly rtpAuth: Buffer;
  private readonly rtcpKey: Buffer;
  private readonly rtcpSalt: Buffer;
  private readonly rtcpAuth: Buffer;
  private readonly tagLength: number;
  private readonly rtcpTagLength = 10; // 80 bits for both suites (RFC 4568 §6.2.2, RFC 5764 §4.1.2)
  private readonly receivers = new Map<number, ReceiveState>();
  private readonly rtcpReceivers = new Map<number, { maxIndex: number; window: bigint }>();
  private readonly senders = new Map<number, SendState>();

  constructor(readonly profile: SrtpProfile, masterKey: Buffer, masterSalt: Buffer) {
    this.rtpKey = deriveSessionKey(masterKey, masterSalt, LABEL.rtpCipher, 16);
    this.rtpAuth = deriveSessionKey(masterKey, masterSalt, LABEL.rtpAuth, 20);
    this.rtpSalt = deriveSessionKey(masterKey, masterSalt, LABEL.rtpSalt, 14);
    this.rtcpKey = deriveSessionKey(masterKey, masterSalt, LABEL.rtcpCipher, 16);
    this.rtcpAuth = deriveSessionKey(masterKey, masterSalt, LABEL.rtcpAuth, 20);
    this.rtcpSalt = deriveSessionKey(masterKey, masterSalt, LABEL.rtcpSalt, 14);
    this.tagLength = profile === 'AES_CM_128_HMAC_SHA1_32' ? 4 : 10;
  }

  private rtpTag(authenticated: Buffer, roc: number): Buffer {
    const r = Buffer.alloc(4);
    r.writeUInt32BE(roc >>> 0);
    return createHmac('sha1', this.rtpAuth).update(authenticated).update(r).digest().subarray(0, this.tagLength);
  }

  /** RTP → SRTP. The sender's rollover counter advances when the sequence number wraps (§3.3.1). */
  protectRtp(packet: Buffer): Buffer {
    const hl = rtpHeaderSize(packet, packet.length);
    if (hl < 0) throw new RangeError('RTP packet shorter than its header');
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
    const index = s.roc * 0x10000 + seq;
    const out = Buffer.allocUnsafe(packet.length + this.tagLength);
    packet.copy(out, 0, 0, hl);
    aesCm(this.rtpKey, counterIv(this.rtpSalt, ssrc, index), packet.subarray(hl)).copy(out, hl);
    this.rtpTag(out.subarray(0, packet.length), s.roc).copy(out, packet.length);
    this.counters.protected++;
    return out;
  }

  /** SRTP → RTP: authenticate (with the estimated ROC), check replay, decrypt. */
  unprotectRtp(packet: Buffer): UnprotectResult {
    const hl = rtpHeaderSize(packet, packet.length);
    if (hl < 0 || packet.length < hl + this.tagLength) {
      this.counters.malformed++;
      return { ok: false, reason: hl < 0 ? 'malformed' : 'short' };
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
      return { ok: false, reason: 'replay' };
    }
    const end = packet.length - this.tagLength;
    const tag = this.rtpTag(packet.subarray(0, end), v);
    if (!timingSafeEqual(tag, packet.subarray(end))) {
      this.counters.authFailures++;
      return { ok: false, reason: 'auth' };
    }
    const out = Buffer.allocUnsafe(end);
    packet.copy(out, 0, 0, hl);
    aesCm(this.rtpKey, counterIv(this.rtpSalt, ssrc, index), packet.subarray(hl, end)).copy(out, hl);
    if (st === undefined) this.receivers.set(ssrc, { roc: v, sl: seq, maxIndex: index, window: 1n });
    else {
      if (index > st.maxIndex) {
        st.roc = v;
        st.sl = seq;
      }
      accept(st, index);
    }
    this.counters.unprotected++;
    return { ok: true, packet: out };
  }

  private rtcpTag(authenticated: Buffer): Buffer {
    return createHmac('sha1', this.rtcpAuth).update(authenticated).digest().subarray(0, this.rtcpTagLength);
  }

  /** RTCP (compound) → SRTCP, encrypted, with the sender's next SRTCP index. */
  protectRtcp(packet: Buffer): Buffer {
    if (packet.length < 8) throw new RangeError('RTCP packet shorter than 8 bytes');
    const ssrc = packet.readUInt32BE(4);
    let s = this.senders.get(ssrc);
    if (s === undefined) {
      s = { roc: 0, lastSeq: 0, rtcpIndex: 0 };
      this.senders.set(ssrc, s);
    }
    const index = s.rtcpIndex;
    s.rtcpIndex = (s.rtcpIndex + 1) & 0x7fffffff;
    const out = Buffer.allocUnsafe(packet.length + 4 + this.rtcpTagLength);
    packet.copy(out, 0, 0, 8);
    aesCm(this.rtcpKey, counterIv(this.rtcpSalt, ssrc, index), packet.subarray(8)).copy(out, 8);
    out.writeUInt32BE((0x80000000 | index) >>> 0, packet.length);
    this.rtcpTag(out.subarray(0, packet.length + 4)).copy(out, packet.length + 4);
    this.counters.protected++;
    return out;
  }

  /** SRTCP → RTCP: authenticate, check the SRTCP index against replays, decrypt if E is set. */
  unprotectRtcp(packet: Buffer): UnprotectResult {
    if (packet.length < 8 + 4 + this.rtcpTagLength) {
      this.counters.malformed++;
      return { ok: false, reason: 'short' };
    }
    const end = packet.length - this.rtcpTagLength;
    if (!timingSafeEqual(this.rtcpTag(packet.subarray(0, end)), packet.subarray(end))) {
      this.counters.authFailures++;
      return { ok: false, reason: 'auth' };
    }
    const word = packet.readUInt32BE(end - 4);
    const encrypted = (word & 0x80000000) !== 0;
    const index = word & 0x7fffffff;
    const ssrc = packet.readUInt32BE(4);
    let st = this.rtcpReceivers.get(ssrc);
    if (st !== undefined && replayed(st, index)) {
      this.counters.replays++;
      return { ok: false, reason: 'replay' };
    }
    const body = packet.subarray(8, end - 4);
    const out = Buffer.allocUnsafe(end - 4);
    packet.copy(out, 0, 0, 8);
    (encrypted ? aesCm(this.rtcpKey, counterIv(this.rtcpSalt, ssrc, index), body) : body).copy(out, 8);
    if (st === undefined) {
      st = { maxIndex: index, window: 1n };
      this.rtcpReceivers.set(ssrc, st);
    } else accept(st, index);
    this.counters.unprotected++;
    return { ok: true, packet: out };
  }
}
