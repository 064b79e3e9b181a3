import { describe, expect, it } from 'vitest';
import { FRAME_8K, phoneCodec } from '../../../src/phone/audio-codec.js';
import { dominantTone } from '../../../src/phone/tone.js';

function sine(hz: number, n: number, amp: number): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * hz * i) / 8000)));
}

describe('phone codecs: 20 ms of 8 kHz audio in and out', () => {
  it.each([
    ['PCMA', 8000, 160],
    ['PCMU', 8000, 160],
    ['G722', 8000, 160],
    ['opus', 48000, 960],
  ] as const)('%s: clock %i, %i ticks a frame, a 1 kHz tone survives the round trip', (name, clockRate, ticks) => {
    const codec = phoneCodec(name, 96);
    expect(codec).toMatchObject({ name, pt: 96, clockRate, frameTicks: ticks });
    const tone = sine(1000, 50 * FRAME_8K, 8000);
    const out: Int16Array[] = [];
    for (let f = 0; f < 50; f++) {
      const decoded = codec.decode(codec.encode(tone.subarray(f * FRAME_8K, (f + 1) * FRAME_8K)));
      expect(decoded.length).toBe(FRAME_8K);
      out.push(decoded);
    }
    const all = new Int16Array(50 * FRAME_8K);
    out.forEach((d, i) => all.set(d, i * FRAME_8K));
    const t = dominantTone(all.subarray(10 * FRAME_8K));
    expect(t?.hz).toBeGreaterThanOrEqual(995);
    expect(t?.hz).toBeLessThanOrEqual(1005);
  });
});
