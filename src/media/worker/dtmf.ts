/**
 * RFC 4733 telephone-event packets across a transcoded stream. An event's timestamp is its start
 * on the sender's audio timeline (same SSRC), and its duration counts the event's clock.
 * When audio is transcoded the output timeline is ours (G711ToOpus, OpusToG711), so the event
 * start is mapped through the same transcoder and the duration scaled by the clock ratio.
 */

/** event (8) | E R volume (8) | duration (16): RFC 4733 §2.3. */
export const EVENT_PAYLOAD_BYTES = 4;
/** The duration field is 16 bits. */
const MAX_DURATION = 0xffff;

/**
 * rtpengine's `--dtmf-no-suppress` (WorkerInit.dtmfNoSuppress, set once per worker): when false,
 * audio sent during an event is forwarded instead of held back. Tones Tandem synthesizes still
 * replace the audio (a tone and speech cannot share one timeline).
 */
export const dtmfSettings = { suppressAudio: true };

/** Where the audio transcoder of a direction puts an input timestamp on its output timeline. */
export interface Timeline {
  outTs(tsIn: number): number;
}

/** Event durations scaled between clock rates; a 16-bit field, so long events clamp at 0xffff. */
export function scaleDuration(duration: number, inRate: number, outRate: number): number {
  if (inRate === outRate) return duration;
  const d = Math.round((duration * outRate) / inRate);
  return d > 0xffff ? 0xffff : d;
}

/**
 * One telephone-event payload type of one direction. Rewrites event packets in place and tells the
 * direction whether audio should be held back: like rtpengine's default (`--dtmf-no-suppress`
 * unset), audio the sender keeps sending during an event is not forwarded while transcoding, so
 * the receiver does not get both the tone in-band and the event.
 */
export class EventRelay {
  /** Packets dropped because their payload is shorter than one event. */
  malformed = 0;
  private tsOut = 0;
  /** Spans in audio input clock units. */
  private readonly window: EventWindow;

  constructor(
    private readonly inRate: number,
    private readonly outRate: number,
    private readonly audioInRate: number,
  ) {
    // Senders update about every 50 ms (RFC 4733's suggestion); 250 ms without one is a lost end.
    this.window = new EventWindow(audioInRate / 4);
  }

  /**
   * Maps one event packet (payload type, timestamp, durations) for the output; false when it is
   * malformed and must be dropped. Without a timeline (no clock change) the timestamp stays.
   */
  rewrite(buf: Buffer, hdrLen: number, payloadEnd: number, outPt: number, timeline: Timeline | null): boolean {
    if (payloadEnd - hdrLen < EVENT_PAYLOAD_BYTES) {
      this.malformed++;
      return false;
    }
    const tsIn = buf.readUInt32BE(4);
    // Every packet of one event carries its start time; map it once so updates and the three end
    // packets keep one output timestamp even if audio moved the transcoder's mapping meanwhile.
    if (this.window.start(tsIn)) this.tsOut = timeline === null ? tsIn : timeline.outTs(tsIn);
    buf[1] = (buf[1] & 0x80) | outPt;
    const duration = buf.readUInt16BE(hdrLen + 2);
    // A long event can outgrow the 16-bit field on a faster clock (a 1.4 s key press at 8 kHz is
    // ~72000 at 48 kHz): it goes on in segments (RFC 4733 §2.5.1.3), each starting where the one
    // before reached 0xffff, so the receiver sees one long event, not a capped one.
    const out = Math.round((duration * this.outRate) / this.inRate);
    const segments = out > MAX_DURATION ? Math.floor((out - 1) / MAX_DURATION) : 0;
    buf.writeUInt32BE((this.tsOut + segments * MAX_DURATION) >>> 0, 4);
    buf.writeUInt16BE(out - segments * MAX_DURATION, hdrLen + 2);
    // One event per packet is the rule (redundancy goes in RED); scale any further whole block alike.
    for (let p = hdrLen + EVENT_PAYLOAD_BYTES; p + EVENT_PAYLOAD_BYTES <= payloadEnd; p += EVENT_PAYLOAD_BYTES) {
      buf.writeUInt16BE(scaleDuration(buf.readUInt16BE(p + 2), this.inRate, this.outRate), p + 2);
    }
    // A late update after an end packet must not start holding audio back again.
    if ((buf[hdrLen + 1] & 0x80) !== 0) this.window.ended = true;
    this.window.spanIn = (duration * this.audioInRate) / this.inRate;
    return true;
  }

  /** Is audio at this input timestamp inside an event in progress (and so not forwarded)? */
  suppresses(tsIn: number): boolean {
    return this.window.suppresses(tsIn);
  }
}

/**
 * The input timestamps one event covers, shared by the relay and the in-band synthesizer: audio
 * inside it is held back, from the event's start to the last reported duration plus some slack.
 */
export class EventWindow {
  started = false;
  /** The current event's start (its RTP timestamp). */
  tsIn = 0;
  ended = false;
  /** The last duration the sender reported for the current event. */
  spanIn = 0;

  /** `slackIn`: audio this far past the last reported duration means the end packets were lost. */
  constructor(private readonly slackIn: number) {}

  /** Notes an event packet's start timestamp; true when it begins a new event. */
  start(tsIn: number): boolean {
    if (this.started && tsIn === this.tsIn) return false;
    this.started = true;
    this.tsIn = tsIn;
    this.ended = false;
    return true;
  }

  suppresses(tsIn: number): boolean {
    if (!this.started || this.ended) return false;
    const since = (tsIn - this.tsIn) | 0;
    if (since < 0) return false;
    if (since < this.spanIn + this.slackIn) return true;
    this.ended = true;
    return false;
  }
}
