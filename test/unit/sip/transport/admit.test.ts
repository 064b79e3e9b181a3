import { describe, it, expect } from 'vitest';
import { datagramKind, messageKind } from '../../../../src/sip/transport/admit.js';
import { parseSipMessage } from '../../../../src/sip/parse.js';

const msg = (start: string, method = 'INVITE'): string =>
  `${start}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 ${method}\r\nContent-Length: 0\r\n\r\n`;

describe('admit: what a packet is, before parsing', () => {
  it('a request that starts work counts; a response, an ACK or a keepalive does not', () => {
    expect(datagramKind(Buffer.from(msg('INVITE sip:b@x SIP/2.0')))).toBe('request');
    expect(datagramKind(Buffer.from(msg('OPTIONS sip:b@x SIP/2.0', 'OPTIONS')))).toBe('request');
    expect(datagramKind(Buffer.from(msg('SIP/2.0 200 OK')))).toBe('other');
    expect(datagramKind(Buffer.from(msg('ACK sip:b@x SIP/2.0', 'ACK')))).toBe('other');
    expect(datagramKind(Buffer.from('\r\n\r\n'))).toBe('other');
    // garbage still counts: a flood of junk must not be free
    expect(datagramKind(Buffer.from('\x00\x01\x02\x03garbage!'))).toBe('request');
  });

  it('the same for a framed stream message', () => {
    expect(messageKind(parseSipMessage(Buffer.from(msg('INVITE sip:b@x SIP/2.0'))))).toBe('request');
    expect(messageKind(parseSipMessage(Buffer.from(msg('ACK sip:b@x SIP/2.0', 'ACK'))))).toBe('other');
    expect(messageKind(parseSipMessage(Buffer.from(msg('SIP/2.0 180 Ringing'))))).toBe('other');
    expect(messageKind({ ok: false })).toBe('other');
  });
});
