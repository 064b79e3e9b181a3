import { describe, it, expect } from 'vitest';
import { CallState } from '../../../src/b2bua/call-state.js';
import { createResponse } from '../../../src/sip/build.js';
import { getHeader, headerLines } from '../../../src/sip/message.js';
import type { RouteTarget } from '../../../src/b2bua/routes.js';
import { CallHarness, cseqOf, sdp, target, type SentRequest } from './call-harness.js';

/** Parallel forking (a "registered" route): every target at once, RFC 3261 §16.7's choice of response. */
const three = [target(1), target(2), target(3)];

/** A response from branch `s` with its own To tag (each contact is its own UAS). */
function reply(h: CallHarness, s: SentRequest, status: number, withSdp = false): void {
  const res = createResponse(s.req, status, undefined, {
    toTag: `t-${s.destination.address}`,
    headers: [{ name: 'Contact', value: `<sip:ua@${s.destination.address}:5060>` }, ...(withSdp ? [{ name: 'Content-Type', value: 'application/sdp' }] : [])],
    ...(withSdp ? { body: Buffer.from(sdp('198.51.100.9', 5000)) } : {}),
  });
  if (status < 200) s.handler.onProvisional?.(res);
  else s.handler.onFinal(res);
}

const cancelsTo = (h: CallHarness): string[] => h.sentOf('CANCEL').map((s) => s.destination.address).sort();

describe('B2BUA call: parallel fork', () => {
  it('sends the INVITE to every target at once, each with its own branch, the same CSeq and offer', async () => {
    const h = new CallHarness({ targets: three, parallel: true });
    await h.start();
    const invites = h.sentOf('INVITE');
    expect(invites.map((s) => s.destination.address)).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
    expect(new Set(invites.map((s) => headerLines(s.req, 'Via')[0])).size).toBe(3);
    expect(invites.map((s) => cseqOf(s.req))).toEqual([1, 1, 1]);
    expect(new Set(invites.map((s) => s.req.body.toString())).size).toBe(1);
    expect(invites.map((s) => s.req.uri)).toEqual(['sip:gw1@198.51.100.1', 'sip:gw2@198.51.100.2', 'sip:gw3@198.51.100.3']);
  });

  it('the first 2xx wins: the others get CANCEL, and their 487 afterwards changes nothing', async () => {
    const h = new CallHarness({ targets: three, parallel: true });
    await h.start();
    const [b1, b2, b3] = h.sentOf('INVITE');
    reply(h, b1, 180);
    reply(h, b3, 180);
    await h.settle();
    reply(h, b2, 200, true);
    await h.settle();
    // Like a forking proxy, each branch's ringing is relayed.
    expect(h.aStatuses()).toEqual([180, 180, 200]);
    expect(cancelsTo(h)).toEqual(['198.51.100.1', '198.51.100.3']);
    expect(h.acksTo('198.51.100.2')).toHaveLength(1);
    reply(h, b1, 487);
    reply(h, b3, 487);
    await h.settle();
    expect(h.call.state).toBe(CallState.Confirmed);
    expect(h.ended).toEqual([]);
    // Leg B is the winner now: a hang-up goes there.
    h.call.end('test');
    await h.settle();
    expect(h.sentOf('BYE').map((s) => s.destination.address).filter((a) => a !== '203.0.113.5')).toEqual(['198.51.100.2']);
  });

  it('a second 2xx from another branch is ACKed and hung up', async () => {
    const h = new CallHarness({ targets: three.slice(0, 2), parallel: true });
    await h.start();
    const [b1, b2] = h.sentOf('INVITE');
    reply(h, b1, 200, true);
    reply(h, b2, 200, true);
    await h.settle();
    expect(h.aStatuses()).toEqual([200]);
    expect(h.acksTo('198.51.100.2')).toHaveLength(1);
    expect(h.sentOf('BYE').map((s) => s.destination.address)).toEqual(['198.51.100.2']);
  });

  it('when all fail, the lowest class goes back (first of its class), a timeout counting as 408', async () => {
    const h = new CallHarness({ targets: three, parallel: true });
    await h.start();
    const [b1, b2, b3] = h.sentOf('INVITE');
    reply(h, b1, 503);
    reply(h, b2, 486);
    await h.settle();
    expect(h.aStatuses()).toEqual([]);
    b3.handler.onTimeout();
    await h.settle();
    expect(h.aStatuses()).toEqual([486]);
    expect(h.call.state).toBe(CallState.Ended);
    expect(h.sentOf('INVITE')).toHaveLength(3);
  });

  it('a 6xx cancels the other branches at once and is what the caller gets', async () => {
    const h = new CallHarness({ targets: three, parallel: true });
    await h.start();
    const [b1, b2, b3] = h.sentOf('INVITE');
    reply(h, b1, 404);
    reply(h, b2, 603);
    await h.settle();
    expect(cancelsTo(h)).toEqual(['198.51.100.3']);
    reply(h, b3, 487);
    await h.settle();
    expect(h.aStatuses()).toEqual([603]);
  });

  it('the caller cancelling while branches ring sends CANCEL to each', async () => {
    const h = new CallHarness({ targets: three, parallel: true });
    await h.start();
    const [b1, b2, b3] = h.sentOf('INVITE');
    reply(h, b1, 180);
    await h.settle();
    h.call.cancelFromA();
    await h.settle();
    expect(cancelsTo(h)).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
    for (const b of [b1, b2, b3]) reply(h, b, 487);
    await h.settle();
    expect(h.aStatuses()).toEqual([180, 487]);
    expect(h.call.state).toBe(CallState.Ended);
  });

  it('a flow target keeps leg B on the flow, and a route set becomes Route headers', async () => {
    const flow: RouteTarget = { uri: 'sip:ua@10.0.0.7:5060;transport=tcp', endpoint: { protocol: 'tcp', address: '198.51.100.7', port: 40123 }, weight: 1, priority: 1, flow: true };
    const viaPath: RouteTarget = { uri: 'sip:ua@10.0.0.8', endpoint: { protocol: 'udp', address: '198.51.100.8', port: 5060 }, weight: 1, priority: 2, routeSet: ['sip:198.51.100.8;lr'] };
    const h = new CallHarness({ targets: [flow, viaPath], parallel: true });
    await h.start();
    const [b1, b2] = h.sentOf('INVITE');
    expect(headerLines(b1.req, 'Route')).toEqual([]);
    expect(headerLines(b2.req, 'Route')).toEqual(['<sip:198.51.100.8;lr>']);
    expect(getHeader(b1.req, 'Via')).toMatch(/^SIP\/2\.0\/TCP /);
    reply(h, b1, 200, true);
    await h.settle();
    // The 2xx's Contact (sip:ua@198.51.100.7:5060, UDP) is not where the UA can be reached: the flow is.
    expect(h.direct.filter((d) => d.msg.kind === 'request' && d.msg.method === 'ACK').map((d) => d.destination)).toEqual([{ protocol: 'tcp', address: '198.51.100.7', port: 40123 }]);
    h.call.end('test');
    await h.settle();
    expect(h.sentOf('BYE').map((s) => s.destination).filter((d) => d.address !== '203.0.113.5')).toEqual([{ protocol: 'tcp', address: '198.51.100.7', port: 40123 }]);
  });
});
