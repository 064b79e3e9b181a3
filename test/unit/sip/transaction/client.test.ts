import { describe, it, expect } from 'vitest';
import { getCSeq, getCallId, getHeader, getTo, getVias, type SipRequest } from '../../../../src/sip/message.js';
import { flush, harness, inbound, isMethod, PEER, recordingHandler, request, response, TCP_PEER } from './harness.js';

/**
 * Client transactions (RFC 3261 §17.1, RFC 6026 §7) on a fake clock. T1 = 500 ms, T2 = 4 s,
 * T4 = 5 s unless a test says otherwise; every send is recorded with the time it happened.
 */
describe('INVITE client transaction (§17.1.1)', () => {
  it('Timer A: sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s (7 in all); Timer B at 32 s → onTimeout', () => {
    const { layer, clock, sender } = harness();
    const h = recordingHandler();
    const txn = layer.sendRequest(request('INVITE'), PEER, h);
    expect(txn.state).toBe('calling');
    clock.advance(31_999);
    expect(sender.times(isMethod('INVITE'))).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(h.events).toEqual([]);
    clock.advance(1);
    expect(h.events).toEqual(['timeout']);
    expect(txn.state).toBe('terminated');
    clock.advance(60_000);
    expect(sender.sent).toHaveLength(7);
    expect(sender.sent.every((s) => s.destination === PEER)).toBe(true);
    expect(layer.counters).toMatchObject({ clientTransactions: 0, retransmissions: 6 });
  });

  it('over TCP it sends once and still times out with Timer B', () => {
    const { layer, clock, sender } = harness();
    const h = recordingHandler();
    layer.sendRequest(request('INVITE', { transport: 'TCP' }), TCP_PEER, h);
    clock.advance(31_999);
    expect(h.events).toEqual([]);
    clock.advance(1);
    expect(sender.times(isMethod('INVITE'))).toEqual([0]);
    expect(h.events).toEqual(['timeout']);
  });

  it('custom T1 scales Timer A and B', () => {
    const { layer, clock, sender } = harness({ t1: 100 });
    const h = recordingHandler();
    layer.sendRequest(request('INVITE'), PEER, h);
    clock.advance(6_399);
    expect(sender.times(isMethod('INVITE'))).toEqual([0, 100, 300, 700, 1500, 3100, 6300]);
    expect(h.events).toEqual([]);
    clock.advance(1);
    expect(h.events).toEqual(['timeout']);
  });

  it('a provisional stops Timer A and Timer B (Proceeding waits for the final or a CANCEL)', () => {
    const { layer, clock, sender } = harness();
    const req = request('INVITE');
    const h = recordingHandler();
    const txn = layer.sendRequest(req, PEER, h);
    clock.advance(600);
    layer.receive(inbound(response(req, 100)));
    layer.receive(inbound(response(req, 180)));
    expect(txn.state).toBe('proceeding');
    clock.advance(120_000);
    expect(sender.times(isMethod('INVITE'))).toEqual([0, 500]);
    expect(h.events).toEqual(['provisional 100', 'provisional 180']);
    layer.receive(inbound(response(req, 200)));
    expect(h.events.at(-1)).toBe('final 200');
  });

  it('ACKs a non-2xx final itself: same branch, Request-URI, From, Call-ID, CSeq number; To with the response tag', () => {
    const { layer, sender } = harness();
    const req = request('INVITE', { branch: 'z9hG4bKinv1', seq: 7 });
    const h = recordingHandler();
    const txn = layer.sendRequest(req, PEER, h);
    layer.receive(inbound(response(req, 486, 'callee-tag')));
    expect(txn.state).toBe('completed');
    expect(h.events).toEqual(['final 486']);
    const [ack] = sender.of(isMethod('ACK')) as SipRequest[];
    expect(sender.sent.find((s) => s.message === ack)?.destination).toBe(PEER);
    expect(ack.uri).toBe(req.uri);
    expect(getVias(ack)).toHaveLength(1);
    expect(getVias(ack)[0].branch).toBe('z9hG4bKinv1');
    expect(getTo(ack)?.tag).toBe('callee-tag');
    expect(getCSeq(ack)).toEqual({ seq: 7, method: 'ACK' });
    expect(getHeader(ack, 'From')).toBe(getHeader(req, 'From'));
    expect(getCallId(ack)).toBe(getCallId(req));
    expect(getHeader(ack, 'Max-Forwards')).toBe('70');
  });

  it('Timer D (32 s over UDP) absorbs retransmitted finals and re-ACKs each, without telling the TU again', () => {
    const { layer, clock, sender, user } = harness();
    const req = request('INVITE');
    const h = recordingHandler();
    layer.sendRequest(req, PEER, h);
    clock.advance(100);
    const busy = response(req, 486);
    layer.receive(inbound(busy));
    clock.advance(500);
    layer.receive(inbound(busy));
    clock.advance(1000);
    layer.receive(inbound(busy));
    expect(sender.times(isMethod('ACK'))).toEqual([100, 600, 1600]);
    expect(h.events).toEqual(['final 486']);
    expect(layer.counters.retransmissions).toBe(2); // the two re-ACKs (Timer A stopped at 100 ms)
    clock.advance(32_000 - 1600 + 100 - 1); // 1 ms before Timer D (armed at 100 ms)
    expect(layer.counters.clientTransactions).toBe(1);
    clock.advance(1);
    expect(layer.counters.clientTransactions).toBe(0);
    // After Timer D the final matches nothing any more.
    layer.receive(inbound(busy));
    expect(sender.times(isMethod('ACK'))).toHaveLength(3);
    expect(user.stray).toEqual([busy]);
  });

  it('Timer D is 0 over TCP and 64*T1 when that exceeds 32 s', () => {
    const tcp = harness();
    const req = request('INVITE', { transport: 'TCP' });
    tcp.layer.sendRequest(req, TCP_PEER, recordingHandler());
    tcp.layer.receive(inbound(response(req, 603), TCP_PEER));
    expect(tcp.layer.counters.clientTransactions).toBe(1);
    tcp.clock.advance(0);
    expect(tcp.layer.counters.clientTransactions).toBe(0);

    const slow = harness({ t1: 1000 });
    const r2 = request('INVITE');
    slow.layer.sendRequest(r2, PEER, recordingHandler());
    slow.layer.receive(inbound(response(r2, 603)));
    slow.clock.advance(63_999);
    expect(slow.layer.counters.clientTransactions).toBe(1);
    slow.clock.advance(1);
    expect(slow.layer.counters.clientTransactions).toBe(0);
  });

  it('Accepted (RFC 6026): every 2xx goes to onFinal (retransmissions, other forks), no ACK from the layer, Timer M = 64*T1', () => {
    const { layer, clock, sender, user } = harness();
    const req = request('INVITE');
    const h = recordingHandler();
    const txn = layer.sendRequest(req, PEER, h);
    layer.receive(inbound(response(req, 200, 'fork1')));
    expect(txn.state).toBe('accepted');
    clock.advance(1000);
    layer.receive(inbound(response(req, 200, 'fork1')));
    layer.receive(inbound(response(req, 200, 'fork2')));
    layer.receive(inbound(response(req, 486))); // a non-2xx in Accepted is absorbed
    expect(h.finals.map((r) => `${r.status} ${getTo(r)?.tag}`)).toEqual(['200 fork1', '200 fork1', '200 fork2']);
    expect(sender.times(isMethod('ACK'))).toEqual([]);
    expect(sender.times(isMethod('INVITE'))).toEqual([0]); // Timer A stopped
    clock.advance(30_999); // Timer M armed at 0
    expect(layer.counters.clientTransactions).toBe(1);
    clock.advance(1);
    expect(txn.state).toBe('terminated');
    layer.receive(inbound(response(req, 200, 'fork1')));
    expect(h.finals).toHaveLength(3);
    expect(user.stray).toHaveLength(1);
  });

  it('a transport error is reported once as onTransportError and ends the transaction (no Timer B later)', async () => {
    const { layer, clock, sender } = harness();
    sender.fail = new Error('connection refused');
    const h = recordingHandler();
    const txn = layer.sendRequest(request('INVITE', { transport: 'TCP' }), TCP_PEER, h);
    await flush();
    expect(txn.state).toBe('terminated');
    clock.advance(40_000);
    expect(h.events).toEqual(['transport error: connection refused']);
    expect(layer.counters.clientTransactions).toBe(0);
  });

  it('a sender that throws synchronously counts as a transport error, never as an exception', async () => {
    const { layer, clock, sender } = harness();
    sender.throwSync = true;
    const h = recordingHandler();
    expect(() => layer.sendRequest(request('OPTIONS'), PEER, h)).not.toThrow();
    await flush();
    expect(() => clock.advance(40_000)).not.toThrow();
    expect(h.events).toEqual(['transport error: sender exploded']);
  });
});

