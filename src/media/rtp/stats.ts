/**
 * Receive statistics of one RTP source (one SSRC), RFC 3550:
 * - Appendix A.1: extended highest sequence number, cycles, expected and lost packets, with
 *   MAX_DROPOUT = 3000 and MAX_MISORDER = 100;
 * - Appendix A.3: fraction lost over a reporting interval;
 * - Appendix A.8: interarrival jitter in timestamp units, J += (|D(i−1,i)| − J) / 16.
 * Plain numbers updated in place: `update` runs for every packet and allocates nothing.
 *
 * No probation (A.1's MIN_SEQUENTIAL = 2): probation exists to keep a receiver from accepting a
 * new source on the strength of one stray packet. Here the relay has already checked the packet
 * (rtpHeaderLength) and its source address, the stream is known from signalling, and the first
 * packets of a call matter to a loss count; so counting starts with the first packet, and a new
 * SSRC is handled by the caller calling reset().
 *
 * A jump of MAX_DROPOUT or more forward (or more than MAX_MISORDER back) is taken as a sender
 * restart only when the next packet follows it (seq + 1), as A.1 does; the unconfirmed packet is
 * not counted (see `strayPackets`). A restart starts the counts afresh from the confirming packet.
 */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const SEQ_MOD = 0x10000;
const TS_MOD = 0x100000000;
const TS_HALF = 0x80000000;

export class RtpReceiveStats {
  /** Packets received (A.1 "received"), duplicates included. */
  packets = 0;
  /** Bytes of the packets counted in `packets` (whatever the caller passes, e.g. UDP payload). */
  bytes = 0;
  /** Interarrival jitter in timestamp units (A.8), as a float; report Math.floor(jitter). */
  jitter = 0;
  /** Packets ignored after a large sequence jump that the next packet did not confirm. */
  strayPackets = 0;
  /** Confirmed sender restarts (large jumps followed by a consecutive packet). */
  restarts = 0;

  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  /** Sequence number wrap count, shifted (A.1: cycles is a multiple of 65536). */
  private cycles = 0;
  /** The seq that would confirm a restart; SEQ_MOD + 1 means none pending. */
  private badSeq = SEQ_MOD + 1;
  private haveTransit = false;
  private lastTransit = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;

  /** Forgets everything: a new SSRC. */
  reset(): void {
    this.packets = 0;
    this.bytes = 0;
    this.jitter = 0;
    this.strayPackets = 0;
    this.restarts = 0;
    this.started = false;
    this.baseSeq = 0;
    this.maxSeq = 0;
    this.cycles = 0;
    this.badSeq = SEQ_MOD + 1;
    this.haveTransit = false;
    this.lastTransit = 0;
    this.expectedPrior = 0;
    this.receivedPrior = 0;
  }

  /**
   * One received packet. `seq` 0–65535, `rtpTimestamp` 0–2^32−1, `arrivalRtpUnits` the arrival
   * time converted to the stream's clock rate (any origin, need not wrap), `bytes` its size.
   */
  update(seq: number, rtpTimestamp: number, arrivalRtpUnits: number, bytes: number): void {
    if (!this.started) {
      this.initSeq(seq);
      this.started = true;
    } else {
      const udelta = (seq - this.maxSeq + SEQ_MOD) % SEQ_MOD;
      if (udelta < MAX_DROPOUT) {
        // In order, with a permissible gap.
        if (seq < this.maxSeq) this.cycles += SEQ_MOD;
        this.maxSeq = seq;
      } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        // A very large jump.
        if (seq !== this.badSeq) {
          this.badSeq = (seq + 1) % SEQ_MOD;
          this.strayPackets++;
          return;
        }
        // Two sequential packets: the sender restarted without telling us (A.1).
        this.initSeq(seq);
        this.packets = 0;
        this.bytes = 0;
        this.expectedPrior = 0;
        this.receivedPrior = 0;
        this.haveTransit = false; // its timestamps likely restarted too
        this.restarts++;
      }
      // else: a duplicate or a packet reordered by up to MAX_MISORDER; counted as received.
    }
    this.packets++;
    this.bytes += bytes;

    // A.8: transit = arrival − timestamp; D = transit − previous transit (mod 2^32 for the
    // timestamp wrap, folded into ±2^31); J += (|D| − J) / 16. Arrival order, not seq order.
    const transit = arrivalRtpUnits - rtpTimestamp;
    if (this.haveTransit) {
      let d = (transit - this.lastTransit) % TS_MOD;
      if (d >= TS_HALF) d -= TS_MOD;
      else if (d < -TS_HALF) d += TS_MOD;
      if (d < 0) d = -d;
      this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
    this.haveTransit = true;
  }

  private initSeq(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.cycles = 0;
    this.badSeq = SEQ_MOD + 1;
  }

  /** Highest sequence number received, extended with the wrap count (A.1 cycles + max_seq). */
  get extendedMaxSeq(): number {
    return this.cycles + this.maxSeq;
  }

  /** Packets expected from the first (or restart) sequence number to the highest (A.3). */
  get expected(): number {
    return this.started ? this.extendedMaxSeq - this.baseSeq + 1 : 0;
  }

  /**
   * Cumulative packets lost, expected − received (A.3). Negative when duplicates outnumber
   * losses, as RFC 3550 §6.4.1 allows; clamp where reported (e.g. Math.max(0, lost) in ng stats,
   * or to the signed 24-bit range in an RTCP report block).
   */
  get lost(): number {
    return this.expected - this.packets;
  }

  /**
   * Fraction lost since the previous call, in 1/256 (0–255), for an RTCP report block (A.3).
   * Each call starts a new interval; 0 when nothing was expected or duplicates cover the losses.
   */
  takeFractionLost(): number {
    const expected = this.expected;
    const expectedInterval = expected - this.expectedPrior;
    const lostInterval = expectedInterval - (this.packets - this.receivedPrior);
    this.expectedPrior = expected;
    this.receivedPrior = this.packets;
    if (expectedInterval <= 0 || lostInterval <= 0) return 0;
    return Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
  }

  /** Jitter in milliseconds for a stream clocked at `clockRate` Hz (0 for a bad rate). */
  jitterMs(clockRate: number): number {
    return clockRate > 0 ? (this.jitter * 1000) / clockRate : 0;
  }
}
