import type { LegCodec } from '../pool/protocol.js';
import { encodeAlaw, encodeUlaw } from '../codecs/g711.js';
import { OpusEncoderStream } from '../codecs/opus.js';
import { Resampler } from '../codecs/resampler.js';
import { G722Encoder } from '../codecs/g722.js';

/**
 * What Tandem generates toward a leg, one frame per tick: played audio (a file, a blob, an in-band
 * DTMF tone) encoded in the leg's codec and frame size, or RFC 4733 events. The caller
 * (media-control.ts) owns SSRC, sequence numbers and the timestamp base; a generator only says
 * what each packet carries and how far its timestamp is from the start.
 */

/** PCM handed to the worker is 8 kHz mono (main decodes and resamples files). */
export const PCM_RATE = 8000;
/** Opus frames are 20 ms here (OpusEncoderStream takes 960 samples). */
const OPUS_FRAME_MS = 20;

export interface GeneratedFrame {
  pt: number;
  marker: boolean;
  /** Timestamp offset from the generator's start, in the leg's RTP clock. */
  tsOffset: number;
  payload: Buffer;
}

export interface FrameGenerator {
  /** The next packet, or null when done. */
  next(): GeneratedFrame | null;
  /** Clock units the generator has covered (where relayed media may resume). */
  readonly spanTs: number;
  /** Where a played file stands, in ms (stop media's `last-frame-pos`). */
  readonly positionMs: number;
}

export function frameMs(leg: LegCodec): number {
  return leg.codec === 'opus' ? OPUS_FRAME_MS : Math.max(10, Math.min(leg.ptimeMs || 20, 120));
}

/** One frame of 8 kHz PCM → the leg's payload. */
class LegEncoder {
  private readonly opus: OpusEncoderStream | undefined;
  private readonly g722: G722Encoder | undefined;
  private readonly up: Resampler | undefined;

  constructor(private readonly leg: LegCodec) {
    if (leg.codec === 'opus') {
      this.opus = new OpusEncoderStream();
      this.up = new Resampler('8k-to-48k');
    } else if (leg.codec === 'G722') {
      // 16 kHz audio, one byte per two samples, on the 8000 Hz RTP clock (RFC 3551 §4.5.2).
      this.g722 = new G722Encoder();
      this.up = new Resampler('8k-to-16k');
    }
  }

  encode(pcm: Int16Array): Buffer {
    if (this.opus !== undefined && this.up !== undefined) return this.opus.encode(this.up.process(pcm));
    if (this.g722 !== undefined && this.up !== undefined) return this.g722.encode(this.up.process(pcm));
    const out = Buffer.allocUnsafe(pcm.length);
    if (this.leg.codec === 'PCMU') encodeUlaw(pcm, out);
    else encodeAlaw(pcm, out);
    return out;
  }
}

/** A PCM buffer played `repeat` times from `startSample`, then done. */
export class PcmGenerator implements FrameGenerator {
  private readonly encoder: LegEncoder;
  private readonly frameSamples: number;
  private readonly tsPerFrame: number;
  private readonly frame: Int16Array;
  private pos: number;
  private round = 1;
  private frames = 0;

  constructor(
    private readonly leg: LegCodec,
    private readonly pcm: Int16Array,
    private readonly repeat: number,
    startSample: number,
  ) {
    this.encoder = new LegEncoder(leg);
    const ms = frameMs(leg);
    this.frameSamples = (ms * PCM_RATE) / 1000;
    this.tsPerFrame = (ms * leg.clockRate) / 1000;
    this.frame = new Int16Array(this.frameSamples);
    this.pos = Math.min(startSample, pcm.length);
  }

  /** Total play time of every repeat, from the start position, in ms. */
  static durationMs(samples: number, repeat: number, startSample: number): number {
    return Math.round(((samples - Math.min(startSample, samples) + samples * (repeat - 1)) * 1000) / PCM_RATE);
  }

  get spanTs(): number {
    return this.frames * this.tsPerFrame;
  }

  get positionMs(): number {
    return Math.round((this.pos * 1000) / PCM_RATE);
  }

  next(): GeneratedFrame | null {
    if (this.pos >= this.pcm.length) {
      if (this.round >= this.repeat || this.pcm.length === 0) return null;
      this.round++;
      this.pos = 0;
    }
    // The last frame of a file is padded with silence: a leg gets whole frames only.
    const n = Math.min(this.frameSamples, this.pcm.length - this.pos);
    this.frame.fill(0);
    this.frame.set(this.pcm.subarray(this.pos, this.pos + n));
    this.pos += n;
    const f: GeneratedFrame = { pt: this.leg.pt, marker: this.frames === 0, tsOffset: this.frames * this.tsPerFrame, payload: this.encoder.encode(this.frame) };
    this.frames++;
    return f;
  }
}