describe('non-INVITE client transaction (§17.1.2)', () => {
  it('Timer E doubles up to T2, Timer F times out at 64*T1: 11 sends in 32 s', () => {
    const { layer, clock, sender } = harness();
    const h = recordingHandler();
    layer.sendRequest(request('BYE'), PEER, h);
    clock.advance(31_999);
    expect(sender.times(isMethod('BYE'))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(h.events).toEqual([]);
    clock.advance(1);
    expect(h.events).toEqual(['timeout']);
    clock.advance(10_000);
    expect(sender.sent).toHaveLength(11);
    expect(layer.counters).toMatchObject({ clientTransactions: 0, retransmissions: 10 });
  });

  it('custom T1 = 100, T2 = 400 changes the schedule: 18 sends before Timer F at 6.4 s', () => {
    const { layer, clock, sender } = harness({ t1: 100, t2: 400 });
    const h = recordingHandler();
    layer.sendRequest(request('OPTIONS'), PEER, h);
    clock.advance(6_399);
    const every400 = Array.from({ length: 14 }, (_, i) => 1100 + 400 * i);
    expect(sender.times(isMethod('OPTIONS'))).toEqual([0, 100, 300, 700, ...every400]);
    expect(every400.at(-1)).toBe(6300);
    clock.advance(1);
    expect(h.events).toEqual(['timeout']);
  });

  it('after a provisional it retransmits every T2 and Timer F still applies', () => {
    const { layer, clock, sender } = harness();
    const req = request('BYE');
    const h = recordingHandler();
    const txn = layer.sendRequest(req, PEER, h);
    clock.advance(100);
    layer.receive(inbound(response(req, 100)));
    expect(txn.state).toBe('proceeding');
    clock.advance(31_899);
    expect(sender.times(isMethod('BYE'))).toEqual([0, 500, 4500, 8500, 12500, 16500, 20500, 24500, 28500]);
    clock.advance(1);
    expect(h.events).toEqual(['provisional 100', 'timeout']);
  });

  it('a final stops retransmissions; Timer K = T4 absorbs retransmitted finals', () => {
    const { layer, clock, sender, user } = harness();
    const req = request('BYE');
    const h = recordingHandler();
    const txn = layer.sendRequest(req, PEER, h);
    clock.advance(600);
    layer.receive(inbound(response(req, 200)));
    layer.receive(inbound(response(req, 200)));
    layer.receive(inbound(response(req, 180)));
    expect(txn.state).toBe('completed');
    expect(h.events).toEqual(['final 200']);
    clock.advance(4_999);
    expect(layer.counters.clientTransactions).toBe(1);
    clock.advance(1);
    expect(layer.counters.clientTransactions).toBe(0);
    expect(sender.times(isMethod('BYE'))).toEqual([0, 500]);
    layer.receive(inbound(response(req, 200)));
    expect(user.stray).toHaveLength(1);
  });

  it('custom T4 sets Timer K; over TCP Timer K is 0 and nothing is retransmitted', () => {
    const a = harness({ t4: 1_000 });
    const req = request('BYE');
    a.layer.sendRequest(req, PEER, recordingHandler());
    a.layer.receive(inbound(response(req, 200)));
    a.clock.advance(999);
    expect(a.layer.counters.clientTransactions).toBe(1);
    a.clock.advance(1);
    expect(a.layer.counters.clientTransactions).toBe(0);

    const b = harness();
    const h = recordingHandler();
    const r2 = request('BYE', { transport: 'TCP' });
    b.layer.sendRequest(r2, TCP_PEER, h);
    b.clock.advance(10_000);
    expect(b.sender.times(isMethod('BYE'))).toEqual([0]);
    b.layer.receive(inbound(response(r2, 200), TCP_PEER));
    b.clock.advance(0);
    expect(b.layer.counters.clientTransactions).toBe(0);
    expect(h.events).toEqual(['final 200']);
  });

  it('a CANCEL is its own transaction: responses match by branch and CSeq method', () => {
    const { layer, clock } = harness();
    const inv = request('INVITE', { branch: 'z9hG4bKsame' });
    const cancel = request('CANCEL', { branch: 'z9hG4bKsame' });
    const hi = recordingHandler();
    const hc = recordingHandler();
    layer.sendRequest(inv, PEER, hi);
    layer.receive(inbound(response(inv, 180)));
    layer.sendRequest(cancel, PEER, hc);
    expect(layer.counters.clientTransactions).toBe(2);
    layer.receive(inbound(response(cancel, 200)));
    layer.receive(inbound(response(inv, 487)));
    expect(hc.events).toEqual(['final 200']);
    expect(hi.events).toEqual(['provisional 180', 'final 487']);
    clock.advance(40_000);
    expect(layer.counters.clientTransactions).toBe(0);
  });
});
