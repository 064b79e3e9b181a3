import { TandemError } from '../../common/errors.js';

/**
 * RTP fixed header, RFC 3550 §5.1:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                           timestamp                           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           synchronization source (SSRC) identifier            |
 *  +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *  |            contributing source (CSRC) identifiers             |
 *  |                             ....                              |  (CC × 32 bits)
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Header extension if X (§5.3.1): `defined by profile (16) | length in 32-bit words (16)`, then
 * `length` words. Padding if P (§5.1): the last byte counts the padding bytes, itself included.
 *
 * The hot-path helpers read and write in place and allocate nothing. The accessors and setters
 * do no bounds checks: call them only on a packet `rtpHeaderLength` accepted (≥ 12 bytes).
 */

/**
 * Header length including CSRCs and extension, or -1 if `buf[0..len)` is not valid RTP: version
 * other than 2, shorter than 12 bytes, CSRCs / extension / padding not fitting in `len` (or `len`
 * beyond the buffer). The payload is `buf[h .. len − padding)`; padding is `buf[len − 1]` if P.
 * Never reads at or past `len`.
 */
export function rtpHeaderLength(buf: Uint8Array, len: number): number {
  const h = rtpHeaderSize(buf, len);
  if (h < 0) return -1;
  if (buf[0] & 0x20) {
    const pad = buf[len - 1];
    if (pad === 0 || h + pad > len) return -1;
  }
  return h;
}

/**
 * The header alone (fixed part, CSRCs, extension), or -1: version other than 2, shorter than 12
 * bytes, CSRCs or extension not fitting in `len`. Padding is not checked: SRTP (RFC 3711 §3.1)
 * encrypts it, so its last byte is unreadable before decryption. Plain RTP uses rtpHeaderLength.
 */
export function rtpHeaderSize(buf: Uint8Array, len: number): number {
  if (len < 12 || len > buf.length || (buf[0] & 0xc0) !== 0x80) return -1;
  let h = 12 + (buf[0] & 0x0f) * 4;
  if (buf[0] & 0x10) {
    if (h + 4 > len) return -1;
    h += 4 + ((buf[h + 2] << 8) | buf[h + 3]) * 4;
  }
  return h > len ? -1 : h;
}

/** Padding bytes at the end of a packet `rtpHeaderLength` accepted (0 without the P bit). */
export function rtpPaddingLength(buf: Uint8Array, len: number): number {
  return buf[0] & 0x20 ? buf[len - 1] : 0;
}

export const rtpPayloadType = (buf: Uint8Array): number => buf[1] & 0x7f;
export const rtpMarker = (buf: Uint8Array): boolean => (buf[1] & 0x80) !== 0;
export const rtpSeq = (buf: Uint8Array): number => (buf[2] << 8) | buf[3];
export const rtpTimestamp = (buf: Uint8Array): number => ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0;
export const rtpSsrc = (buf: Uint8Array): number => ((buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11]) >>> 0;

/** Rewrites the payload type and keeps the marker bit. */
export function setRtpPayloadType(buf: Uint8Array, pt: number): void {
  buf[1] = (buf[1] & 0x80) | (pt & 0x7f);
}
export function setRtpMarker(buf: Uint8Array, marker: boolean): void {
  buf[1] = marker ? buf[1] | 0x80 : buf[1] & 0x7f;
}
export function setRtpSeq(buf: Uint8Array, seq: number): void {
  buf[2] = (seq >>> 8) & 0xff;
  buf[3] = seq & 0xff;
}
export function setRtpTimestamp(buf: Uint8Array, ts: number): void {
  buf[4] = (ts >>> 24) & 0xff;
  buf[5] = (ts >>> 16) & 0xff;
  buf[6] = (ts >>> 8) & 0xff;
  buf[7] = ts & 0xff;
}
export function setRtpSsrc(buf: Uint8Array, ssrc: number): void {
  buf[8] = (ssrc >>> 24) & 0xff;
  buf[9] = (ssrc >>> 16) & 0xff;
  buf[10] = (ssrc >>> 8) & 0xff;
  buf[11] = ssrc & 0xff;
}

/**
 * RFC 5761 §4: with rtcp-mux, a packet whose second byte is 192–223 is RTCP (packet types
 * 192–223 cover SR 200, RR 201, SDES 202, BYE 203, APP 204, RTPFB 205, PSFB 206, XR 207); RTP
 * payload types 64–95 (which would look the same with the marker set) must not be used then.
 */
export function isRtcpPacketType(secondByte: number): boolean {
  return secondByte >= 192 && secondByte <= 223;
}

/** A malformed RTP/RTCP packet met by the full (non-hot-path) parsers, or an unencodable one. */
export class RtpFormatError extends TandemError {
  constructor(message: string) {
    super('RTP_FORMAT', message);
    this.name = 'RtpFormatError';
  }
}

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcs: number[];
  /** RFC 3550 §5.3.1; `data` is the extension body, a multiple of 4 bytes. */
  extension?: { profile: number; data: Buffer };
  payload: Buffer;
  /** Padding bytes incl. the count byte; serialized as zeros followed by the count. */
  paddingLength: number;
}

