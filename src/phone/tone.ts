/**
 * What `tandem call` hears: the dominant tone of decoded audio by Goertzel filters (one DFT bin
 * each) over Hann-windowed 50 ms blocks, scanned every 5 Hz and refined to 1 Hz; and a tone
 * generator for what it says.
 */

/** Power of frequency `f` in x[from .. from+n) (sample rate fs), Hann-windowed: one Goertzel filter. */
export function goertzelPower(x: ArrayLike<number>, f: number, fs: number, from = 0, n = x.length - from): number {
  const w = hann(n);
  const block = new Float64Array(n);
  for (let i = 0; i < n; i++) block[i] = x[from + i] * w[i];
  return goertzel(block, f, fs);
}

function hann(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1 || 1)));
}

/** |X(f)|² of an already windowed block. */
function goertzel(block: Float64Array, f: number, fs: number): number {
  const c = 2 * Math.cos((2 * Math.PI * f) / fs);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < block.length; i++) {
    const s0 = block[i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return Math.max(s1 * s1 + s2 * s2 - c * s1 * s2, 0);
}

export interface Tone {
  hz: number;
  /** the tone's level relative to a full-scale sine, in dB. */
  dbfs: number;
}

const BLOCK = 400; // 50 ms at 8 kHz: Hann main lobe ±40 Hz, so a 5 Hz scan cannot step over a tone
const MAX_BLOCKS = 40; // 2 s analysed at most (spread over the whole input)
const SILENCE_DBFS = -50;

/** The strongest tone in 8 kHz audio between 100 Hz and 3800 Hz, or undefined for silence (or too little audio). */
export function dominantTone(x: Int16Array, fs = 8000): Tone | undefined {
  const blocks = Math.floor(x.length / BLOCK);
  if (blocks === 0) return undefined;
  const use = Math.min(blocks, MAX_BLOCKS);
  const w = hann(BLOCK);
  const windowed = Array.from({ length: use }, (_, k) => {
    const at = Math.floor((k * blocks) / use) * BLOCK;
    return Float64Array.from({ length: BLOCK }, (_, i) => x[at + i] * w[i]);
  });
  const power = (f: number): number => windowed.reduce((s, b) => s + goertzel(b, f, fs), 0) / use;
  let best = 0;
  let bestHz = 0;
  for (let f = 100; f <= 3800; f += 5) {
    const p = power(f);
    if (p > best) [best, bestHz] = [p, f];
  }
  for (let f = bestHz - 4; f <= bestHz + 4; f++) {
    const p = power(f);
    if (p > best) [best, bestHz] = [p, f];
  }
  // A full-scale sine's Goertzel magnitude with a Hann window is 32767·N/4.
  const amplitude = (2 * Math.sqrt(best)) / (BLOCK / 2);
  const dbfs = 20 * Math.log10(amplitude / 32767 || 1e-9);
  return dbfs < SILENCE_DBFS ? undefined : { hz: bestHz, dbfs: Math.round(dbfs * 10) / 10 };
}

/** A sine tone source at 8 kHz, phase-continuous across frames. */
export class ToneSource {
  private n = 0;
  constructor(
    readonly hz: number,
    private readonly amplitude = 8000,
  ) {}

  next(out: Int16Array): void {
    const w = (2 * Math.PI * this.hz) / 8000;
    for (let i = 0; i < out.length; i++) out[i] = Math.round(this.amplitude * Math.sin(w * (this.n + i)));
    this.n = (this.n + out.length) % (8000 * 1000);
  }
}

/** A recording played in a loop. */
export class LoopSource {
  private at = 0;
  constructor(private readonly samples: Int16Array) {}

  next(out: Int16Array): void {
    for (let i = 0; i < out.length; i++) {
      out[i] = this.samples[this.at];
      this.at = (this.at + 1) % this.samples.length;
    }
  }
}
