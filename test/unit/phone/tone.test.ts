import { describe, expect, it } from 'vitest';
import { dominantTone, goertzelPower, LoopSource, ToneSource } from '../../../src/phone/tone.js';

function sine(hz: number, n: number, amp: number, fs = 8000): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * hz * i) / fs)));
}

describe('Goertzel and the dominant tone', () => {
  it.each([300, 440, 1000, 1633, 3400])('finds %i Hz within 1 Hz and its level', (hz) => {
    const t = dominantTone(sine(hz, 16000, 16384));
    expect(t?.hz).toBeGreaterThanOrEqual(hz - 1);
    expect(t?.hz).toBeLessThanOrEqual(hz + 1);
    expect(t?.dbfs).toBeCloseTo(-6, 0); // half of full scale
  });

  it('picks the louder of two tones, and a tone under noise', () => {
    const a = sine(440, 8000, 4000);
    const b = sine(1000, 8000, 12000);
    const mix = Int16Array.from(a, (v, i) => v + b[i]);
    expect(dominantTone(mix)?.hz).toBe(1000);
    let seed = 1;
    const noisy = Int16Array.from(sine(700, 8000, 3000), (v) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return v + ((seed % 4000) - 2000);
    });
    expect(dominantTone(noisy)?.hz).toBe(700);
  });

  it('says nothing for silence or too little audio', () => {
    expect(dominantTone(new Int16Array(8000))).toBeUndefined();
    expect(dominantTone(sine(440, 100, 16000))).toBeUndefined();
    expect(dominantTone(new Int16Array(0))).toBeUndefined();
  });

  it('a Goertzel filter sees its own frequency far above a neighbour 100 Hz away', () => {
    const x = sine(1000, 400, 10000);
    expect(goertzelPower(x, 1000, 8000)).toBeGreaterThan(1000 * goertzelPower(x, 1100, 8000));
  });

  it('the tone source is phase-continuous across frames and the loop source wraps', () => {
    const src = new ToneSource(1000, 8000);
    const a = new Int16Array(160);
    const b = new Int16Array(160);
    src.next(a);
    src.next(b);
    const whole = sine(1000, 320, 8000);
    expect([...a, ...b]).toEqual([...whole]);
    const loop = new LoopSource(Int16Array.from([1, 2, 3]));
    const out = new Int16Array(7);
    loop.next(out);
    expect([...out]).toEqual([1, 2, 3, 1, 2, 3, 1]);
  });
});
