import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alawToLinear,
  ALAW_TO_ULAW,
  decodeAlaw,
  decodeUlaw,
  encodeAlaw,
  encodeUlaw,
  g711TranscodeTable,
  linearToAlaw,
  linearToUlaw,
  transcodeInPlace,
  ULAW_TO_ALAW,
  ulawToLinear,
} from '../../../../src/media/codecs/g711.js';
import { wasmPath } from '../../../../src/media/codecs/wasm.js';
import { describeWithPeers, itWithPeers } from '../../../helpers/peers.js';
import { canTranscode, codecByStaticPt, g711BytesPerMs, lookupCodec } from '../../../../src/media/codecs/codec.js';

const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);

/**
 * sox is the independent implementation the codec is checked against: a missing sox is a visible
 * skip (a failure with REQUIRE_PEERS=1, as in CI), so a green CI run always means "compared".
 * `-D` turns off sox's automatic dither: without it µ-law → A-law (14 → 13 bits) adds random noise
 * and the output differs from run to run.
 */
let dir = '';
function sox(inArgs: string[], outArgs: string[], input: Uint8Array): Buffer {
  const probe = spawnSync('sox', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`sox is required by this test and was not found or failed (${String(probe.error ?? probe.stderr)}): apt-get install sox`);
  }
  const inFile = path.join(dir, 'in.raw');
  const outFile = path.join(dir, 'out.raw');
  writeFileSync(inFile, input);
  execFileSync('sox', ['-D', ...inArgs, '-r', '8000', '-c', '1', inFile, ...outArgs, outFile], { stdio: 'pipe' });
  return readFileSync(outFile);
}
const S16 = ['-t', 's16', '-e', 'signed', '-b', '16', '-L'];

function bytesOf(a: Int16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength); // little-endian hosts (x86, ARM)
}
function int16Of(b: Buffer): Int16Array {
  return new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}
/** Every int16 value, -32768..32767. */
const ALL_LINEAR = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'tandem-g711-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describeWithPeers('A-law ↔ µ-law tables against sox', ['sox'], () => {
  it('ALAW_TO_ULAW equals `sox -t al … -t ul` for all 256 codes', () => {
    const expected = sox(['-t', 'al'], ['-t', 'ul'], ALL_CODES);
    expect(expected.length).toBe(256);
    expect(Array.from(ALAW_TO_ULAW())).toEqual(Array.from(expected));
  });

  it('ULAW_TO_ALAW equals `sox -D -t ul … -t al` for all 256 codes', () => {
    const expected = sox(['-t', 'ul'], ['-t', 'al'], ALL_CODES);
    expect(expected.length).toBe(256);
    expect(Array.from(ULAW_TO_ALAW())).toEqual(Array.from(expected));
  });

  it('tables are built once and shared', () => {
    expect(ALAW_TO_ULAW()).toBe(ALAW_TO_ULAW());
    expect(ULAW_TO_ALAW()).toBe(ULAW_TO_ALAW());
    expect(g711TranscodeTable('pcma', 'PCMU')).toBe(ALAW_TO_ULAW());
    expect(g711TranscodeTable('PCMU', 'PCMA')).toBe(ULAW_TO_ALAW());
    expect(() => g711TranscodeTable('PCMA', 'opus')).toThrow(/no G.711 table/);
  });
});

describe('decode', () => {
  it('known values (G.711 Tables 1a/2a)', () => {
    expect(ulawToLinear(0xff)).toBe(0);
    expect(ulawToLinear(0x7f)).toBe(0);
    expect(ulawToLinear(0x00)).toBe(-32124);
    expect(ulawToLinear(0x80)).toBe(32124);
    expect(alawToLinear(0xd5)).toBe(8);
    expect(alawToLinear(0x55)).toBe(-8);
    expect(alawToLinear(0xaa)).toBe(32256);
    expect(alawToLinear(0x2a)).toBe(-32256);
  });

  itWithPeers('all 256 A-law codes equal sox decode to signed 16-bit', ['sox'], () => {
    const expected = int16Of(sox(['-t', 'al'], S16, ALL_CODES));
    const got = new Int16Array(256);
    expect(decodeAlaw(ALL_CODES, got)).toBe(256);
    expect(Array.from(got)).toEqual(Array.from(expected));
    for (let c = 0; c < 256; c++) expect(alawToLinear(c)).toBe(got[c]);
  });

  itWithPeers('all 256 µ-law codes equal sox decode to signed 16-bit', ['sox'], () => {
    const expected = int16Of(sox(['-t', 'ul'], S16, ALL_CODES));
    const got = new Int16Array(256);
    expect(decodeUlaw(ALL_CODES, got)).toBe(256);
    expect(Array.from(got)).toEqual(Array.from(expected));
    for (let c = 0; c < 256; c++) expect(ulawToLinear(c)).toBe(got[c]);
  });

  it('rejects a short destination', () => {
    expect(() => decodeAlaw(new Uint8Array(160), new Int16Array(159))).toThrow(RangeError);
    expect(() => encodeUlaw(new Int16Array(160), new Uint8Array(100))).toThrow(RangeError);
  });
});

