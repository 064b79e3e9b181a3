import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { RunningTandem } from '../../src/main.js';
import type { TandemConfig } from '../../src/config/config.js';
import { getHeader, getTo, type SipMessage } from '../../src/sip/message.js';
import { SipPeer, isRequest, isResponse, sdpOffer } from '../helpers/sip-peer.js';
import { ackNon2xx, isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';

/**
 * Issue 10, defect 8 (B2BUA part): what Tandem's own responses to out-of-dialog requests say.
 * RFC 3261 §8.2.6.2 wants a To tag on every one (but 100); Allow must be true to what the request's
 * context takes; the product is named only when configured.
 */
let tandem: RunningTandem;
let sip: { address: string; port: number };
let caller: SipPeer;
let callee: SipPeer;

const OUT_OF_DIALOG_ALLOW = 'INVITE, ACK, CANCEL, OPTIONS';

beforeEach(async () => {
  caller = await SipPeer.udp();
  callee = await SipPeer.udp();
});

afterEach(async () => {
  caller.close();
  callee.close();
  await tandem?.close();
});

async function start(over: Partial<TandemConfig> = {}): Promise<void> {
  ({ tandem, sip } = await startB2bua({ route: `sip:127.0.0.1:${callee.port}`, ...over }));
}

/** Sends an out-of-dialog request and returns its final response. */
async function ask(method: string, o: { headers?: string[]; sdp?: string; mutate?: (t: string) => string } = {}): Promise<SipMessage> {
  const r = outOfDialog(method, caller, sip, o);
  caller.send(o.mutate?.(r.text) ?? r.text, sip);
  const res = await caller.next(isFinalFor(r.callId, method));
  if (method === 'INVITE') ackNon2xx(res, r, caller, sip);
  return res.msg;
}

const status = (m: SipMessage): number => (m.kind === 'response' ? m.status : 0);

describe('responses to out-of-dialog requests', () => {
  it('OPTIONS: 200 with a To tag and the out-of-dialog Allow', async () => {
    await start();
    const r = await ask('OPTIONS');
    expect(status(r)).toBe(200);
    expect(getTo(r)?.tag).toMatch(/^[0-9a-f]+$/i);
    expect(getHeader(r, 'Allow')).toBe(OUT_OF_DIALOG_ALLOW);
  });

  it('MESSAGE and REGISTER: both 405 with a To tag and the same Allow, which lists neither', async () => {
    await start();
    const message = await ask('MESSAGE', { headers: ['Content-Type: text/plain'] });
    const register = await ask('REGISTER');
    expect([status(message), status(register)]).toEqual([405, 405]);
    for (const r of [message, register]) {
      expect(getTo(r)?.tag).toBeDefined();
      expect(getHeader(r, 'Allow')).toBe(OUT_OF_DIALOG_ALLOW);
    }
  });

  it('every other refusal Tandem makes (404, 483, 420, 501, 482, 488, 400 SDP) carries a To tag', async () => {
    await start({ bCodecs: ['PCMU'], bTranscode: false });
    const sdp = sdpOffer(40000, [{ pt: 8, name: 'PCMA' }]);
    const rs = [
      await ask('INVITE', { sdp, mutate: (t) => t.replace('Max-Forwards: 70', 'Max-Forwards: 0') }),
      await ask('INVITE', { sdp, headers: ['Require: teleportation'] }),
      await ask('FROBNICATE'),
      await ask('INVITE', { sdp, mutate: (t) => t.replace(/^(Via: .*)$/m, `$1\nVia: SIP/2.0/UDP 127.0.0.1:${sip.port};branch=z9hG4bKloop`) }),
      await ask('INVITE', { sdp }),
      await ask('INVITE', { sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' }),
    ];
    expect(rs.map(status)).toEqual([483, 420, 501, 482, 488, 400]);
    for (const r of rs) expect(getTo(r)?.tag, `${status(r)}`).toBeDefined();
    expect(getHeader(rs[2], 'Allow')).toBe(OUT_OF_DIALOG_ALLOW);
    expect(getHeader(rs[5], 'Warning')).toMatch(/^399 tandem ".*m= line/);
    // No route at all: 404 with a tag too.
    await tandem.close();
    ({ tandem, sip } = await startB2bua({}));
    const r404 = await ask('INVITE', { sdp });
    expect(status(r404)).toBe(404);
    expect(getTo(r404)?.tag).toBeDefined();
  });

  it('CANCEL: the 200 carries the same To tag as the 180 and the 487 of the INVITE it cancels (§9.2)', async () => {
    await start();
    const inv = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40000, [{ pt: 8, name: 'PCMA' }]) });
    caller.send(inv.text, sip);
    const bInv = await callee.next(isRequest('INVITE'));
    callee.reply(bInv, 180, { reason: 'Ringing' });
    const ringing = await caller.next(isResponse(180));
    const tag = getTo(ringing.msg)?.tag;
    expect(tag).toBeDefined();
    const cancel = inv.text.split('\n\n')[0].replace(/^INVITE /, 'CANCEL ').replace(/CSeq: (\d+) INVITE/, 'CSeq: $1 CANCEL').replace('Content-Type: application/sdp\n', '').replace(/\nContact: .*/, '');
    caller.send(`${cancel}\n\n`, sip);
    const ok = await caller.next(isResponse(200, 'CANCEL'));
    const r487 = await caller.next(isResponse(487, 'INVITE'));
    expect(getTo(ok.msg)?.tag).toBe(tag);
    expect(getTo(r487.msg)?.tag).toBe(tag);
    ackNon2xx(r487, inv, caller, sip);
    const bCancel = await callee.next(isRequest('CANCEL'));
    callee.reply(bCancel, 200, { reason: 'OK' });
    callee.reply(bInv, 487, { reason: 'Request Terminated' });
  });
});

describe('naming the product (--server-header)', () => {
  it('by default neither Server on responses nor User-Agent on leg B names it', async () => {
    await start();
    const r = await ask('OPTIONS');
    expect(getHeader(r, 'Server')).toBeUndefined();
    caller.send(outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40000, [{ pt: 8, name: 'PCMA' }]) }).text, sip);
    const b = await callee.next(isRequest('INVITE'));
    expect(getHeader(b.msg, 'User-Agent')).toBeUndefined();
    const trying = await caller.next(isResponse(100, 'INVITE'));
    expect(getHeader(trying.msg, 'Server')).toBeUndefined();
  });

  it('--server-header=TEXT puts TEXT in Server and in leg B\'s User-Agent', async () => {
    await start({ serverHeader: 'PBX/1.0' });
    expect(getHeader(await ask('OPTIONS'), 'Server')).toBe('PBX/1.0');
    expect(getHeader(await ask('REGISTER'), 'Server')).toBe('PBX/1.0');
    caller.send(outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40000, [{ pt: 8, name: 'PCMA' }]) }).text, sip);
    const b = await callee.next(isRequest('INVITE'));
    expect(getHeader(b.msg, 'User-Agent')).toBe('PBX/1.0');
  });
});
