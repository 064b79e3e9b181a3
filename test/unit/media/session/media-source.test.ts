import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeWav, loadPlayable, resampleTo8k, resampleTo8kYielding, MAX_MEDIA_BYTES } from '../../../../src/media/session/media-source.js';
import { encodeAlaw, encodeUlaw } from '../../../../src/media/codecs/g711.js';
import { goertzelAmplitude, tone } from '../../../helpers/audio.js';

/** RIFF/WAVE from chunks; `fmt` fields as given (no consistency checks: tests send lies too). */
function riff(chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
  const h = Buffer.alloc(8);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(body.length, 4);
  return Buffer.concat([h, body]);
}
function chunk(id: string, body: Buffer, declared = body.length): Buffer {
  const h = Buffer.alloc(8);
  h.write(id, 0, 'latin1');
  h.writeUInt32LE(declared, 4);
  return Buffer.concat([h, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}
function fmt(o: { format?: number; channels?: number; rate?: number; bits?: number; extensibleSub?: number }): Buffer {
  const b = Buffer.alloc(o.extensibleSub !== undefined ? 40 : 16);
  b.writeUInt16LE(o.extensibleSub !== undefined ? 0xfffe : (o.format ?? 1), 0);
  b.writeUInt16LE(o.channels ?? 1, 2);
  b.writeUInt32LE(o.rate ?? 8000, 4);
  b.writeUInt16LE(o.bits ?? 16, 14);
  if (o.extensibleSub !== undefined) b.writeUInt16LE(o.extensibleSub, 24);
  return b;
}
function pcmBytes(x: Int16Array): Buffer {
  const b = Buffer.alloc(x.length * 2);
  x.forEach((v, i) => b.writeInt16LE(v, i * 2));
  return b;
}

describe('decodeWav', () => {
  it('mono 8 kHz passes through sample for sample; a LIST chunk before data and an odd chunk are skipped', () => {
    const x = tone(440, 8000, 801, 10000);
    const w = riff([chunk('fmt ', fmt({})), chunk('LIST', Buffer.from('abc')), chunk('data', pcmBytes(x))]);
    expect([...decodeWav(w)]).toEqual([...x]);
  });

  it('stereo is downmixed; WAVE_FORMAT_EXTENSIBLE with the PCM subformat is PCM', () => {
    const l = tone(500, 8000, 400, 8000);
    const inter = new Int16Array(800);
    l.forEach((v, i) => { inter[2 * i] = v; inter[2 * i + 1] = v; });
    expect([...decodeWav(riff([chunk('fmt ', fmt({ channels: 2 })), chunk('data', pcmBytes(inter))]))]).toEqual([...l]);
    expect(decodeWav(riff([chunk('fmt ', fmt({ extensibleSub: 1 })), chunk('data', pcmBytes(l))])).length).toBe(400);
  });

  it('a data size past the end plays what is there', () => {
    const x = tone(440, 8000, 100, 1000);
    const w = riff([chunk('fmt ', fmt({})), chunk('data', pcmBytes(x), 1_000_000)]);
    expect(decodeWav(w).length).toBe(100);
  });

  it.each([
    ['not RIFF', Buffer.from('hello world, not a wave file'), /not a WAV file/],
    ['no fmt', riff([chunk('data', Buffer.alloc(10))]), /data chunk before the fmt chunk/],
    ['no data', riff([chunk('fmt ', fmt({}))]), /no data chunk/],
    ['truncated fmt', riff([chunk('fmt ', Buffer.alloc(8))]), /truncated fmt chunk/],
    ['float', riff([chunk('fmt ', fmt({ format: 3, bits: 32 })), chunk('data', Buffer.alloc(8))]), /WAV format 3 is not PCM/],
    ['extensible float', riff([chunk('fmt ', fmt({ extensibleSub: 3 })), chunk('data', Buffer.alloc(8))]), /WAV format 3 is not PCM/],
    ['8-bit', riff([chunk('fmt ', fmt({ bits: 8 })), chunk('data', Buffer.alloc(8))]), /8-bit PCM/],
    ['6 channels', riff([chunk('fmt ', fmt({ channels: 6 })), chunk('data', Buffer.alloc(24))]), /6 channels/],
    ['0 Hz', riff([chunk('fmt ', fmt({ rate: 0 })), chunk('data', Buffer.alloc(8))]), /sample rate 0 Hz/],
    ['RIFF header only', Buffer.from('RIFF\x04\x00\x00\x00WAVE', 'latin1'), /no fmt chunk/],
  ])('%s → a BAD_REQUEST naming the fault', (_name, bytes, reason) => {
    expect(() => decodeWav(bytes, 'blob')).toThrow(reason);
    try {
      decodeWav(bytes, 'blob');
    } catch (err) {
      expect((err as { code: string }).code).toBe('BAD_REQUEST');
    }
  });
});

describe('resampleTo8k', () => {
  it('keeps a 1 kHz tone from 16, 44.1 and 48 kHz, and removes a 5 kHz one (no alias at 3 kHz)', () => {
    for (const rate of [16000, 44100, 48000]) {
      const n = rate; // 1 s
      const x = Float32Array.from(tone(1000, rate, n, 10000));
      const y = resampleTo8k(x, rate);
      expect(y.length).toBe(8000);
      const mid = y.subarray(400, 7600);
      expect(goertzelAmplitude(mid, 1000, 8000)).toBeGreaterThan(9000);
      const hi = Float32Array.from(tone(5000, rate, n, 10000));
      const z = resampleTo8k(hi, rate).subarray(400, 7600);
      expect(goertzelAmplitude(z, 3000, 8000)).toBeLessThan(200);
    }
  });

  it('the yielding form (what play media uses) gives the same samples, and lets timers run meanwhile', async () => {
    const x = Float32Array.from(tone(700, 44100, 44100, 9000));
    let ticks = 0;
    const iv = setInterval(() => ticks++, 0);
    const y = await resampleTo8kYielding(x, 44100);
    clearInterval(iv);
    expect([...y]).toEqual([...resampleTo8k(x, 44100)]);
    expect(ticks).toBeGreaterThan(0);
  });

  it('from 8 kHz it only rounds and clips', () => {
    expect([...resampleTo8k(Float32Array.from([0.4, -40000, 40000, 12.6]), 8000)]).toEqual([0, -32768, 32767, 13]);
  });
});

describe('loadPlayable', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-media-source-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('headerless files by extension: .sln (16-bit LE), .al and .ul (G.711)', async () => {
    const x = tone(300, 8000, 160, 5000);
    writeFileSync(join(dir, 'a.sln'), pcmBytes(x));
    expect([...(await loadPlayable({ file: join(dir, 'a.sln') }))]).toEqual([...x]);
    const al = Buffer.alloc(160);
    encodeAlaw(x, al);
    writeFileSync(join(dir, 'a.al'), al);
    const ul = Buffer.alloc(160);
    encodeUlaw(x, ul);
    writeFileSync(join(dir, 'a.ul'), ul);
    for (const f of ['a.al', 'a.ul']) {
      const y = await loadPlayable({ file: join(dir, f) });
      expect(y.length).toBe(160);
      expect(goertzelAmplitude(y, 300, 8000)).toBeGreaterThan(4500);
    }
  });

  it('a blob: WAV when it starts with RIFF, 16-bit 8 kHz otherwise', async () => {
    const x = tone(300, 8000, 80, 5000);
    expect((await loadPlayable({ blob: pcmBytes(x) })).length).toBe(80);
    expect((await loadPlayable({ blob: riff([chunk('fmt ', fmt({})), chunk('data', pcmBytes(x))]) })).length).toBe(80);
  });

  it.each([
    ['missing file', async (d: string) => loadPlayable({ file: join(d, 'none.wav') }), /no such file/],
    ['a directory', async (d: string) => loadPlayable({ file: d }), /not a regular file/],
    // Without a writer, a blocking open of a FIFO never returns.
    ['a FIFO', async (d: string) => { execFileSync('mkfifo', [join(d, 'fifo.wav')]); return loadPlayable({ file: join(d, 'fifo.wav') }); }, /not a regular file/],
    ['odd raw bytes', async (d: string) => { writeFileSync(join(d, 'odd.raw'), Buffer.alloc(3)); return loadPlayable({ file: join(d, 'odd.raw') }); }, /even number of bytes/],
    ['empty file', async (d: string) => { writeFileSync(join(d, 'empty.sln'), Buffer.alloc(0)); return loadPlayable({ file: join(d, 'empty.sln') }); }, /no audio/],
    ['too large a file', async (d: string) => { writeFileSync(join(d, 'big.sln'), Buffer.alloc(MAX_MEDIA_BYTES + 2)); return loadPlayable({ file: join(d, 'big.sln') }); }, /over the 16777216-byte limit/],
    ['too long', async () => loadPlayable({ blob: Buffer.alloc(2 * 8000 * 301) }), /longer than 300 s/],
    // Size 0 by stat, content by read: read through, but never past the limit.
    ['a /proc file', async () => loadPlayable({ file: '/proc/self/status' }), /not a WAV file/],
  ])('%s → a BAD_REQUEST naming it', async (_n, run, reason) => {
    await expect(run(dir)).rejects.toThrow(reason);
  });
});
