/**
 * Receive statistics of one RTP source, RFC 3550 Appendix A.1 (sequence numbers, loss) and
 * A.8 (interarrival jitter). Plain numbers updated in place: called for every packet.
 *
 * No probation (A.1's MIN_SEQUENTIAL): a media relay must count from the first packet, and a
 * new SSRC is handled by the caller calling reset().
 */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const SEQ_MOD = 0x10000;

export class RtpReceiveStats {
  packets = 0;
  bytes = 0;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private badSeq = SEQ_MOD + 1;
  /** Interarrival jitter in timestamp units (RFC 3550 A.8). */
  jitter = 0;
  private lastTransit = 0;
  private haveTransit = false;
  private started = false;

  reset(): void {
    this.packets = 0;
    this.bytes = 0;
    this.cycles = 0;
    this.badSeq = SEQ_MOD + 1;
    this.jitter = 0;
    this.haveTransit = false;
    this.started = false;
  }

  update(seq: number, rtpTimestamp: number, arrivalRtpUnits: number, bytes: number): void {
    this.packets++;
    this.bytes += bytes;
    if (!this.started) {
      this.started = true;
      this.baseSeq = seq;
      this.maxSeq = seq;
    } else {
      const udelta = (seq - this.maxSeq + SEQ_MOD) % SEQ_MOD;
      if (udelta < MAX_DROPOUT) {
        if (seq < this.maxSeq) this.cycles += SEQ_MOD;
        this.maxSeq = seq;
      } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        // A very large jump: take it as a restart only if the next packet follows it (A.1).
        if (seq === this.badSeq) {
          this.baseSeq = seq;
          this.maxSeq = seq;
          this.cycles = 0;
          this.packets = 1;
          this.bytes = bytes;
          this.badSeq = SEQ_MOD + 1;
        } else {
          this.badSeq = (seq + 1) % SEQ_MOD;
          this.packets--;
          this.bytes -= bytes;
          return;
        }
      }
      // else: duplicate or reordered packet, counted as received
    }
    // A.8: D(i-1,i) = (Rj - Ri) - (Sj - Si); J += (|D| - J) / 16
    const transit = arrivalRtpUnits - rtpTimestamp;
    if (this.haveTransit) {
      let d = transit - this.lastTransit;
      // Timestamps wrap at 2^32: fold the difference back into range.
      if (d > 2147483648) d -= 4294967296;
      else if (d < -2147483648) d += 4294967296;
      if (d < 0) d = -d;
      this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
    this.haveTransit = true;
  }

  get extendedMaxSeq(): number {
    return this.cycles + this.maxSeq;
  }

  get expected(): number {
    return this.started ? this.extendedMaxSeq - this.baseSeq + 1 : 0;
  }

  /** May be negative with duplicates (RFC 3550 §6.4.1); clamp where reported. */
  get lost(): number {
    return this.expected - this.packets;
  }

  jitterMs(clockRate: number): number {
    return clockRate > 0 ? (this.jitter * 1000) / clockRate : 0;
  }
}
