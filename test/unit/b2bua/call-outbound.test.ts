import { describe, it, expect } from 'vitest';
import { TandemError } from '../../../src/common/errors.js';
import { CallState } from '../../../src/b2bua/call-state.js';
import { getHeader } from '../../../src/sip/message.js';
import { CallHarness, cseqOf, hasSdp, target } from './call-harness.js';

const three = [target(1), target(2), target(3)];

describe('B2BUA call: leg B INVITE and failover', () => {
  it('tries the targets in order on 408, timeout and 5xx, then relays the last failure', async () => {
    const h = new CallHarness({ targets: three });
    await h.start();
    await h.final(h.last('INVITE'), 408);
    h.last('INVITE').handler.onTimeout();
    await h.settle();
    await h.final(h.last('INVITE'), 503);
    const invites = h.sentOf('INVITE');
    expect(invites.map((s) => s.destination.address)).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
    expect(invites.map((s) => cseqOf(s.req))).toEqual([1, 2, 3]);
    // The same offer goes to each target.
    expect(new Set(invites.map((s) => s.req.body.toString())).size).toBe(1);
    expect(h.aStatuses()).toEqual([503]);
    expect(h.call.state).toBe(CallState.Ended);
    expect(h.ended).toEqual(['leg B: 503 Service Unavailable']);
  });

  it('fails over on a transport error and on 5xx after ringing, and relays a timeout of the last target as 408', async () => {
    const h = new CallHarness({ targets: three });
    await h.start();
    h.last('INVITE').handler.onTransportError(new Error('ECONNREFUSED'));
    await h.settle();
    await h.provisional(h.last('INVITE'), 180);
    expect(h.call.state).toBe(CallState.Early);
    await h.final(h.last('INVITE'), 500);
    expect(h.call.state).toBe(CallState.Trying);
    h.last('INVITE').handler.onTimeout();
    await h.settle();
    expect(h.sentOf('INVITE').map((s) => s.destination.address)).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
    expect(h.aStatuses()).toEqual([180, 408]);
    expect(h.toA[1].reason).toBe('Request Timeout');
  });

  it('relays a transport error of the last target as 503', async () => {
    const h = new CallHarness();
    await h.start();
    h.last('INVITE').handler.onTransportError(new Error('EHOSTUNREACH'));
    await h.settle();
    expect(h.aStatuses()).toEqual([503]);
    expect(h.toA[0].reason).toBe('Service Unavailable');
  });

  it.each([404, 486, 603])('does not fail over on %i: the callee has answered', async (status) => {
    const h = new CallHarness({ targets: three });
    await h.start();
    await h.final(h.last('INVITE'), status);
    expect(h.sentOf('INVITE')).toHaveLength(1);
    expect(h.aStatuses()).toEqual([status]);
  });

  it('when every target failed over, the caller\'s final response says so in a Warning; counted; a callee\'s answer or a single target has none', async () => {
    const h = new CallHarness({ targets: three });
    await h.start();
    await h.final(h.last('INVITE'), 503);
    h.last('INVITE').handler.onTimeout();
    await h.settle();
    await h.final(h.last('INVITE'), 503);
    expect(h.aStatuses()).toEqual([503]);
    expect(getHeader(h.toA[0], 'Warning')).toBe('399 tandem "every next hop failed (3 tried); the last: 503 Service Unavailable"');
    expect(h.call.ctx.counters).toEqual({ legBFailovers: 2, legBExhausted: 1 });
    // A 486 after a failover is the callee's answer; one target's 503 is that target's own.
    const busy = new CallHarness({ targets: three });
    await busy.start();
    await busy.final(busy.last('INVITE'), 503);
    await busy.final(busy.last('INVITE'), 486);
    const single = new CallHarness();
    await single.start();
    await single.final(single.last('INVITE'), 503);
    for (const x of [busy, single]) expect(x.toA.map((r) => getHeader(r, 'Warning'))).toEqual([undefined]);
    expect(busy.call.ctx.counters).toEqual({ legBFailovers: 1, legBExhausted: 0 });
  });

  it('targets with an X-Outbound-Proxy address: each INVITE goes to its address, the Request-URI stays the target, the dialog stays on the address that answered', async () => {
    const hop = (n: number) => ({ protocol: 'udp' as const, address: `192.0.2.${100 + n}`, port: 5070 });
    const h = new CallHarness({ targets: [{ ...target(1), nextHop: hop(1) }, { ...target(1), nextHop: hop(2) }] });
    await h.start();
    await h.final(h.last('INVITE'), 503);
    await h.answer();
    const invites = h.sentOf('INVITE');
    expect(invites.map((s) => `${s.req.uri} → ${s.destination.address}`)).toEqual(['sip:gw1@198.51.100.1 → 192.0.2.101', 'sip:gw1@198.51.100.1 → 192.0.2.102']);
    expect(h.aStatuses()).toEqual([200]);
    // The ACK (and every later request of leg B's dialog) goes through the proxy, not to the callee's Contact.
    expect(h.acksTo('192.0.2.102')).toHaveLength(1);
    expect(h.call.leg('b').destination).toEqual(hop(2));
  });

  it('ignores responses to an INVITE it has failed over from', async () => {
    const h = new CallHarness({ targets: three });
    await h.start();
    const first = h.last('INVITE');
    await h.final(first, 503);
    await h.provisional(first, 180);
    await h.answer(first);
    expect(h.aStatuses()).toEqual([]);
    expect(h.call.state).toBe(CallState.Trying);
  });

  it('answers the caller with the media plane answer once leg B answers', async () => {
    const h = new CallHarness();
    await h.start();
    await h.provisional(h.last('INVITE'), 183, h.last('INVITE').req.body.toString());
    await h.answer();
    expect(h.aStatuses()).toEqual([183, 200]);
    expect(hasSdp(h.toA[1])).toBe(true);
    expect(h.acksTo('198.51.100.1')).toHaveLength(1);
    expect(h.call.state).toBe(CallState.Confirmed);
  });

  it('rejects the call with the status map when the media offer fails, and sends no INVITE', async () => {
    const h = new CallHarness();
    h.media.failOffer = new TandemError('NO_PORTS', 'port range exhausted');
    await h.start();
    expect(h.sentOf('INVITE')).toHaveLength(0);
    expect(h.aStatuses()).toEqual([503]);
    expect(h.toA[0].reason).toBe('Media Unavailable');
    expect(h.call.state).toBe(CallState.Ended);
  });

  it('ends the call with 502 and a BYE when leg B answers an offer without SDP', async () => {
    const h = new CallHarness();
    await h.start();
    await h.final(h.last('INVITE'), 200);
    expect(h.aStatuses()).toEqual([502]);
    expect(h.sentOf('BYE').map((s) => s.destination.address)).toEqual(['198.51.100.1']);
  });
});

