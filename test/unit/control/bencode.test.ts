import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode, decode, BencodeError, MAX_DEPTH, MAX_ELEMENTS, type BDict, type BValue } from '../../../src/control/bencode.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('bencode encode', () => {
  it('encodes every type, with dictionary keys sorted on output', () => {
    const v: BDict = { z: 1, a: 'x', list: [1, -2, 'three', ['nested']], dict: { k: 'v' }, empty: '', zero: 0 };
    expect(encode(v).toString()).toBe('d1:a1:x4:dictd1:k1:ve5:empty0:4:listli1ei-2e5:threel6:nestedee1:zi1e4:zeroi0ee');
  });

  it('encodes scalars, empty containers and the safe-integer limits', () => {
    expect(encode('').toString()).toBe('0:');
    expect(encode([]).toString()).toBe('le');
    expect(encode({}).toString()).toBe('de');
    expect(encode(-0).toString()).toBe('i0e');
    expect(encode(Number.MAX_SAFE_INTEGER).toString()).toBe('i9007199254740991e');
    expect(encode(Number.MIN_SAFE_INTEGER).toString()).toBe('i-9007199254740991e');
  });

  it('measures strings in UTF-8 bytes', () => {
    expect(encode('µ').toString('latin1')).toBe('2:\u00c2\u00b5');
    expect(encode('😀').length).toBe(2 + 4);
    expect(decode(encode('ptime µ-law 😀'))).toBe('ptime µ-law 😀');
  });

  it('sorts keys by raw bytes, not by UTF-16 code units', () => {
    // U+FF5E (EF BD 9E) sorts after U+1F600 (F0 9F 98 80) in UTF-16 but before it in UTF-8.
    const out = encode({ '😀': 1, '～': 2, a: 3, B: 4 }).toString('utf8');
    expect(out).toBe('d1:Bi4e1:ai3e3:～i2e4:😀i1ee');
  });

  it('rejects values it cannot represent', () => {
    for (const bad of [1.5, NaN, Infinity, 2 ** 53, -(2 ** 53)]) expect(() => encode(bad)).toThrow(BencodeError);
    expect(() => encode(null as unknown as BValue)).toThrow(BencodeError);
    expect(() => encode(true as unknown as BValue)).toThrow(BencodeError);
    expect(() => encode(new Date() as unknown as BValue)).toThrow(/non-plain object/);
    expect(() => encode({ '\ud800': 1, '\udc00': 2 })).toThrow(/same bytes/);
  });

  it('refuses to nest deeper than MAX_DEPTH (and so terminates on cycles)', () => {
    let v: BValue = [];
    for (let i = 1; i < MAX_DEPTH; i++) v = [v];
    expect(encode(v).toString()).toBe('l'.repeat(MAX_DEPTH) + 'e'.repeat(MAX_DEPTH));
    expect(() => encode([v])).toThrow(/nesting/);
    const cyclic: BValue[] = [];
    cyclic.push(cyclic);
    expect(() => encode(cyclic)).toThrow(BencodeError);
  });

  it('skips undefined dictionary values (optional properties)', () => {
    expect(encode({ a: undefined as unknown as BValue, b: 1 }).toString()).toBe('d1:bi1ee');
  });
});

