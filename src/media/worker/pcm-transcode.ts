import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from '../codecs/g711.js';
import { G722Decoder, G722Encoder } from '../codecs/g722.js';
import { OpusDecoderStream, OpusEncoderStream, OPUS_FRAME_SAMPLES } from '../codecs/opus.js';
import { Resampler, type ResampleDirection, type SampleRateName } from '../codecs/resampler.js';
import type { Timeline } from './dtmf.js';

/**
 * Any audio codec → any other through linear PCM, for one direction of one stream: decode, resample
 * between the codecs' audio rates, gather frames of the output codec, encode. Used for every pair
 * with G.722 (PCMA/PCMU/Opus ↔ G.722); PCMA ↔ PCMU keep their byte tables and Opus ↔ G.711 its own
 * path (opus-transcode.ts).
 *
 * Clocks: G.722 is 16 kHz audio on an 8000 Hz RTP clock (RFC 3551 §4.5.2), so a codec has an audio
 * rate and an RTP clock rate, and timestamps are mapped between the two sides' RTP clocks from the
 * first packet on, following the sender's steps (gaps stay gaps). Sequence numbers are the caller's.
 */
export type PcmCodec = 'alaw' | 'ulaw' | 'opus' | 'g722';

interface CodecClock {
  /** audio samples per second */
  readonly rate: number;
  /** RTP timestamp units per second */
  readonly clock: number;
  readonly rateName: SampleRateName;
}

const CLOCKS: Readonly<Record<PcmCodec, CodecClock>> = {
  alaw: { rate: 8000, clock: 8000, rateName: '8k' },
  ulaw: { rate: 8000, clock: 8000, rateName: '8k' },
  g722: { rate: 16000, clock: 8000, rateName: '16k' },
  opus: { rate: 48000, clock: 48000, rateName: '48k' },
};

/** The RTP clock rate of a codec's audio (what its telephone-events are timed in). */
export function rtpClock(codec: PcmCodec): number {
  return CLOCKS[codec].clock;
}

type Decode = (payload: Buffer) => Int16Array;
type Encode = (pcm: Int16Array) => Buffer;

function decoder(codec: PcmCodec): Decode {
  switch (codec) {
    case 'alaw':
    case 'ulaw': {
      const law = codec === 'alaw' ? decodeAlaw : decodeUlaw;
      return (p) => {
        const out = new Int16Array(p.length);
        law(p, out);
        return out;
      };
    }
    case 'g722': {
      const d = new G722Decoder();
      return (p) => d.decode(p);
    }
    case 'opus': {
      const d = new OpusDecoderStream();
      return (p) => d.decode(p);
    }
  }
}

function encoder(codec: PcmCodec): Encode {
  switch (codec) {
    case 'alaw':
    case 'ulaw': {
      const law = codec === 'alaw' ? encodeAlaw : encodeUlaw;
      return (pcm) => {
        const out = Buffer.allocUnsafe(pcm.length);
        law(pcm, out);
        return out;
      };
    }
    case 'g722': {
      const e = new G722Encoder();
      return (pcm) => e.encode(pcm);
    }
    case 'opus': {
      const e = new OpusEncoderStream();
      return (pcm) => e.encode(pcm);
    }
  }
}

export class PcmTranscoder implements Timeline {
  /** Packets that could not be decoded (empty, or an Opus packet libopus rejects), dropped. */
  errors = 0;
  private readonly inClk: CodecClock;
  private readonly outClk: CodecClock;
  private readonly decode: Decode;
  private readonly encode: Encode;
  private readonly resampler: Resampler | null;
  private frameSamples = 0;
  private pending = new Int16Array(0);
  private fill = 0;
  /** Output timestamp of pending[0]. */
  private pendingTs = 0;
  private marker = 0;
  /** The last input timestamp mapped and where it went; the next input timestamp expected. */
  private lastTsIn = 0;
  private lastTsOut = 0;
  private based = false;
  private nextTsIn = -1;

  /**
   * `frameMs`: output packet duration (Opus always gets 20 ms). `emit` takes each output RTP packet
   * (its sequence number is left for the caller to write).
   */
  constructor(
    readonly from: PcmCodec,
    readonly to: PcmCodec,
    frameMs: number,
    private readonly emit: (pkt: Buffer) => void,
  ) {
    this.inClk = CLOCKS[from];
    this.outClk = CLOCKS[to];
    this.decode = decoder(from);
    this.encode = encoder(to);
    this.resampler = this.inClk.rate === this.outClk.rate ? null : new Resampler(`${this.inClk.rateName}-to-${this.outClk.rateName}` as ResampleDirection);
    this.setFrameMs(frameMs);
  }