/** Why `buf` is not RTP (the same rules as rtpHeaderLength, spelled out), or undefined. */
function rtpInvalidReason(buf: Buffer): string | undefined {
  const len = buf.length;
  if (len < 12) return `${len} bytes, shorter than the 12-byte fixed header`;
  if ((buf[0] & 0xc0) !== 0x80) return `version ${buf[0] >> 6}, not 2`;
  let h = 12 + (buf[0] & 0x0f) * 4;
  if (h > len) return `${buf[0] & 0x0f} CSRCs need ${h} bytes, packet has ${len}`;
  if (buf[0] & 0x10) {
    if (h + 4 > len) return `header extension starts at ${h} but the packet has ${len} bytes`;
    h += 4 + buf.readUInt16BE(h + 2) * 4;
    if (h > len) return `header extension ends at ${h}, past the ${len}-byte packet`;
  }
  if (buf[0] & 0x20) {
    const pad = buf[len - 1];
    if (pad === 0) return 'padding bit set but padding count 0';
    if (h + pad > len) return `${pad} padding bytes do not fit after the ${h}-byte header`;
  }
  return undefined;
}

/** Full parse for tests and tools (not the hot path). Throws RtpFormatError on malformed input. */
export function parseRtp(buf: Buffer): RtpPacket {
  const h = rtpHeaderLength(buf, buf.length);
  if (h < 0) throw new RtpFormatError(`not a valid RTP packet: ${rtpInvalidReason(buf) ?? 'invalid'}`);
  const cc = buf[0] & 0x0f;
  const csrcs: number[] = [];
  for (let i = 0; i < cc; i++) csrcs.push(buf.readUInt32BE(12 + i * 4));
  let extension: RtpPacket['extension'];
  if (buf[0] & 0x10) {
    const at = 12 + cc * 4;
    extension = { profile: buf.readUInt16BE(at), data: Buffer.from(buf.subarray(at + 4, h)) };
  }
  const paddingLength = rtpPaddingLength(buf, buf.length);
  return {
    marker: rtpMarker(buf),
    payloadType: rtpPayloadType(buf),
    sequenceNumber: rtpSeq(buf),
    timestamp: rtpTimestamp(buf),
    ssrc: rtpSsrc(buf),
    csrcs,
    ...(extension !== undefined ? { extension } : {}),
    payload: Buffer.from(buf.subarray(h, buf.length - paddingLength)),
    paddingLength,
  };
}

const isUint = (v: number, max: number): boolean => Number.isInteger(v) && v >= 0 && v <= max;

/** Serializes a packet; throws RtpFormatError on a field out of range rather than truncating it. */
export function serializeRtp(p: RtpPacket): Buffer {
  const ext = p.extension;
  if (!isUint(p.payloadType, 127)) throw new RtpFormatError(`payload type ${p.payloadType} is not 0–127`);
  if (!isUint(p.sequenceNumber, 0xffff)) throw new RtpFormatError(`sequence number ${p.sequenceNumber} is not 0–65535`);
  if (!isUint(p.timestamp, 0xffffffff)) throw new RtpFormatError(`timestamp ${p.timestamp} is not a 32-bit unsigned integer`);
  if (!isUint(p.ssrc, 0xffffffff)) throw new RtpFormatError(`SSRC ${p.ssrc} is not a 32-bit unsigned integer`);
  if (p.csrcs.length > 15) throw new RtpFormatError(`${p.csrcs.length} CSRCs, at most 15 fit`);
  for (const c of p.csrcs) if (!isUint(c, 0xffffffff)) throw new RtpFormatError(`CSRC ${c} is not a 32-bit unsigned integer`);
  if (!isUint(p.paddingLength, 255)) throw new RtpFormatError(`padding length ${p.paddingLength} is not 0–255`);
  if (ext !== undefined) {
    if (!isUint(ext.profile, 0xffff)) throw new RtpFormatError(`extension profile ${ext.profile} is not 16 bits`);
    if (ext.data.length % 4 !== 0) throw new RtpFormatError('RTP header extension must be a multiple of 4 bytes');
    if (ext.data.length / 4 > 0xffff) throw new RtpFormatError('RTP header extension longer than 65535 words');
  }
  const h = 12 + p.csrcs.length * 4 + (ext !== undefined ? 4 + ext.data.length : 0);
  const out = Buffer.alloc(h + p.payload.length + p.paddingLength);
  out[0] = 0x80 | (p.paddingLength > 0 ? 0x20 : 0) | (ext !== undefined ? 0x10 : 0) | p.csrcs.length;
  out[1] = (p.marker ? 0x80 : 0) | p.payloadType;
  out.writeUInt16BE(p.sequenceNumber, 2);
  out.writeUInt32BE(p.timestamp, 4);
  out.writeUInt32BE(p.ssrc, 8);
  p.csrcs.forEach((c, i) => out.writeUInt32BE(c, 12 + i * 4));
  if (ext !== undefined) {
    const at = 12 + p.csrcs.length * 4;
    out.writeUInt16BE(ext.profile, at);
    out.writeUInt16BE(ext.data.length / 4, at + 2);
    ext.data.copy(out, at + 4);
  }
  p.payload.copy(out, h);
  if (p.paddingLength > 0) out[out.length - 1] = p.paddingLength;
  return out;
}