describe('bencode decode', () => {
  it('round-trips bytes → value → bytes for canonical input', () => {
    const samples = [
      'i0e', 'i-1e', 'i42e', '0:', '4:spam', 'le', 'de', 'l4:spami42ee',
      'd3:bar4:spam3:fooi42ee', 'd5:emptyde4:listl1:ai1eld1:xleeee1:zi-7ee',
      'd7:command5:offer5:flagsl13:trust-addressee',
    ];
    for (const s of samples) expect(encode(decode(b(s))).toString('latin1')).toBe(s);
  });

  it('round-trips value → bytes → value', () => {
    const v: BDict = { sdp: 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\n', flags: ['a', 'b'], n: -5, nested: { x: [{ y: '' }] } };
    expect(decode(encode(v))).toEqual(v);
  });

  it('accepts unsorted keys (Kamailio sends them so)', () => {
    expect(decode(b('d3:sdp1:x7:command5:offere'))).toEqual({ sdp: 'x', command: 'offer' });
  });

  it('accepts a Uint8Array view at an offset', () => {
    const backing = new Uint8Array(Buffer.from('xxi7exx', 'latin1'));
    expect(decode(backing.subarray(2, 5))).toBe(7);
  });

  it('decodes dictionaries as null-prototype objects; __proto__ is plain data', () => {
    const d = decode(b('d9:__proto__d1:ai1ee11:constructori1ee')) as BDict;
    expect(Object.getPrototypeOf(d)).toBe(null);
    expect(Object.keys(d)).toEqual(['__proto__', 'constructor']);
    expect(d['__proto__']).toEqual({ a: 1 });
    expect(({} as Record<string, unknown>).a).toBeUndefined();
    expect(encode(d).toString()).toBe('d9:__proto__d1:ai1ee11:constructori1ee');
  });

  it('accepts exactly MAX_DEPTH nested containers', () => {
    expect(() => decode(b('l'.repeat(MAX_DEPTH) + 'e'.repeat(MAX_DEPTH)))).not.toThrow();
    expect(() => decode(b('d1:a'.repeat(MAX_DEPTH) + 'i1e' + 'e'.repeat(MAX_DEPTH)))).not.toThrow();
  });

  it('decodes the safe-integer limits and rejects one past them', () => {
    expect(decode(b('i9007199254740991e'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decode(b('i-9007199254740991e'))).toBe(Number.MIN_SAFE_INTEGER);
    expect(() => decode(b('i9007199254740992e'))).toThrow(/safe range/);
  });

  // [input, what, offset where it fails]
  const malformed: [string, string, number][] = [
    ['', 'empty input', 0],
    ['i', 'truncated integer', 0],
    ['i42', 'unterminated integer', 0],
    ['ie', 'empty integer', 0],
    ['i-e', 'minus without digits', 0],
    ['i-0e', 'negative zero', 0],
    ['i03e', 'integer leading zero', 0],
    ['i-03e', 'negative integer leading zero', 0],
    ['i00e', 'double zero', 0],
    ['i+1e', 'plus sign', 1],
    ['i1.5e', 'fraction', 2],
    ['i 1e', 'space in integer', 1],
    ['i1e2e', 'exponent-like trailing', 3],
    ['i99999999999999999999e', 'integer out of range', 0],
    ['03:abc', 'string length with leading zero', 0],
    ['00:', 'empty string with leading zero', 0],
    ['5:abc', 'string past the end', 0],
    ['4294967296:x', 'absurd string length', 0],
    ['3', 'string length without colon at end', 0],
    ['3abc', 'missing colon', 1],
    ['-1:a', 'negative string length', 0],
    [':abc', 'colon without length', 0],
    ['l', 'bare list start', 0],
    ['l1:a', 'unterminated list', 0],
    ['l1:ai1e', 'unterminated list after int', 0],
    ['d', 'bare dict start', 0],
    ['d1:a', 'dictionary value missing', 4],
    ['d1:ai1e', 'unterminated dictionary', 0],
    ['d1:ae', 'dictionary key with "e" as value', 4],
    ['di1ei2ee', 'integer key', 1],
    ['dlei1ee', 'list key', 1],
    ['ddei1ee', 'dict key', 1],
    ['d1:ai1e1:ai2ee', 'duplicate key', 7],
    ['d1:bi1e1:ai2e1:bi3ee', 'duplicate key, not adjacent', 13],
    ['i1ei2e', 'trailing value', 3],
    ['d7:command4:pinge-trailing', 'trailing garbage', 17],
    ['4:spam\n', 'trailing newline', 6],
    ['x', 'unknown type byte', 0],
    ['e', 'stray end', 0],
    ['l'.repeat(MAX_DEPTH + 1) + 'e'.repeat(MAX_DEPTH + 1), 'nesting deeper than 64', MAX_DEPTH],
    ['d1:a'.repeat(MAX_DEPTH + 1) + 'i1e' + 'e'.repeat(MAX_DEPTH + 1), 'dict nesting deeper than 64', 4 * MAX_DEPTH],
  ];
  for (const [input, what, offset] of malformed) {
    it(`rejects ${what}: ${JSON.stringify(input.length > 30 ? input.slice(0, 30) + '…' : input)}`, () => {
      let err: unknown;
      try {
        decode(b(input));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BencodeError);
      expect((err as BencodeError).offset).toBe(offset);
      expect((err as BencodeError).message).toMatch(/^bencode: .+ at byte \d+$/);
    });
  }

  it('rejects every proper prefix of a valid message (truncation anywhere)', () => {
    const whole = encode({ command: 'offer', sdp: 'v=0\r\n', flags: ['a', 'bb'], n: 123, d: { x: [] } });
    for (let len = 0; len < whole.length; len++) expect(() => decode(whole.subarray(0, len))).toThrow(BencodeError);
  });

  it('never throws anything but BencodeError on random bytes', () => {
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    const alphabet = b('ilde0123456789:-x');
    for (let n = 0; n < 2000; n++) {
      const buf = Buffer.alloc(1 + Math.floor(rnd() * 12));
      for (let i = 0; i < buf.length; i++) buf[i] = alphabet[Math.floor(rnd() * alphabet.length)];
      try {
        const v = decode(buf);
        expect(encode(v).equals(buf) || typeof v === 'object').toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(BencodeError);
      }
    }
  });
});

describe('bencode against the real Kamailio ↔ rtpengine exchange', () => {
  const text = readFileSync(join(__dirname, '../../fixtures/ng/kamailio-rtpengine-call.txt'), 'utf8');
  // The fixture's SDP lost its CRs: put them back so the string lengths match again.
  const datagrams = text
    .split(/^=== .*$/m)
    .slice(1)
    .map((s) => Buffer.from(s.trim().replace(/\n/g, '\r\n'), 'utf8'));
  const body = (d: Buffer): Buffer => d.subarray(d.indexOf(0x20) + 1);

  it('has the six datagrams of one call', () => {
    expect(datagrams.length).toBe(6);
  });

  it('decodes every whole message, unsorted keys and all, and re-encodes it losslessly', () => {
    const decoded = datagrams.slice(0, 5).map((d) => decode(body(d)) as BDict);
    expect(decoded.map((m) => m.command ?? m.result)).toEqual(['offer', 'ok', 'answer', 'ok', 'delete']);
    const offer = decoded[0];
    expect(offer['call-id']).toBe('1-16455@127.0.0.1');
    expect(offer['from-tag']).toBe('16455SIPpTag091');
    expect(offer.replace).toEqual(['origin', 'session-connection']);
    expect(offer.codec).toEqual({ mask: ['PCMA'], transcode: ['PCMU'] });
    expect(offer['received-from']).toEqual(['IP4', '127.0.0.1']);
    expect(offer.supports).toEqual(['load limit']);
    expect(offer.sdp).toMatch(/^v=0\r\n[\s\S]*a=fmtp:101 0-11,16\r\n$/);
    expect(decoded[1].sdp).toContain('m=audio 44920 RTP/AVP 0 101\r\n');
    for (const m of decoded) {
      const again = encode(m);
      expect(again.length).toBe(body(datagrams[decoded.indexOf(m)]).length); // same bytes, sorted
      expect(decode(again)).toEqual(m);
    }
  });

  it('rejects the delete reply, which the fixture cut at 1500 characters, as truncated', () => {
    expect(() => decode(body(datagrams[5]))).toThrow(/truncated/);
  });
});

describe('bencode element cap (issue 10: hostile peers)', () => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');

  it('refuses more than MAX_ELEMENTS values in one input, naming the cap', () => {
    // A 64 KB datagram of empty lists would otherwise be ~32 000 objects.
    const flood = 'l' + 'le'.repeat(MAX_ELEMENTS) + 'e'; // MAX_ELEMENTS + 1 values
    expect(() => decode(b(flood))).toThrow(new RegExp(`more than ${MAX_ELEMENTS} elements`));
    expect(() => decode(b('l' + 'le'.repeat(MAX_ELEMENTS - 1) + 'e'))).not.toThrow();
  });

  it('counts dictionary keys too, and the cap can be set per call', () => {
    expect(() => decode(b('d1:ai1e1:bi2ee'), { maxElements: 4 })).toThrow(/more than 4 elements/);
    expect(decode(b('d1:ai1e1:bi2ee'), { maxElements: 5 })).toEqual({ a: 1, b: 2 });
  });
});