  /** The RTP clock of the input audio (telephone-events arriving with it are timed in it). */
  get inClock(): number {
    return this.inClk.clock;
  }

  /** Output packets of `ms` (20 when 0; Opus is always 20). Audio already gathered is kept. */
  setFrameMs(ms: number): void {
    const frame = this.to === 'opus' ? OPUS_FRAME_SAMPLES : ((ms > 0 ? ms : 20) * this.outClk.rate) / 1000;
    if (frame === this.frameSamples) return;
    this.frameSamples = frame;
    const grown = new Int16Array(Math.max(frame * 4, this.fill + frame));
    grown.set(this.pending.subarray(0, this.fill));
    this.pending = grown;
  }

  /** Where an input timestamp falls on the output timeline, relative to the last one mapped. */
  outTs(tsIn: number): number {
    if (!this.based) {
      this.based = true;
      this.lastTsIn = tsIn;
      this.lastTsOut = Math.floor(Math.random() * 0x100000000) >>> 0;
      return this.lastTsOut;
    }
    const delta = (tsIn - this.lastTsIn) | 0; // either way, across the 32-bit wrap
    return (this.lastTsOut + Math.round((delta * this.outClk.clock) / this.inClk.clock)) >>> 0;
  }

  /**
   * One input RTP packet (payload at [hdrLen, payloadEnd)); emits whatever whole frames it completes.
   * False when the packet was dropped as undecodable (counted in `errors`; the caller counts it too).
   */
  push(buf: Buffer, hdrLen: number, payloadEnd: number, outPt: number): boolean {
    let pcm: Int16Array;
    // An empty payload carries no audio (libopus would take it as a loss and conceal 120 ms).
    if (payloadEnd <= hdrLen) {
      this.errors++;
      return false;
    }
    try {
      pcm = this.decode(buf.subarray(hdrLen, payloadEnd));
    } catch {
      this.errors++;
      return false;
    }
    const tsIn = buf.readUInt32BE(4);
    const tsOut = this.outTs(tsIn);
    this.lastTsIn = tsIn;
    this.lastTsOut = tsOut;
    if (this.nextTsIn >= 0 && tsIn !== this.nextTsIn) this.fill = 0; // a gap: never stretch audio across it
    this.nextTsIn = (tsIn + (pcm.length * this.inClk.clock) / this.inClk.rate) >>> 0;
    if (this.resampler !== null) {
      // The resampler goes down in whole groups; a codec's frames always are (20 ms at any of these rates).
      const usable = pcm.length - (pcm.length % (this.inClk.rate > this.outClk.rate ? this.inClk.rate / this.outClk.rate : 1));
      pcm = this.resampler.process(usable === pcm.length ? pcm : pcm.subarray(0, usable));
    }
    if (this.fill === 0) {
      this.pendingTs = tsOut;
      this.marker = buf[1] & 0x80;
    }
    let pos = 0;
    while (pos < pcm.length) {
      const take = Math.min(pcm.length - pos, this.pending.length - this.fill);
      this.pending.set(pcm.subarray(pos, pos + take), this.fill);
      this.fill += take;
      pos += take;
      while (this.fill >= this.frameSamples) this.encodeFrame(buf, outPt);
    }
    return true;
  }

  private encodeFrame(src: Buffer, outPt: number): void {
    const n = this.frameSamples;
    const payload = this.encode(this.pending.subarray(0, n));
    const out = Buffer.allocUnsafe(12 + payload.length);
    out[0] = 0x80;
    out[1] = this.marker | outPt;
    this.marker = 0;
    out.writeUInt16BE(0, 2);
    out.writeUInt32BE(this.pendingTs >>> 0, 4);
    src.copy(out, 8, 8, 12);
    payload.copy(out, 12);
    this.pending.copyWithin(0, n, this.fill);
    this.fill -= n;
    this.pendingTs = (this.pendingTs + (n * this.outClk.clock) / this.outClk.rate) >>> 0;
    this.emit(out);
  }
}

/** The two codecs of a worker conversion name such as 'alaw-g722', when the generic path handles it. */
export function pcmPair(convert: string): { from: PcmCodec; to: PcmCodec } | undefined {
  const [from, to] = convert.split('-') as [string, string | undefined];
  const codecs: readonly string[] = ['alaw', 'ulaw', 'opus', 'g722'];
  if (to === undefined || !codecs.includes(from) || !codecs.includes(to) || (from !== 'g722' && to !== 'g722')) return undefined;
  return { from: from as PcmCodec, to: to as PcmCodec };
}
