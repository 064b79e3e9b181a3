import { describe, it, expect } from 'vitest';
import { decodeDialogs } from '../../../src/b2bua/dialog-state.js';
import { getCallId } from '../../../src/sip/message.js';

const leg = (callId: string): unknown => ({
  dialog: { callId, localTag: 'l', remoteTag: 'r', localParty: '<sip:a@x>', remoteParty: '<sip:b@y>', localSeq: 5, remoteSeq: 2, remoteTarget: 'sip:b@127.0.0.1:5070', routeSet: [] },
  protocol: 'udp',
  destination: { protocol: 'udp', address: '127.0.0.1', port: 5070 },
  contact: '<sip:tandem@127.0.0.1:5060>',
});

const INVITE = 'INVITE sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=r\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n';

function good(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    v: 1, invite: INVITE, source: { protocol: 'udp', address: '127.0.0.1', port: 5070 }, local: { protocol: 'udp', address: '127.0.0.1', port: 5060 },
    routeName: 'r', policy: { a: { transcode: true, strip: [], keep: [] }, b: { transcode: true, strip: [], keep: [] } }, callerCodecs: ['PCMU'], copyHeaders: [],
    aLocalTag: 'ta', bCallId: 'cb', bLocalTag: 'tb', a: leg('c1'), b: leg('cb'), ...over,
  });
}

describe('stored B2BUA dialogs (--redis)', () => {
  it('decodes a confirmed call: the caller INVITE parsed again, both legs and the identifiers', () => {
    const { setup, restored } = decodeDialogs(good());
    expect(getCallId(setup.invite)).toBe('c1');
    expect(setup.targets).toEqual([]);
    expect(restored).toMatchObject({ aLocalTag: 'ta', bCallId: 'cb', bLocalTag: 'tb' });
    expect(restored.b.dialog?.localSeq).toBe(5);
  });

  it('refuses what is not a stored call, saying why', () => {
    for (const [text, why] of [
      ['{', /not JSON/],
      ['7', /not a version 1 snapshot/],
      [good({ v: 3 }), /not a version 1 snapshot/],
      [good({ bCallId: 5 }), /no bCallId/],
      [good({ source: { address: '127.0.0.1' } }), /no source or listener/],
      [good({ a: { ...(leg('c1') as object), dialog: { callId: 'c1' } } }), /a leg without its dialog/],
      [good({ b: null }), /a leg without its dialog/],
      [good({ policy: null }), /no policy/],
      [good({ invite: 'HELLO' }), /the INVITE does not parse/],
      [good({ invite: 'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n' }), /the INVITE does not parse/],
    ] as const) expect(() => decodeDialogs(text), text.slice(0, 60)).toThrow(why);
  });
});
