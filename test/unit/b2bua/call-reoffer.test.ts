import { describe, it, expect } from 'vitest';
import { TandemError } from '../../../src/common/errors.js';
import { CallState } from '../../../src/b2bua/call-state.js';
import { getHeader } from '../../../src/sip/message.js';
import { CallHarness, cseqOf, hasSdp, sdp } from './call-harness.js';

async function confirmed(): Promise<CallHarness> {
  const h = new CallHarness();
  await h.start();
  await h.answer();
  expect(h.call.state).toBe(CallState.Confirmed);
  return h;
}

describe('B2BUA call: re-offers and glare', () => {
  it('relays a re-INVITE from either leg through the media plane', async () => {
    const h = await confirmed();
    const { responses } = h.inDialog('a', 'INVITE', sdp('203.0.113.5', 4002));
    await h.settle();
    const out = h.last('INVITE');
    expect(out.destination.address).toBe('198.51.100.1');
    expect(h.media.offers.at(-1)?.fromTag).toBe(h.aTag);
    expect(hasSdp(out.req)).toBe(true);
    await h.final(out, 200, sdp('198.51.100.9', 5002));
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(hasSdp(responses[0])).toBe(true);
    expect(h.acksTo('198.51.100.1').map(cseqOf)).toContain(cseqOf(out.req));
  });

  it('answers 491 with Retry-After to a re-INVITE that crosses one in flight (glare), and accepts it once that one ends', async () => {
    const h = await confirmed();
    h.inDialog('a', 'INVITE', sdp('203.0.113.5', 4002));
    await h.settle();
    const fromB = h.inDialog('b', 'INVITE', sdp('198.51.100.9', 5004));
    await h.settle();
    expect(fromB.responses.map((r) => r.status)).toEqual([491]);
    expect(getHeader(fromB.responses[0], 'Retry-After')).toBe('1');
    const update = h.inDialog('a', 'UPDATE', sdp('203.0.113.5', 4006));
    await h.settle();
    expect(update.responses.map((r) => r.status)).toEqual([491]);
    await h.final(h.sentOf('INVITE')[1], 200, sdp('198.51.100.9', 5002));
    const retry = h.inDialog('b', 'INVITE', sdp('198.51.100.9', 5004));
    await h.settle();
    expect(retry.responses).toEqual([]);
    expect(h.last('INVITE').destination.address).toBe('203.0.113.5');
  });

  it('answers 491 to a re-INVITE before the call is confirmed', async () => {
    const h = new CallHarness();
    await h.start();
    const { responses } = h.inDialog('a', 'INVITE', sdp('203.0.113.5', 4002));
    await h.settle();
    expect(responses.map((r) => r.status)).toEqual([491]);
  });

  it('refuses a re-offer the media plane refuses, with the status map, and frees the exchange', async () => {
    const h = await confirmed();
    h.media.failOffer = new TandemError('CODEC', 'no common codec');
    const first = h.inDialog('b', 'INVITE', sdp('198.51.100.9', 5004));
    await h.settle();
    expect(first.responses.map((r) => [r.status, r.reason])).toEqual([[488, 'Not Acceptable Here']]);
    h.media.failOffer = undefined;
    h.inDialog('b', 'INVITE', sdp('198.51.100.9', 5004));
    await h.settle();
    expect(h.last('INVITE').destination.address).toBe('203.0.113.5');
    expect(h.call.state).toBe(CallState.Confirmed);
  });
});

describe('B2BUA call: late offer', () => {
  it('offerless INVITE: leg B offers in its 2xx, the caller answers in its ACK, and only then is leg B ACKed, with that answer', async () => {
    const h = new CallHarness({ offer: false });
    await h.start();
    expect(hasSdp(h.last('INVITE').req)).toBe(false);
    await h.answer();
    expect(h.media.offers.map((o) => o.fromTag)).toEqual([h.call.aLocalTag]);
    expect(h.aStatuses()).toEqual([200]);
    expect(hasSdp(h.toA[0])).toBe(true);
    expect(h.acksTo('198.51.100.1')).toHaveLength(0);
    // A retransmitted 2xx still waits for the caller's answer.
    await h.answer();
    expect(h.acksTo('198.51.100.1')).toHaveLength(0);
    h.ack('a', 1, sdp('203.0.113.5'));
    await h.settle();
    expect(h.media.answers.map((a) => a.fromTag)).toEqual([h.call.aLocalTag]);
    const acks = h.acksTo('198.51.100.1');
    expect(acks).toHaveLength(1);
    expect(hasSdp(acks[0])).toBe(true);
    expect(h.call.state).toBe(CallState.Confirmed);
  });

  it('ends the call when the caller ACK brings no answer to the late offer', async () => {
    const h = new CallHarness({ offer: false });
    await h.start();
    await h.answer();
    h.ack('a', 1);
    await h.settle();
    expect(h.acksTo('198.51.100.1')).toHaveLength(1);
    expect(h.call.state).toBe(CallState.Ended);
    expect(h.sentOf('BYE').map((s) => s.destination.address).sort()).toEqual(['198.51.100.1', '203.0.113.5']);
  });

  it('offerless re-INVITE from leg A: leg B offer goes to A in the 2xx, A answer to B in the ACK', async () => {
    const h = await confirmed();
    const { responses } = h.inDialog('a', 'INVITE');
    await h.settle();
    const out = h.last('INVITE');
    expect(hasSdp(out.req)).toBe(false);
    await h.final(out, 200, sdp('198.51.100.9', 5008));
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(hasSdp(responses[0])).toBe(true);
    expect(h.media.offers.at(-1)?.fromTag).toBe(h.call.aLocalTag);
    const before = h.acksTo('198.51.100.1').length;
    h.ack('a', 2, sdp('203.0.113.5', 4010));
    await h.settle();
    const acks = h.acksTo('198.51.100.1');
    expect(acks).toHaveLength(before + 1);
    expect(cseqOf(acks[acks.length - 1])).toBe(cseqOf(out.req));
    expect(hasSdp(acks[acks.length - 1])).toBe(true);
  });

  it('offerless re-INVITE from leg B: the caller offer goes to B in the 2xx, B answer to A in the ACK', async () => {
    const h = await confirmed();
    const { responses } = h.inDialog('b', 'INVITE');
    await h.settle();
    const out = h.last('INVITE');
    expect(out.destination.address).toBe('203.0.113.5');
    await h.final(out, 200, sdp('203.0.113.5', 4012));
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(hasSdp(responses[0])).toBe(true);
    expect(h.media.offers.at(-1)?.fromTag).toBe(h.aTag);
    expect(h.acksTo('203.0.113.5')).toHaveLength(0);
    h.ack('b', 101, sdp('198.51.100.9', 5010));
    await h.settle();
    const acks = h.acksTo('203.0.113.5');
    expect(acks).toHaveLength(1);
    expect(hasSdp(acks[0])).toBe(true);
    expect(h.media.answers.at(-1)?.fromTag).toBe(h.aTag);
  });
});