describe('encode', () => {
  /** A 1013 Hz tone (not a divisor of 8000, so it sweeps many levels) at 8 kHz, amplitude 20000, plus the int16 extremes. */
  function tone(n: number): Int16Array {
    const s = new Int16Array(n);
    for (let i = 0; i < n; i++) s[i] = Math.round(20000 * Math.sin((2 * Math.PI * 1013 * i) / 8000 + 0.3));
    s[0] = 32767;
    s[1] = -32768;
    return s;
  }

  it('encodes silence and extremes to the expected codes', () => {
    expect(linearToUlaw(0)).toBe(0xff);
    expect(linearToAlaw(0)).toBe(0xd5);
    expect(linearToUlaw(32767)).toBe(0x80);
    expect(linearToUlaw(-32768)).toBe(0x00);
    expect(linearToAlaw(32767)).toBe(0xaa);
    expect(linearToAlaw(-32768)).toBe(0x2a);
  });

  it('every code survives decode → encode (both laws; µ-law 0x7F is −0 and comes back as +0 0xFF)', () => {
    const lin = new Int16Array(256);
    const back = new Uint8Array(256);
    decodeAlaw(ALL_CODES, lin);
    encodeAlaw(lin, back);
    expect(Array.from(back)).toEqual(Array.from(ALL_CODES));
    decodeUlaw(ALL_CODES, lin);
    encodeUlaw(lin, back);
    expect(Array.from(back)).toEqual(Array.from(ALL_CODES, (c) => (c === 0x7f ? 0xff : c)));
  });

  it('round trip of a tone stays within one quantisation step, for both laws', () => {
    const n = 40000; // > one 16384-sample chunk through wasm memory
    const src = tone(n);
    const codes = new Uint8Array(n);
    const out = new Int16Array(n);
    for (const [enc, dec, law] of [
      [encodeAlaw, decodeAlaw, 'A'],
      [encodeUlaw, decodeUlaw, 'µ'],
    ] as const) {
      expect(enc(src, codes)).toBe(n);
      expect(dec(codes, out)).toBe(n);
      for (let i = 0; i < n; i++) {
        // Steps in a segment are at most 1/16 of the segment's start (both laws), and the decoder
        // returns a step's middle: the error stays under |x|/16 plus the smallest step. The first two
        // samples are the int16 extremes, beyond the µ-law top level (±32124).
        const err = Math.abs(out[i] - src[i]);
        expect(err).toBeLessThanOrEqual(Math.abs(src[i]) / 16 + 16 + (i < 2 ? 700 : 0));
      }
      // Bulk and single-sample paths agree.
      for (let i = 0; i < 2000; i++) {
        expect(codes[i]).toBe(law === 'A' ? linearToAlaw(src[i]) : linearToUlaw(src[i]));
      }
    }
  });

  itWithPeers('encodes every int16 value as sox does once the value is on the 13/14-bit grid', ['sox'], () => {
    // See the ULAW_TO_ALAW test: sox rounds to 13 (A) / 14 (µ) bits, the reference truncates.
    for (const [type, enc, dropMask] of [
      ['al', encodeAlaw, ~7],
      ['ul', encodeUlaw, ~3],
    ] as const) {
      const expected = sox(S16, ['-t', type], bytesOf(ALL_LINEAR.map((x) => x & dropMask)));
      const got = new Uint8Array(65536);
      expect(enc(ALL_LINEAR, got)).toBe(65536);
      expect(Buffer.from(got).equals(expected)).toBe(true);
    }
  });
});

