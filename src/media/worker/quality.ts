import { mosFromR } from '../../common/e-model.js';
import type { QualitySample, QualitySummary } from '../pool/protocol.js';
import type { RtpReceiveStats } from '../rtp/stats.js';

/**
 * Call quality of one bridge side, in rtpengine's terms (its `SSRC` stats: average, lowest and
 * highest MOS with the loss, jitter and round-trip time of each sample). Two sources:
 * - `received`: Tandem's own RFC 3550 receive statistics of what the peer sends us, sampled on a
 *   timer and when main asks (loss over the interval since the previous sample);
 * - `reported`: the peer's RTCP receiver reports about what we send it (fraction lost, jitter in
 *   its clock), with the round-trip time from LSR/DLSR against the SRs that left this side.
 * Nothing here runs per RTP packet: RTCP is peeked as it is relayed, samples are taken off the path.
 */

/** ITU-T G.113 Appendix I packet-loss robustness of G.711 with concealment (Bpl); Ie is 0 for G.711. */
const BPL = 25.1;

/**
 * MOS × 10 from the E-model's simplified R factor (ITU-T G.107): R = 93.2 − Id − Ie,eff, where the
 * delay impairment Id counts half the round trip, a jitter buffer of twice the jitter and 10 ms
 * of packetization, and Ie,eff grows with the loss percentage (random loss, G.711 with PLC).
 */
export function mosTimes10(lossPercent: number, jitterMs: number, rttUs: number): number {
  const delay = rttUs / 2000 + 2 * jitterMs + 10;
  const id = 0.024 * delay + (delay > 177.3 ? 0.11 * (delay - 177.3) : 0);
  const loss = Math.min(100, Math.max(0, lossPercent));
  const ie = (95 * loss) / (loss + BPL);
  return Math.round(Math.min(4.5, Math.max(1, mosFromR(93.2 - id - ie))) * 10);
}

/** Samples folded into an average, a lowest and a highest (each keeps the time it was taken). */
class QualityAggregate {
  samples = 0;
  private sum = { mos: 0, lossPercent: 0, jitterMs: 0, rttUs: 0 };
  private lowest: QualitySample | undefined;
  private highest: QualitySample | undefined;
  private last: QualitySample | undefined;

  constructor(readonly ssrc: number) {}

  add(s: QualitySample): void {
    this.samples++;
    this.sum.mos += s.mos;
    this.sum.lossPercent += s.lossPercent;
    this.sum.jitterMs += s.jitterMs;
    this.sum.rttUs += s.rttUs;
    if (this.lowest === undefined || s.mos < this.lowest.mos) this.lowest = s;
    if (this.highest === undefined || s.mos > this.highest.mos) this.highest = s;
    this.last = s;
  }

  summary(source: QualitySummary['source']): QualitySummary | undefined {
    if (this.lowest === undefined || this.highest === undefined || this.last === undefined) return undefined;
    const n = this.samples;
    const average: QualitySample = {
      mos: Math.round(this.sum.mos / n),
      atMs: this.last.atMs,
      lossPercent: Math.round(this.sum.lossPercent / n),
      jitterMs: Math.round(this.sum.jitterMs / n),
      rttUs: Math.round(this.sum.rttUs / n),
    };
    return { source, ssrc: this.ssrc, samples: n, average, lowest: this.lowest, highest: this.highest };
  }
}

/** SRs we sent toward the peer, by the middle 32 bits of their NTP time (what an RR's LSR echoes). */
const SENT_SR_MEMORY = 8;

export class SideQuality {
  private received: QualityAggregate | undefined;
  private reported: QualityAggregate | undefined;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private lastSampleMs = 0;
  private readonly sentSr: { lsr: number; atMs: number }[] = [];
  /** The latest round-trip time toward this side's peer, µs (0 until an RR answers one of our SRs). */
  rttUs = 0;

