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

class Opus implements PhoneCodec {
  readonly name = 'opus';
  readonly clockRate = 48000;
  readonly frameTicks = OPUS_FRAME_SAMPLES;
  private readonly enc = new OpusEncoderStream();
  private readonly dec = new OpusDecoderStream();
  private readonly up = new Resampler('8k-to-48k');
  private readonly down = new Resampler('48k-to-8k');
  constructor(readonly pt: number) {}
  encode(pcm: Int16Array): Buffer {
    return this.enc.encode(this.up.process(pcm));
  }
  decode(payload: Buffer): Int16Array {
    const pcm48 = this.dec.decode(payload);
    return this.down.process(pcm48.length % 6 === 0 ? pcm48 : pcm48.subarray(0, pcm48.length - (pcm48.length % 6)));
  }
}

/** G.722: 16 kHz audio on an 8000 Hz RTP clock (RFC 3551 §4.5.2), so a 20 ms frame is 160 ticks and 160 bytes. */
class G722 implements PhoneCodec {
  readonly name = 'G722';
  readonly clockRate = 8000;
  readonly frameTicks = FRAME_8K;
  private readonly enc = new G722Encoder();
  private readonly dec = new G722Decoder();
  private readonly up = new Resampler('8k-to-16k');
  private readonly down = new Resampler('16k-to-8k');
  constructor(readonly pt: number) {}
  encode(pcm: Int16Array): Buffer {
    return this.enc.encode(this.up.process(pcm));
  }
  decode(payload: Buffer): Int16Array {
    const pcm16 = this.dec.decode(payload);
    return this.down.process(pcm16.length % 2 === 0 ? pcm16 : pcm16.subarray(0, pcm16.length - 1));
  }
}

export function phoneCodec(name: LocalAudioCodec, pt: number): PhoneCodec {
  if (name === 'opus') return new Opus(pt);
  if (name === 'G722') return new G722(pt);
  return new G711(name, pt);
}

/**
 * Loads and compiles what `names` need (libopus and the resampler are wasm, compiled on first
 * use), so the first 20 ms frame of a call is not late by that much.
 */
export function warmCodecs(names: readonly LocalAudioCodec[]): void {
  for (const name of names) phoneCodec(name, 0).encode(new Int16Array(FRAME_8K));
}
