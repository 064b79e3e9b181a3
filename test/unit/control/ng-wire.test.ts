import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNgDatagram, formatNgDatagram, isValidCookie, NgWireError, MAX_COOKIE_LENGTH } from '../../../src/control/ng-wire.js';
import { isTandemError } from '../../../src/common/errors.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function parseError(buf: Buffer): NgWireError {
  try {
    parseNgDatagram(buf);
  } catch (e) {
    expect(e).toBeInstanceOf(NgWireError);
    return e as NgWireError;
  }
  throw new Error('parseNgDatagram should have thrown');
}

describe('ng datagram', () => {
  it('round-trips cookie and dictionary byte for byte', () => {
    const buf = formatNgDatagram('5323_1', { command: 'ping' });
    expect(buf.toString()).toBe('5323_1 d7:command4:pinge');
    expect(parseNgDatagram(buf)).toEqual({ cookie: '5323_1', message: { command: 'ping' } });
    expect(formatNgDatagram('5323_1', parseNgDatagram(buf).message).equals(buf)).toBe(true);
  });

  it('round-trips the real Kamailio cookies and a UTF-8 body', () => {
    const buf = formatNgDatagram('0_14887_8', { command: 'offer', sdp: 's=µ\r\n' });
    expect(parseNgDatagram(buf)).toEqual({ cookie: '0_14887_8', message: { command: 'offer', sdp: 's=µ\r\n' } });
  });

  it('parses the requests and replies of the Kamailio ↔ rtpengine fixture', () => {
    const text = readFileSync(join(__dirname, '../../fixtures/ng/kamailio-rtpengine-call.txt'), 'utf8');
    const raw = text.split(/^=== .*$/m).slice(1).map((s) => Buffer.from(s.trim().replace(/\n/g, '\r\n'), 'utf8'));
    const parsed = raw.slice(0, 5).map(parseNgDatagram);
    expect(parsed.map((p) => p.cookie)).toEqual(['0_14887_8', '0_14887_8', '0_14890_5', '0_14890_5', '0_14887_9']);
    expect(parsed.map((p) => p.message.command ?? p.message.result)).toEqual(['offer', 'ok', 'answer', 'ok', 'delete']);
    // The cut delete reply: the cookie is still readable, so an error could be matched to it.
    expect(parseError(raw[5]).cookie).toBe('0_14887_9');
  });

  it('rejects a datagram without a usable cookie, with no cookie to answer', () => {
    const cases: [Buffer, RegExp][] = [
      [b('d7:command4:pinge'), /no cookie/],
      [b(' d7:command4:pinge'), /empty cookie/],
      [b(''), /no cookie/],
      [b('x'.repeat(MAX_COOKIE_LENGTH + 1) + ' de'), /longer than 64/],
      [b('a\tb d7:command4:pinge'), /non-printable/],
      [Buffer.concat([b('caf'), Buffer.from([0xe9]), b(' de')]), /non-printable/],
    ];
    for (const [buf, re] of cases) {
      const e = parseError(buf);
      expect(e.message).toMatch(re);
      expect(e.cookie).toBeUndefined();
    }
  });

  it('keeps the cookie of a malformed or non-dictionary body so the server can still answer', () => {
    const cases: [string, RegExp][] = [
      ['abc l1:xe', /list, not a dictionary/],
      ['abc i1e', /number, not a dictionary/],
      ['abc 4:ping', /string, not a dictionary/],
      ['abc ', /empty input/],
      ['abc d3:foo', /truncated/],
      ['abc d7:command4:pinge ', /trailing/],
      ['abc  de', /unexpected byte 0x20/],
    ];
    for (const [text, re] of cases) {
      const e = parseError(b(text));
      expect(e.cookie).toBe('abc');
      expect(e.message).toMatch(re);
    }
  });

  it('is a TandemError with code BAD_REQUEST (mapped to an ng error reply)', () => {
    const e = parseError(b('abc i1e'));
    expect(isTandemError(e)).toBe(true);
    expect(e.code).toBe('BAD_REQUEST');
  });

  it('accepts a cookie of exactly 64 bytes and refuses to format invalid cookies', () => {
    const long = 'c'.repeat(MAX_COOKIE_LENGTH);
    expect(parseNgDatagram(formatNgDatagram(long, {})).cookie).toBe(long);
    for (const bad of ['', 'a b', 'x'.repeat(MAX_COOKIE_LENGTH + 1), 'é', 'a\n']) {
      expect(isValidCookie(bad)).toBe(false);
      expect(() => formatNgDatagram(bad, {})).toThrow(NgWireError);
    }
  });
});