  /** One sample of what arrived since the previous one; nothing when nothing did. */
  sampleReceive(stats: RtpReceiveStats, ssrc: number, clockRate: number, nowMs: number): void {
    const expected = stats.expected;
    const got = stats.packets;
    if (this.received !== undefined && this.received.ssrc !== ssrc) this.received = undefined;
    if (this.received === undefined || expected < this.expectedPrior) {
      this.expectedPrior = 0;
      this.receivedPrior = 0;
    }
    const expectedInterval = expected - this.expectedPrior;
    if (expectedInterval <= 0) return;
    const lostInterval = Math.max(0, expectedInterval - (got - this.receivedPrior));
    this.expectedPrior = expected;
    this.receivedPrior = got;
    this.lastSampleMs = nowMs;
    const lossPercent = (lostInterval * 100) / expectedInterval;
    const jitterMs = stats.jitterMs(clockRate);
    this.received ??= new QualityAggregate(ssrc);
    this.received.add({ mos: mosTimes10(lossPercent, jitterMs, this.rttUs), atMs: nowMs, lossPercent: Math.round(lossPercent), jitterMs: Math.round(jitterMs), rttUs: this.rttUs });
  }

  /** When main asks: a fresh sample unless one was taken within the last `minGapMs`. */
  sampleIfStale(stats: RtpReceiveStats, ssrc: number, clockRate: number, nowMs: number, minGapMs = 500): void {
    if (this.received === undefined || nowMs - this.lastSampleMs >= minGapMs) this.sampleReceive(stats, ssrc, clockRate, nowMs);
  }

  /** An SR leaving toward the peer: remember when, so the RR that echoes it gives the round trip. */
  noteRtcpSent(buf: Buffer): void {
    if (buf.length < 28 || buf[1] !== 200) return;
    this.sentSr.push({ lsr: buf.readUInt32BE(10), atMs: performance.now() });
    if (this.sentSr.length > SENT_SR_MEMORY) this.sentSr.shift();
  }

  /**
   * A compound from the peer (already validated): each SR/RR's first report block is a sample of
   * how our stream reached it. `clockRate` converts its jitter to ms.
   */
  noteRtcpReceived(buf: Buffer, clockRate: number, nowMs: number): void {
    let p = 0;
    while (p + 4 <= buf.length) {
      const pt = buf[p + 1];
      const end = p + (buf.readUInt16BE(p + 2) + 1) * 4;
      const count = buf[p] & 0x1f;
      const first = pt === 200 ? p + 28 : pt === 201 ? p + 8 : -1;
      if (first >= 0 && count > 0 && first + 24 <= end && end <= buf.length) this.reportBlock(buf, first, clockRate, nowMs);
      p = end;
    }
  }

  private reportBlock(buf: Buffer, at: number, clockRate: number, nowMs: number): void {
    const ssrc = buf.readUInt32BE(at);
    const lossPercent = (buf[at + 4] * 100) / 256;
    const jitterMs = clockRate > 0 ? (buf.readUInt32BE(at + 12) * 1000) / clockRate : 0;
    const lsr = buf.readUInt32BE(at + 16);
    const dlsr = buf.readUInt32BE(at + 20);
    const sent = lsr === 0 ? undefined : this.sentSr.find((s) => s.lsr === lsr);
    if (sent !== undefined) {
      const rttMs = performance.now() - sent.atMs - (dlsr * 1000) / 65536;
      // A negative or absurd round trip (clock games, a stale LSR) is not a measurement.
      if (rttMs >= 0 && rttMs < 10_000) this.rttUs = Math.round(rttMs * 1000);
    }
    if (this.reported !== undefined && this.reported.ssrc !== ssrc) this.reported = undefined;
    this.reported ??= new QualityAggregate(ssrc);
    this.reported.add({ mos: mosTimes10(lossPercent, jitterMs, this.rttUs), atMs: nowMs, lossPercent: Math.round(lossPercent), jitterMs: Math.round(jitterMs), rttUs: this.rttUs });
  }

  summaries(): { received?: QualitySummary; reported?: QualitySummary } {
    const received = this.received?.summary('receive');
    const reported = this.reported?.summary('rtcp');
    return { ...(received !== undefined ? { received } : {}), ...(reported !== undefined ? { reported } : {}) };
  }
}
