import { describe, it, expect } from 'vitest';
import { parseSipMessage, parseSipStream, DEFAULT_MAX_BYTES } from '../../../src/sip/parse.js';
import { serializeSipMessage } from '../../../src/sip/serialize.js';
import {
  getVias, getFrom, getTo, getContacts, getCallId, getCSeq, getContentLength, getContentType, getRequire,
  getSupported, getUnsupported, getUserAgent, getRecordRoutes, headerValues, setHeader, prependHeader,
  SipParseError, type SipMessage,
} from '../../../src/sip/message.js';
import type { SipUri } from '../../../src/sip/uri.js';

const msg = (lines: string[], body = ''): Buffer => Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);

const BASE = [
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@example.com>',
  'From: "Alice" <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.example.com>',
];

function ok(buf: Buffer): SipMessage {
  const r = parseSipMessage(buf);
  if (!r.ok) throw new Error(r.error.reason);
  return r.message;
}

function fault(buf: Buffer, opts?: { maxBytes?: number }): SipParseError {
  const r = parseSipMessage(buf, opts);
  if (r.ok) throw new Error('expected an error');
  return r.error;
}

const replace = (name: string, line: string | null): string[] =>
  BASE.flatMap((l) => (l.toLowerCase().startsWith(`${name.toLowerCase()}:`) ? (line === null ? [] : [line]) : [l]));

