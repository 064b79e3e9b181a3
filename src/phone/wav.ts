import { readFileSync, writeFileSync } from 'node:fs';
import { TandemError } from '../common/errors.js';

/**
 * WAV files as `tandem call` plays and records them: RIFF/WAVE with 16-bit linear PCM only (format
 * 1, or WAVE_FORMAT_EXTENSIBLE carrying PCM). Anything else is a CONFIG error that names the
 * option the file came from, never a crash on a short or hostile file.
 */
export interface Pcm {
  sampleRate: number;
  /** the first channel, signed 16-bit. */
  samples: Int16Array;
}

const FORMAT_PCM = 1;
const FORMAT_EXTENSIBLE = 0xfffe;

/** The bytes of a WAV file → its first channel. `what` names the source in errors (e.g. `--play x.wav`). */
export function parseWav(buf: Buffer, what: string): Pcm {
  const bad = (why: string): never => {
    throw new TandemError('CONFIG', `${what}: ${why}`);
  };
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') bad('not a WAV file (no RIFF/WAVE header)');
  let fmt: { channels: number; rate: number; bits: number } | undefined;
  let data: Buffer | undefined;
  let at = 12;
  while (at + 8 <= buf.length) {
    const id = buf.toString('latin1', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    // A data chunk cut short (a recording that was killed) is read as far as it goes.
    const end = Math.min(buf.length, body + size);
    if (id === 'fmt ') {
      if (end - body < 16) bad('fmt chunk shorter than 16 bytes');
      let format = buf.readUInt16LE(body);
      if (format === FORMAT_EXTENSIBLE && end - body >= 26) format = buf.readUInt16LE(body + 24);
      if (format !== FORMAT_PCM) bad(`audio format ${format} is not linear PCM (format 1)`);
      fmt = { channels: buf.readUInt16LE(body + 2), rate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') data = buf.subarray(body, end);
    at = body + size + (size & 1);
  }
  if (fmt === undefined) return bad('no fmt chunk');
  if (data === undefined) return bad('no data chunk');
  if (fmt.bits !== 16) bad(`${fmt.bits}-bit samples; only 16-bit PCM is read`);
  if (fmt.channels < 1 || fmt.channels > 8) bad(`${fmt.channels} channels (1–8 are read)`);
  if (fmt.rate < 1000 || fmt.rate > 192_000) bad(`sample rate ${fmt.rate} Hz is outside 1000–192000`);
  const frame = 2 * fmt.channels;
  const n = Math.floor(data.length / frame);
  if (n === 0) bad('no samples in the data chunk');
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = data.readInt16LE(i * frame);
  return { sampleRate: fmt.rate, samples };
}

export function readWav(path: string, what: string): Pcm {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : String(err);
    throw new TandemError('CONFIG', `${what}: cannot read ${path}: ${code}`);
  }
  return parseWav(buf, what);
}

/** Mono 16-bit PCM → the bytes of a WAV file. */
export function wavBytes(samples: Int16Array, sampleRate: number): Buffer {
  const dataBytes = samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(FORMAT_PCM, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], 44 + i * 2);
  return out;
}

export function writeWav(path: string, samples: Int16Array, sampleRate: number, what: string): void {
  try {
    writeFileSync(path, wavBytes(samples, sampleRate));
  } catch (err) {
    throw new TandemError('CONFIG', `${what}: cannot write ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * `pcm` at 8 kHz, by linear interpolation (a test signal, not hi-fi: a file above 8 kHz should
 * carry nothing over 4 kHz, or it folds back).
 */
export function to8k(pcm: Pcm): Int16Array {
  if (pcm.sampleRate === 8000) return pcm.samples;
  const step = pcm.sampleRate / 8000;
  const n = Math.max(1, Math.floor(pcm.samples.length / step));
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const x = i * step;
    const j = Math.floor(x);
    const a = pcm.samples[Math.min(j, pcm.samples.length - 1)];
    const b = pcm.samples[Math.min(j + 1, pcm.samples.length - 1)];
    out[i] = Math.round(a + (b - a) * (x - j));
  }
  return out;
}
