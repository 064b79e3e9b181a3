/**
 * A receiver for transcoded streams (Opus ↔ G.711), where the received bytes cannot be compared with
 * the sent ones. Every packet counts towards loss and jitter from its header, like Receiver. When the
 * stream is decoded (G.711 always: a table lookup; Opus only on a few sampled calls, libopus costs), its
 * audio is compared with what the peer sent:
 *
 * - **Locate**: 200 ms of contiguous received audio is cross-correlated against the reference (the
 *   peer's signal as a decoder would output it, 48 kHz) over the last LOCATE_WINDOW_MS of what the peer
 *   has sent, at 1/48 ms resolution (audio.ts). That fixes which sent sample each received one is.
 *   The streams of one direction go through the same server path, so how far behind the sender a
 *   located stream was (LocatePrior) narrows the next stream's search to ±PRIOR_MS first; a stream
 *   that cannot be located waits RETRY_PACKETS before trying again, so the searches (a few ms each)
 *   cannot take the generator's time from sending.
 * - **Follow**: after that a packet's position follows from its RTP timestamp (scaled to 48 kHz), as in
 *   Receiver; each packet is correlated with the reference there. ρ ≥ AUDIO_OK_RHO counts as intact
 *   audio; ρ is kept as a signal-to-distortion ratio (ρ²/(1 − ρ²), dB). Three packets below 0.5 in a
 *   row and the stream is located again (`resyncs`).
 * - **Latency**, per packet, of its last sample: receive time − send time of the packet that carried
 *   that sample + how far that sample lay before the end of that packet. The second term is 0 for
 *   G.711 in and out (it is then Receiver's measure); it is where a codec's look-ahead shows: an Opus
 *   encoder emits 20 ms whose last sample is ~6.5 ms older than the input that completed the frame,
 *   so those 6.5 ms are added delay, mouth to ear. The reference for audio that we encoded is our own
 *   packets decoded, so our encoder's look-ahead is not charged to the server.
 */
import { performance } from 'node:perf_hooks';
import { locateInLoop, ncc, nccToSnrDb, type Located } from './audio.js';
import { JitterEstimator, SeqTracker } from './metrics.js';
import { OpusStreamDecoder } from './opus.js';
import { RING, rtpPayloadStart, type DirectionStats, type LegReceiver, type Sender } from './rtp-leg.js';
import { SIGNAL_SAMPLES } from './signal.js';

/** Correlation at or above which a packet's audio counts as intact (≈ 4.4 dB SDR; Opus at 32 kb/s gives ~0.95–0.99). */
export const AUDIO_OK_RHO = 0.8;
/** Below this for RESYNC_RUN packets in a row: the stream is located again. */
const LOST_RHO = 0.5;
const RESYNC_RUN = 3;
/** Audio gathered before locating (200 ms at 8 kHz): long enough that the pitch period is not a second peak. */
const LOCATE_SAMPLES = 1600;
/** How far back the located audio may lie (server latency + codec delays). */
export const LOCATE_WINDOW_MS = 500;
/** A located stream must correlate at least this well at the peak. */
const LOCATE_MIN_RHO = 0.7;
/** The narrow search around the direction's typical lag, each side. */
const PRIOR_MS = 50;
/** Packets a stream waits after a failed search before it gathers again; doubles per failure up to 16×. */
const RETRY_PACKETS = 25;
const RETRY_MAX_PACKETS = 400;

/**
 * All streams' searches share a time budget (a token bucket of LOCATE_BUDGET_MS, refilled at
 * LOCATE_BUDGET_SHARE of wall time): an overloaded server whose audio comes later than the window
 * must not turn the generator into the bottleneck by making every stream search again and again.
 * A stream that finds the bucket empty waits a few packets.
 */
export const LOCATE_BUDGET_SHARE = 0.1;
const LOCATE_BUDGET_MS = 100;
export class LocateBudget {
  private tokens: number;
  private last: number;
  constructor(
    private readonly share = LOCATE_BUDGET_SHARE,
    private readonly capacity = LOCATE_BUDGET_MS,
    now = performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now;
  }
  /** May a search start now? */
  take(now = performance.now()): boolean {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.share);
    this.last = now;
    return this.tokens > 0;
  }
  /** A search took `ms`. */
  spend(ms: number): void {
    this.tokens -= ms;
  }
}
const sharedBudget = new LocateBudget();
const LOOP48 = SIGNAL_SAMPLES * 6;
const RING_MASK = RING - 1;