describe('SIP parser', () => {
  it('reads a plain INVITE with its typed headers', () => {
    const m = ok(msg([...BASE, 'Content-Type: application/sdp', 'Require: 100rel', 'Supported: timer, replaces', 'Unsupported: foo', 'User-Agent: Tandem test/1.0', 'Content-Length: 4'], 'v=0\n'));
    expect(getVias(m)[0]).toMatchObject({ transport: 'UDP', host: '192.0.2.1', port: 5060, branch: 'z9hG4bK776asdhds', rport: null });
    expect(getTo(m)?.displayName).toBe('Bob');
    expect(getFrom(m)).toMatchObject({ displayName: 'Alice', tag: '1928301774', angle: true });
    expect(getCallId(m)).toBe('a84b4c76e66710@pc33.example.com');
    expect(getCSeq(m)).toEqual({ seq: 314159, method: 'INVITE' });
    expect(getContentType(m)).toEqual({ type: 'application', subtype: 'sdp', params: [] });
    expect(getContentLength(m)).toBe(4);
    expect(getRequire(m)).toEqual(['100rel']);
    expect(getSupported(m)).toEqual(['timer', 'replaces']);
    expect(getUnsupported(m)).toEqual(['foo']);
    expect(getUserAgent(m)).toBe('Tandem test/1.0');
    expect(m.body.toString()).toBe('v=0\n');
  });

  it('maps compact forms to full names', () => {
    const m = ok(msg([
      'OPTIONS sip:bob@example.com SIP/2.0', 'v: SIP/2.0/TCP h.example.com;branch=z9hG4bKa', 't: <sip:bob@example.com>',
      'f: <sip:a@example.com>;tag=1', 'i: cid@h', 'CSeq: 1 OPTIONS', 'm: <sip:a@h.example.com>', 'k: path', 'c: text/plain', 'l: 2', 's: hi', 'e: gzip',
    ], 'ab'));
    expect(getVias(m)[0].host).toBe('h.example.com');
    expect(getTo(m)?.uriText).toBe('sip:bob@example.com');
    expect(getCallId(m)).toBe('cid@h');
    expect(getSupported(m)).toEqual(['path']);
    expect(getContentType(m)?.subtype).toBe('plain');
    expect(headerValues(m, 'Subject')).toEqual(['hi']);
    expect(headerValues(m, 'content-encoding')).toEqual(['gzip']);
    expect(m.headers[0].name).toBe('v'); // original names kept
  });

  it('unfolds continuation lines (RFC 3261 §7.3.1)', () => {
    const m = ok(msg([...replace('Subject', null), 'Subject: I know you\'re there,', '        pick up the phone', '\tand talk to me!']));
    expect(headerValues(m, 'subject')).toEqual(["I know you're there, pick up the phone and talk to me!"]);
  });

  it('splits list headers on commas, but not inside quotes or angle brackets', () => {
    const m = ok(msg([...replace('Contact', 'Contact: "Doe, John" <sip:j,k@example.com>;q=0.5, <sip:k@example.com>'), 'Record-Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>']));
    const c = getContacts(m);
    expect(c !== '*' && c.map((x) => x.displayName ?? '')).toEqual(['Doe, John', '']);
    expect(c !== '*' && c[0].uriText).toBe('sip:j,k@example.com');
    expect(getRecordRoutes(m).map((r) => r.uriText)).toEqual(['sip:p1.example.com;lr', 'sip:p2.example.com;lr']);
    // Call-ID is not a list: its commas and quotes are data
    expect(getFrom(ok(msg(replace('From', 'From: "a \\"quoted\\", name" <sip:a@example.com>;tag=9'))))?.displayName).toBe('a "quoted", name');
  });

  it('reads the Contact wildcard', () => {
    const m = ok(msg(['REGISTER sip:example.com SIP/2.0', ...BASE.slice(1, 6), 'CSeq: 2 REGISTER', 'Contact: *', 'Expires: 0']));
    expect(getContacts(m)).toBe('*');
  });

  it('reads IPv6 in Via sent-by, received, and in URIs', () => {
    const m = ok(msg([
      'INVITE sip:bob@[2001:db8::10]:5070;transport=tcp SIP/2.0',
      'Via: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKv6;received=2001:db8::99;rport=5061',
      ...BASE.slice(2, 6), 'CSeq: 1 INVITE', 'Contact: <sip:alice@[2001:db8::1]>',
    ]));
    expect(getVias(m)[0]).toMatchObject({ host: '[2001:db8::1]', port: 5060, received: '2001:db8::99', rport: 5061 });
    const c = getContacts(m);
    expect(c !== '*' && (c[0].uri as SipUri).host).toBe('[2001:db8::1]');
    expect(fault(msg(['INVITE sip:bob@[2001:db8::zz] SIP/2.0', ...BASE.slice(1)])).reason).toMatch(/invalid Request-URI/);
    expect(fault(msg(replace('Via', 'Via: SIP/2.0/UDP [2001:db8::1;branch=z9hG4bKx'))).reason).toBe('malformed Via sent-by');
  });

  it('skips leading CRLFs and counts them in consumed', () => {
    const buf = Buffer.concat([Buffer.from('\r\n\r\n'), msg(BASE)]);
    const r = parseSipMessage(buf);
    expect(r.ok && r.consumed).toBe(buf.length);
    expect(fault(Buffer.from('\r\n\r\n')).reason).toBe('empty message');
  });

  it('enforces the size limit (default 64 KiB) with 513', () => {
    const big = msg(BASE, 'x'.repeat(DEFAULT_MAX_BYTES));
    expect(fault(big)).toMatchObject({ reason: 'message too large', status: 513 });
    expect(fault(msg(BASE), { maxBytes: 100 }).status).toBe(513);
  });

  it('on a datagram truncates a long body to Content-Length and rejects a short one (§18.3)', () => {
    const m = ok(msg([...BASE, 'Content-Length: 3'], 'abcdef'));
    expect(m.body.toString()).toBe('abc');
    expect(fault(msg([...BASE, 'Content-Length: 10'], 'abc')).reason).toBe('body shorter than Content-Length');
    // without Content-Length the body runs to the end of the datagram
    expect(ok(msg(BASE, 'abc')).body.toString()).toBe('abc');
  });

  it('names the fault, one malformed sample per kind', () => {
    const cases: Array<[Buffer, string]> = [
      [Buffer.from('garbage'), 'missing empty line after headers'],
      [msg(['INVITE', ...BASE.slice(1)]), 'malformed request line'],
      [msg(['IN<VITE sip:a@b.example SIP/2.0', ...BASE.slice(1)]), 'malformed request line'],
      [msg(['SIP/2.0 20 OK', ...BASE.slice(1)]), 'invalid status code'],
      [msg(['SIP/3.0 200 OK', ...BASE.slice(1)]), 'SIP version not supported'],
      [msg(['INVITE sip:bob@exa_mple.com SIP/2.0', ...BASE.slice(1)]), 'invalid Request-URI (invalid host in URI)'],
      [msg([...BASE, 'Bad Header: x']), 'malformed header line'],
      [msg([...BASE, 'NoColon']), 'malformed header line'],
      [Buffer.from(`${BASE[0]}\r\n x: continued\r\n${BASE.slice(1).join('\r\n')}\r\n\r\n`), 'continuation line before first header'],
      [Buffer.from(`${BASE.join('\r\n')}\r\nX: a\rb\r\n\r\n`), 'bare CR or LF in header'],
      [Buffer.concat([msg(BASE).subarray(0, 40), Buffer.from([0xff, 0xfe]), msg(BASE).subarray(40)]), 'invalid UTF-8 in headers'],
      [msg(replace('Via', null)), 'missing Via'],
      [msg(replace('To', null)), 'missing To'],
      [msg(replace('Call-ID', null)), 'missing Call-ID'],
      [msg(replace('CSeq', null)), 'missing CSeq'],
      [msg(replace('CSeq', 'CSeq: 1 BYE')), 'CSeq method does not match request method'],
      [msg(replace('CSeq', 'CSeq: x INVITE')), 'malformed CSeq'],
      [msg(replace('Max-Forwards', 'Max-Forwards: 256')), 'Max-Forwards too large'],
      [msg(replace('Max-Forwards', 'Max-Forwards: many')), 'malformed Max-Forwards'],
      [msg([...BASE, 'Content-Length: 1e3']), 'invalid Content-Length'],
      [msg([...BASE, 'Content-Type: sdp']), 'malformed Content-Type'],
      [msg(replace('Via', 'Via: SIP/2.0/UDP')), 'malformed Via sent-protocol'],
      [msg(replace('Via', 'Via: SIP/2.0/UDP host.example.com;branch')), 'Via branch without value'],
      [msg(replace('Via', 'Via: SIP/2.0/UDP host.example.com:99999')), 'malformed Via port'],
      [msg(replace('Via', 'Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKa,')), 'empty Via value'],
      [msg(replace('To', 'To: <sip:bob@example.com')), 'unterminated angle bracket in To'],
      [msg(replace('From', 'From: <sip:a@example.com>;tag')), 'tag without value in From'],
      [msg(replace('Call-ID', 'Call-ID: a b')), 'malformed Call-ID'],
      [msg([...BASE, 'Require: a b']), 'malformed Require'],
      [msg(replace('Contact', 'Contact: <sip:a@h.example.com>;q=')), 'empty parameter value in Contact'],
      [msg(replace('To', 'To: sip:bob@example.com@x')), 'invalid host in URI in To'],
    ];
    for (const [buf, reason] of cases) expect(fault(buf).reason, reason).toBe(reason);
  });

  it('carries the headers a 400 needs, or nothing when none can be formed', () => {
    const e = fault(msg(replace('Max-Forwards', 'Max-Forwards: 999')));
    expect(e).toBeInstanceOf(SipParseError);
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.response).toMatchObject({ method: 'INVITE', callId: 'a84b4c76e66710@pc33.example.com', cseq: '314159 INVITE' });
    expect(e.response?.via).toHaveLength(1);
    expect(fault(msg(['SIP/2.0 200 OK', ...BASE.slice(1, 6), 'CSeq: x INVITE'])).response).toBeUndefined();
  });

  it('never throws on random or truncated input', () => {
    const whole = msg([...BASE, 'Content-Length: 5'], 'hello');
    for (let i = 0; i <= whole.length; i++) {
      expect(() => parseSipMessage(whole.subarray(0, i))).not.toThrow();
      expect(() => parseSipStream(whole.subarray(0, i))).not.toThrow();
    }
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 300; n++) {
      const b = Buffer.from(whole);
      for (let k = 0; k < 5; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      expect(() => parseSipMessage(b)).not.toThrow();
      expect(() => parseSipStream(b)).not.toThrow();
    }
  });
});

