/**
 * One call leg of the generator: a UDP socket, a sender that rewrites one preallocated RTP packet in
 * place (seq, timestamp, payload copied from the pre-encoded signal) and a receiver that only reads header
 * fields, checks the payload against the reference conversion and counts. Nothing here allocates per
 * packet (Node's dgram still allocates the received Buffer).
 *
 * RTP header: RFC 3550 §5.1
 *   0                   1                   2                   3
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   |                           timestamp                           |
 *   |           synchronization source (SSRC) identifier            |
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Histogram, JitterEstimator, SeqTracker } from './metrics.js';
import { SIGNAL_SAMPLES, type SignalIndex } from './signal.js';

/**
 * Where an arriving datagram's RTP payload starts (after CSRCs and a header extension), or -1 for
 * something that is not RTP media: too short, not version 2, RTCP muxed on the port (PT 200–204 with
 * the marker bit, RFC 5761 §4; counted in `stats.rtcp`), or an empty payload after padding.
 */
export function rtpPayloadStart(msg: Buffer, stats: { rtcp: number }): number {
  const len = msg.length;
  if (len < 12 || msg[0] >> 6 !== 2) return -1;
  const pt = msg[1] & 0x7f;
  if (pt >= 72 && pt <= 76) {
    stats.rtcp++;
    return -1;
  }
  let hdr = 12 + (msg[0] & 0x0f) * 4;
  if (msg[0] & 0x10) {
    if (hdr + 4 > len) return -1;
    hdr += 4 + 4 * ((msg[hdr + 2] << 8) | msg[hdr + 3]);
  }
  const plen = len - hdr - (msg[0] & 0x20 ? msg[len - 1] : 0);
  return plen > 0 ? hdr : -1;
}

/** Send times kept per leg: 2^9 packets = 10 s at 20 ms, far more than any latency we accept. */
const RING = 512;
const RING_MASK = RING - 1;

/** Aggregated counters of one direction (all calls), plain numbers updated in place. */
export class DirectionStats {
  sent = 0;
  received = 0; // datagrams, duplicates included
  rtcp = 0;
  payloadBytes = 0;
  exactBytes = 0;
  nearBytes = 0; // within one quantisation step (not exact)
  payloadLenSum = 0;
  unlocated = 0; // packets whose payload could not be found in the signal
  resyncs = 0;
  unmatched = 0; // located but no send time (too old / from the future)
  jitterSum = 0; // sum over packets of the running RFC 3550 jitter (8 kHz samples)
  jitterN = 0;
  readonly latency = new Histogram(0.01, 200_000); // ms, 10 µs bins up to 2 s
  // Transcoded audio (audio-leg.ts): packets decoded and compared with what was sent, by correlation.
  audioChecked = 0;
  audioOk = 0; // correlation ≥ AUDIO_OK_RHO
  readonly snrDb = new Histogram(0.1, 600); // dB, 0.1 dB bins up to 60 dB (below 0 dB counts as 0)

  constructor(readonly name: string) {}

  reset(): void {
    this.sent = this.received = this.rtcp = this.payloadBytes = this.exactBytes = this.nearBytes = 0;
    this.payloadLenSum = this.unlocated = this.resyncs = this.unmatched = this.jitterSum = this.jitterN = 0;
    this.audioChecked = this.audioOk = 0;
    this.latency.reset();
    this.snrDb.reset();
  }
}

/** Where a Sender's packets go: a connected dgram socket, or a native generator leg (gen-native.ts). */
export interface PacketOut {
  send(msg: Buffer, offset: number, length: number): void;
}

export class Sender {
  readonly buf: Buffer;
  packets = 0; // packets sent since start
  readonly sendTimes = new Float64Array(RING);
  private seq: number;
  private ts: number;
  private sigOff = 0;
  private frame = 0;
  /** RTP timestamp units per packet (spp for G.711; 960 for 20 ms of Opus at its 48 kHz clock). */
  readonly tsStep: number;
  stats!: DirectionStats;

  /**
   * `signal`: either one buffer of G.711 bytes (SIGNAL_SAMPLES + tail), `spp` of them per packet, or a
   * loop of pre-encoded frames (SIGNAL_SAMPLES / spp of them), one per packet, replayed in a circle.
   * Either way packet k carries the loop's samples [k·spp, (k+1)·spp) at 8 kHz (mod the loop).
   */
  constructor(
    readonly socket: PacketOut,
    readonly signal: Buffer | readonly Buffer[],
    readonly pt: number,
    readonly spp: number, // 8 kHz samples of the loop per packet (= bytes for G.711)
    readonly ptimeMs: number,
    tsStep?: number,
  ) {
    this.tsStep = tsStep ?? spp;
    const maxPayload = Buffer.isBuffer(signal) ? spp : Math.max(...signal.map((f) => f.length));
    this.buf = Buffer.alloc(12 + maxPayload);
    this.seq = (Math.random() * 65536) | 0;
    this.ts = (Math.random() * 2 ** 32) >>> 0;
    this.buf[0] = 0x80;
    this.buf[1] = pt;
    this.buf.writeUInt32BE((Math.random() * 2 ** 32) >>> 0, 8);
  }

