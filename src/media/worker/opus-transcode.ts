import { OpusDecoderStream, OpusEncoderStream, OPUS_FRAME_SAMPLES } from '../codecs/opus.js';
import { Resampler } from '../codecs/resampler.js';
import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from '../codecs/g711.js';
import type { Timeline } from './dtmf.js';
import { PcmTranscoder } from './pcm-transcode.js';

/**
 * Opus (48 kHz RTP clock, RFC 7587) ↔ G.711 (8 kHz) for one direction of one stream. Each object
 * owns its codec and resampler state; RTP timestamps are mapped between the two clocks from the
 * first packet on, following the sender's timestamp steps, so gaps stay gaps.
 */
type Law = 'alaw' | 'ulaw';
const G711_FRAME = 160; // 20 ms at 8 kHz
const RATIO = 6;

/** Opus in → G.711 out: one G.711 packet per Opus packet. */
export class OpusToG711 implements Timeline {
  private readonly dec = new OpusDecoderStream();
  private readonly down = new Resampler('48k-to-8k');
  private lastTsIn = -1;
  private tsOut = 0;
  errors = 0;

  constructor(private readonly law: Law) {}

  /** Returns the G.711 RTP packet for an Opus RTP packet, or null when it cannot be decoded. */
  convert(buf: Buffer, hdrLen: number, payloadEnd: number, outPt: number): Buffer | null {
    let pcm48: Int16Array;
    try {
      pcm48 = this.dec.decode(buf.subarray(hdrLen, payloadEnd));
    } catch {
      this.errors++;
      return null;
    }
    const usable = pcm48.length - (pcm48.length % RATIO);
    const pcm8 = this.down.process(usable === pcm48.length ? pcm48 : pcm48.subarray(0, usable));
    const tsIn = buf.readUInt32BE(4);
    if (this.lastTsIn < 0) this.tsOut = Math.floor(tsIn / RATIO) >>> 0;
    else {
      const delta = (tsIn - this.lastTsIn) >>> 0;
      // A step backwards (reordering) maps to the same place; a forward step scales to 8 kHz.
      if (delta < 0x80000000) this.tsOut = (this.tsOut + Math.round(delta / RATIO)) >>> 0;
    }
    this.lastTsIn = tsIn;
    const out = Buffer.allocUnsafe(12 + pcm8.length);
    buf.copy(out, 0, 0, 12);
    out[0] = 0x80;
    out[1] = (buf[1] & 0x80) | outPt;
    out.writeUInt32BE(this.tsOut, 4);
    const codes = out.subarray(12);
    if (this.law === 'alaw') encodeAlaw(pcm8, codes);
    else encodeUlaw(pcm8, codes);
    return out;
  }

  /**
   * Where an input timestamp (a telephone-event's start) falls on the 8 kHz output: relative to the
   * last audio packet, either way. Before any audio, it starts the mapping as audio would.
   */
  outTs(tsIn: number): number {
    if (this.lastTsIn < 0) {
      this.tsOut = Math.floor(tsIn / RATIO) >>> 0;
      this.lastTsIn = tsIn;
      return this.tsOut;
    }
    return (this.tsOut + Math.round(((tsIn - this.lastTsIn) | 0) / RATIO)) >>> 0;
  }
}

/**
 * G.711 in → Opus out: audio gathered into 20 ms, resampled, encoded. Sequence numbers are left to
 * the caller, which numbers events and audio in one space.
 */
export class G711ToOpus implements Timeline {
  private readonly enc = new OpusEncoderStream();
  private readonly up = new Resampler('8k-to-48k');
  private readonly pending = new Int16Array(G711_FRAME * 4);
  private fill = 0;
  /** input timestamp of pending[0]; the next expected input timestamp. */
  private pendingTs = 0;
  private nextTsIn = -1;
  private based = false;
  private tsBaseIn = 0;
  private tsBaseOut = 0;
  private marker = 0;

  constructor(private readonly law: Law, private readonly emit: (pkt: Buffer) => void) {}

