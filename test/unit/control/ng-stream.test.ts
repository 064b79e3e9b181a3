import { describe, it, expect } from 'vitest';
import { NgStreamFramer, type NgFrame } from '../../../src/control/ng-stream.js';
import { encode, type BDict } from '../../../src/control/bencode.js';

const msg = (cookie: string, dict: BDict): Buffer => Buffer.concat([Buffer.from(`${cookie} `), encode(dict)]);
const messages = (frames: NgFrame[]): string[] => frames.map((f) => (f.kind === 'message' ? f.bytes.toString() : `FATAL ${f.reason}`));

describe('ng over TCP: framing the stream as rtpengine does', () => {
  const offer = msg('c1', { command: 'offer', 'call-id': 'x', sdp: 'v=0\r\nm=audio 9 RTP/AVP 0\r\n', flags: ['a', 'b'], n: -12, nested: { l: [[1], { k: 'v' }] } });

  it('finds a message whole, and the same message cut anywhere, one byte at a time', () => {
    expect(messages(new NgStreamFramer(65536).push(offer))).toEqual([offer.toString()]);
    const f = new NgStreamFramer(65536);
    const got: NgFrame[] = [];
    for (let i = 0; i < offer.length; i++) {
      got.push(...f.push(offer.subarray(i, i + 1)));
      if (i < offer.length - 1) expect(f.pending).toBe(i + 1);
    }
    expect(messages(got)).toEqual([offer.toString()]);
    expect(f.pending).toBe(0);
    for (let cut = 1; cut < offer.length; cut++) {
      const g = new NgStreamFramer(65536);
      expect(messages([...g.push(offer.subarray(0, cut)), ...g.push(offer.subarray(cut))])).toEqual([offer.toString()]);
    }
  });

  it('splits pipelined messages, skipping whitespace between them', () => {
    const ping = msg('p1', { command: 'ping' });
    const stream = Buffer.concat([Buffer.from('\r\n'), ping, Buffer.from('\n'), offer, Buffer.from(' \t'), ping.subarray(0, 5)]);
    const f = new NgStreamFramer(65536);
    expect(messages(f.push(stream))).toEqual([ping.toString(), offer.toString()]);
    expect(f.pending).toBe(5);
    expect(messages(f.push(ping.subarray(5)))).toEqual([ping.toString()]);
  });

  it('leaves what is wrong inside a framed message to the decoder (the stream goes on)', () => {
    // A duplicate key and an integer key still frame: the decoder answers them with an error.
    const f = new NgStreamFramer(65536);
    expect(messages(f.push(Buffer.from('d1 d1:ai1e1:ai2ee d2 di1e1:xe d3 d7:command4:pinge')))).toEqual(['d1 d1:ai1e1:ai2ee', 'd2 di1e1:xe', 'd3 d7:command4:pinge']);
  });

  const fatal = (stream: string | Buffer, max = 65536): NgFrame | undefined => new NgStreamFramer(max).push(Buffer.isBuffer(stream) ? stream : Buffer.from(stream)).find((x) => x.kind === 'fatal');

  it('ends a stream it cannot frame, with the cookie when one was read', () => {
    expect(fatal('x'.repeat(80))).toMatchObject({ reason: expect.stringMatching(/no cookie/), tooLarge: false });
    expect(fatal('x'.repeat(80))).not.toHaveProperty('cookie');
    expect(fatal(' d4:ping')).toBeUndefined(); // leading whitespace is skipped, then "d4:ping" waits for a space
    expect(fatal('a\x01b d1:ai1ee')).toMatchObject({ reason: 'cookie has non-printable bytes' });
    expect(fatal('c9 l1:ae')).toMatchObject({ cookie: 'c9', reason: expect.stringMatching(/not a bencoded dictionary/) });
    expect(fatal('c9 d1:a?')).toMatchObject({ cookie: 'c9', reason: expect.stringMatching(/byte 0x3f/) });
    expect(fatal('c9 d1:ai12345678901234567890123e')).toMatchObject({ cookie: 'c9' });
    expect(fatal('c9 d1:a1234567890:')).toMatchObject({ cookie: 'c9' });
    expect(fatal(`c9 ${'d1:a'.repeat(70)}`)).toMatchObject({ cookie: 'c9', reason: expect.stringMatching(/nested deeper than 64/) });
    expect(fatal(`c9 d1:al${'i1e'.repeat(10_001)}ee`, 1 << 20)).toMatchObject({ cookie: 'c9', reason: expect.stringMatching(/more than 10000 bencode values/) });
  });

  it('refuses a message over the limit as soon as it is known, before its bytes arrive', () => {
    // A string announced larger than the limit: refused on its length prefix.
    expect(fatal('c7 d3:sdp99999:', 4096)).toMatchObject({ cookie: 'c7', tooLarge: true, reason: 'message over 4096 bytes' });
    // Many small values adding up past the limit.
    expect(fatal(`c7 d1:al${'1:x'.repeat(2000)}`, 4096)).toMatchObject({ cookie: 'c7', tooLarge: true });
    // Exactly at the limit is fine.
    const exact = msg('c8', { k: 'y'.repeat(100) });
    expect(messages(new NgStreamFramer(exact.length).push(exact))).toEqual([exact.toString()]);
    expect(fatal(exact, exact.length - 1)).toMatchObject({ tooLarge: true });
  });

  it('reads nothing more after a fatal frame', () => {
    const f = new NgStreamFramer(65536);
    expect(f.push(Buffer.from('c1 x')).map((x) => x.kind)).toEqual(['fatal']);
    expect(f.push(msg('c2', { command: 'ping' }))).toEqual([]);
    expect(f.pending).toBe(0);
  });
});
