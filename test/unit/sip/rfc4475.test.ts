import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseSipMessage } from '../../../src/sip/parse.js';
import { serializeSipMessage } from '../../../src/sip/serialize.js';
import { getVias, getFrom, getTo, getContacts, getCSeq, getCallId, getMaxForwards, getRoutes, headerValues, type SipMessage } from '../../../src/sip/message.js';
import { parseUri, type SipUri } from '../../../src/sip/uri.js';

/** RFC 4475 messages, transcribed by hand from the RFC text (CRLF line ends, <hex>/<allOneLine> decoded). */
const DIR = join(__dirname, '../../fixtures/sip/rfc4475');
const load = (name: string): Buffer => readFileSync(join(DIR, `${name}.sip`));

/** §3.1.1 valid messages (mpart01 is left out: its binary body is given only in hex and was not transcribed). */
const VALID = ['wsinv', 'intmeth', 'esc01', 'escnull', 'esc02', 'lwsdisp', 'longreq', 'dblreq', 'semiuri', 'transports', 'unreason', 'noreason'];

/**
 * §3.2–§3.4 messages that are syntactically valid: RFC 4475 has the transaction layer or the
 * application refuse them (416 for unknown schemes, 420 for bext01, 415 for invut, ...), not the parser.
 */
const PARSER_VALID = ['badbranch', 'bcast', 'unkscm', 'novelsc', 'unksm2', 'bext01', 'invut', 'regaut01', 'cparam01', 'cparam02', 'regescrt', 'sdp01', 'inv2543'];

/** §3.1.2 invalid messages (all 19) plus §3.3.1/§3.3.8/§3.3.9, with the reason the parser gives and the status it suggests. */
const INVALID: Record<string, [reason: string, status: number, canRespond: boolean]> = {
  badinv01: ['empty parameter in Via', 400, true], // §3.1.2.1
  clerr: ['body shorter than Content-Length', 400, true], // §3.1.2.2 (datagram; on a stream it waits for more)
  ncl: ['invalid Content-Length', 400, true], // §3.1.2.3
  scalar02: ['CSeq number too large', 400, false], // §3.1.2.4: CSeq unusable, so no 400 can carry it
  scalarlg: ['CSeq number too large', 400, false], // §3.1.2.5: a response, dropped
  quotbal: ['unterminated quoted string in To', 400, true], // §3.1.2.6
  ltgtruri: ['Request-URI in angle brackets', 400, true], // §3.1.2.7
  lwsruri: ['whitespace in Request-URI', 400, true], // §3.1.2.8
  lwsstart: ['multiple spaces in request line', 400, true], // §3.1.2.9
  trws: ['trailing whitespace in request line', 400, true], // §3.1.2.10
  escruri: ['Request-URI must not contain headers', 400, true], // §3.1.2.11
  baddate: ['malformed Date', 400, true], // §3.1.2.12 (the RFC allows ignoring Date instead; we are strict)
  regbadct: ['URI with "?" must be in angle brackets in Contact', 400, true], // §3.1.2.13
  badaspec: ['whitespace inside angle brackets in To', 400, true], // §3.1.2.14
  baddn: ['invalid display name in From', 400, true], // §3.1.2.15
  badvers: ['SIP version not supported', 505, true], // §3.1.2.16: 505
  mismatch01: ['CSeq method does not match request method', 400, true], // §3.1.2.17
  // §3.1.2.18: the RFC wants 501 for the unknown method; the error carries the method so the
  // layer that knows its methods answers 501 before the 400 (see test below).
  mismatch02: ['CSeq method does not match request method', 400, true],
  bigcode: ['invalid status code', 400, false], // §3.1.2.19: a response, dropped
  insuf: ['missing From', 400, false], // §3.3.1: no From/To/Call-ID, so no 400 can be formed
  multi01: ['multiple CSeq headers', 400, true], // §3.3.8
  mcl01: ['multiple Content-Length headers', 400, true], // §3.3.9
};

function parseOk(buf: Buffer): SipMessage {
  const r = parseSipMessage(buf);
  if (!r.ok) throw new Error(`parse failed: ${r.error.reason}`);
  return r.message;
}

/** parse → serialize → parse keeps the model (a missing Content-Length is added once), and bytes are then stable. */
function roundTrip(msg: SipMessage): void {
  const first = serializeSipMessage(msg);
  const again = parseOk(first);
  expect({ ...again, headers: again.headers.slice(0, msg.headers.length) }).toEqual(msg);
  expect(serializeSipMessage(again).equals(first)).toBe(true);
}

describe('RFC 4475 corpus', () => {
  it('every fixture on disk is classified here', () => {
    const files = readdirSync(DIR).map((f) => f.replace(/\.sip$/, '')).sort();
    expect(files).toEqual([...VALID, ...PARSER_VALID, ...Object.keys(INVALID)].sort());
  });

  for (const name of [...VALID, ...PARSER_VALID]) {
    it(`${name} parses, every typed header reads, and it round-trips`, () => {
      const msg = parseOk(load(name));
      expect(getVias(msg).length).toBeGreaterThan(0);
      getFrom(msg);
      getTo(msg);
      getCSeq(msg);
      getContacts(msg);
      getRoutes(msg);
      roundTrip(msg);
    });
  }

  for (const [name, [reason, status, canRespond]] of Object.entries(INVALID)) {
    it(`${name} is rejected: ${reason}`, () => {
      const r = parseSipMessage(load(name));
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.reason).toBe(reason);
      expect(r.error.status).toBe(status);
      expect(r.error.response !== undefined).toBe(canRespond);
    });
  }
});