export type AudioDecode = 'alaw' | 'ulaw' | 'opus' | 'none';

/** The shared reference of one direction: the peer's audio at 48 kHz, looped, with a tail. */
export interface AudioReference {
  ref48: Float32Array;
  /** G.711 code → linear sample, for 'alaw'/'ulaw' receivers */
  table?: Float32Array;
}

/**
 * One-way latency (ms) of the sample at 48 kHz position `last48` of a sender's stream, received `now`:
 * the send time of the packet that carried it (packets are `per48` positions long; send times in a ring
 * of RING) plus how long before that packet's end the sample lies. undefined when the packet is not
 * (or no longer) known.
 */
export function latencyOfLast(now: number, last48: number, per48: number, packetsSent: number, sendTimes: Float64Array): number | undefined {
  const p = Math.floor(last48 / per48);
  if (p < 0 || p >= packetsSent || packetsSent - p > RING) return undefined;
  const before = (p + 1) * per48 - 1 - last48;
  return now - sendTimes[p & RING_MASK] + before / 48;
}

/**
 * How far (48 kHz samples) the end of located audio lay behind the newest sample its sender had sent,
 * for the last few streams of a direction; its median centres the next search.
 */
export class LocatePrior {
  private readonly lags: number[] = [];
  add(lag48: number): void {
    this.lags.push(lag48);
    if (this.lags.length > 15) this.lags.shift();
  }
  median(): number | undefined {
    if (this.lags.length === 0) return undefined;
    const s = [...this.lags].sort((a, b) => a - b);
    return s[s.length >> 1];
  }
}

export class AudioReceiver implements LegReceiver {
  readonly seq = new SeqTracker();
  readonly jitter = new JitterEstimator();
  measuring = false;
  private readonly opus: OpusStreamDecoder | undefined;
  /** 8 kHz samples of the packet being handled, and the locate buffer */
  private readonly pkt = new Float32Array(LOCATE_SAMPLES);
  private readonly buf = new Float32Array(2 * LOCATE_SAMPLES);
  private bufLen = 0;
  private bufTs = 0; // RTP timestamp of buf[0]
  private nextTs = -1; // the timestamp that continues buf
  private located = false;
  private tsBase = 0;
  private base48 = 0; // absolute 48 kHz position (in the peer's sent stream) of the sample with timestamp tsBase
  private badRun = 0;
  private wait = 0; // packets to skip before gathering again after a failed search
  private retry = RETRY_PACKETS;
  /** 48 kHz positions per RTP timestamp unit: 6 for an 8 kHz clock, 1 for Opus's 48 kHz. */
  private readonly tsTo48: number;

  constructor(
    readonly peer: Sender,
    readonly clockHz: 8000 | 48000,
    readonly decode: AudioDecode,
    private readonly reference: AudioReference,
    readonly stats: DirectionStats,
    private readonly prior: LocatePrior = new LocatePrior(),
    private readonly budget: LocateBudget = sharedBudget,
  ) {
    this.tsTo48 = 48000 / clockHz;
    this.opus = decode === 'opus' ? new OpusStreamDecoder() : undefined;
  }

  jitterMs(): number {
    return this.jitter.jitter / (this.clockHz / 1000);
  }

  startWindow(): void {
    this.seq.resetWindow();
    this.measuring = true;
  }

