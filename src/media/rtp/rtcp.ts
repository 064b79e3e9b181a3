/**
 * RTCP compound packets, RFC 3550 §6.4 (SR/RR) and Appendix A.2 (validity check):
 *
 *   |V=2|P|  RC/SC  |   PT (200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP) |  length (32-bit words − 1) |
 */

/** RFC 3550 A.2: version 2, first packet SR or RR, no padding but on the last, lengths add up exactly. */
export function validateRtcpCompound(buf: Uint8Array, len: number): boolean {
  if (len < 4 || len % 4 !== 0) return false;
  const firstPt = buf[1];
  if (firstPt !== 200 && firstPt !== 201) return false;
  let p = 0;
  while (p < len) {
    if (p + 4 > len || (buf[p] & 0xc0) !== 0x80) return false;
    const words = (buf[p + 2] << 8) | buf[p + 3];
    const next = p + (words + 1) * 4;
    if (next > len) return false;
    if (buf[p] & 0x20 && next !== len) return false;
    p = next;
  }
  return p === len;
}

export interface ReportBlock {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  extendedHighestSeq: number;
  jitter: number;
  lastSr: number;
  delaySinceLastSr: number;
}

export type RtcpPacket =
  | { type: 'SR'; ssrc: number; ntpSec: number; ntpFrac: number; rtpTimestamp: number; packetCount: number; octetCount: number; reports: ReportBlock[] }
  | { type: 'RR'; ssrc: number; reports: ReportBlock[] }
  | { type: 'other'; packetType: number; length: number };

/** Parses a valid compound packet (tests, tools). Throws if validateRtcpCompound would fail. */
export function parseRtcp(buf: Buffer): RtcpPacket[] {
  if (!validateRtcpCompound(buf, buf.length)) throw new Error('invalid RTCP compound packet');
  const out: RtcpPacket[] = [];
  let p = 0;
  while (p < buf.length) {
    const count = buf[p] & 0x1f;
    const pt = buf[p + 1];
    const end = p + (buf.readUInt16BE(p + 2) + 1) * 4;
    const blocks = (at: number): ReportBlock[] => {
      const r: ReportBlock[] = [];
      for (let i = 0; i < count && at + 24 <= end; i++, at += 24) {
        const lost = (buf[at + 5] << 16) | (buf[at + 6] << 8) | buf[at + 7];
        r.push({
          ssrc: buf.readUInt32BE(at),
          fractionLost: buf[at + 4],
          cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost,
          extendedHighestSeq: buf.readUInt32BE(at + 8),
          jitter: buf.readUInt32BE(at + 12),
          lastSr: buf.readUInt32BE(at + 16),
          delaySinceLastSr: buf.readUInt32BE(at + 20),
        });
      }
      return r;
    };
    if (pt === 200 && end - p >= 28) {
      out.push({
        type: 'SR', ssrc: buf.readUInt32BE(p + 4), ntpSec: buf.readUInt32BE(p + 8), ntpFrac: buf.readUInt32BE(p + 12),
        rtpTimestamp: buf.readUInt32BE(p + 16), packetCount: buf.readUInt32BE(p + 20), octetCount: buf.readUInt32BE(p + 24),
        reports: blocks(p + 28),
      });
    } else if (pt === 201 && end - p >= 8) {
      out.push({ type: 'RR', ssrc: buf.readUInt32BE(p + 4), reports: blocks(p + 8) });
    } else {
      out.push({ type: 'other', packetType: pt, length: end - p });
    }
    p = end;
  }
  return out;
}