describe('stream framing', () => {
  const one = msg([...BASE, 'Content-Length: 5'], 'hello');
  const two = msg(['OPTIONS sip:bob@example.com SIP/2.0', ...BASE.slice(1, 6), 'CSeq: 2 OPTIONS', 'l: 0']);

  it('returns two whole messages and keeps a partial third', () => {
    const third = msg([...BASE, 'Content-Length: 5'], 'world');
    const buf = Buffer.concat([one, Buffer.from('\r\n\r\n'), two, third.subarray(0, third.length - 3)]);
    const r = parseSipStream(buf);
    expect(r.fatal).toBeUndefined();
    expect(r.results.map((x) => x.ok && x.message.kind === 'request' && x.message.method)).toEqual(['INVITE', 'OPTIONS']);
    expect(r.results[0].ok && r.results[0].message.body.toString()).toBe('hello');
    expect(r.rest.equals(third.subarray(0, third.length - 3))).toBe(true);
    const done = parseSipStream(Buffer.concat([r.rest, third.subarray(third.length - 3)]));
    expect(done.results).toHaveLength(1);
    expect(done.results[0].ok && done.results[0].message.body.toString()).toBe('world');
    expect(done.rest.length).toBe(0);
  });

  it('treats keep-alive CRLFs as nothing', () => {
    expect(parseSipStream(Buffer.from('\r\n\r\n'))).toEqual({ results: [], rest: Buffer.alloc(0) });
  });

  it('waits for a body shorter than Content-Length (RFC 4475 clerr on a stream)', () => {
    const r = parseSipStream(msg([...BASE, 'Content-Length: 9999'], 'v=0'));
    expect(r.results).toHaveLength(0);
    expect(r.fatal).toBeUndefined();
    expect(r.rest.length).toBeGreaterThan(0);
  });

  it('is fatal without a usable Content-Length or past the size limit', () => {
    expect(parseSipStream(msg(BASE)).fatal?.reason).toBe('missing Content-Length on stream transport');
    expect(parseSipStream(msg([...BASE, 'Content-Length: -1'])).fatal?.reason).toBe('invalid Content-Length');
    expect(parseSipStream(Buffer.from('INVITE '.repeat(20000))).fatal?.reason).toBe('message too large');
    expect(parseSipStream(msg([...BASE, 'Content-Length: 100000'])).fatal?.status).toBe(513);
  });

  it('reports a malformed but framed message and goes on', () => {
    const bad = msg([...replace('CSeq', 'CSeq: 1 BYE'), 'Content-Length: 0']);
    const r = parseSipStream(Buffer.concat([bad, two]));
    expect(r.fatal).toBeUndefined();
    expect(r.results.map((x) => (x.ok ? 'ok' : x.error.reason))).toEqual(['CSeq method does not match request method', 'ok']);
  });
});