  onMessage(msg: Buffer): void {
    const now = performance.now();
    const hdr = rtpPayloadStart(msg, this.stats);
    if (hdr < 0) return;
    const plen = msg.length - hdr - (msg[0] & 0x20 ? msg[msg.length - 1] : 0);
    const seq = (msg[2] << 8) | msg[3];
    const ts = msg.readUInt32BE(4);
    const st = this.stats;
    this.seq.push(seq);
    this.jitter.push(ts, now * (this.clockHz / 1000));
    if (this.measuring) {
      st.received++;
      st.payloadLenSum += plen;
      st.jitterSum += (this.jitter.jitter * 8000) / this.clockHz;
      st.jitterN++;
    }
    if (this.decode === 'none') return;
    const n = this.decodeInto(msg, hdr, plen);
    if (n <= 0) return;
    if (!this.located) {
      this.gather(ts, n);
      if (this.measuring) st.unlocated++;
      return;
    }
    // Position of this packet's first sample, from its timestamp.
    const pos48 = this.base48 + ((ts - this.tsBase) | 0) * this.tsTo48;
    let off = pos48 % LOOP48;
    if (off < 0) off += LOOP48;
    const rho = ncc(this.pkt, 0, n, this.reference.ref48, off);
    if (rho < LOST_RHO) {
      if (++this.badRun >= RESYNC_RUN) {
        this.located = false;
        this.bufLen = 0;
        this.nextTs = -1;
        this.badRun = 0;
        if (this.measuring) st.resyncs++;
      }
    } else this.badRun = 0;
    if (!this.measuring) return;
    st.audioChecked++;
    if (rho >= AUDIO_OK_RHO) st.audioOk++;
    st.snrDb.add(Math.max(0, nccToSnrDb(rho)));
    const lat = latencyOfLast(now, pos48 + 6 * n - 1, this.peer.spp * 6, this.peer.packets, this.peer.sendTimes);
    if (lat === undefined) st.unmatched++;
    else st.latency.add(lat);
  }

  /** The payload as 8 kHz samples in this.pkt; returns how many (0: could not decode). */
  private decodeInto(msg: Buffer, hdr: number, plen: number): number {
    if (this.opus !== undefined) {
      const pcm = this.opus.decode(msg.subarray(hdr, hdr + plen));
      if (pcm === undefined) return 0;
      // Every 6th sample of 48 kHz audio that is band-limited to 4 kHz (it came from G.711).
      const n = Math.min(this.pkt.length, Math.floor(pcm.length / 6));
      for (let i = 0; i < n; i++) this.pkt[i] = pcm[6 * i];
      return n;
    }
    const table = this.reference.table;
    if (table === undefined) return 0;
    const n = Math.min(this.pkt.length, plen);
    for (let i = 0; i < n; i++) this.pkt[i] = table[msg[hdr + i]];
    return n;
  }

  /** Adds this.pkt[0..n) to the locate buffer (restarting it at a gap) and locates once it holds enough. */
  private gather(ts: number, n: number): void {
    if (this.wait > 0) {
      this.wait--;
      return;
    }
    const tsSpan = (n * this.clockHz) / 8000; // timestamp units covered by n samples at 8 kHz
    if (this.bufLen === 0 || ts !== this.nextTs || this.bufLen + n > this.buf.length) {
      this.bufLen = 0;
      this.bufTs = ts;
    }
    this.buf.set(this.pkt.subarray(0, n), this.bufLen);
    this.bufLen += n;
    this.nextTs = (ts + tsSpan) >>> 0;
    if (this.bufLen < LOCATE_SAMPLES) return;
    // The buffer's audio was sent at most LOCATE_WINDOW_MS before the newest sample the peer has sent.
    const top48 = this.peer.packets * this.peer.spp * 6;
    const len48 = 6 * this.bufLen;
    const hi = top48 - len48;
    const lo = Math.max(0, hi - LOCATE_WINDOW_MS * 48);
    if (hi < 0) {
      this.bufLen = 0;
      return;
    }
    const t0 = performance.now();
    if (!this.budget.take(t0)) {
      this.bufLen = 0;
      this.wait = 5;
      return;
    }
    let found: Located | undefined;
    const typical = this.prior.median();
    if (typical !== undefined) {
      const c = hi - typical;
      const narrow = locateInLoop(this.buf, 0, this.bufLen, this.reference.ref48, LOOP48, Math.max(lo, c - PRIOR_MS * 48), Math.min(hi, c + PRIOR_MS * 48));
      if (narrow.rho >= LOCATE_MIN_RHO) found = narrow;
    }
    found ??= locateInLoop(this.buf, 0, this.bufLen, this.reference.ref48, LOOP48, lo, hi);
    this.budget.spend(performance.now() - t0);
    this.bufLen = 0;
    if (found.rho < LOCATE_MIN_RHO) {
      // A server still settling, or audio older than the window: wait, longer each time.
      this.wait = this.retry;
      this.retry = Math.min(RETRY_MAX_PACKETS, 2 * this.retry);
      return;
    }
    this.retry = RETRY_PACKETS;
    this.prior.add(hi - found.at48);
    this.located = true;
    this.tsBase = this.bufTs;
    this.base48 = found.at48;
  }
}
