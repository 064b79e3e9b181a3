import type { DirectionConfig, PayloadRule } from '../pool/protocol.js';
import { ALAW_TO_ULAW, ULAW_TO_ALAW, transcodeInPlace } from '../codecs/g711.js';
import { G711ToOpus, OpusToG711 } from './opus-transcode.js';
import { PcmTranscoder, pcmPair } from './pcm-transcode.js';
import { EventRelay, dtmfSettings, type Timeline } from './dtmf.js';
import { DtmfDetector, DtmfSynth } from './inband-dtmf.js';

/** G.711 carries one byte per sample at 8000 Hz. */
const G711_BYTES_PER_MS = 8;
const NO_RULE = -1;

/** Where a processed packet goes. Implemented once per bridge side, never per packet. */
export interface PacketSink {
  emit(buf: Buffer, len: number): void;
  /**
   * True while `emit` is done with `buf` when it returns (it copied it, e.g. into an SRTP packet):
   * the repacketizer then builds its next frame in the same buffer. False or absent: the sink may
   * still hold it (dgram keeps a buffer until an addressed or queued send completes).
   */
  readonly releasesOnEmit?: boolean;
}

/**
 * One direction of a bridge: payload-type mapping, A-law/µ-law conversion, Opus ↔ G.711,
 * telephone-event across clock rates and G.711 repacketization (ptime change). Tables and rules
 * are resolved when the direction is configured, so the per-packet path is array indexing only.
 */
export class DirectionProcessor {
  private readonly ruleIndexByPt = new Int16Array(128).fill(NO_RULE);
  private rules: PayloadRule[] = [];
  private tables: (Uint8Array | null)[] = [];
  /** Opus codec state per rule (null for G.711-only rules), kept across re-configuration. */
  private fromOpus: (OpusToG711 | null)[] = [];
  private toOpus: (G711ToOpus | null)[] = [];
  /** Codec state of the pairs with G.722 (decode, resample, encode), likewise kept. */
  private pcm: (PcmTranscoder | null)[] = [];
  /** telephone-event handling per rule (null for audio rules). */
  private events: (EventRelay | null)[] = [];
  private eventList: EventRelay[] = [];
  /** The Opus transcoder whose output timeline events are put on; null when timestamps pass as they are. */
  private timeline: Timeline | null = null;
  /** In-band DTMF → events (what this direction receives is G.711 from a leg without telephone-event). */
  private detector: DtmfDetector | null = null;
  /** Events → in-band tones (toward a G.711 leg without telephone-event), and the event PT it takes. */
  private synth: DtmfSynth | null = null;
  private synthInPt = -1;
  /** Whether outgoing packets get our sequence numbers (we repacketize or transcode Opus). */
  private renumber = false;
  private outFrameBytes = 0;

  // Repacketizer state (RFC 3550 §5.1: timestamps advance by samples, sequence by packets).
  private frame: Buffer | null = null;
  /** The last frame's buffer, when the sink gave it back (see PacketSink.releasesOnEmit). */
  private spareFrame: Buffer | null = null;
  private frameFill = 0;
  private frameTs = 0;
  private frameMarker = 0;
  private frameOutPt = 0;
  private ssrc = -1;
  private outSeq = 0;
  private seqStarted = false;

  constructor(private readonly sink: PacketSink) {}

