import { describe, it, expect } from 'vitest';
import { OpusDecoderStream, OpusEncoderStream, OPUS_FRAME_SAMPLES } from '../../../../src/media/codecs/opus.js';
import { goertzelAmplitude, tone, dB } from '../../../helpers/audio.js';

describe('Opus (libopus via wasm)', () => {
  it('round trip: a 1 kHz tone comes back at 1 kHz at about its level', () => {
    const enc = new OpusEncoderStream(32000);
    const dec = new OpusDecoderStream();
    const out: number[] = [];
    let bytes = 0;
    for (let k = 0; k < 25; k++) {
      const pkt = enc.encode(tone(1000, 48000, OPUS_FRAME_SAMPLES, 8000, k * OPUS_FRAME_SAMPLES));
      bytes += pkt.length;
      out.push(...dec.decode(pkt));
    }
    const settled = out.slice(out.length / 2);
    expect(Math.abs(dB(goertzelAmplitude(settled, 1000, 48000), 8000))).toBeLessThan(1.5);
    expect(goertzelAmplitude(settled, 1500, 48000)).toBeLessThan(goertzelAmplitude(settled, 1000, 48000) / 30);
    // 32 kbit/s ≈ 80 bytes per 20 ms frame.
    expect(bytes / 25).toBeGreaterThan(40);
    expect(bytes / 25).toBeLessThan(120);
  });

  it('encodes at the bit rate asked for (32 kb/s ≈ 80 bytes per 20 ms frame of voice-band audio)', () => {
    const enc = new OpusEncoderStream(32000);
    expect(enc.bitrate).toBe(32000);
    let bytes = 0;
    for (let k = 0; k < 50; k++) bytes += enc.encode(tone(440 + (k % 5) * 200, 48000, OPUS_FRAME_SAMPLES, 8000, k * OPUS_FRAME_SAMPLES)).length;
    // 1 s of audio: 4000 bytes at 32 kb/s; libopus's VBR stays near it (it used ~6400 at its default).
    expect(bytes).toBeGreaterThan(2800);
    expect(bytes).toBeLessThan(4800);
    expect(new OpusEncoderStream(16000).bitrate).toBe(16000);
  });

  it('a garbage packet is a CODEC error, not a crash', () => {
    const dec = new OpusDecoderStream();
    let err: unknown;
    try {
      dec.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]));
    } catch (e) {
      err = e;
    }
    if (err !== undefined) expect(String(err)).toMatch(/Opus packet rejected/);
    expect(() => new OpusEncoderStream().encode(new Int16Array(100))).toThrow(/960 samples/);
  });
});
