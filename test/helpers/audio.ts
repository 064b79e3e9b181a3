/** Signal helpers for codec and transcoding tests. */

/** Amplitude of frequency f in x (sample rate fs), by the Goertzel algorithm. */
export function goertzelAmplitude(x: ArrayLike<number>, f: number, fs: number): number {
  const c = 2 * Math.cos((2 * Math.PI * f) / fs);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s0 = x[i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (2 * Math.sqrt(Math.max(s1 * s1 + s2 * s2 - c * s1 * s2, 0))) / x.length;
}

/** A sine of `f` Hz at `fs`, `n` samples from sample index `at`, peak `amp`. */
export function tone(f: number, fs: number, n: number, amp: number, at = 0): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * f * (at + i)) / fs)));
}

export const dB = (a: number, b: number): number => 20 * Math.log10(a / b);