describe('serializer', () => {
  it('recomputes Content-Length from the body and keeps header names and order', () => {
    const m = ok(msg([...BASE, 'l: 99', 'X-Custom: yes'], 'abc'.padEnd(99, '.')));
    m.body = Buffer.from('four');
    const text = serializeSipMessage(m).toString();
    expect(text).toContain('\r\nl: 4\r\nX-Custom: yes\r\n\r\nfour');
    expect(text.startsWith('INVITE sip:bob@example.com SIP/2.0\r\nVia: ')).toBe(true);
  });

  it('adds Content-Length when missing and writes responses', () => {
    const m = ok(msg(['SIP/2.0 180 Ringing', ...BASE.slice(1, 7)]));
    expect(serializeSipMessage(m).toString()).toMatch(/^SIP\/2\.0 180 Ringing\r\n[\s\S]*\r\nContent-Length: 0\r\n\r\n$/);
  });

  it('header edits survive a round trip', () => {
    const m = ok(msg(BASE));
    prependHeader(m, 'Via', 'SIP/2.0/TCP tandem.example.com;branch=z9hG4bKnew');
    setHeader(m, 'Max-Forwards', '69');
    const again = ok(serializeSipMessage(m));
    expect(getVias(again).map((v) => v.branch)).toEqual(['z9hG4bKnew', 'z9hG4bK776asdhds']);
    expect(headerValues(again, 'max-forwards')).toEqual(['69']);
  });

  it('accessors on a hand-built message throw a SipParseError naming the header', () => {
    const m = ok(msg(BASE));
    setHeader(m, 'CSeq', 'nonsense');
    expect(() => getCSeq(m)).toThrow(SipParseError);
  });
});
