import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWav, readWav, to8k, wavBytes, writeWav } from '../../../src/phone/wav.js';

/** A WAV header by hand, so malformed ones can be made field by field. */
function wav(o: { format?: number; channels?: number; rate?: number; bits?: number; data?: Buffer; fmtSize?: number; noData?: boolean; riff?: string }): Buffer {
  const fmt = Buffer.alloc(o.fmtSize ?? 16);
  if (fmt.length >= 16) {
    fmt.writeUInt16LE(o.format ?? 1, 0);
    fmt.writeUInt16LE(o.channels ?? 1, 2);
    fmt.writeUInt32LE(o.rate ?? 8000, 4);
    fmt.writeUInt16LE(o.bits ?? 16, 14);
  }
  const data = o.data ?? Buffer.from([1, 0, 2, 0, 3, 0]);
  const chunks = [Buffer.from('fmt '), u32(fmt.length), fmt, ...(o.noData ? [] : [Buffer.from('data'), u32(data.length), data])];
  const body = Buffer.concat([Buffer.from('WAVE'), ...chunks]);
  return Buffer.concat([Buffer.from(o.riff ?? 'RIFF'), u32(body.length), body]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

describe('WAV reader and writer', () => {
  it('writes 8 kHz mono 16-bit PCM and reads it back sample for sample', () => {
    const samples = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
    const back = parseWav(wavBytes(samples, 8000), 'x');
    expect(back.sampleRate).toBe(8000);
    expect([...back.samples]).toEqual([...samples]);
    const dir = mkdtempSync(join(tmpdir(), 'wav-'));
    writeWav(join(dir, 'a.wav'), samples, 8000, '--record');
    expect([...readWav(join(dir, 'a.wav'), '--play').samples]).toEqual([...samples]);
  });

  it('takes the first channel of a stereo file and skips unknown chunks', () => {
    const data = Buffer.alloc(8);
    data.writeInt16LE(100, 0);
    data.writeInt16LE(-5, 2);
    data.writeInt16LE(200, 4);
    data.writeInt16LE(-6, 6);
    const f = wav({ channels: 2, data });
    // a LIST chunk before fmt, odd-sized (padded), as editors write them
    const list = Buffer.concat([Buffer.from('LIST'), u32(3), Buffer.from([1, 2, 3, 0])]);
    const withList = Buffer.concat([f.subarray(0, 12), list, f.subarray(12)]);
    expect([...parseWav(withList, 'x').samples]).toEqual([100, 200]);
  });

  it('reads a truncated data chunk as far as it goes', () => {
    const f = wav({ data: Buffer.from([1, 0, 2, 0, 3, 0, 4, 0]) });
    expect([...parseWav(f.subarray(0, f.length - 3), 'x').samples]).toEqual([1, 2]);
  });

  it.each([
    ['empty file', Buffer.alloc(0), 'not a WAV file'],
    ['not RIFF', wav({ riff: 'RIFX' }), 'not a WAV file'],
    ['float samples (format 3)', wav({ format: 3, bits: 32 }), 'audio format 3 is not linear PCM'],
    ['8-bit samples', wav({ bits: 8 }), '8-bit samples'],
    ['no channels', wav({ channels: 0 }), '0 channels'],
    ['absurd rate', wav({ rate: 5 }), 'sample rate 5 Hz'],
    ['short fmt chunk', wav({ fmtSize: 8 }), 'fmt chunk shorter'],
    ['no data chunk', wav({ noData: true }), 'no data chunk'],
    ['empty data chunk', wav({ data: Buffer.alloc(0) }), 'no samples'],
  ])('refuses %s with an error naming the option', (_name, buf, why) => {
    expect(() => parseWav(buf, '--play x.wav')).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringContaining(`--play x.wav: ${why}`) }));
  });

  it('names the option and the file when the file cannot be read', () => {
    expect(() => readWav('/nonexistent/a.wav', '--play /nonexistent/a.wav')).toThrow(/--play \/nonexistent\/a.wav: cannot read \/nonexistent\/a.wav: ENOENT/);
  });

  it('brings 16 kHz to 8 kHz (every other sample) and leaves 8 kHz alone', () => {
    const s = Int16Array.from({ length: 8 }, (_, i) => i * 10);
    expect([...to8k({ sampleRate: 16000, samples: s })]).toEqual([0, 20, 40, 60]);
    expect(to8k({ sampleRate: 8000, samples: s })).toBe(s);
  });
});