  configure(cfg: DirectionConfig): void {
    this.ruleIndexByPt.fill(NO_RULE);
    // Codec state survives a re-negotiation that keeps the same conversion on the same PT.
    const oldRules = this.rules;
    const oldFrom = this.fromOpus;
    const oldTo = this.toOpus;
    const oldPcm = this.pcm;
    this.rules = cfg.rules.slice();
    this.tables = this.rules.map((r) =>
      r.convert === 'alaw-ulaw' ? ALAW_TO_ULAW() : r.convert === 'ulaw-alaw' ? ULAW_TO_ALAW() : null,
    );
    const reuse = <T>(r: PayloadRule, olds: (T | null)[]): T | null => {
      const j = oldRules.findIndex((o) => o.inPt === r.inPt && o.convert === r.convert);
      return j >= 0 ? (olds[j] ?? null) : null;
    };
    this.fromOpus = this.rules.map((r) =>
      r.convert === 'opus-alaw' || r.convert === 'opus-ulaw' ? (reuse(r, oldFrom) ?? new OpusToG711(r.convert === 'opus-alaw' ? 'alaw' : 'ulaw')) : null,
    );
    this.toOpus = this.rules.map((r) =>
      r.convert === 'alaw-opus' || r.convert === 'ulaw-opus'
        ? (reuse(r, oldTo) ?? new G711ToOpus(r.convert === 'alaw-opus' ? 'alaw' : 'ulaw', (pkt) => this.forward(pkt, pkt.length)))
        : null,
    );
    this.pcm = this.rules.map((r) => {
      const pair = pcmPair(r.convert);
      if (pair === undefined) return null;
      const t = reuse(r, oldPcm) ?? new PcmTranscoder(pair.from, pair.to, cfg.outFrameMs, (pkt) => this.forward(pkt, pkt.length));
      t.setFrameMs(cfg.outFrameMs);
      return t;
    });
    const pcmTimeline = this.pcm.find((t) => t !== null) ?? null;
    this.timeline = this.fromOpus.find((t) => t !== null) ?? this.toOpus.find((t) => t !== null) ?? pcmTimeline;
    // Event timestamps are on the sender's audio timeline, whose clock is the audio codec's.
    const audioInRate = this.fromOpus.some((t) => t !== null) ? 48000 : this.toOpus.some((t) => t !== null) ? 8000 : (pcmTimeline?.inClock ?? 0);
    const oldEvents = this.events;
    this.events = this.rules.map((r) => {
      if (r.event === undefined) return null;
      const j = oldRules.findIndex((o) => o.inPt === r.inPt && o.event?.inRate === r.event?.inRate && o.event?.outRate === r.event?.outRate);
      return (j >= 0 ? oldEvents[j] : null) ?? new EventRelay(r.event.inRate, r.event.outRate, audioInRate || r.event.inRate);
    });
    this.eventList = this.events.filter((e): e is EventRelay => e !== null);
    this.rules.forEach((r, i) => {
      if (r.inPt >= 0 && r.inPt < 128) this.ruleIndexByPt[r.inPt] = i;
    });
    const bytes = cfg.outFrameMs > 0 ? cfg.outFrameMs * G711_BYTES_PER_MS : 0;
    if (bytes !== this.outFrameBytes) {
      this.outFrameBytes = bytes;
      this.frame = null;
      this.spareFrame = null;
      this.frameFill = 0;
    }
    const det = cfg.detectDtmf;
    this.detector = det === undefined ? null : (this.detector ?? new DtmfDetector(det.law, det.outPt, det.outRate));
    const syn = cfg.synthesizeDtmf;
    this.synth = syn === undefined ? null : syn.inPt === this.synthInPt && this.synth !== null ? this.synth : new DtmfSynth(syn.inRate, syn.law, syn.outPt);
    this.synthInPt = syn?.inPt ?? -1;
    // Opus output, and packets we make (events, tones), are our own stream: everything shares one sequence.
    this.renumber = this.outFrameBytes > 0 || this.timeline !== null || this.detector !== null || this.synth !== null;
  }

  get repacketizing(): boolean {
    return this.outFrameBytes > 0;
  }

  /**
   * Processes one valid RTP packet (header length already checked) and hands results to the sink.
   * Returns false for a packet dropped as malformed (the caller counts it as an error).
   */
  process(buf: Buffer, len: number, hdrLen: number): boolean {
    const pt = buf[1] & 0x7f;
    const ri = this.ruleIndexByPt[pt];
    const payloadEnd = buf[0] & 0x20 ? len - buf[len - 1] : len;
    if (!this.seqStarted) {
      this.outSeq = buf.readUInt16BE(2);
      this.seqStarted = true;
    }

    if (pt === this.synthInPt && this.synth !== null) return this.synth.event(buf, hdrLen, payloadEnd, this.timeline, this.emitTone);
    if (ri === NO_RULE) {
      this.forward(buf, len);
      return true;
    }
    const rule = this.rules[ri];
    const event = this.events[ri];
    if (event !== null) {
      if (!event.rewrite(buf, hdrLen, payloadEnd, rule.outPt, this.timeline)) return false;
      this.forward(buf, len);
      return true;
    }
    const fromOpus = this.fromOpus[ri];
    const toOpus = this.toOpus[ri];
    const pcm = this.pcm[ri];
    if (this.detector !== null && fromOpus === null) this.detector.push(buf, hdrLen, payloadEnd, this.timeline, this.emitEvent);
    if ((fromOpus !== null || toOpus !== null || pcm !== null || this.detector !== null || this.synth !== null) && this.inEvent(buf.readUInt32BE(4))) return true;
    // An undecodable packet counts as the stream's error, like a malformed one.
    if (pcm !== null) return pcm.push(buf, hdrLen, payloadEnd, rule.outPt);
    if (fromOpus !== null) {
      const pkt = fromOpus.convert(buf, hdrLen, payloadEnd, rule.outPt);
      if (pkt === null) return true;
      if (this.outFrameBytes > 0) this.repacketize(pkt, 12, pkt.length, rule.outPt);
      else this.forward(pkt, pkt.length);
      return true;
    }
    if (toOpus !== null) {
      toOpus.push(buf, hdrLen, payloadEnd, rule.outPt);
      return true;
    }
    const table = this.tables[ri];
    if (table !== null) transcodeInPlace(buf, hdrLen, payloadEnd, table);

    if (this.outFrameBytes > 0 && rule.audio) {
      this.repacketize(buf, hdrLen, payloadEnd, rule.outPt);
      return true;
    }
    buf[1] = (buf[1] & 0x80) | rule.outPt;
    this.forward(buf, len);
    return true;
  }