describe('RFC 4475 details', () => {
  it('wsinv: folding, odd case, compact forms, escaped quotes, leading zeros', () => {
    const msg = parseOk(load('wsinv'));
    expect(msg.kind === 'request' && msg.method).toBe('INVITE');
    expect(getMaxForwards(msg)).toBe(68);
    expect(getCSeq(msg)).toEqual({ seq: 9, method: 'INVITE' });
    expect(getCallId(msg)).toBe('wsinv.ndaksdj@192.0.2.1');
    expect(getTo(msg)?.tag).toBe('1918181833n');
    expect(getFrom(msg)?.displayName).toBe('J Rosenberg \\"');
    expect(getFrom(msg)?.tag).toBe('98asjd8');
    const vias = getVias(msg);
    expect(vias.map((v) => `${v.transport} ${v.host} ${v.branch}`)).toEqual([
      'UDP 192.0.2.2 390skdjuw',
      'TCP spindle.example.com z9hG4bK9ikj8',
      'UDP 192.168.255.111 z9hG4bK30239',
    ]);
    const contacts = getContacts(msg);
    expect(contacts !== '*' && contacts[0].displayName).toBe('Quoted string ""');
    expect(contacts !== '*' && contacts[0].params.map((p) => `${p.name}=${p.value}`)).toEqual(['newparam=newvalue', 'secondparam=null', 'q=0.33']);
    expect(headerValues(msg, 'NewFangledHeader')).toEqual(['newfangled value continued newfangled value']);
    expect(headerValues(msg, 'Subject')).toEqual(['']);
    expect(msg.body.length).toBe(150);
  });

  it('intmeth: every token character in method, URI user/password, params; NUL in a quoted string', () => {
    const msg = parseOk(load('intmeth'));
    expect(msg.kind === 'request' && msg.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    const uri = parseUri(msg.kind === 'request' ? msg.uri : '');
    expect(uri.ok && (uri.uri as SipUri).user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(uri.ok && (uri.uri as SipUri).password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(getTo(msg)?.displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f');
    expect(getFrom(msg)?.params[0].value).toBe('работающий');
    expect(getCallId(msg)).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
  });

  it('esc01 / escnull / semiuri: escapes decode to octets', () => {
    const ruri = (m: SipMessage): SipUri => {
      const r = parseUri(m.kind === 'request' ? m.uri : '');
      if (!r.ok || r.uri.type !== 'sip') throw new Error('not a sip uri');
      return r.uri;
    };
    expect(ruri(parseOk(load('esc01'))).user).toBe('sips:user@example.com');
    const esc = getContacts(parseOk(load('esc01')));
    const c = esc !== '*' ? (esc[0].uri as SipUri) : undefined;
    expect(c?.user).toBe('caller');
    expect(c?.params).toEqual([{ name: 'lr', value: null }, { name: 'name', value: 'value%41' }]);
    const nul = getContacts(parseOk(load('escnull')));
    expect(nul !== '*' && nul.map((x) => (x.uri as SipUri).user)).toEqual(['\x00', '\x00\x00']);
    expect(ruri(parseOk(load('semiuri'))).user).toBe('user;par=u@example.net');
  });

  it('esc02: % in a method is a token char, not an escape; C%6Fntact is not Contact', () => {
    const msg = parseOk(load('esc02'));
    expect(msg.kind === 'request' && msg.method).toBe('RE%47IST%45R');
    const contacts = getContacts(msg);
    expect(contacts !== '*' && contacts.length).toBe(2);
  });

  it('lwsdisp: a display name without LWS before "<" is accepted (§3.1.1.6)', () => {
    expect(getFrom(parseOk(load('lwsdisp')))?.displayName).toBe('caller');
  });

  it('longreq: 34 Via in every case and compact spelling', () => {
    const msg = parseOk(load('longreq'));
    expect(getVias(msg)).toHaveLength(34);
    expect(getVias(msg)[33].received).toBe('192.0.2.5');
  });

  it('dblreq: octets after Content-Length in a datagram are discarded (§18.3)', () => {
    const buf = load('dblreq');
    const r = parseSipMessage(buf);
    expect(r.ok && r.message.kind === 'request' && r.message.method).toBe('REGISTER');
    expect(r.ok && r.message.body.length).toBe(0);
    expect(r.ok && r.consumed).toBe(buf.indexOf('INVITE'));
  });

  it('transports, unreason, noreason', () => {
    expect(getVias(parseOk(load('transports'))).map((v) => v.transport)).toEqual(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
    const un = parseOk(load('unreason'));
    expect(un.kind === 'response' && un.reason).toBe('= 2**3 * 5**2 но сто девяносто девять - простое');
    const no = parseOk(load('noreason'));
    expect(no.kind === 'response' && [no.status, no.reason]).toEqual([100, '']);
  });

  it('mismatch02: the error keeps the method, so the application can prefer 501 for NEWMETHOD', () => {
    const r = parseSipMessage(load('mismatch02'));
    expect(!r.ok && r.error.response?.method).toBe('NEWMETHOD');
  });

  it('badinv01 and friends carry what a 400 needs', () => {
    const r = parseSipMessage(load('mismatch01'));
    expect(!r.ok && r.error.response).toEqual({
      method: 'OPTIONS',
      uri: 'sip:user@example.com',
      via: ['SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw'],
      from: 'sip:caller@example.net;tag=34525',
      to: 'sip:j.user@example.com',
      callId: 'mismatch01.dj0234sxdfl3',
      cseq: '8 INVITE',
    });
  });

  it('badbranch parses; the bare magic cookie is left to the transaction layer (§3.2.1)', () => {
    expect(getVias(parseOk(load('badbranch')))[0].branch).toBe('z9hG4bK');
  });
});
