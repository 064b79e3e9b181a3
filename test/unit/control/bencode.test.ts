import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode, decode, BencodeError, type BDict } from '../../../src/control/bencode.js';
import { parseNgDatagram, formatNgDatagram, NgWireError } from '../../../src/control/ng-wire.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('bencode', () => {
  it('round-trips every type, with dictionary keys sorted on output', () => {
    const v: BDict = { z: 1, a: 'x', list: [1, -2, 'three', ['nested']], dict: { k: 'v' }, empty: '' };
    const out = encode(v);
    expect(out.toString()).toBe('d1:a1:x4:dictd1:k1:ve5:empty0:4:listli1ei-2e5:threel6:nestedee1:zi1ee');
    expect(decode(out)).toEqual(v);
  });

  it('measures strings in UTF-8 bytes', () => {
    expect(encode('µ').toString('latin1')).toBe('2:\u00c2\u00b5');
    expect(decode(encode('ptime µ-law'))).toBe('ptime µ-law');
  });

  it('accepts unsorted keys (Kamailio sends them so)', () => {
    expect(decode(b('d3:sdp1:x7:command5:offere'))).toEqual({ sdp: 'x', command: 'offer' });
  });

  it('keeps a __proto__ key as plain data', () => {
    const d = decode(b('d9:__proto__d1:ai1eee')) as BDict;
    expect(Object.getPrototypeOf(d)).toBe(null);
    expect(d['__proto__']).toEqual({ a: 1 });
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });

  const malformed: [string, string][] = [
    ['', 'empty'],
    ['i42', 'unterminated integer'],
    ['ie', 'empty integer'],
    ['i-0e', 'negative zero'],
    ['i03e', 'leading zero'],
    ['i1.5e', 'fraction'],
    ['03:abc', 'string length with leading zero'],
    ['5:abc', 'string past the end'],
    ['3abc', 'missing colon'],
    ['l1:a', 'unterminated list'],
    ['d1:a', 'dictionary value missing'],
    ['d1:ai1e', 'unterminated dictionary'],
    ['di1ei2ee', 'integer key'],
    ['d1:ai1e1:ai2ee', 'duplicate key'],
    ['i1ei2e', 'trailing value'],
    ['d7:command4:pinge-trailing', 'trailing garbage'],
    ['x', 'unknown type byte'],
    ['l'.repeat(70) + 'e'.repeat(70), 'nesting deeper than 64'],
    ['i99999999999999999999e', 'integer out of range'],
  ];
  for (const [input, what] of malformed) {
    it(`rejects ${what}`, () => {
      expect(() => decode(b(input))).toThrow(BencodeError);
    });
  }

  it('decodes every message of the real Kamailio ↔ rtpengine exchange', () => {
    const text = readFileSync(join(__dirname, '../../../../shared/fixtures/ng/kamailio-rtpengine-call.txt'), 'utf8');
    const blocks = text.split(/^=== .*$/m).slice(1).map((s) => s.trim());
    const whole = blocks.filter((m) => !m.startsWith('0_14887_9 d7:created')); // the delete reply is cut in the fixture
    expect(whole.length).toBeGreaterThanOrEqual(5);
    for (const m of whole) {
      // The fixture's SDP lost its CRs: put them back so the string lengths match again.
      const raw = Buffer.from(m.replace(/\n/g, '\r\n'), 'utf8');
      const parsed = parseNgDatagram(raw);
      expect(parsed.cookie).toMatch(/^0_\d+_\d+$/);
      expect(typeof parsed.message).toBe('object');
    }
  });
});

describe('ng datagram', () => {
  it('round-trips cookie and dictionary', () => {
    const buf = formatNgDatagram('5323_1', { command: 'ping' });
    expect(buf.toString()).toBe('5323_1 d7:command4:pinge');
    expect(parseNgDatagram(buf)).toEqual({ cookie: '5323_1', message: { command: 'ping' } });
  });

  it('rejects a datagram without cookie', () => {
    expect(() => parseNgDatagram(b('d7:command4:pinge'))).toThrow(NgWireError);
    expect(() => parseNgDatagram(b(' d7:command4:pinge'))).toThrow(NgWireError);
  });

  it('keeps the cookie of a malformed body so the server can still answer', () => {
    try {
      parseNgDatagram(b('abc l1:xe'));
      throw new Error('should have thrown');
    } catch (e) {
      expect(e).toBeInstanceOf(NgWireError);
      expect((e as NgWireError).cookie).toBe('abc');
    }
    expect(() => parseNgDatagram(b('abc d3:foo'))).toThrow(/abc|string|truncated|past/);
  });
});
