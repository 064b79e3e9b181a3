import { describe, it, expect } from 'vitest';
import { checkRequest, type SanityOptions } from '../../../src/b2bua/sanity.js';
import { parseSipMessage } from '../../../src/sip/parse.js';
import type { SipRequest } from '../../../src/sip/message.js';

const opts: SanityOptions = {
  uaDeny: ['friendly-scanner', 'sipvicious'],
  supportedExtensions: ['replaces'],
  isOwnVia: (v) => v.host === '127.0.0.1' && v.port === 5060,
};

function req(lines: { method?: string; cseqMethod?: string; extra?: string[]; mf?: string | null; drop?: string; body?: string; length?: number }): SipRequest {
  const method = lines.method ?? 'INVITE';
  const body = lines.body ?? '';
  const headers = [
    'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1',
    ...(lines.mf === null ? [] : [`Max-Forwards: ${lines.mf ?? '70'}`]),
    'From: <sip:a@127.0.0.1>;tag=1',
    'To: <sip:b@127.0.0.1>',
    'Call-ID: sanity-1',
    `CSeq: 1 ${lines.cseqMethod ?? method}`,
    ...(lines.extra ?? []),
    `Content-Length: ${lines.length ?? Buffer.byteLength(body)}`,
  ].filter((h) => lines.drop === undefined || !h.startsWith(`${lines.drop}:`));
  const r = parseSipMessage(Buffer.from(`${method} sip:b@127.0.0.1 SIP/2.0\r\n${headers.join('\r\n')}\r\n\r\n${body}`));
  if (!r.ok || r.message.kind !== 'request') throw new Error(r.ok ? 'not a request' : r.error.message);
  return r.message;
}

describe('request sanity checks', () => {
  it('accepts a plain INVITE, with or without Max-Forwards', () => {
    expect(checkRequest(req({}), opts)).toEqual({ action: 'accept' });
    expect(checkRequest(req({ mf: null }), opts)).toEqual({ action: 'accept' });
  });

  it('drops a denied User-Agent silently, before anything else', () => {
    expect(checkRequest(req({ mf: '0', extra: ['User-Agent: friendly-scanner'] }), opts)).toMatchObject({ action: 'drop' });
    expect(checkRequest(req({ extra: ['User-Agent: SIPVicious 0.3'] }), opts)).toMatchObject({ action: 'drop' });
  });

  it('Max-Forwards 0 → 483, except OPTIONS (answered by us)', () => {
    expect(checkRequest(req({ mf: '0' }), opts)).toMatchObject({ action: 'reject', status: 483 });
    expect(checkRequest(req({ method: 'OPTIONS', mf: '0' }), opts)).toEqual({ action: 'accept' });
  });

  it('400s name the fault', () => {
    const noFrom: SipRequest = { ...req({}) };
    noFrom.headers = noFrom.headers.filter((h) => h.name !== 'From');
    expect(checkRequest(noFrom, opts)).toMatchObject({ status: 400, reason: 'Missing From' });
    const mismatch = req({});
    mismatch.headers = mismatch.headers.map((h) => (h.name === 'CSeq' ? { name: 'CSeq', value: '1 BYE' } : h));
    expect(checkRequest(mismatch, opts)).toMatchObject({ status: 400, reason: 'CSeq Method Does Not Match' });
    const lying = req({ body: 'v=0\r\n' });
    lying.body = Buffer.from('v=0\r\nextra');
    expect(checkRequest(lying, opts)).toMatchObject({ status: 400, reason: 'Invalid Content-Length' });
  });

  it('unsupported Require → 420 listing them; not for ACK/CANCEL; supported tags pass', () => {
    const v = checkRequest(req({ extra: ['Require: 100rel, replaces, foo'] }), opts);
    expect(v).toMatchObject({ action: 'reject', status: 420, headers: [{ name: 'Unsupported', value: '100rel, foo' }] });
    expect(checkRequest(req({ method: 'CANCEL', extra: ['Require: foo'] }), opts)).toEqual({ action: 'accept' });
    expect(checkRequest(req({ extra: ['Require: replaces'] }), opts)).toEqual({ action: 'accept' });
  });

  it('unknown method → 501, known but unhandled → 405, both with Allow', () => {
    expect(checkRequest(req({ method: 'FOO' }), opts)).toMatchObject({ status: 501, headers: [{ name: 'Allow' }] });
    expect(checkRequest(req({ method: 'REGISTER' }), opts)).toMatchObject({ status: 405, headers: [{ name: 'Allow' }] });
  });

  it('our own Via → 482', () => {
    const looped = req({ extra: ['Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKours'] });
    expect(checkRequest(looped, opts)).toMatchObject({ status: 482 });
  });
});
