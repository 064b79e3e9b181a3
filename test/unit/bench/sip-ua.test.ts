import { describe, it, expect } from 'vitest';
import { parseSipMessage } from '../../../src/sip/parse.js';
import { serializeSipMessage } from '../../../src/sip/serialize.js';
import type { SipResponse } from '../../../src/sip/message.js';
import { inDialogRequest, nextHop, uacDialog } from '../../../bench/lib/sip-ua.js';

function response(lines: string[]): SipResponse {
  const r = parseSipMessage(Buffer.from([...lines, 'Content-Length: 0', '', ''].join('\r\n')));
  if (!r.ok || r.message.kind !== 'response') throw new Error('bad test message');
  return r.message;
}

const proxy = { address: '127.0.0.1', port: 15061 };
const base = { callId: 'c1@bench', fromTag: 'ft', from: '<sip:bench@127.0.0.1:40000>', to: '<sip:bench-1@127.0.0.1:15061>', uri: 'sip:bench-1@127.0.0.1:15061', fallback: proxy };

describe('bench SIP caller: dialog and in-dialog requests', () => {
  it('takes the route set from Record-Route in reverse order and sends to the first route (loose routing)', () => {
    const ok = response([
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKa;rport',
      'Record-Route: <sip:127.0.0.1:15099;lr>',
      'Record-Route: <sip:127.0.0.1:15061;lr;ftag=ft>',
      'From: <sip:bench@127.0.0.1:40000>;tag=ft',
      'To: <sip:bench-1@127.0.0.1:15061>;tag=tt',
      'Call-ID: c1@bench',
      'CSeq: 1 INVITE',
      'Contact: <sip:callee@127.0.0.1:15161>',
    ]);
    const d = uacDialog(ok, base);
    expect(d.toTag).toBe('tt');
    expect(d.target).toBe('sip:callee@127.0.0.1:15161');
    expect(d.routes).toEqual(['<sip:127.0.0.1:15061;lr;ftag=ft>', '<sip:127.0.0.1:15099;lr>']);
    expect(d.next).toEqual({ address: '127.0.0.1', port: 15061 });

    const ack = inDialogRequest(d, 'ACK', 1, 'SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKb');
    const text = serializeSipMessage(ack).toString();
    expect(text.startsWith('ACK sip:callee@127.0.0.1:15161 SIP/2.0\r\n')).toBe(true);
    expect(text.indexOf('Route: <sip:127.0.0.1:15061;lr;ftag=ft>')).toBeLessThan(text.indexOf('Route: <sip:127.0.0.1:15099;lr>'));
    expect(text).toContain('CSeq: 1 ACK');
    expect(text).toContain('To: <sip:bench-1@127.0.0.1:15061>;tag=tt');
  });

  it('without Record-Route (a B2BUA) goes straight to the Contact', () => {
    const ok = response([
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKa',
      'From: <sip:bench@127.0.0.1:40000>;tag=ft',
      'To: <sip:bench-1@127.0.0.1:15060>;tag=b2b',
      'Call-ID: c1@bench',
      'CSeq: 1 INVITE',
      'Contact: <sip:127.0.0.1:15060;transport=udp>',
    ]);
    const d = uacDialog(ok, base);
    expect(d.routes).toEqual([]);
    expect(d.next).toEqual({ address: '127.0.0.1', port: 15060 });
    const bye = serializeSipMessage(inDialogRequest(d, 'BYE', 2, 'SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKc')).toString();
    expect(bye).not.toContain('Route:');
    expect(bye).toContain('CSeq: 2 BYE');
  });

  it('next hop: default port 5060, fallback for a name it cannot address', () => {
    expect(nextHop([], 'sip:u@127.0.0.1', proxy)).toEqual({ address: '127.0.0.1', port: 5060 });
    expect(nextHop([], 'sip:u@callee.example', proxy)).toEqual(proxy);
  });
});