describe('transcodeInPlace', () => {
  it('converts only [start, end) and leaves the rest alone', () => {
    const header = [0x80, 0x08, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8];
    const payload = Array.from(ALL_CODES);
    const tail = [0xd5, 0xd5, 0xd5];
    const buf = Uint8Array.from([...header, ...payload, ...tail]);
    const table = ALAW_TO_ULAW();
    transcodeInPlace(buf, header.length, header.length + payload.length, table);
    expect(Array.from(buf.subarray(0, header.length))).toEqual(header);
    expect(Array.from(buf.subarray(header.length, header.length + 256))).toEqual(payload.map((b) => table[b]));
    expect(Array.from(buf.subarray(header.length + 256))).toEqual(tail);
  });

  it('applying both tables in turn equals the composed conversions (A → µ → A)', () => {
    // Not an identity in general (µ-law has finer small steps, A-law finer large ones). The µ → A
    // step rounds the µ-law level half up onto the 13-bit grid before encoding (as sox does).
    const buf = Uint8Array.from(ALL_CODES);
    transcodeInPlace(buf, 0, 256, ALAW_TO_ULAW());
    transcodeInPlace(buf, 0, 256, ULAW_TO_ALAW());
    const toA = (u: number): number => linearToAlaw(Math.min(32767, Math.floor((ulawToLinear(u) + 4) / 8) * 8));
    for (let a = 0; a < 256; a++) expect(buf[a]).toBe(toA(linearToUlaw(alawToLinear(a))));
  });

  it('clamps the range to the buffer and does nothing for an empty range', () => {
    const buf = Uint8Array.from([0xd5, 0xd5, 0xd5]);
    transcodeInPlace(buf, 2, 2, ALAW_TO_ULAW());
    expect(Array.from(buf)).toEqual([0xd5, 0xd5, 0xd5]);
    transcodeInPlace(buf, -5, 99, ALAW_TO_ULAW());
    expect(Array.from(buf)).toEqual([0xfe, 0xfe, 0xfe]); // A-law +8 → µ-law +8
  });
});

describe('codec registry', () => {
  it('looks codecs up by name (any case) and clock rate', () => {
    expect(lookupCodec('pcmu', 8000)).toEqual({ name: 'PCMU', clockRate: 8000, channels: 1, staticPt: 0 });
    expect(lookupCodec('PCMA', 8000)?.staticPt).toBe(8);
    expect(lookupCodec('g722', 8000)?.staticPt).toBe(9);
    expect(lookupCodec('G729', 8000)?.staticPt).toBe(18);
    expect(lookupCodec('cn', 8000)?.staticPt).toBe(13);
    expect(lookupCodec('TELEPHONE-EVENT', 8000)?.name).toBe('telephone-event');
    expect(lookupCodec('telephone-event', 8000)?.staticPt).toBeUndefined();
    expect(lookupCodec('OPUS', 48000)).toEqual({ name: 'opus', clockRate: 48000, channels: 2 });
    expect(lookupCodec('PCMU', 16000)).toBeUndefined();
    expect(lookupCodec('speex', 8000)).toBeUndefined();
    expect(codecByStaticPt(8)?.name).toBe('PCMA');
    expect(codecByStaticPt(96)).toBeUndefined();
  });

  it('transcodes PCMA ↔ PCMU only', () => {
    expect(canTranscode('PCMA', 'PCMU')).toBe(true);
    expect(canTranscode('pcmu', 'pcma')).toBe(true);
    expect(canTranscode('PCMU', 'PCMU')).toBe(false);
    expect(canTranscode('PCMU', 'opus')).toBe(false);
    expect(g711BytesPerMs * 20).toBe(160);
  });
});

describe('wasm loader', () => {
  it('resolves wasm/build/g711.wasm from the repository root', () => {
    const p = wasmPath('g711');
    expect(p).toBe(path.resolve(import.meta.dirname, '../../../../wasm/build/g711.wasm'));
    expect(existsSync(p), `${p} missing: run npm run build:wasm`).toBe(true);
  });
});
