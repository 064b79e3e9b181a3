import { randomBytes } from 'node:crypto';
import { RTCP_SR, serializeRtcp, type ReportBlock, type RtcpPacket } from '../rtp/rtcp.js';
import type { RtpReceiveStats } from '../rtp/stats.js';

/**
 * RTCP terminated on one side of a bridge (RFC 3550 §6), for a call Tandem transcodes or
 * repacketizes: what the far leg reports is about a stream this leg never sees (another codec,
 * clock, SSRC timing or packet count), so its SR/RR are not forwarded. Instead each side gets
 * Tandem's own reports: an SR while Tandem sends this leg RTP (its SSRC, the RTP timestamp of "now"
 * on this leg's clock extrapolated from the last packet sent, packets and payload octets sent), or
 * an RR before that, each with a report block on what this leg sent us (Tandem's own receive
 * statistics, LSR/DLSR from the leg's last SR), and an SDES CNAME (§6.1: every compound has one).
 * What the leg sends is read for its SR's NTP time only; reduced-size RTCP (RFC 5506) is accepted.
 */
const NTP_EPOCH_OFFSET_S = 2_208_988_800;
const RTP_HEADER = 12;

export class RtcpTerminator {
  /** Reports sent toward the leg. */
  reports = 0;
  private ourSsrc = randomBytes(4).readUInt32BE(0);
  private sentPackets = 0;
  private sentOctets = 0;
  private lastSentTs = 0;
  private lastSentMs = -1;
  /** The middle 32 bits of the NTP time of the leg's last SR (RFC 3550 §6.4.1 LSR), and when it came. */
  private lsr = 0;
  private lsrAtMs = 0;

  constructor(private readonly cname: string) {}

  /** An RTP packet Tandem sends this leg (the hot path: numbers only). */
  sent(buf: Buffer, len: number, nowMs: number): void {
    this.ourSsrc = buf.readUInt32BE(8);
    this.lastSentTs = buf.readUInt32BE(4);
    this.lastSentMs = nowMs;
    this.sentPackets++;
    this.sentOctets += len > RTP_HEADER ? len - RTP_HEADER : 0;
  }

  /** A valid RTCP compound (or reduced-size packet) from the leg: its SR's time, for LSR. */
  received(msg: Buffer, nowMs: number): void {
    for (let p = 0; p + 4 <= msg.length; ) {
      const next = p + (msg.readUInt16BE(p + 2) + 1) * 4;
      if (msg[p + 1] === RTCP_SR && next - p >= 28) {
        this.lsr = ((msg.readUInt32BE(p + 8) & 0xffff) * 0x10000 + (msg.readUInt32BE(p + 12) >>> 16)) >>> 0;
        this.lsrAtMs = nowMs;
      }
      p = next;
    }
  }

  /**
   * The compound to send the leg now: SR (or RR) + SDES. `rx` and `rxSsrc` are what the leg sent
   * us; `clockRate` its clock (the codec it sends and receives). Undefined while nothing was sent
   * either way (no stream to report on).
   */
  report(nowMs: number, rx: RtpReceiveStats, rxSsrc: number, clockRate: number): Buffer | undefined {
    if (this.sentPackets === 0 && rx.packets === 0) return undefined;
    const blocks: ReportBlock[] = [];
    if (rx.packets > 0) {
      const lost = rx.lost;
      blocks.push({
        ssrc: rxSsrc >>> 0,
        fractionLost: rx.takeFractionLost(),
        cumulativeLost: Math.max(-0x800000, Math.min(0x7fffff, lost)),
        extendedHighestSeq: rx.extendedMaxSeq >>> 0,
        jitter: Math.min(0xffffffff, Math.floor(rx.jitter)),
        lastSr: this.lsr,
        delaySinceLastSr: this.lsr === 0 ? 0 : Math.min(0xffffffff, Math.round(((nowMs - this.lsrAtMs) * 65536) / 1000)),
      });
    }
    const packets: RtcpPacket[] = [];
    if (this.sentPackets > 0) {
      const sec = Math.floor(nowMs / 1000);
      const rtpTimestamp = (this.lastSentTs + Math.round(((nowMs - this.lastSentMs) * clockRate) / 1000)) >>> 0;
      packets.push({
        type: 'SR', ssrc: this.ourSsrc >>> 0,
        ntpSec: (sec + NTP_EPOCH_OFFSET_S) >>> 0, ntpFrac: Math.floor(((nowMs - sec * 1000) / 1000) * 0x100000000) >>> 0,
        rtpTimestamp, packetCount: this.sentPackets >>> 0, octetCount: this.sentOctets >>> 0, reports: blocks,
      });
    } else {
      packets.push({ type: 'RR', ssrc: this.ourSsrc >>> 0, reports: blocks });
    }
    packets.push({ type: 'other', packetType: 202, count: 1, raw: sdesCname(this.ourSsrc, this.cname) });
    this.reports++;
    return serializeRtcp(packets);
  }
}

/** SDES (RFC 3550 §6.5) with one chunk: SSRC, CNAME item, end, padded to 32 bits. */
export function sdesCname(ssrc: number, cname: string): Buffer {
  const text = Buffer.from(cname.slice(0, 255), 'utf8').subarray(0, 255);
  const body = 4 + 2 + text.length + 1;
  const len = 4 + Math.ceil(body / 4) * 4;
  const b = Buffer.alloc(len);
  b[0] = 0x81;
  b[1] = 202;
  b.writeUInt16BE(len / 4 - 1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  b[8] = 1;
  b[9] = text.length;
  text.copy(b, 10);
  return b;
}
