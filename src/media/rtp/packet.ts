/**
 * RTP fixed header, RFC 3550 §5.1:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *  |                           timestamp                           |
 *  |           synchronization source (SSRC) identifier            |
 *  |            contributing source (CSRC) identifiers             |  (CC × 32 bits)
 *  |  header extension (if X): profile(16) length(16) + length×32  |
 *
 * The hot-path helpers read and write in place and allocate nothing.
 */

/** Header length including CSRCs and extension, or -1 if `buf[0..len)` is not valid RTP. */
export function rtpHeaderLength(buf: Uint8Array, len: number): number {
  if (len < 12 || (buf[0] & 0xc0) !== 0x80) return -1;
  let h = 12 + (buf[0] & 0x0f) * 4;
  if (h > len) return -1;
  if (buf[0] & 0x10) {
    if (h + 4 > len) return -1;
    h += 4 + ((buf[h + 2] << 8) | buf[h + 3]) * 4;
    if (h > len) return -1;
  }
  if (buf[0] & 0x20) {
    const pad = buf[len - 1];
    if (pad === 0 || h + pad > len) return -1;
  }
  return h;
}

export const rtpPayloadType = (buf: Uint8Array): number => buf[1] & 0x7f;
export const rtpMarker = (buf: Uint8Array): boolean => (buf[1] & 0x80) !== 0;
export const rtpSeq = (buf: Uint8Array): number => (buf[2] << 8) | buf[3];
export const rtpTimestamp = (buf: Uint8Array): number => ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0;
export const rtpSsrc = (buf: Uint8Array): number => ((buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11]) >>> 0;

export function setRtpPayloadType(buf: Uint8Array, pt: number): void {
  buf[1] = (buf[1] & 0x80) | (pt & 0x7f);
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

/** RFC 5761 §4: with rtcp-mux, a second byte of 192–223 (RTCP packet types 64–95 + M) is RTCP. */
export function isRtcpPacketType(secondByte: number): boolean {
  return secondByte >= 192 && secondByte <= 223;
}

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcs: number[];
  extension?: { profile: number; data: Buffer };
  payload: Buffer;
  paddingLength: number;
}

/** Full parse for tests and tools (not the hot path). Throws on malformed input. */
export function parseRtp(buf: Buffer): RtpPacket {
  const h = rtpHeaderLength(buf, buf.length);
  if (h < 0) throw new Error(`not a valid RTP packet (${buf.length} bytes)`);
  const cc = buf[0] & 0x0f;
  const csrcs: number[] = [];
  for (let i = 0; i < cc; i++) csrcs.push(buf.readUInt32BE(12 + i * 4));
  let extension: RtpPacket['extension'];
  if (buf[0] & 0x10) {
    const at = 12 + cc * 4;
    extension = { profile: buf.readUInt16BE(at), data: Buffer.from(buf.subarray(at + 4, h)) };
  }
  const paddingLength = buf[0] & 0x20 ? buf[buf.length - 1] : 0;
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

export function serializeRtp(p: RtpPacket): Buffer {
  const ext = p.extension;
  if (ext !== undefined && ext.data.length % 4 !== 0) throw new Error('RTP header extension must be a multiple of 4 bytes');
  const head = Buffer.alloc(12 + p.csrcs.length * 4 + (ext !== undefined ? 4 + ext.data.length : 0));
  head[0] = 0x80 | (p.paddingLength > 0 ? 0x20 : 0) | (ext !== undefined ? 0x10 : 0) | (p.csrcs.length & 0x0f);
  head[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  head.writeUInt16BE(p.sequenceNumber & 0xffff, 2);
  head.writeUInt32BE(p.timestamp >>> 0, 4);
  head.writeUInt32BE(p.ssrc >>> 0, 8);
  p.csrcs.forEach((c, i) => head.writeUInt32BE(c >>> 0, 12 + i * 4));
  if (ext !== undefined) {
    const at = 12 + p.csrcs.length * 4;
    head.writeUInt16BE(ext.profile, at);
    head.writeUInt16BE(ext.data.length / 4, at + 2);
    ext.data.copy(head, at + 4);
  }
  const pad = Buffer.alloc(p.paddingLength);
  if (p.paddingLength > 0) pad[p.paddingLength - 1] = p.paddingLength;
  return Buffer.concat([head, p.payload, pad]);
}
