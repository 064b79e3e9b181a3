/**
 * Opus for the generator (RFC 6716; RTP payload RFC 7587: 48 kHz clock, `opus/48000/2` in SDP whatever
 * is sent). libopus compiled to wasm (`@evan/opus`), loaded like src/media/codecs/opus.ts does: the wasm
 * entry explicitly (the package's main entry would prefer a native addon), through createRequire since
 * it is CommonJS. The bench's own loader, so the generator does not share code with the server it
 * measures. Used to encode the test loop once and to decode a sample of the received streams.
 */
import { createRequire } from 'node:module';

interface Encoder {
  encode(pcm: ArrayBufferView): Uint8Array;
  /** opus_encoder_ctl: the wasm entry has no property setters (`bitrate = …` would set a plain field). */
  ctl(cmd: number, value?: number): number;
}
interface Decoder {
  decode(packet: ArrayBufferView): Uint8Array;
}
interface OpusModule {
  Encoder: new (o: { channels: 1 | 2; sample_rate: 48000; application: 'voip' | 'audio' }) => Encoder;
  Decoder: new (o: { channels: 1 | 2; sample_rate: 48000 }) => Decoder;
}

const require = createRequire(import.meta.url);
let lib: OpusModule | undefined;

function opus(): OpusModule {
  lib ??= require('@evan/opus/wasm/index.js') as OpusModule;
  return lib;
}

/** OPUS_SET_BITRATE_REQUEST, OPUS_GET_BITRATE_REQUEST (opus_defines.h). */
const SET_BITRATE = 4002;
const GET_BITRATE = 4003;

/** 20 ms at 48 kHz. */
export const OPUS_FRAME = 960;

/**
 * Encodes a mono 48 kHz loop into 20 ms Opus packets (one per frame; the loop must be a whole number of
 * frames). The encoder runs over the loop twice and the second pass is kept, so packet 0 is coded with
 * the state the end of the loop leaves: replaying the packets in a circle has no seam.
 */
export function encodeLoop(pcm48: Int16Array, bitrate = 32000): Buffer[] {
  if (pcm48.length % OPUS_FRAME !== 0) throw new Error(`the loop must be whole ${OPUS_FRAME}-sample frames`);
  const enc = new (opus().Encoder)({ channels: 1, sample_rate: 48000, application: 'voip' });
  enc.ctl(SET_BITRATE, bitrate);
  if (enc.ctl(GET_BITRATE) !== bitrate) throw new Error(`libopus did not take bitrate ${bitrate}`);
  const frames = pcm48.length / OPUS_FRAME;
  const out: Buffer[] = [];
  for (let pass = 0; pass < 2; pass++) {
    for (let k = 0; k < frames; k++) {
      const p = enc.encode(pcm48.subarray(k * OPUS_FRAME, (k + 1) * OPUS_FRAME));
      if (pass === 1) out.push(Buffer.from(p));
    }
  }
  return out;
}

/** One stream's decoder: packet → mono 48 kHz samples. */
export class OpusStreamDecoder {
  private readonly dec = new (opus().Decoder)({ channels: 1, sample_rate: 48000 });
  errors = 0;

  /** Samples of one packet, or undefined when libopus rejects it. */
  decode(packet: Uint8Array): Int16Array | undefined {
    try {
      const b = this.dec.decode(packet);
      return new Int16Array(b.buffer, b.byteOffset, b.byteLength >> 1);
    } catch {
      this.errors++;
      return undefined;
    }
  }
}

/** Decodes packets in order into one 48 kHz signal (the reference for what a server decodes). */
export function decodeLoop(packets: Buffer[]): Int16Array {
  const dec = new OpusStreamDecoder();
  // Once round to settle the decoder's state as a server's would be after the first lap, then keep the second.
  for (const p of packets) dec.decode(p);
  const out = new Int16Array(packets.length * OPUS_FRAME);
  for (const [k, p] of packets.entries()) {
    const s = dec.decode(p);
    if (s === undefined || s.length !== OPUS_FRAME) throw new Error(`Opus loop packet ${k} did not decode to ${OPUS_FRAME} samples`);
    out.set(s, k * OPUS_FRAME);
  }
  return out;
}
