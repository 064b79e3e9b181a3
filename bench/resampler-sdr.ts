/**
 * Opus → PCMA audio quality of Tandem's resampler alone, without a network or a server: the bench's
 * speech-like loop as the `opus` scenario sends it (interpolated to 48 kHz, Opus at 32 kb/s), decoded,
 * taken down to 8 kHz by src/media/codecs/resampler.ts in 20 ms frames, with and without the A-law
 * quantiser, then located and correlated packet by packet exactly as the scenario's receiver does
 * (lib/audio.ts). Deterministic; a few seconds. See bench/README.md ("Opus ↔ PCMA audio quality").
 *
 *   npx tsx bench/resampler-sdr.ts
 */
import { locateInLoop, ncc, nccToSnrDb, upsample6Loop, withTail } from './lib/audio.js';
import { decodeLoop, encodeLoop, OPUS_FRAME } from './lib/opus.js';
import { SIGNAL_SAMPLES, speechLikePcm } from './lib/signal.js';
import { Resampler } from '../src/media/codecs/resampler.js';
import { OpusDecoderStream } from '../src/media/codecs/opus.js';
import { decodeAlaw, encodeAlaw } from '../src/media/codecs/g711.js';

const FRAMES = 300; // 6 s
const LOOP48 = SIGNAL_SAMPLES * 6;
const PKT = 160;

function measure(frames: Buffer[], ref48: Float32Array, alaw: boolean): { lag48: number; median: number; p10: number } {
  const dec = new OpusDecoderStream();
  const down = new Resampler('48k-to-8k');
  const rx = new Float32Array(FRAMES * PKT);
  for (let k = 0; k < FRAMES; k++) {
    let pcm8 = down.process(dec.decode(frames[k % frames.length]));
    if (alaw) {
      const codes = new Uint8Array(pcm8.length);
      encodeAlaw(pcm8, codes);
      pcm8 = new Int16Array(codes.length);
      decodeAlaw(codes, pcm8);
    }
    rx.set(pcm8, k * PKT);
  }
  // Locate 200 ms from 200 ms in (past the filter's start), then follow packet by packet.
  const at = 10 * PKT;
  const loc = locateInLoop(rx, at, 1600, ref48, LOOP48, 0, at * 6 + 3000);
  const sdr: number[] = [];
  for (let k = 20; k < FRAMES; k++) {
    const off = (((loc.at48 + (k * PKT - at) * 6) % LOOP48) + LOOP48) % LOOP48;
    sdr.push(nccToSnrDb(ncc(rx, k * PKT, PKT, ref48, off)));
  }
  sdr.sort((a, b) => a - b);
  return { lag48: at * 6 - loc.at48, median: sdr[sdr.length >> 1], p10: sdr[Math.floor(sdr.length / 10)] };
}

const up = upsample6Loop(speechLikePcm());
const frames = encodeLoop(Int16Array.from(up, (v) => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v))), 32000);
const ref48 = withTail(Float32Array.from(decodeLoop(frames)), 6 * 3200 + 64);
if (frames.length * OPUS_FRAME !== LOOP48) throw new Error('the loop is not whole Opus frames');
for (const alaw of [false, true]) {
  const r = measure(frames, ref48, alaw);
  process.stdout.write(
    `Opus → 8 kHz${alaw ? ' → A-law' : ''}: SDR median ${r.median.toFixed(1)} dB, p10 ${r.p10.toFixed(1)} dB (delay ${r.lag48} samples at 48 kHz, filter ${new Resampler('48k-to-8k').delay} at 8 kHz)\n`,
  );
}
