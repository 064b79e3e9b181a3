import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { TandemError } from '../../common/errors.js';
import { decodeAlaw, decodeUlaw } from '../codecs/g711.js';

/**
 * What `play media` plays, made ready for the worker: 8 kHz mono 16-bit PCM. Sources:
 * - a WAV file or blob (RIFF, PCM 16-bit, mono or stereo downmixed, any rate → resampled);
 * - headerless files by extension: `.sln`, `.raw`, `.pcm` (16-bit little-endian, 8 kHz mono),
 *   `.al`/`.alaw` and `.ul`/`.ulaw` (G.711 bytes); a blob without RIFF is 16-bit LE 8 kHz.
 * Every fault (missing, unreadable, not PCM, truncated, too large, too long) is a BAD_REQUEST
 * naming the source, so the ng reply says why and the call goes on.
 */

export const PLAY_RATE = 8000;
/** Largest file or blob read for playback. */
export const MAX_MEDIA_BYTES = 16 * 1024 * 1024;
/** Longest playable audio (one repeat), so the PCM sent to a worker stays bounded (4.8 MB). */
export const MAX_PLAY_SECONDS = 300;

export type PlaySource = { file: string } | { blob: Buffer };

function fail(what: string, why: string): never {
  throw new TandemError('BAD_REQUEST', `cannot play ${what}: ${why}`);
}

export async function loadPlayable(src: PlaySource): Promise<Int16Array> {
  if ('blob' in src) {
    if (src.blob.length > MAX_MEDIA_BYTES) fail('blob', `${src.blob.length} bytes is over the ${MAX_MEDIA_BYTES}-byte limit`);
    return decodeMedia(src.blob, isRiff(src.blob) ? 'wav' : 'sln', 'blob');
  }
  const name = `file "${src.file}"`;
  let bytes: Buffer;
  try {
    bytes = await readBounded(src.file, name);
  } catch (err) {
    if (err instanceof TandemError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    fail(name, code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `unreadable (${code ?? String(err)})`);
  }
  const ext = /\.([a-z0-9]+)$/i.exec(src.file)?.[1]?.toLowerCase() ?? '';
  const kind = ext === 'al' || ext === 'alaw' ? 'alaw' : ext === 'ul' || ext === 'ulaw' ? 'ulaw' : ['sln', 'raw', 'pcm'].includes(ext) ? 'sln' : 'wav';
  return decodeMedia(bytes, kind, name);
}

/**
 * A regular file's bytes, never more than the limit: a file whose size says 0 but reads on
 * (/proc, a file still being written) is cut at MAX_MEDIA_BYTES + 1 bytes and refused.
 */
async function readBounded(path: string, name: string): Promise<Buffer> {
  // Non-blocking, so a FIFO is opened (then refused as not a regular file) rather than holding a
  // thread-pool thread and the ng reply until some writer opens it; regular files read the same.
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) fail(name, 'not a regular file');
    if (st.size > MAX_MEDIA_BYTES) fail(name, `${st.size} bytes is over the ${MAX_MEDIA_BYTES}-byte limit`);
    let buf = Buffer.allocUnsafe(Math.min(MAX_MEDIA_BYTES + 1, Math.max(st.size + 1, 64 * 1024)));
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (buf.length > MAX_MEDIA_BYTES) fail(name, `more than ${MAX_MEDIA_BYTES} bytes (over the limit)`);
        const bigger = Buffer.allocUnsafe(Math.min(MAX_MEDIA_BYTES + 1, buf.length * 4));
        buf.copy(bigger);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
      if (bytesRead === 0) return buf.subarray(0, got);
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

function isRiff(b: Buffer): boolean {
  return b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WAVE';
}

async function decodeMedia(bytes: Buffer, kind: 'wav' | 'sln' | 'alaw' | 'ulaw', what: string): Promise<Int16Array> {
  let pcm: Int16Array;
  if (kind === 'wav') {
    const w = parseWav(bytes, what);
    pcm = await resampleTo8kYielding(w.mono, w.rate);
  }
  else if (kind === 'sln') {
    if (bytes.length % 2 !== 0) fail(what, 'raw 16-bit PCM needs an even number of bytes');
    pcm = new Int16Array(bytes.length / 2);
    for (let i = 0; i < pcm.length; i++) pcm[i] = bytes.readInt16LE(i * 2);
  } else {
    pcm = new Int16Array(bytes.length);
    if (kind === 'alaw') decodeAlaw(bytes, pcm);
    else decodeUlaw(bytes, pcm);
  }
  if (pcm.length === 0) fail(what, 'no audio in it');
  if (pcm.length > MAX_PLAY_SECONDS * PLAY_RATE) fail(what, `longer than ${MAX_PLAY_SECONDS} s`);
  return pcm;
}

/** RIFF/WAVE with a PCM `fmt ` chunk (format 1, or WAVE_FORMAT_EXTENSIBLE with the PCM subformat), at 8 kHz. */
export function decodeWav(b: Buffer, what = 'WAV'): Int16Array {
  const w = parseWav(b, what);
  return resampleTo8k(w.mono, w.rate);
}

/** The WAV's audio as mono samples at its own rate. */
function parseWav(b: Buffer, what: string): { mono: Float32Array; rate: number } {
  if (!isRiff(b)) fail(what, 'not a WAV file (no RIFF/WAVE header)');
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let p = 12;
  while (p + 8 <= b.length) {
    const id = b.toString('latin1', p, p + 4);
    const size = b.readUInt32LE(p + 4);
    const body = p + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > b.length) fail(what, 'truncated fmt chunk');
      let format = b.readUInt16LE(body);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the subformat GUID.
      if (format === 0xfffe && size >= 40 && body + 26 <= b.length) format = b.readUInt16LE(body + 24);
      fmt = { format, channels: b.readUInt16LE(body + 2), rate: b.readUInt32LE(body + 4), bits: b.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (fmt === undefined) fail(what, 'data chunk before the fmt chunk');
      if (fmt.format !== 1) fail(what, `WAV format ${fmt.format} is not PCM (only 16-bit PCM WAV is played)`);
      if (fmt.bits !== 16) fail(what, `${fmt.bits}-bit PCM (only 16-bit PCM WAV is played)`);
      if (fmt.channels < 1 || fmt.channels > 2) fail(what, `${fmt.channels} channels (mono or stereo only)`);
      if (fmt.rate < 4000 || fmt.rate > 192000) fail(what, `sample rate ${fmt.rate} Hz out of 4000–192000`);
      // A data size past the end (a file still being written, or cut) plays what is there.
      const end = Math.min(b.length, body + size);
      const frames = Math.floor((end - body) / (2 * fmt.channels));
      if (frames > MAX_PLAY_SECONDS * fmt.rate) fail(what, `longer than ${MAX_PLAY_SECONDS} s`);
      const mono = new Float32Array(frames);
      for (let i = 0; i < frames; i++) {
        let v = 0;
        for (let c = 0; c < fmt.channels; c++) v += b.readInt16LE(body + (i * fmt.channels + c) * 2);
        mono[i] = v / fmt.channels;
      }
      return { mono, rate: fmt.rate };
    }
    p = body + size + (size & 1);
  }
  return fail(what, fmt === undefined ? 'no fmt chunk' : 'no data chunk');
}

