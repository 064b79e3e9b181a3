import { createHmac, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * STUN (RFC 8489) as ICE uses it on a media socket (RFC 8445): Binding requests and responses,
 * MESSAGE-INTEGRITY (HMAC-SHA1, short-term credential: the key is the ICE password) and
 * FINGERPRINT. Parsing never throws; a packet that is not STUN is told apart from RTP, RTCP and
 * DTLS by its first byte and the magic cookie (RFC 7983).
 *
 *   0                   1                   2                   3
 *   |0 0|  STUN message type (14 bits)  |        message length         |
 *   |                    magic cookie 0x2112A442                        |
 *   |                 transaction ID (96 bits)                          |
 *   | attributes: type (16) | length (16) | value, padded to 4 bytes ... |
 */
export const MAGIC_COOKIE = 0x2112a442;

export const STUN_TYPE = { bindingRequest: 0x0001, bindingSuccess: 0x0101, bindingError: 0x0111, bindingIndication: 0x0011 } as const;

export const ATTR = {
  mappedAddress: 0x0001,
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  unknownAttributes: 0x000a,
  xorMappedAddress: 0x0020,
  priority: 0x0024,
  useCandidate: 0x0025,
  software: 0x8022,
  fingerprint: 0x8028,
  iceControlled: 0x8029,
  iceControlling: 0x802a,
} as const;

const FINGERPRINT_XOR = 0x5354554e;

export interface StunAttribute {
  type: number;
  value: Buffer;
}

export interface StunMessage {
  type: number;
  transactionId: Buffer;
  attributes: StunAttribute[];
}

export type StunParse = { ok: true; message: StunMessage } | { ok: false; reason: string };

/** RFC 7983 demultiplexing: STUN starts with 0–3 and carries the magic cookie. */
export function isStun(buf: Buffer): boolean {
  return buf.length >= 20 && buf[0] < 4 && buf.readUInt32BE(4) === MAGIC_COOKIE;
}

export function parseStun(buf: Buffer): StunParse {
  if (!isStun(buf)) return { ok: false, reason: 'not a STUN message' };
  const length = buf.readUInt16BE(2);
  if (length % 4 !== 0) return { ok: false, reason: 'message length not a multiple of 4' };
  if (20 + length !== buf.length) return { ok: false, reason: 'message length does not match the packet' };
  const attributes: StunAttribute[] = [];
  let off = 20;
  while (off < buf.length) {
    if (off + 4 > buf.length) return { ok: false, reason: 'truncated attribute header' };
    const type = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    if (off + 4 + len > buf.length) return { ok: false, reason: `attribute 0x${type.toString(16)} runs past the end` };
    attributes.push({ type, value: Buffer.from(buf.subarray(off + 4, off + 4 + len)) });
    off += 4 + len + ((4 - (len % 4)) % 4);
  }
  return { ok: true, message: { type: buf.readUInt16BE(0), transactionId: Buffer.from(buf.subarray(8, 20)), attributes } };
}

export function attribute(m: StunMessage, type: number): Buffer | undefined {
  return m.attributes.find((a) => a.type === type)?.value;
}

/** Byte offset of the first attribute of `type` in a raw message, or -1. */
function attributeOffset(buf: Buffer, type: number): number {
  let off = 20;
  while (off + 4 <= buf.length) {
    if (buf.readUInt16BE(off) === type) return off;
    const len = buf.readUInt16BE(off + 2);
    off += 4 + len + ((4 - (len % 4)) % 4);
  }
  return -1;
}

function integrity(key: Buffer, buf: Buffer, end: number): Buffer {
  // The HMAC covers the message up to MESSAGE-INTEGRITY, with the length field counting up to and
  // including it (RFC 8489 §14.5), whatever follows (FINGERPRINT).
  const head = Buffer.from(buf.subarray(0, end));
  head.writeUInt16BE(end - 20 + 24, 2);
  return createHmac('sha1', key).update(head).digest();
}

/** Checks MESSAGE-INTEGRITY with a short-term key (the ICE password as bytes). */
export function verifyMessageIntegrity(buf: Buffer, key: Buffer): boolean {
  const at = attributeOffset(buf, ATTR.messageIntegrity);
  if (at < 0 || at + 24 > buf.length || buf.readUInt16BE(at + 2) !== 20) return false;
  return timingSafeEqual(integrity(key, buf, at), buf.subarray(at + 4, at + 24));
}

function fingerprint(buf: Buffer, end: number): number {
  const head = Buffer.from(buf.subarray(0, end));
  head.writeUInt16BE(end - 20 + 8, 2);
  return (crc32(head) ^ FINGERPRINT_XOR) >>> 0;
}

export function verifyFingerprint(buf: Buffer): boolean {
  const at = attributeOffset(buf, ATTR.fingerprint);
  if (at < 0 || at + 8 !== buf.length || buf.readUInt16BE(at + 2) !== 4) return false;
  return fingerprint(buf, at) === buf.readUInt32BE(at + 4);
}

/**
 * Serializes a message; with `integrityKey` a MESSAGE-INTEGRITY is appended, with `fingerprint`
 * a FINGERPRINT after it. `padding` fills attribute padding (RFC 5769's vectors use spaces).
 */
export function serializeStun(m: StunMessage, opts: { integrityKey?: Buffer; fingerprint?: boolean; padding?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const a of m.attributes) {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(a.type, 0);
    h.writeUInt16BE(a.value.length, 2);
    parts.push(h, a.value, Buffer.alloc((4 - (a.value.length % 4)) % 4, opts.padding ?? 0));
  }
  const head = Buffer.alloc(20);
  head.writeUInt16BE(m.type, 0);
  head.writeUInt32BE(MAGIC_COOKIE, 4);
  m.transactionId.copy(head, 8);
  let buf = Buffer.concat([head, ...parts]);
  buf.writeUInt16BE(buf.length - 20, 2);
  if (opts.integrityKey !== undefined) {
    const mac = integrity(opts.integrityKey, buf, buf.length);
    const h = Buffer.alloc(4);
    h.writeUInt16BE(ATTR.messageIntegrity, 0);
    h.writeUInt16BE(20, 2);
    buf = Buffer.concat([buf, h, mac]);
    buf.writeUInt16BE(buf.length - 20, 2);
  }
  if (opts.fingerprint === true) {
    const fp = fingerprint(buf, buf.length);
    const a = Buffer.alloc(8);
    a.writeUInt16BE(ATTR.fingerprint, 0);
    a.writeUInt16BE(4, 2);
    a.writeUInt32BE(fp, 4);
    buf = Buffer.concat([buf, a]);
    buf.writeUInt16BE(buf.length - 20, 2);
  }
  return buf;
}

export interface TransportAddress {
  family: 4 | 6;
  address: string;
  port: number;
}

/** XOR-MAPPED-ADDRESS (RFC 8489 §14.2): port XOR the cookie's top half, address XOR cookie (+ transaction ID for IPv6). */
export function encodeXorMappedAddress(a: TransportAddress, transactionId: Buffer): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(key, 4);
  const out = Buffer.alloc(a.family === 4 ? 8 : 20);
  out[1] = a.family === 4 ? 1 : 2;
  out.writeUInt16BE(a.port ^ (MAGIC_COOKIE >>> 16), 2);
  const raw = a.family === 4 ? Buffer.from(a.address.split('.').map(Number)) : ipv6Bytes(a.address);
  for (let i = 0; i < raw.length; i++) out[4 + i] = raw[i] ^ key[i];
  return out;
}

export function decodeXorMappedAddress(v: Buffer, transactionId: Buffer): TransportAddress | undefined {
  if (v.length < 8) return undefined;
  const family = v[1] === 1 ? 4 : v[1] === 2 ? 6 : undefined;
  if (family === undefined || v.length !== (family === 4 ? 8 : 20)) return undefined;
  const key = Buffer.alloc(16);
  key.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(key, 4);
  const raw = Buffer.from(v.subarray(4));
  for (let i = 0; i < raw.length; i++) raw[i] ^= key[i];
  const port = v.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const address = family === 4 ? [...raw].join('.') : Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(2 * i).toString(16)).join(':');
  return { family, address, port };
}

function ipv6Bytes(addr: string): Buffer {
  const [head, tail] = addr.split('::');
  const groups = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
  return b;
}
