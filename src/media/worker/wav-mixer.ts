/**
 * Two channels of decoded 8 kHz audio (leg A left, leg B right) placed on one timeline for a
 * stereo WAV. A channel's first packet is placed at its arrival time since the recording began;
 * later packets by their RTP timestamp from there, so jitter does not move audio. A new SSRC or a
 * timestamp that disagrees with the wall clock by more than a second places the stream again, and so
 * does a new packet that would land before what was already written (a sender whose clock runs slow).
 * Samples wait in a ring until `take` hands out interleaved frames up to a horizon (what is not
 * filled is silence); a packet too late for the ring or too far ahead of it is counted and dropped.
 */
const RATE = 8000;
/** Seconds of audio the ring holds ahead of what was written. */
const RING_SECONDS = 10;
const REANCHOR_SAMPLES = RATE;

interface ChannelState {
  anchored: boolean;
  ssrc: number;
  anchorTs: number;
  anchorPos: number;
  /** Samples per 8 kHz sample on this stream's RTP clock (1 for G.711, 6 for Opus). */
  ratio: number;
  /** One past the last sample placed. */
  end: number;
  /** The newest RTP timestamp seen. */
  lastTs: number;
}

export class WavMixer {
  /** Frames (sample pairs) already handed out. */
  written = 0;
  /** Packets (some of) whose samples were dropped: too late for the ring, or too far ahead of it. */
  dropped = 0;
  private readonly cap = RING_SECONDS * RATE;
  private readonly ring: [Int16Array, Int16Array] = [new Int16Array(this.cap), new Int16Array(this.cap)];
  private readonly ch: [ChannelState, ChannelState] = [newChannel(), newChannel()];

  /** `usecSinceStart`: arrival since the recording began. `samples`: the packet decoded to 8 kHz. */
  place(side: 0 | 1, ssrc: number, ts: number, clockRate: number, usecSinceStart: number, samples: Int16Array): void {
    const c = this.ch[side];
    const wallPos = Math.round((usecSinceStart * RATE) / 1e6);
    const ratio = clockRate / RATE;
    const same = c.anchored && c.ssrc === ssrc && c.ratio === ratio;
    let pos = same ? c.anchorPos + Math.round(((ts - c.anchorTs) | 0) / ratio) : Number.NaN;
    // A new packet (not a duplicate or a reordered one) that would land before what was written: its
    // sender's clock runs slow against ours; place it by the wall clock rather than lose it.
    const slowClock = same && pos < this.written && ((ts - c.lastTs) | 0) > 0;
    if (Number.isNaN(pos) || Math.abs(pos - wallPos) > REANCHOR_SAMPLES || slowClock) {
      c.anchored = true;
      c.ssrc = ssrc;
      c.ratio = ratio;
      c.anchorTs = ts;
      c.anchorPos = Math.max(wallPos, c.end);
      pos = c.anchorPos;
    }
    if (!same || ((ts - c.lastTs) | 0) > 0) c.lastTs = ts;
    const ring = this.ring[side];
    let lost = false;
    for (let i = 0; i < samples.length; i++) {
      const p = pos + i;
      if (p < this.written || p >= this.written + this.cap) {
        lost = true;
        continue;
      }
      ring[p % this.cap] = samples[i];
    }
    if (lost) this.dropped++;
    c.end = Math.max(c.end, pos + samples.length);
  }

  /** The furthest sample either channel reached: everything, at the end of a recording. */
  get end(): number {
    return Math.max(this.ch[0].end, this.ch[1].end);
  }

  /** Interleaved 16-bit little-endian frames from `written` up to `horizon` (at most the ring's size per call). */
  take(horizon: number): Buffer | undefined {
    const upTo = Math.min(horizon, this.written + this.cap);
    const n = upTo - this.written;
    if (n <= 0) return undefined;
    const out = Buffer.allocUnsafe(n * 4);
    const [l, r] = this.ring;
    for (let i = 0; i < n; i++) {
      const k = (this.written + i) % this.cap;
      out.writeInt16LE(l[k], i * 4);
      out.writeInt16LE(r[k], i * 4 + 2);
      l[k] = 0;
      r[k] = 0;
    }
    this.written = upTo;
    return out;
  }
}

function newChannel(): ChannelState {
  return { anchored: false, ssrc: 0, anchorTs: 0, anchorPos: 0, ratio: 1, end: 0, lastTs: 0 };
}
