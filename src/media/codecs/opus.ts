import { createRequire } from 'node:module';
import { TandemError } from '../../common/errors.js';
import { noteSetUp } from './set-ups.js';

/**
 * Opus (RFC 6716, RTP payload RFC 7587) through libopus compiled to wasm (`@evan/opus`). Its main
 * entry silently prefers a native addon; the wasm entry is loaded explicitly so every worker runs
 * the same, portable code. Mono, 48 kHz, 20 ms frames (960 samples) for telephony bridging.
 */
interface OpusEncoder {
  encode(pcm: ArrayBufferView): Uint8Array;
  /** opus_encoder_ctl: a request with an argument sets, without one gets. */
  ctl(request: number, value?: number): number;
}
/** libopus's opus_defines.h. */
const OPUS_SET_BITRATE_REQUEST = 4002;
const OPUS_GET_BITRATE_REQUEST = 4003;
interface OpusDecoder {
  decode(packet: ArrayBufferView): Uint8Array;
}
interface OpusModule {
  Encoder: new (o: { channels: 1 | 2; sample_rate: 48000; application: 'voip' | 'audio' }) => OpusEncoder;
  Decoder: new (o: { channels: 1 | 2; sample_rate: 48000 }) => OpusDecoder;
}

const require = createRequire(import.meta.url);
let lib: OpusModule | undefined;

function opus(): OpusModule {
  if (lib === undefined) {
    try {
      lib = require('@evan/opus/wasm/index.js') as OpusModule;
      noteSetUp('opus');
    } catch (err) {
      throw new TandemError('CODEC', `cannot load @evan/opus (wasm): ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return lib;
}

export const OPUS_FRAME_SAMPLES = 960;

export class OpusEncoderStream {
  private readonly enc: OpusEncoder;
  constructor(bitrate = 32000) {
    this.enc = new (opus().Encoder)({ channels: 1, sample_rate: 48000, application: 'voip' });
    // The wasm build's Encoder has no `bitrate` property (assigning one does nothing, and libopus
    // then picks ~51 kb/s for mono voice): the rate goes through opus_encoder_ctl.
    this.enc.ctl(OPUS_SET_BITRATE_REQUEST, bitrate);
  }
  /** The bit rate libopus is set to, as it reports it. */
  get bitrate(): number {
    return this.enc.ctl(OPUS_GET_BITRATE_REQUEST);
  }
  /** 960 samples (20 ms at 48 kHz) → one Opus packet. */
  encode(pcm: Int16Array): Buffer {
    if (pcm.length !== OPUS_FRAME_SAMPLES) throw new TandemError('CODEC', `Opus frames are ${OPUS_FRAME_SAMPLES} samples here, got ${pcm.length}`);
    return Buffer.from(this.enc.encode(pcm));
  }
}

export class OpusDecoderStream {
  private readonly dec: OpusDecoder;
  constructor() {
    this.dec = new (opus().Decoder)({ channels: 1, sample_rate: 48000 });
  }
  /** One Opus packet → its samples at 48 kHz (mono). A packet libopus rejects throws CODEC. */
  decode(packet: Buffer): Int16Array {
    let bytes: Uint8Array;
    try {
      bytes = this.dec.decode(packet);
    } catch (err) {
      throw new TandemError('CODEC', `Opus packet rejected: ${err instanceof Error ? err.message : String(err)}`);
    }
    return new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
}