/**
 * One RFC 4733 event (§2.5): every packet carries the event's start as its timestamp, the
 * duration so far grows by a frame per packet, the first has the marker bit, and the end is sent
 * three times with the E bit and the final duration.
 */
export class EventGenerator implements FrameGenerator {
  private readonly unit: number;
  private readonly total: number;
  private sent = 0;
  private ends = 0;
  private first = true;

  constructor(
    private readonly leg: LegCodec,
    private readonly code: number,
    durationMs: number,
    private readonly volume: number,
  ) {
    const rate = leg.eventClockRate ?? leg.clockRate;
    this.unit = (frameMs(leg) * rate) / 1000;
    // The 16-bit duration field bounds one event (5 s at 8 kHz fits; at 48 kHz it is clamped).
    this.total = Math.min(0xffff, Math.round((durationMs * rate) / 1000));
  }

  get spanTs(): number {
    const rate = this.leg.eventClockRate ?? this.leg.clockRate;
    return Math.round((this.total * this.leg.clockRate) / rate);
  }

  get positionMs(): number {
    return 0;
  }

  next(): GeneratedFrame | null {
    let duration: number;
    let end = false;
    if (this.sent < this.total) {
      this.sent = Math.min(this.total, this.sent + this.unit);
      duration = this.sent;
      end = this.sent >= this.total;
      if (end) this.ends = 1;
    } else if (this.ends < 3) {
      this.ends++;
      duration = this.total;
      end = true;
    } else return null;
    const payload = Buffer.from([this.code, (end ? 0x80 : 0) | (this.volume & 0x3f), duration >> 8, duration & 0xff]);
    const marker = this.first;
    this.first = false;
    return { pt: this.leg.eventPt ?? this.leg.pt, marker, tsOffset: 0, payload };
  }
}

/** DTMF keypad frequencies (ITU-T Q.23): row tone, column tone per event code 0–15 (0–9, *, #, A–D). */
const ROW = [941, 697, 697, 697, 770, 770, 770, 852, 852, 852, 941, 941, 697, 770, 852, 941];
const COL = [1336, 1209, 1336, 1477, 1209, 1336, 1477, 1209, 1336, 1477, 1209, 1477, 1633, 1633, 1633, 1633];
/** A full-scale sine is +3.17 dBm0 in G.711 (ITU-T G.711 §A.1/§B.1 reference level). */
const FULL_SCALE_DBM0 = 3.17;

/** An in-band DTMF tone: both frequencies at `volumeDb` dBm0 each, for a leg without telephone-event. */
export function dtmfTone(code: number, durationMs: number, volumeDb: number): Int16Array {
  const n = Math.round((durationMs * PCM_RATE) / 1000);
  const amp = 32767 * 10 ** ((-Math.abs(volumeDb) - FULL_SCALE_DBM0) / 20);
  const out = new Int16Array(n);
  const w1 = (2 * Math.PI * ROW[code]) / PCM_RATE;
  const w2 = (2 * Math.PI * COL[code]) / PCM_RATE;
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * (Math.sin(w1 * i) + Math.sin(w2 * i)));
  return out;
}

/**
 * Comfort silence in place: G.711's silence code fills the payload (A-law 0xD5, µ-law 0xFF), G.722
 * 0xFF (a decoder coming from a loud 2.4 kHz tone is within 52 of zero, −56 dBFS, after 25 ms);
 * Opus gets the 3-byte frame a decoder plays as 20 ms of silence. Returns the packet's new length.
 */
export function silencePayload(buf: Buffer, hdrLen: number, len: number, leg: LegCodec): number {
  if (leg.codec === 'opus') {
    if (buf.length < hdrLen + OPUS_SILENCE.length) return len;
    OPUS_SILENCE.copy(buf, hdrLen);
    buf[0] &= ~0x20; // no padding after the short frame
    return hdrLen + OPUS_SILENCE.length;
  }
  const payloadEnd = buf[0] & 0x20 ? len - buf[len - 1] : len;
  buf.fill(leg.codec === 'PCMA' ? 0xd5 : 0xff, hdrLen, payloadEnd);
  return len;
}

/** TOC 0xF8: CELT-only, fullband, 20 ms, one frame; 0xFF 0xFE decode to silence. */
const OPUS_SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);
