import { describe, it, expect } from 'vitest';
import { checkRequest, HANDLED_METHODS, KNOWN_METHODS, type SanityOptions } from '../../../src/b2bua/sanity.js';
import { parseSipMessage } from '../../../src/sip/parse.js';
import { canonicalHeaderName } from '../../../src/sip/headers.js';
import type { SipRequest } from '../../../src/sip/message.js';

const opts: SanityOptions = {
  uaDeny: ['friendly-scanner', 'sipvicious', 'sipcli'],
  supportedExtensions: ['replaces', 'Timer'],
  isOwnVia: (v) => v.host === '192.0.2.53' && (v.port ?? 5060) === 5060,
};

interface Spec {
  method?: string;
  maxForwards?: string | null;
  extra?: string[];
  body?: string;
}

/** A request parsed from text, as the transport would hand it up. */
function req(spec: Spec = {}): SipRequest {
  const method = spec.method ?? 'INVITE';
  const body = spec.body ?? '';
  const lines = [
    `${method} sip:bob@192.0.2.53 SIP/2.0`,
    'Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-sanity',
    ...(spec.maxForwards === null ? [] : [`Max-Forwards: ${spec.maxForwards ?? '70'}`]),
    'From: "Alice" <sip:alice@198.51.100.7>;tag=a1',
    'To: <sip:bob@192.0.2.53>',
    'Call-ID: sanity-test-1',
    `CSeq: 1 ${method}`,
    ...(spec.extra ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  const r = parseSipMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`));
  if (!r.ok) throw new Error(r.error.message);
  if (r.message.kind !== 'request') throw new Error('not a request');
  return r.message;
}

/** The parser refuses most of what these checks guard against (relayed or hand-built requests), so those faults are made after parsing. */
function without(r: SipRequest, name: string): SipRequest {
  return { ...r, headers: r.headers.filter((h) => canonicalHeaderName(h.name) !== canonicalHeaderName(name)) };
}
function replaced(r: SipRequest, name: string, value: string): SipRequest {
  return { ...r, headers: r.headers.map((h) => (canonicalHeaderName(h.name) === canonicalHeaderName(name) ? { name: h.name, value } : h)) };
}

/** Outside a dialog (these requests have no To tag) Tandem takes only these (src/b2bua/methods.ts). */
const ALLOW = { name: 'Allow', value: 'INVITE, ACK, CANCEL, OPTIONS' };
const ALLOW_IN_DIALOG = { name: 'Allow', value: 'INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, MESSAGE, NOTIFY' };

describe('one verdict each', () => {
  it('accept: a plain INVITE, with or without Max-Forwards, with a body whose length agrees', () => {
    expect(checkRequest(req(), opts)).toEqual({ action: 'accept' });
    expect(checkRequest(req({ maxForwards: null }), opts)).toEqual({ action: 'accept' });
    expect(checkRequest(req({ body: 'v=0\r\n', extra: ['Content-Type: application/sdp'] }), opts)).toEqual({ action: 'accept' });
    for (const m of HANDLED_METHODS) expect(checkRequest(req({ method: m }), opts)).toEqual({ action: 'accept' });
  });

  it('drop: a denied User-Agent, case-insensitive substring, no answer', () => {
    expect(checkRequest(req({ extra: ['User-Agent: friendly-scanner'] }), opts)).toEqual({ action: 'drop', reason: 'User-Agent matches "friendly-scanner"' });
    expect(checkRequest(req({ extra: ['User-Agent: SIPVicious 0.3.4'] }), opts)).toMatchObject({ action: 'drop' });
    expect(checkRequest(req({ extra: ['User-Agent: pplsip SIPCLI/v1.8'] }), opts)).toMatchObject({ action: 'drop' });
    expect(checkRequest(req({ extra: ['User-Agent: Linphone/5.2'] }), opts)).toEqual({ action: 'accept' });
    expect(checkRequest(req({ extra: ['User-Agent: friendly-scanner'] }), { ...opts, uaDeny: [] })).toEqual({ action: 'accept' });
  });

  it('483: Max-Forwards 0; OPTIONS, CANCEL and ACK are exempt', () => {
    expect(checkRequest(req({ maxForwards: '0' }), opts)).toEqual({ action: 'reject', status: 483, reason: 'Too Many Hops', headers: [] });
    expect(checkRequest(req({ method: 'BYE', maxForwards: '0' }), opts)).toMatchObject({ status: 483 });
    expect(checkRequest(req({ maxForwards: '1' }), opts)).toEqual({ action: 'accept' });
    for (const m of ['OPTIONS', 'CANCEL', 'ACK']) expect(checkRequest(req({ method: m, maxForwards: '0' }), opts)).toEqual({ action: 'accept' });
  });

  it('400: a missing mandatory header is named', () => {
    for (const h of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
      expect(checkRequest(without(req(), h), opts)).toEqual({ action: 'reject', status: 400, reason: `Missing ${h}`, headers: [] });
    }
    expect(checkRequest(without(without(req(), 'To'), 'Call-ID'), opts)).toMatchObject({ status: 400, reason: 'Missing To, Call-ID' });
  });

  it('400: CSeq method differs from the request method', () => {
    expect(checkRequest(replaced(req({ method: 'BYE' }), 'CSeq', '1 INVITE'), opts)).toMatchObject({ status: 400, reason: 'CSeq Method Does Not Match' });
  });

  it('400: a malformed or repeated header (hand-built) is named, not thrown', () => {
    expect(checkRequest(replaced(req(), 'CSeq', 'one INVITE'), opts)).toMatchObject({ status: 400, reason: 'malformed CSeq' });
    expect(checkRequest(replaced(req(), 'Max-Forwards', 'lots'), opts)).toMatchObject({ status: 400, reason: 'malformed Max-Forwards' });
    const twoFroms = req();
    twoFroms.headers.push({ name: 'From', value: '<sip:eve@198.51.100.9>;tag=e' });
    expect(checkRequest(twoFroms, opts)).toMatchObject({ status: 400, reason: 'multiple From headers' });
  });

  it('400: Content-Length disagreeing with the body', () => {
    const r = req({ body: 'v=0\r\n', extra: ['Content-Type: application/sdp'] });
    expect(checkRequest({ ...r, body: Buffer.from('v=0\r\nextra') }, opts)).toMatchObject({ status: 400, reason: 'Invalid Content-Length' });
    expect(checkRequest(without({ ...r, body: Buffer.from('v=0\r\nextra') }, 'Content-Length'), opts)).toEqual({ action: 'accept' });
  });

  it('420: unsupported Require tags listed in Unsupported; supported ones (any case) pass; not for ACK and CANCEL', () => {
    expect(checkRequest(req({ extra: ['Require: 100rel, replaces', 'Require: foo'] }), opts)).toEqual({
      action: 'reject', status: 420, reason: 'Bad Extension', headers: [{ name: 'Unsupported', value: '100rel, foo' }],
    });
    expect(checkRequest(req({ extra: ['Require: Replaces, timer'] }), opts)).toEqual({ action: 'accept' });
    expect(checkRequest(req({ extra: ['Require: replaces'] }), { ...opts, supportedExtensions: [] })).toMatchObject({ status: 420 });
    for (const m of ['ACK', 'CANCEL']) expect(checkRequest(req({ method: m, extra: ['Require: foo'] }), opts)).toEqual({ action: 'accept' });
    expect(checkRequest(req({ extra: ['Proxy-Require: foo'] }), opts)).toEqual({ action: 'accept' });
  });

  it('501 for an unknown method, 405 for a known one not handled; both with Allow', () => {
    expect(checkRequest(req({ method: 'FROBNICATE' }), opts)).toEqual({ action: 'reject', status: 501, reason: 'Not Implemented', headers: [ALLOW] });
    for (const m of KNOWN_METHODS.filter((k) => !HANDLED_METHODS.includes(k))) {
      expect(checkRequest(req({ method: m }), opts)).toEqual({ action: 'reject', status: 405, reason: 'Method Not Allowed', headers: [ALLOW] });
    }
    expect([...KNOWN_METHODS.filter((k) => !HANDLED_METHODS.includes(k))]).toEqual(['PRACK', 'REFER', 'SUBSCRIBE', 'REGISTER']);
  });

  it('inside a dialog (To tag) the Allow of 405/501 is the in-dialog list', () => {
    const inDialog = (m: string): SipRequest => replaced(req({ method: m }), 'To', '<sip:bob@192.0.2.53>;tag=b1');
    expect(checkRequest(inDialog('REFER'), opts)).toEqual({ action: 'reject', status: 405, reason: 'Method Not Allowed', headers: [ALLOW_IN_DIALOG] });
    expect(checkRequest(inDialog('FROBNICATE'), opts)).toMatchObject({ status: 501, headers: [ALLOW_IN_DIALOG] });
  });

  it('482: one of our own Vias anywhere in the stack', () => {
    expect(checkRequest(req({ extra: ['Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bK-ours'] }), opts)).toEqual({ action: 'reject', status: 482, reason: 'Loop Detected', headers: [] });
    expect(checkRequest(req({ extra: ['Via: SIP/2.0/UDP 192.0.2.53:5070;branch=z9hG4bK-other'] }), opts)).toEqual({ action: 'accept' });
  });

  it('an ACK is never answered: what would be a reject becomes a drop', () => {
    const looped = req({ method: 'ACK', extra: ['Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bK-ours'] });
    expect(checkRequest(looped, opts)).toEqual({ action: 'drop', reason: 'ACK not answerable: 482 Loop Detected' });
    expect(checkRequest(replaced(req({ method: 'ACK' }), 'CSeq', '1 INVITE'), opts)).toMatchObject({ action: 'drop' });
  });
});

describe('order of the checks', () => {
  it('the deny list comes before everything, even a malformed request', () => {
    const r = req({ method: 'FROBNICATE', maxForwards: '0', extra: ['User-Agent: friendly-scanner', 'Require: foo'] });
    expect(checkRequest(without(r, 'From'), opts)).toMatchObject({ action: 'drop' });
  });

  it('Max-Forwards 0 before header faults', () => {
    expect(checkRequest(replaced(req({ method: 'BYE', maxForwards: '0' }), 'CSeq', '1 INVITE'), opts)).toMatchObject({ status: 483 });
    expect(checkRequest(without(req({ maxForwards: '0' }), 'Call-ID'), opts)).toMatchObject({ status: 483 });
  });

  it('header faults before Content-Length, Content-Length before the method', () => {
    const r = req({ method: 'FROBNICATE', body: 'x' });
    expect(checkRequest(without({ ...r, body: Buffer.from('xy') }, 'To'), opts)).toMatchObject({ status: 400, reason: 'Missing To' });
    expect(checkRequest({ ...r, body: Buffer.from('xy') }, opts)).toMatchObject({ status: 400, reason: 'Invalid Content-Length' });
  });

  it('method before Require (RFC 3261 §8.2.1 before §8.2.2.3), Require before the loop check', () => {
    expect(checkRequest(req({ method: 'FROBNICATE', extra: ['Require: foo'] }), opts)).toMatchObject({ status: 501 });
    expect(checkRequest(req({ method: 'REGISTER', extra: ['Require: foo'] }), opts)).toMatchObject({ status: 405 });
    const both = req({ extra: ['Require: foo', 'Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bK-ours'] });
    expect(checkRequest(both, opts)).toMatchObject({ status: 420 });
    expect(checkRequest(req({ method: 'REGISTER', extra: ['Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bK-ours'] }), opts)).toMatchObject({ status: 405 });
  });
});