  push(buf: Buffer, hdrLen: number, payloadEnd: number, outPt: number): void {
    const tsIn = buf.readUInt32BE(4);
    const n = payloadEnd - hdrLen;
    if (!this.based) this.setBase(tsIn);
    if (this.nextTsIn >= 0 && tsIn !== this.nextTsIn) {
      // A gap: what is buffered would be stretched across it; drop it and start a new frame here.
      this.fill = 0;
    }
    if (this.fill === 0) {
      this.pendingTs = tsIn;
      this.marker = buf[1] & 0x80;
    }
    this.nextTsIn = (tsIn + n) >>> 0;
    const codes = buf.subarray(hdrLen, payloadEnd);
    let pos = 0;
    while (pos < n) {
      const take = Math.min(n - pos, this.pending.length - this.fill);
      const dst = this.pending.subarray(this.fill, this.fill + take);
      if (this.law === 'alaw') decodeAlaw(codes.subarray(pos, pos + take), dst);
      else decodeUlaw(codes.subarray(pos, pos + take), dst);
      this.fill += take;
      pos += take;
      while (this.fill >= G711_FRAME) this.encodeFrame(buf, outPt);
    }
  }

  /** The output timeline is linear in the input one (×6 mod 2^32), so any input timestamp maps. */
  outTs(tsIn: number): number {
    if (!this.based) this.setBase(tsIn);
    return (this.tsBaseOut + ((tsIn - this.tsBaseIn) >>> 0) * RATIO) >>> 0;
  }

  private setBase(tsIn: number): void {
    this.based = true;
    this.tsBaseIn = tsIn;
    this.tsBaseOut = Math.floor(Math.random() * 0x100000000) >>> 0;
  }

  private encodeFrame(src: Buffer, outPt: number): void {
    const pcm48 = this.up.process(this.pending.subarray(0, G711_FRAME));
    const payload = this.enc.encode(pcm48.length === OPUS_FRAME_SAMPLES ? pcm48 : pcm48.subarray(0, OPUS_FRAME_SAMPLES));
    const out = Buffer.allocUnsafe(12 + payload.length);
    out[0] = 0x80;
    out[1] = this.marker | outPt;
    this.marker = 0;
    out.writeUInt16BE(0, 2);
    out.writeUInt32BE(this.outTs(this.pendingTs), 4);
    src.copy(out, 8, 8, 12);
    payload.copy(out, 12);
    this.pending.copyWithin(0, G711_FRAME, this.fill);
    this.fill -= G711_FRAME;
    this.pendingTs = (this.pendingTs + G711_FRAME) >>> 0;
    this.emit(out);
  }
}

/**
 * Runs a few frames through every codec path once, so the first real call does not pay for wasm
 * compilation and libopus's first-frame setup (~1 ms per frame otherwise). Returns the time it took.
 */
export function warmUpCodecs(): number {
  const t0 = performance.now();
  const packets: Buffer[] = [];
  const toOpus = new G711ToOpus('alaw', (p) => packets.push(p));
  const fromOpus = new OpusToG711('ulaw');
  const rtp = Buffer.alloc(12 + G711_FRAME, 0xd5);
  rtp[0] = 0x80;
  for (let k = 0; k < 3; k++) {
    rtp.writeUInt32BE(k * G711_FRAME, 4);
    toOpus.push(rtp, 12, rtp.length, 111);
  }
  for (const p of packets) fromOpus.convert(p, 12, p.length, 0);
  // G.722 both ways, through the 8↔16 and 16↔48 kHz filters (designed on first use).
  const g722: Buffer[] = [];
  const toG722 = new PcmTranscoder('alaw', 'g722', 20, (p) => g722.push(p));
  for (let k = 0; k < 3; k++) {
    rtp.writeUInt32BE(k * G711_FRAME, 4);
    toG722.push(rtp, 12, rtp.length, 9);
  }
  const fromG722 = new PcmTranscoder('g722', 'opus', 20, () => undefined);
  for (const p of g722) fromG722.push(p, 12, p.length, 111);
  return performance.now() - t0;
}
