// The SRTP data path as it was before issue 14 (main's src/media/rtp/srtp.ts, RTP part only):
// per packet a Cipher from createCipheriv('aes-128-ctr'), an Hmac from createHmac('sha1'), a
// 16-byte IV, a 4-byte ROC Buffer, the output Buffers and a BigInt replay window. Kept only as the
// baseline bench/srtp-micro.ts measures the reusable-context implementation against, in the same run.
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { rtpHeaderSize } from '../../src/media/rtp/packet.js';
import { counterIv, deriveSessionKey, LABEL } from '../../src/media/rtp/srtp.js';

const WINDOW = 64n;

export class BaselineSrtp {
  private readonly key: Buffer;
  private readonly salt: Buffer;
  private readonly auth: Buffer;
  private readonly tagLength = 10;
  private readonly send = new Map<number, { roc: number; lastSeq: number }>();
  private readonly recv = new Map<number, { roc: number; sl: number; maxIndex: number; window: bigint }>();

  constructor(masterKey: Buffer, masterSalt: Buffer) {
    this.key = deriveSessionKey(masterKey, masterSalt, LABEL.rtpCipher, 16);
    this.auth = deriveSessionKey(masterKey, masterSalt, LABEL.rtpAuth, 20);
    this.salt = deriveSessionKey(masterKey, masterSalt, LABEL.rtpSalt, 14);
  }

  private tag(data: Buffer, roc: number): Buffer {
    const r = Buffer.alloc(4);
    r.writeUInt32BE(roc >>> 0);
    return createHmac('sha1', this.auth).update(data).update(r).digest().subarray(0, this.tagLength);
  }

  protectRtp(packet: Buffer): Buffer {
    const hl = rtpHeaderSize(packet, packet.length);
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    let s = this.send.get(ssrc);
    if (s === undefined) this.send.set(ssrc, (s = { roc: 0, lastSeq: seq }));
    else {
      if (seq < s.lastSeq && s.lastSeq - seq > 0x8000) s.roc = (s.roc + 1) >>> 0;
      if (((seq - s.lastSeq) & 0xffff) < 0x8000) s.lastSeq = seq;
    }
    const index = s.roc * 0x10000 + seq;
    const out = Buffer.allocUnsafe(packet.length + this.tagLength);
    packet.copy(out, 0, 0, hl);
    createCipheriv('aes-128-ctr', this.key, counterIv(this.salt, ssrc, index)).update(packet.subarray(hl)).copy(out, hl);
    this.tag(out.subarray(0, packet.length), s.roc).copy(out, packet.length);
    return out;
  }

  unprotectRtp(packet: Buffer): { ok: true; packet: Buffer } | { ok: false } {
    const hl = rtpHeaderSize(packet, packet.length);
    if (hl < 0 || packet.length < hl + this.tagLength) return { ok: false };
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const st = this.recv.get(ssrc);
    let v = 0;
    if (st !== undefined) {
      v = st.roc;
      if (st.sl < 0x8000) {
        if (seq - st.sl > 0x8000) v = st.roc - 1;
      } else if (st.sl - 0x8000 > seq) v = st.roc + 1;
      if (v < 0) v = 0;
    }
    const index = v * 0x10000 + seq;
    if (st !== undefined && index <= st.maxIndex) {
      const d = BigInt(st.maxIndex - index);
      if (d >= WINDOW || ((st.window >> d) & 1n) === 1n) return { ok: false };
    }
    const end = packet.length - this.tagLength;
    if (!timingSafeEqual(this.tag(packet.subarray(0, end), v), packet.subarray(end))) return { ok: false };
    const out = Buffer.allocUnsafe(end);
    packet.copy(out, 0, 0, hl);
    createCipheriv('aes-128-ctr', this.key, counterIv(this.salt, ssrc, index)).update(packet.subarray(hl, end)).copy(out, hl);
    if (st === undefined) this.recv.set(ssrc, { roc: v, sl: seq, maxIndex: index, window: 1n });
    else if (index > st.maxIndex) {
      const shift = BigInt(index - st.maxIndex);
      st.window = shift >= WINDOW ? 1n : ((st.window << shift) | 1n) & ((1n << WINDOW) - 1n);
      st.maxIndex = index;
      st.roc = v;
      st.sl = seq;
    } else st.window |= 1n << BigInt(st.maxIndex - index);
    return { ok: true, packet: out };
  }
}
