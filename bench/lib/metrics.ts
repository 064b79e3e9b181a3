/**
 * The bench's arithmetic, kept pure so test/unit/bench/ can pin it: RFC 3550 loss and jitter, latency
 * histograms, and the ITU-T G.107 E-model (simplified) for a MOS estimate.
 */

/** Sliding window of sequence numbers remembered for duplicate detection (packets older are "late"). */
const SEQ_WINDOW = 1024;

/**
 * Loss counting after RFC 3550 §6.4.1/A.3: expected = highest extended seq − base + 1; lost = expected −
 * unique packets received. Duplicates (same extended seq seen again inside the window) and packets
 * older than the window or than the measurement base are not counted as received, so reordering never
 * makes loss negative and duplicates never hide a loss.
 */
export class SeqTracker {
  started = false;
  maxExt = 0;
  base = 0;
  received = 0; // unique, inside [base, maxExt]
  duplicates = 0;
  reordered = 0; // arrived after a higher seq, not duplicate
  late = 0; // older than the window or than base: dropped from the count
  private readonly seen = new Uint8Array(SEQ_WINDOW);

  /** Feeds one 16-bit sequence number. */
  push(seq: number): void {
    if (!this.started) {
      this.started = true;
      this.maxExt = seq + 65536; // room to go back before the first packet without going negative
      this.base = this.maxExt;
      this.seen.fill(0);
      this.seen[this.maxExt % SEQ_WINDOW] = 1;
      this.received = 1;
      return;
    }
    const delta = ((seq - (this.maxExt & 0xffff) + 32768) & 0xffff) - 32768;
    const ext = this.maxExt + delta;
    if (delta > 0) {
      const clear = Math.min(delta, SEQ_WINDOW);
      for (let i = 1; i <= clear; i++) this.seen[(this.maxExt + i) % SEQ_WINDOW] = 0;
      this.maxExt = ext;
      this.seen[ext % SEQ_WINDOW] = 1;
      this.received++;
      return;
    }
    if (ext < this.base || this.maxExt - ext >= SEQ_WINDOW) {
      this.late++;
      return;
    }
    const slot = ext % SEQ_WINDOW;
    if (this.seen[slot]) {
      this.duplicates++;
      return;
    }
    this.seen[slot] = 1;
    this.received++;
    if (delta < 0) this.reordered++;
  }

  get expected(): number {
    return this.started ? this.maxExt - this.base + 1 : 0;
  }

  get lost(): number {
    return this.expected - this.received;
  }

  /** Starts a new measurement window after the highest seq seen so far (earlier packets then count as late). */
  resetWindow(): void {
    if (this.started) this.base = this.maxExt + 1;
    this.received = 0;
    this.duplicates = 0;
    this.reordered = 0;
    this.late = 0;
  }
}

/**
 * RFC 3550 §6.4.1 interarrival jitter, in timestamp units: D(i−1,i) = (Rᵢ − Rᵢ₋₁) − (Sᵢ − Sᵢ₋₁),
 * J += (|D| − J)/16. `arrival` must be in the same units as the RTP timestamp (samples).
 */
export class JitterEstimator {
  jitter = 0;
  private lastTransit = 0;
  private has = false;

  push(rtpTs: number, arrival: number): void {
    const transit = arrival - rtpTs;
    if (this.has) {
      let d = transit - this.lastTransit;
      // RTP timestamps wrap at 2^32: a wrap between two packets is not 2^32 samples of jitter.
      if (d > 2147483648) d -= 4294967296;
      else if (d < -2147483648) d += 4294967296;
      d = Math.abs(d);
      this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
    this.has = true;
  }
}

/** Fixed-bin histogram (no allocation per sample). */
export class Histogram {
  readonly bins: Uint32Array;
  count = 0;
  sum = 0;
  max = 0;
  constructor(
    readonly binWidth: number,
    nbins: number,
  ) {
    this.bins = new Uint32Array(nbins);
  }
  add(v: number): void {
    let b = Math.floor(v / this.binWidth);
    if (b < 0) b = 0;
    else if (b >= this.bins.length) b = this.bins.length - 1;
    this.bins[b]++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }
  reset(): void {
    this.bins.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }
  get mean(): number {
    return this.count ? this.sum / this.count : NaN;
  }
  /** q in [0,1]; returns the upper edge of the bin holding the q-quantile (NaN when empty). */
  quantile(q: number): number {
    if (!this.count) return NaN;
    const target = Math.max(1, Math.ceil(q * this.count));
    let acc = 0;
    for (let i = 0; i < this.bins.length; i++) {
      acc += this.bins[i];
      if (acc >= target) return Math.min((i + 1) * this.binWidth, this.max);
    }
    return this.max;
  }
}

/** Loss percentage of expected (0 when nothing was expected). */
export function lossPercent(expected: number, lost: number): number {
  return expected > 0 ? (100 * lost) / expected : 0;
}

// ITU-T G.107 E-model, simplified (see bench/README.md "MOS"): the product's own copy, which
// `tandem call` reports as its MOS estimate.
export { R_DEFAULT, G711_IE, G711_BPL_PLC, G711_BPL_NO_PLC, delayImpairment, effectiveEquipmentImpairment, rFactor, mosFromR, mos } from '../../src/phone/mos.js';
