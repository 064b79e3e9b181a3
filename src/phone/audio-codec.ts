import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from '../media/codecs/g711.js';
import { OPUS_FRAME_SAMPLES, OpusDecoderStream, OpusEncoderStream } from '../media/codecs/opus.js';
import { Resampler } from '../media/codecs/resampler.js';
import { G722Decoder, G722Encoder } from '../media/codecs/g722.js';
import type { LocalAudioCodec } from '../media/codecs/codec.js';

/**
 * One negotiated audio codec as the phone speaks it: 20 ms frames of 8 kHz linear audio in and
 * out, whatever the codec's own rate (Opus goes through the 8↔48 kHz resampler, as the media
 * plane's transcoder does).
 */
export interface PhoneCodec {
  readonly name: LocalAudioCodec;
  readonly pt: number;
  readonly clockRate: number;
  /** timestamp units per 20 ms frame. */
  readonly frameTicks: number;
  encode(pcm8k: Int16Array): Buffer;
  /** a payload → 8 kHz audio; throws (CODEC) on a payload the codec rejects. */
  decode(payload: Buffer): Int16Array;
}

export const FRAME_8K = 160;

class G711 implements PhoneCodec {
  readonly clockRate = 8000;
  readonly frameTicks = FRAME_8K;
  constructor(
    readonly name: 'PCMA' | 'PCMU',
    readonly pt: number,
  ) {}
  encode(pcm: Int16Array): Buffer {
    const out = Buffer.alloc(pcm.length);
    (this.name === 'PCMA' ? encodeAlaw : encodeUlaw)(pcm, out);
    return out;
  }
  decode(payload: Buffer): Int16Array {
    const out = new Int16Array(payload.length);
    (this.name === 'PCMA' ? decodeAlaw : decodeUlaw)(payload, out);
    return out;
  }
}

/**
 * A codec whose audio runs at `ratio` × 8 kHz: the phone's 8 kHz frames go up through the
 * resampler to encode and come back down after decoding (a decoded tail short of one whole
 * 8 kHz sample is dropped; the resampler takes whole ratios).
 */
class Resampled implements PhoneCodec {
  private readonly up: Resampler;
  private readonly down: Resampler;
  constructor(
    readonly name: 'opus' | 'G722',
    readonly pt: number,
    readonly clockRate: number,
    readonly frameTicks: number,
    rate: '16k' | '48k',
    private readonly ratio: number,
    private readonly enc: { encode(pcm: Int16Array): Buffer },
    private readonly dec: { decode(payload: Buffer): Int16Array },
  ) {
    this.up = new Resampler(`8k-to-${rate}`);
    this.down = new Resampler(`${rate}-to-8k`);
  }
  encode(pcm: Int16Array): Buffer {
    return this.enc.encode(this.up.process(pcm));
  }
  decode(payload: Buffer): Int16Array {
    const pcm = this.dec.decode(payload);
    const whole = pcm.length - (pcm.length % this.ratio);
    return this.down.process(whole === pcm.length ? pcm : pcm.subarray(0, whole));
  }
}

export function phoneCodec(name: LocalAudioCodec, pt: number): PhoneCodec {
  if (name === 'opus') return new Resampled('opus', pt, 48000, OPUS_FRAME_SAMPLES, '48k', 6, new OpusEncoderStream(), new OpusDecoderStream());
  // G.722: 16 kHz audio on an 8000 Hz RTP clock (RFC 3551 §4.5.2), so a 20 ms frame is 160 ticks and 160 bytes.
  if (name === 'G722') return new Resampled('G722', pt, 8000, FRAME_8K, '16k', 2, new G722Encoder(), new G722Decoder());
  return new G711(name, pt);
}

/**
 * Loads and compiles what `names` need (libopus and the resampler are wasm, compiled on first
 * use), so the first 20 ms frame of a call is not late by that much.
 */
export function warmCodecs(names: readonly LocalAudioCodec[]): void {
  for (const name of names) phoneCodec(name, 0).encode(new Int16Array(FRAME_8K));
}
