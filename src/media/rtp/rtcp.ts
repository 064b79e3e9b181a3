import { RtpFormatError } from './packet.js';

/**
 * RTCP, RFC 3550 §6.4. Every packet of a compound starts with the common header
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|  RC/SC  |      PT       |             length            |  length = 32-bit words − 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * SR (PT 200, §6.4.1): SSRC of sender, NTP timestamp (msw, lsw), RTP timestamp, sender's packet
 * count, sender's octet count, then RC report blocks. RR (PT 201, §6.4.2): SSRC of sender, then
 * RC report blocks. A report block (24 bytes):
 *
 *  |                 SSRC_n (SSRC of the source reported on)                 |
 *  | fraction lost (8) |       cumulative number of packets lost (24, signed) |
 *  |           extended highest sequence number received                     |
 *  |                      interarrival jitter                                |
 *  |                         last SR (LSR)                                   |
 *  |                   delay since last SR (DLSR)                            |
 *
 * Anything after the report blocks up to the packet's length is a profile-specific extension.
 */
export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_APP = 204;

/**
 * The validity check of RFC 3550 Appendix A.2, for the hot path (no allocation): `buf[0..len)`
 * is a whole number of RTCP packets, each version 2, whose lengths add up to exactly `len`; the
 * first is an SR or RR; only the last may have the padding bit, and then its padding count is
 * non-zero and fits in that packet; the first packet holds at least its fixed part. (A.2's mask also rejects padding on the first packet; we
 * accept it when the first packet is also the last, which the RFC's "should" permits.)
 * RFC 5506 reduced-size RTCP (not starting with SR/RR) is rejected.
 */
export function validateRtcpCompound(buf: Uint8Array, len: number): boolean {
  if (len < 8 || len > buf.length || (len & 3) !== 0) return false;
  if (buf[1] !== RTCP_SR && buf[1] !== RTCP_RR) return false;
  // The first packet must at least hold its fixed part (SR: 28 bytes, RR: 8).
  if ((((buf[2] << 8) | buf[3]) + 1) * 4 < (buf[1] === RTCP_SR ? 28 : 8)) return false;
  return packetsFill(buf, len);
}

/**
 * RFC 5506 reduced-size RTCP, where a compound need not start with an SR/RR (a lone feedback
 * packet, say): every packet version 2, lengths adding up to exactly `len`, padding only on the
 * last. For a leg whose RTCP Tandem terminates; a relayed compound still meets A.2.
 */
export function validateRtcpReducedSize(buf: Uint8Array, len: number): boolean {
  if (len < 4 || len > buf.length || (len & 3) !== 0) return false;
  return packetsFill(buf, len);
}

export interface ReportBlock {
  ssrc: number;
  /** Fraction lost since the last report, in 1/256 (RFC 3550 A.3). */
  fractionLost: number;
  /** Signed 24-bit: negative with duplicates. */
  cumulativeLost: number;
  extendedHighestSeq: number;
  /** Interarrival jitter in timestamp units (RFC 3550 A.8). */
  jitter: number;
  lastSr: number;
  delaySinceLastSr: number;
}

export interface RtcpSenderReport {
  type: 'SR';
  ssrc: number;
  ntpSec: number;
  ntpFrac: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
  reports: ReportBlock[];
  /** Profile-specific extension after the report blocks (padding excluded), if any. */
  extension?: Buffer;
}

export interface RtcpReceiverReport {
  type: 'RR';
  ssrc: number;
  reports: ReportBlock[];
  extension?: Buffer;
}

/** SDES, BYE, APP, RTPFB/PSFB, XR…: kept as their raw bytes (header included), not decoded. */
export interface RtcpOther {
  type: 'other';
  packetType: number;
  /** The 5-bit count / subtype field. */
  count: number;
  raw: Buffer;
}

export type RtcpPacket = RtcpSenderReport | RtcpReceiverReport | RtcpOther;

/**
 * Parses a compound packet for tests and tools (not the hot path). Throws RtpFormatError when
 * validateRtcpCompound fails or a report count does not fit its packet. Padding on a final SR/RR
 * is dropped; an `other` packet keeps its bytes, padding included.
 */
export function parseRtcp(buf: Buffer): RtcpPacket[] {
  if (!validateRtcpCompound(buf, buf.length)) throw new RtpFormatError(`invalid RTCP compound packet (${buf.length} bytes, RFC 3550 A.2)`);
  const out: RtcpPacket[] = [];
  let p = 0;
  while (p < buf.length) {
    const count = buf[p] & 0x1f;
    const pt = buf[p + 1];
    const end = p + (buf.readUInt16BE(p + 2) + 1) * 4;
    const bodyEnd = buf[p] & 0x20 ? end - buf[end - 1] : end;
    if (pt === RTCP_SR || pt === RTCP_RR) {
      const fixed = pt === RTCP_SR ? 28 : 8;
      const blocksEnd = p + fixed + count * 24;
      if (blocksEnd > bodyEnd) throw new RtpFormatError(`${pt === RTCP_SR ? 'SR' : 'RR'} with ${count} report blocks needs ${blocksEnd - p} bytes, has ${bodyEnd - p}`);
      const reports: ReportBlock[] = [];
      for (let at = p + fixed; at < blocksEnd; at += 24) reports.push(readReportBlock(buf, at));
      const extension = blocksEnd < bodyEnd ? { extension: Buffer.from(buf.subarray(blocksEnd, bodyEnd)) } : {};
      const ssrc = buf.readUInt32BE(p + 4);
      if (pt === RTCP_SR) {
        out.push({
          type: 'SR', ssrc,
          ntpSec: buf.readUInt32BE(p + 8), ntpFrac: buf.readUInt32BE(p + 12), rtpTimestamp: buf.readUInt32BE(p + 16),
          packetCount: buf.readUInt32BE(p + 20), octetCount: buf.readUInt32BE(p + 24),
          reports, ...extension,
        });
      } else {
        out.push({ type: 'RR', ssrc, reports, ...extension });
      }
    } else {
      out.push({ type: 'other', packetType: pt, count, raw: Buffer.from(buf.subarray(p, end)) });
    }
    p = end;
  }
  return out;
}