  /** Sends the next packet; `now` is performance.now() (ms). */
  send(now: number): void {
    const b = this.buf;
    b[2] = this.seq >>> 8;
    b[3] = this.seq & 0xff;
    b.writeUInt32BE(this.ts, 4);
    this.sendTimes[this.packets & RING_MASK] = now;
    const sig = this.signal;
    if (Buffer.isBuffer(sig)) {
      sig.copy(b, 12, this.sigOff, this.sigOff + this.spp);
      this.socket.send(b, 0, b.length);
    } else {
      const f = sig[this.frame];
      f.copy(b, 12);
      this.socket.send(b, 0, 12 + f.length);
      if (++this.frame === sig.length) this.frame = 0;
    }
    this.packets++;
    this.stats.sent++;
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + this.tsStep) >>> 0;
    this.sigOff += this.spp;
    if (this.sigOff >= SIGNAL_SAMPLES) this.sigOff = 0;
  }
}

/** What calls.ts and step.ts need of a leg's receiver, whatever it checks. */
export interface LegReceiver {
  /** the sender at the other end of this direction */
  readonly peer: Sender;
  readonly seq: SeqTracker;
  measuring: boolean;
  /** the stream's RFC 3550 interarrival jitter now, in ms */
  jitterMs(): number;
  onMessage(msg: Buffer): void;
  startWindow(): void;
}

export class Receiver implements LegReceiver {
  readonly seq = new SeqTracker();
  readonly jitter = new JitterEstimator();
  measuring = false;
  private located = false;
  private tsBase = 0;
  private sBase = 0; // sample index (in the peer's sent stream) of the packet with timestamp tsBase
  private badRun = 0;

  constructor(
    readonly peer: Sender, // the sender at the other end of this direction
    readonly index: SignalIndex, // expected signal (peer's signal through the reference conversion)
    readonly rank: Int16Array, // code → level rank, for the within-one-step check
    readonly stats: DirectionStats,
  ) {}

  jitterMs(): number {
    return this.jitter.jitter / 8;
  }

  private near = (got: number, want: number): boolean => got === want || Math.abs(this.rank[got] - this.rank[want]) <= 1;

  onMessage(msg: Buffer): void {
    const now = performance.now();
    const hdr = rtpPayloadStart(msg, this.stats);
    if (hdr < 0) return;
    const plen = msg.length - hdr - (msg[0] & 0x20 ? msg[msg.length - 1] : 0);
    const seq = (msg[2] << 8) | msg[3];
    const ts = msg.readUInt32BE(4);
    const st = this.stats;
    this.seq.push(seq);
    this.jitter.push(ts, now * 8); // arrival in 8 kHz timestamp units
    if (!this.measuring) {
      if (!this.located) this.locate(msg, hdr, plen, ts);
      return;
    }
    st.received++;
    st.payloadLenSum += plen;
    st.jitterSum += this.jitter.jitter;
    st.jitterN++;
    if (!this.located && !this.locate(msg, hdr, plen, ts)) {
      st.unlocated++;
      return;
    }
    const s = this.sBase + ((ts - this.tsBase) | 0);
    // Payload against the reference conversion.
    const exp = this.index.expected;
    let off = s % SIGNAL_SAMPLES;
    if (off < 0) off += SIGNAL_SAMPLES;
    if (off + plen <= exp.length) {
      let exact = 0;
      let near = 0;
      for (let i = 0; i < plen; i++) {
        const g = msg[hdr + i];
        const w = exp[off + i];
        if (g === w) exact++;
        else if (Math.abs(this.rank[g] - this.rank[w]) <= 1) near++;
      }
      st.payloadBytes += plen;
      st.exactBytes += exact;
      st.nearBytes += near;
      if ((exact + near) * 2 < plen) {
        if (++this.badRun >= 3) {
          // The server re-timed the stream: find it again in the signal.
          this.located = false;
          this.badRun = 0;
          st.resyncs++;
        }
      } else this.badRun = 0;
    }
    // One-way latency: from the send of the packet that carried this payload's last sample.
    const p = Math.floor((s + plen - 1) / this.peer.spp);
    if (p >= 0 && p < this.peer.packets && this.peer.packets - p <= RING) {
      st.latency.add(now - this.peer.sendTimes[p & RING_MASK]);
    } else st.unmatched++;
  }

  private locate(msg: Buffer, hdr: number, plen: number, ts: number): boolean {
    const pos = this.index.locate(msg, hdr, plen, this.near);
    if (pos < 0) return false;
    // The latest sample index ≡ pos (mod loop) whose packet has been sent.
    const sent = this.peer.packets * this.peer.spp;
    const top = sent - plen;
    if (top < 0) return false;
    const s = top - ((((top - pos) % SIGNAL_SAMPLES) + SIGNAL_SAMPLES) % SIGNAL_SAMPLES);
    if (s < 0) return false;
    this.tsBase = ts;
    this.sBase = s;
    this.located = true;
    return true;
  }

  startWindow(): void {
    this.seq.resetWindow();
    this.measuring = true;
  }
}

export async function openSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve();
    });
  });
  s.on('error', () => undefined); // ICMP unreachable after the server closed a port: ignore
  return s;
}

export function connectSocket(s: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.connect(port, address, (err?: Error) => (err ? reject(err) : resolve()));
  });
}

export { RING };