  /** Audio inside a telephone-event in progress (or a digit found in-band) is held back (see EventRelay). */
  private inEvent(tsIn: number): boolean {
    if (this.synth !== null && this.synth.suppresses(tsIn)) return true;
    if (!dtmfSettings.suppressAudio) return false;
    if (this.detector !== null && this.detector.inDigit) return true;
    for (const e of this.eventList) if (e.suppresses(tsIn)) return true;
    return false;
  }

  /** Event packets this direction makes itself (digits found in-band). */
  private readonly emitEvent = (pkt: Buffer): void => {
    this.forward(pkt, pkt.length);
  };

  /** G.711 tone frames this direction makes itself: framed like the rest of the audio toward the leg. */
  private readonly emitTone = (pkt: Buffer): void => {
    if (this.outFrameBytes > 0) this.repacketize(pkt, 12, pkt.length, pkt[1] & 0x7f);
    else this.forward(pkt, pkt.length);
  };

  /** Packets that keep their framing still need our sequence numbers once we renumber any. */
  private forward(buf: Buffer, len: number): void {
    if (this.outFrameBytes > 0) this.noteSsrc(buf);
    if (this.renumber) {
      buf.writeUInt16BE(this.outSeq, 2);
      this.outSeq = (this.outSeq + 1) & 0xffff;
    }
    this.sink.emit(buf, len);
  }

  private noteSsrc(buf: Buffer): void {
    const ssrc = buf.readUInt32BE(8);
    if (ssrc !== this.ssrc) {
      this.flush();
      this.ssrc = ssrc;
    }
  }

  private repacketize(buf: Buffer, start: number, end: number, outPt: number): void {
    this.noteSsrc(buf);
    const ts = buf.readUInt32BE(4);
    // A gap or jump in timestamps ends the current frame: never stretch audio across a loss.
    if (this.frameFill > 0 && ((this.frameTs + this.frameFill) >>> 0) !== ts) this.flush();
    let pos = start;
    let tsAtPos = ts;
    while (pos < end) {
      if (this.frame === null) this.startFrame(buf, tsAtPos, outPt);
      const frame = this.frame as Buffer;
      const n = Math.min(end - pos, this.outFrameBytes - this.frameFill);
      buf.copy(frame, 12 + this.frameFill, pos, pos + n);
      this.frameFill += n;
      pos += n;
      tsAtPos = (tsAtPos + n) >>> 0;
      if (this.frameFill === this.outFrameBytes) this.flush();
    }
  }

  private startFrame(src: Buffer, ts: number, outPt: number): void {
    // A fresh buffer per outgoing frame unless the sink gave the last one back: dgram may still hold
    // it (an addressed send completes on a later tick, a queued one when the kernel takes it).
    const frame = this.spareFrame ?? Buffer.allocUnsafe(12 + this.outFrameBytes);
    this.spareFrame = null;
    frame[0] = 0x80;
    this.frameMarker = src[1] & 0x80;
    this.frameOutPt = outPt;
    frame.writeUInt32BE(this.ssrc >>> 0, 8);
    this.frameTs = ts;
    this.frame = frame;
    this.frameFill = 0;
  }

  /** Sends whatever audio is buffered, even a short frame. */
  flush(): void {
    const frame = this.frame;
    if (frame === null || this.frameFill === 0) return;
    frame[1] = this.frameMarker | this.frameOutPt;
    frame.writeUInt16BE(this.outSeq, 2);
    frame.writeUInt32BE(this.frameTs >>> 0, 4);
    this.outSeq = (this.outSeq + 1) & 0xffff;
    const len = 12 + this.frameFill;
    this.frame = null;
    this.frameFill = 0;
    this.sink.emit(frame, len);
    if (this.sink.releasesOnEmit === true) this.spareFrame = frame;
  }
}