function readReportBlock(buf: Buffer, at: number): ReportBlock {
  return {
    ssrc: buf.readUInt32BE(at),
    fractionLost: buf[at + 4],
    cumulativeLost: buf.readIntBE(at + 5, 3),
    extendedHighestSeq: buf.readUInt32BE(at + 8),
    jitter: buf.readUInt32BE(at + 12),
    lastSr: buf.readUInt32BE(at + 16),
    delaySinceLastSr: buf.readUInt32BE(at + 20),
  };
}

const u32 = (v: number, what: string): number => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RtpFormatError(`${what} ${v} is not a 32-bit unsigned integer`);
  return v;
};

/** Serializes packets into one compound (no padding). Throws RtpFormatError on out-of-range fields. */
export function serializeRtcp(packets: readonly RtcpPacket[]): Buffer {
  const parts: Buffer[] = [];
  for (const pkt of packets) {
    if (pkt.type === 'other') {
      if (pkt.raw.length < 4 || pkt.raw.length % 4 !== 0 || (pkt.raw.readUInt16BE(2) + 1) * 4 !== pkt.raw.length) {
        throw new RtpFormatError(`raw RTCP packet type ${pkt.packetType}: ${pkt.raw.length} bytes disagree with its length field`);
      }
      parts.push(pkt.raw);
      continue;
    }
    if (pkt.reports.length > 31) throw new RtpFormatError(`${pkt.reports.length} report blocks, at most 31 fit`);
    const ext = pkt.extension ?? Buffer.alloc(0);
    if (ext.length % 4 !== 0) throw new RtpFormatError('RTCP profile extension must be a multiple of 4 bytes');
    const fixed = pkt.type === 'SR' ? 28 : 8;
    const b = Buffer.alloc(fixed + pkt.reports.length * 24 + ext.length);
    b[0] = 0x80 | pkt.reports.length;
    b[1] = pkt.type === 'SR' ? RTCP_SR : RTCP_RR;
    b.writeUInt16BE(b.length / 4 - 1, 2);
    b.writeUInt32BE(u32(pkt.ssrc, 'SSRC'), 4);
    if (pkt.type === 'SR') {
      b.writeUInt32BE(u32(pkt.ntpSec, 'NTP seconds'), 8);
      b.writeUInt32BE(u32(pkt.ntpFrac, 'NTP fraction'), 12);
      b.writeUInt32BE(u32(pkt.rtpTimestamp, 'RTP timestamp'), 16);
      b.writeUInt32BE(u32(pkt.packetCount, 'packet count'), 20);
      b.writeUInt32BE(u32(pkt.octetCount, 'octet count'), 24);
    }
    pkt.reports.forEach((r, i) => {
      const at = fixed + i * 24;
      if (!Number.isInteger(r.fractionLost) || r.fractionLost < 0 || r.fractionLost > 255) throw new RtpFormatError(`fraction lost ${r.fractionLost} is not 0–255`);
      if (!Number.isInteger(r.cumulativeLost) || r.cumulativeLost < -0x800000 || r.cumulativeLost > 0x7fffff) throw new RtpFormatError(`cumulative lost ${r.cumulativeLost} does not fit 24 signed bits`);
      b.writeUInt32BE(u32(r.ssrc, 'report SSRC'), at);
      b[at + 4] = r.fractionLost;
      b.writeIntBE(r.cumulativeLost, at + 5, 3);
      b.writeUInt32BE(u32(r.extendedHighestSeq, 'extended highest sequence number'), at + 8);
      b.writeUInt32BE(u32(r.jitter, 'jitter'), at + 12);
      b.writeUInt32BE(u32(r.lastSr, 'LSR'), at + 16);
      b.writeUInt32BE(u32(r.delaySinceLastSr, 'DLSR'), at + 20);
    });
    ext.copy(b, fixed + pkt.reports.length * 24);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** Every packet of the compound is version 2, their lengths add up to exactly `len`, padding only on the last. */
function packetsFill(buf: Uint8Array, len: number): boolean {
  let p = 0;
  while (p < len) {
    if (p + 4 > len || (buf[p] & 0xc0) !== 0x80) return false;
    const next = p + (((buf[p + 2] << 8) | buf[p + 3]) + 1) * 4;
    if (next > len) return false;
    if (buf[p] & 0x20) {
      if (next !== len) return false;
      const pad = buf[len - 1];
      if (pad === 0 || pad > next - p - 4) return false;
    }
    p = next;
  }
  return true;
}
