import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { RunningTandem } from '../../src/main.js';
import type { TandemConfig } from '../../src/config/config.js';
import { getHeader } from '../../src/sip/message.js';
import { SipPeer, isRequest, sdpOffer } from '../helpers/sip-peer.js';
import { outOfDialog, startB2bua } from '../helpers/b2bua-env.js';

/**
 * Issue 10, defect 4: identity headers cross to leg B only from trusted sources. The attack: a
 * caller that is not trusted asserts a number (P-Asserted-Identity) and asks for privacy.
 */
let tandem: RunningTandem;
let caller: SipPeer;
let callee: SipPeer;

const IDENTITY = [
  'P-Asserted-Identity: <sip:+4930999999@127.0.0.1>',
  'P-Preferred-Identity: <sip:+4930999998@127.0.0.1>',
  'Remote-Party-ID: <sip:+4930999997@127.0.0.1>;party=calling;screen=yes',
  'Privacy: id',
];
const COPY = ['Subject', 'Priority', 'Alert-Info', 'P-Asserted-Identity', 'Privacy', 'P-Preferred-Identity', 'Remote-Party-ID'];

beforeEach(async () => {
  caller = await SipPeer.udp();
  callee = await SipPeer.udp();
});

afterEach(async () => {
  caller.close();
  callee.close();
  await tandem?.close();
});

async function legBInvite(over: Partial<TandemConfig>) {
  const started = await startB2bua({ route: `sip:127.0.0.1:${callee.port}`, copyHeaders: COPY, ...over });
  tandem = started.tandem;
  const inv = outOfDialog('INVITE', caller, started.sip, { user: '00900123456', sdp: sdpOffer(40000, [{ pt: 8, name: 'PCMA' }]), headers: ['Subject: positive control', ...IDENTITY] });
  caller.send(inv.text, started.sip);
  return (await callee.next(isRequest('INVITE'))).msg;
}

describe('identity headers and trust', () => {
  it('from an untrusted source: PAI, PPI, Remote-Party-ID and Privacy are removed; other copied headers still cross', async () => {
    const b = await legBInvite({ trusted: ['10.0.0.0/8'] });
    expect(getHeader(b, 'Subject')).toBe('positive control');
    for (const h of ['P-Asserted-Identity', 'P-Preferred-Identity', 'Remote-Party-ID', 'Privacy']) expect(getHeader(b, h), h).toBeUndefined();
  });

  it('with no trusted list at all (the default), they are removed too', async () => {
    const b = await legBInvite({});
    expect(getHeader(b, 'Subject')).toBe('positive control');
    expect(getHeader(b, 'P-Asserted-Identity')).toBeUndefined();
    expect(getHeader(b, 'Privacy')).toBeUndefined();
  });

  it('from a trusted source (--trusted=127.0.0.0/8): they cross as configured', async () => {
    const b = await legBInvite({ trusted: ['127.0.0.0/8'] });
    expect(getHeader(b, 'P-Asserted-Identity')).toBe('<sip:+4930999999@127.0.0.1>');
    expect(getHeader(b, 'P-Preferred-Identity')).toBe('<sip:+4930999998@127.0.0.1>');
    expect(getHeader(b, 'Remote-Party-ID')).toBe('<sip:+4930999997@127.0.0.1>;party=calling;screen=yes');
    expect(getHeader(b, 'Privacy')).toBe('id');
  });

  it('a trusted proxy (--trusted-proxy) is trusted too', async () => {
    const b = await legBInvite({ trustedProxies: ['127.0.0.1'] });
    expect(getHeader(b, 'P-Asserted-Identity')).toBe('<sip:+4930999999@127.0.0.1>');
  });

  it('trusted is not a trusted proxy: X-Outbound-Proxy from a --trusted source is still ignored', async () => {
    const other = await SipPeer.udp();
    try {
      const started = await startB2bua({ route: `sip:127.0.0.1:${callee.port}`, trusted: ['127.0.0.1'] });
      tandem = started.tandem;
      const inv = outOfDialog('INVITE', caller, started.sip, { sdp: sdpOffer(40000, [{ pt: 8, name: 'PCMA' }]), headers: [`X-Outbound-Proxy: sip:127.0.0.1:${other.port}`] });
      caller.send(inv.text, started.sip);
      await callee.next(isRequest('INVITE'));
      expect(other.count(isRequest('INVITE'))).toBe(0);
    } finally {
      other.close();
    }
  });
});