/** Zero crossings of the windowed-sinc kernel on each side, at the cut-off. */
const ZERO_CROSSINGS = 8;
/** Kernel table points per input sample (linear interpolation between them). */
const TABLE_RES = 256;
/** Output samples computed between two yields to the event loop (~2–5 ms of work). */
const CHUNK = 4000;

interface Kernel {
  ratio: number;
  half: number;
  table: Float32Array;
}

/**
 * Any rate → 8 kHz: a Hann-windowed sinc low-pass at 3.6 kHz (below the new Nyquist), tabulated
 * once per play and evaluated at each output instant. The cut-off is the input's own band when
 * upsampling.
 */
function kernel(rate: number): Kernel {
  const fc = Math.min(1, 3600 / (rate / 2));
  const half = Math.ceil(ZERO_CROSSINGS / fc);
  const table = new Float32Array(half * TABLE_RES + 2);
  for (let j = 0; j < table.length; j++) {
    const d = j / TABLE_RES;
    if (d >= half) continue;
    const arg = Math.PI * fc * d;
    table[j] = (d === 0 ? 1 : Math.sin(arg) / arg) * (0.5 + 0.5 * Math.cos((Math.PI * d) / half));
  }
  return { ratio: rate / PLAY_RATE, half, table };
}

const clip = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));

function resampleRange(x: Float32Array, k: Kernel, out: Int16Array, from: number, to: number): void {
  const { ratio, half, table } = k;
  for (let i = from; i < to; i++) {
    const t = i * ratio;
    const c = Math.floor(t);
    let acc = 0;
    let norm = 0;
    const lo = Math.max(0, c - half + 1);
    const hi = Math.min(x.length - 1, c + half);
    for (let n = lo; n <= hi; n++) {
      const p = Math.abs(t - n) * TABLE_RES;
      const j = p | 0;
      const h = table[j] + (table[j + 1] - table[j]) * (p - j);
      acc += x[n] * h;
      norm += h;
    }
    out[i] = clip(norm !== 0 ? acc / norm : 0);
  }
}

export function resampleTo8k(x: Float32Array, rate: number): Int16Array {
  if (rate === PLAY_RATE) return Int16Array.from(x, clip);
  const k = kernel(rate);
  const out = new Int16Array(Math.floor(x.length / k.ratio));
  resampleRange(x, k, out, 0, out.length);
  return out;
}

/** The same, a chunk at a time with the event loop in between: a long file never stalls main. */
export async function resampleTo8kYielding(x: Float32Array, rate: number): Promise<Int16Array> {
  if (rate === PLAY_RATE) return Int16Array.from(x, clip);
  const k = kernel(rate);
  const out = new Int16Array(Math.floor(x.length / k.ratio));
  for (let from = 0; from < out.length; from += CHUNK) {
    resampleRange(x, k, out, from, Math.min(out.length, from + CHUNK));
    await new Promise<void>((r) => setImmediate(r));
  }
  return out;
}