describe('B2BUA call: CANCEL', () => {
  it('before leg B rings: 487 at once, the CANCEL waits for leg B provisional', async () => {
    const h = new CallHarness();
    await h.start();
    h.call.cancelFromA();
    await h.settle();
    expect(h.aStatuses()).toEqual([487]);
    expect(h.sentOf('CANCEL')).toHaveLength(0);
    expect(h.call.state).toBe(CallState.CancelPending);
    expect(h.media.deletes).toHaveLength(1);
    await h.provisional(h.last('INVITE'), 180);
    expect(h.sentOf('CANCEL')).toHaveLength(1);
    expect(getHeader(h.last('CANCEL').req, 'Via')).toBe(getHeader(h.last('INVITE').req, 'Via'));
    expect(h.call.state).toBe(CallState.Cancelling);
    await h.provisional(h.last('INVITE'), 183);
    await h.final(h.last('INVITE'), 487);
    expect(h.sentOf('CANCEL')).toHaveLength(1);
    expect(h.aStatuses()).toEqual([487]);
    expect(h.call.state).toBe(CallState.Ended);
    expect(h.ended).toEqual(['cancelled']);
  });

  it('while leg B rings: 487 and the CANCEL at once', async () => {
    const h = new CallHarness();
    await h.start();
    await h.provisional(h.last('INVITE'), 180);
    h.call.cancelFromA();
    await h.settle();
    expect(h.aStatuses()).toEqual([180, 487]);
    expect(h.last('CANCEL').destination.address).toBe('198.51.100.1');
    expect(h.call.state).toBe(CallState.Cancelling);
  });

  it('racing leg B 200: leg B is ACKed and hung up, the caller keeps its 487', async () => {
    const h = new CallHarness();
    await h.start();
    await h.provisional(h.last('INVITE'), 180);
    h.call.cancelFromA();
    await h.settle();
    await h.answer();
    expect(h.acksTo('198.51.100.1')).toHaveLength(1);
    expect(h.sentOf('BYE')).toHaveLength(1);
    expect(h.aStatuses()).toEqual([180, 487]);
    expect(h.call.state).toBe(CallState.Ended);
  });

  it('after the answer: ignored, the call stays up', async () => {
    const h = new CallHarness();
    await h.start();
    await h.answer();
    h.call.cancelFromA();
    await h.settle();
    expect(h.aStatuses()).toEqual([200]);
    expect(h.sentOf('CANCEL')).toHaveLength(0);
    expect(h.call.state).toBe(CallState.Confirmed);
  });

  it('a call ended before leg B rang cancels leg B when it does', async () => {
    const h = new CallHarness();
    await h.start();
    h.call.end('no final response in time', { aStatus: 408 });
    expect(h.aStatuses()).toEqual([408]);
    expect(h.sentOf('CANCEL')).toHaveLength(0);
    await h.provisional(h.last('INVITE'), 180);
    expect(h.sentOf('CANCEL')).toHaveLength(1);
    expect(h.aStatuses()).toEqual([408]);
  });
});
