/**
 * The test signal: a deterministic, speech-like mix (a voiced harmonic series on a gliding pitch, shaped
 * by two moving formants and a syllabic envelope, plus a little noise so no two positions look alike),
 * SIGNAL_SAMPLES long and looped. Encoded once per law; receivers find where a packet sits in it by
 * looking up 4 payload bytes, which lets the bench match packets to send times even when a server
 * renumbers, re-times or repacketizes the stream.
 */
import { conversionTable, encoder, type G711Law } from './g711.js';

export const SAMPLE_RATE = 8000;
/** 12 s at 8 kHz: a multiple of 160 (20 ms) and 240 (30 ms), so frames tile the loop exactly. */
export const SIGNAL_SAMPLES = 96_000;

let pcmCache: Int16Array | undefined;

/** Seeded linear-congruential noise in [-1, 1): reproducible across runs and machines. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

export function speechLikePcm(): Int16Array {
  if (pcmCache) return pcmCache;
  const n = SIGNAL_SAMPLES;
  const out = new Int16Array(n);
  const noise = lcg(0x7a4d3e);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / SAMPLE_RATE;
    const f0 = 125 + 35 * Math.sin(2 * Math.PI * 0.45 * t) + 10 * Math.sin(2 * Math.PI * 3.1 * t);
    phase += (2 * Math.PI * f0) / SAMPLE_RATE;
    const f1 = 500 + 250 * Math.sin(2 * Math.PI * 0.9 * t); // first formant
    const f2 = 1500 + 600 * Math.sin(2 * Math.PI * 0.37 * t + 1); // second formant
    let v = 0;
    for (let k = 1; k <= 24; k++) {
      const fk = k * f0;
      if (fk > 3600) break;
      const g = 1 / (1 + ((fk - f1) / 180) ** 2) + 0.6 / (1 + ((fk - f2) / 260) ** 2) + 0.02;
      v += g * Math.sin(k * phase);
    }
    const syl = 0.25 + 0.75 * Math.abs(Math.sin(2 * Math.PI * 2.2 * t)) ** 1.5; // ~4.4 syllables/s
    const x = 0.28 * syl * v + 0.015 * noise();
    out[i] = Math.max(-32768, Math.min(32767, Math.round(x * 12000)));
  }
  pcmCache = out;
  return out;
}

/** The signal encoded in `law`, with `tail` bytes of wrap-around so any window [i, i+tail) is contiguous. */
export function encodedSignal(law: G711Law, tail = 480): Uint8Array {
  const pcm = speechLikePcm();
  const enc = encoder(law);
  const out = new Uint8Array(SIGNAL_SAMPLES + tail);
  for (let i = 0; i < SIGNAL_SAMPLES; i++) out[i] = enc(pcm[i]);
  for (let i = 0; i < tail; i++) out[SIGNAL_SAMPLES + i] = out[i];
  return out;
}

/** What a receiver should get: the sender's encoded signal through the reference conversion. */
export function expectedSignal(sentLaw: G711Law, recvLaw: G711Law, tail = 480): Uint8Array {
  const sent = encodedSignal(sentLaw, tail);
  const table = conversionTable(sentLaw, recvLaw);
  const out = new Uint8Array(sent.length);
  for (let i = 0; i < sent.length; i++) out[i] = table[sent[i]];
  return out;
}

/**
 * Index from 4 consecutive bytes to their position in the loop (-1 when ambiguous). Built once per
 * expected signal; used once per stream to find the sample offset of the first packet received.
 */
export class SignalIndex {
  private readonly pos = new Map<number, number>();

  constructor(readonly expected: Uint8Array) {
    for (let i = 0; i < SIGNAL_SAMPLES; i++) {
      const k = key(expected, i);
      this.pos.set(k, this.pos.has(k) ? -1 : i);
    }
  }

  /** Position (0 ≤ p < SIGNAL_SAMPLES) of payload[off .. off+len) in the signal, or -1. */
  locate(payload: Uint8Array, off: number, len: number, near: (got: number, want: number) => boolean): number {
    for (let j = 0; j + 4 <= len && j < 64; j++) {
      const p = this.pos.get(key(payload, off + j));
      if (p === undefined || p < 0) continue;
      const start = (p - j + SIGNAL_SAMPLES) % SIGNAL_SAMPLES;
      let ok = 0;
      for (let i = 0; i < len; i++) if (near(payload[off + i], this.expected[start + i])) ok++;
      if (ok >= len * 0.9) return start;
    }
    return -1;
  }
}

function key(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}
