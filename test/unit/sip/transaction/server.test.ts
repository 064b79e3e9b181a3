import { describe, it, expect } from 'vitest';
import type { SipRequest, SipResponse } from '../../../../src/sip/message.js';
import { flush, harness, inbound, isStatus, PEER, request, response, TCP_PEER } from './harness.js';

/** Server transactions (RFC 3261 §17.2, RFC 6026 §8) on a fake clock; T1 = 500, T2 = 4000, T4 = 5000. */

/** The ACK for a non-2xx shares the INVITE's branch; the ACK for a 2xx has a new one. */
const ackFor = (toTag: string, branch = 'z9hG4bKabc'): SipRequest => request('ACK', { branch, toTag });

describe('INVITE server transaction (§17.2.1)', () => {
  it('sends 100 Trying at once to the request source, before the TU hears of the INVITE', () => {
    const { layer, sender, user } = harness();
    const inv = request('INVITE');
    const source = { protocol: 'udp' as const, address: '192.0.2.7', port: 40000 };
    layer.receive(inbound(inv, source));
    expect(sender.sent).toHaveLength(1);
    const trying = sender.sent[0].message as SipResponse;
    expect(trying.status).toBe(100);
    expect(sender.sent[0].destination).toEqual(source);
    expect(user.requests).toEqual([inv]);
    expect(user.txns[0].state).toBe('proceeding');
    expect(user.txns[0].lastResponse).toBe(trying);
    expect(user.txns[0].source).toEqual(source);
  });

  it('a retransmitted INVITE gets the last response again and is not passed up', () => {
    const { layer, sender, user } = harness();
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 180));
    layer.receive(inbound(inv));
    expect(sender.sent.map((s) => (s.message as SipResponse).status)).toEqual([100, 100, 180, 180]);
    expect(user.requests).toHaveLength(1);
    expect(layer.counters.absorbed).toBe(2);
  });

  it('Timer G retransmits a non-2xx final (T1 doubling to T2); Timer H ends it at 64*T1 telling nobody', () => {
    const { layer, clock, sender, user } = harness();
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    const txn = user.txns[0];
    txn.respond(response(inv, 486));
    expect(txn.state).toBe('completed');
    clock.advance(31_999);
    expect(sender.times(isStatus(486))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(layer.counters.serverTransactions).toBe(1);
    clock.advance(1);
    expect(txn.state).toBe('terminated');
    expect(layer.counters.serverTransactions).toBe(0);
    clock.advance(60_000);
    expect(sender.times(isStatus(486))).toHaveLength(11);
    expect(user.acks).toEqual([]);
    expect(user.ackTimeouts).toEqual([]);
    // After Timer H the same INVITE is a new transaction.
    layer.receive(inbound(inv));
    expect(user.requests).toHaveLength(2);
  });

  it('custom T1/T2 change Timer G and H', () => {
    const { layer, clock, sender, user } = harness({ t1: 200, t2: 1000 });
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 404));
    clock.advance(12_799);
    expect(sender.times(isStatus(404))).toEqual([0, 200, 600, 1400, ...Array.from({ length: 11 }, (_, i) => 2400 + 1000 * i)]);
    expect(layer.counters.serverTransactions).toBe(1);
    clock.advance(1);
    expect(layer.counters.serverTransactions).toBe(0);
  });

  it('a retransmitted INVITE in Completed gets the final again', () => {
    const { layer, clock, sender, user } = harness();
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 486));
    clock.advance(100);
    layer.receive(inbound(inv));
    expect(sender.times(isStatus(486))).toEqual([0, 100]);
  });

  it('the ACK confirms it: Timer G stops, Timer I = T4 absorbs ACK retransmissions, the ACK is not passed up', () => {
    const { layer, clock, sender, user } = harness();
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 486));
    clock.advance(600);
    layer.receive(inbound(ackFor('b1')));
    expect(user.txns[0].state).toBe('confirmed');
    layer.receive(inbound(ackFor('b1')));
    expect(layer.counters.absorbed).toBe(1);
    clock.advance(4_999);
    expect(sender.times(isStatus(486))).toEqual([0, 500]);
    expect(layer.counters.serverTransactions).toBe(1);
    clock.advance(1);
    expect(layer.counters.serverTransactions).toBe(0);
    expect(user.acks).toEqual([]);
  });

  it('over TCP: no Timer G, Timer I = 0, Timer H still 64*T1 without an ACK', () => {
    const a = harness();
    const inv = request('INVITE', { transport: 'TCP' });
    a.layer.receive(inbound(inv, TCP_PEER));
    a.user.txns[0].respond(response(inv, 486));
    a.layer.receive(inbound(request('ACK', { transport: 'TCP', toTag: 'b1' }), TCP_PEER));
    a.clock.advance(0);
    expect(a.layer.counters.serverTransactions).toBe(0);
    expect(a.sender.times(isStatus(486))).toEqual([0]);

    const b = harness();
    b.layer.receive(inbound(inv, TCP_PEER));
    b.user.txns[0].respond(response(inv, 486));
    b.clock.advance(31_999);
    expect(b.sender.times(isStatus(486))).toEqual([0]);
    expect(b.layer.counters.serverTransactions).toBe(1);
    b.clock.advance(1);
    expect(b.layer.counters.serverTransactions).toBe(0);
  });

  it('custom T4 sets Timer I', () => {
    const { layer, clock, user } = harness({ t4: 2_000 });
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 486));
    layer.receive(inbound(ackFor('b1')));
    clock.advance(1_999);
    expect(layer.counters.serverTransactions).toBe(1);
    clock.advance(1);
    expect(layer.counters.serverTransactions).toBe(0);
  });
});

describe('INVITE server 2xx (RFC 6026 Accepted, RFC 3261 §13.3.1.4)', () => {
  it('retransmits the 2xx (T1 doubling to T2) until the ACK matching Call-ID, CSeq and To tag; the ACK goes to onAck', () => {
    const { layer, clock, sender, user } = harness();
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    const txn = user.txns[0];
    txn.respond(response(inv, 200, 'tt'));
    expect(txn.state).toBe('accepted');
    clock.advance(8_000);
    expect(sender.times(isStatus(200))).toEqual([0, 500, 1500, 3500, 7500]);
    // Retransmitted INVITEs are absorbed in Accepted: the 2xx retransmission covers them.
    layer.receive(inbound(inv));
    expect(sender.times(isStatus(200))).toHaveLength(5);
    // An ACK with another To tag (another dialog) does not stop it, but still goes up.
    layer.receive(inbound(ackFor('other', 'z9hG4bKack1')));
    clock.advance(4_000);
    expect(sender.times(isStatus(200))).toEqual([0, 500, 1500, 3500, 7500, 11500]);
    const ack = ackFor('tt', 'z9hG4bKack2');
    layer.receive(inbound(ack));
    expect(user.acks).toHaveLength(2);
    expect(user.acks[1]).toBe(ack);
    clock.advance(60_000);
    expect(sender.times(isStatus(200))).toHaveLength(6);
    expect(user.ackTimeouts).toEqual([]);
    expect(sender.sent.every((s) => s.destination === PEER)).toBe(true);
  });

  it('Timer L: the transaction lingers 64*T1 in Accepted, then ends', () => {
    const { layer, clock, user } = harness();
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 200));
    layer.receive(inbound(ackFor('b1', 'z9hG4bKack')));
    clock.advance(31_999);
    expect(user.txns[0].state).toBe('accepted');
    expect(layer.counters.serverTransactions).toBe(1);
    clock.advance(1);
    expect(user.txns[0].state).toBe('terminated');
    expect(layer.counters.serverTransactions).toBe(0);
  });

  it('a 2xx never ACKed: 11 sends, then onAckTimeout(txn) at 64*T1', () => {
    const { layer, clock, sender, user } = harness();
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 200));
    clock.advance(31_999);
    expect(user.ackTimeouts).toEqual([]);
    clock.advance(1);
    expect(user.ackTimeouts).toEqual([user.txns[0]]);
    clock.advance(60_000);
    expect(sender.times(isStatus(200))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(layer.counters.retransmissions).toBe(10);
  });

  it('over TCP the 2xx is sent once; the ACK timeout still applies', () => {
    const { layer, clock, sender, user } = harness();
    const inv = request('INVITE', { transport: 'TCP' });
    layer.receive(inbound(inv, TCP_PEER));
    user.txns[0].respond(response(inv, 200));
    clock.advance(32_000);
    expect(sender.times(isStatus(200))).toEqual([0]);
    expect(user.ackTimeouts).toHaveLength(1);
  });

  it('a 2xx the TU passes down again in Accepted is sent; other responses are ignored', () => {
    const { layer, sender, user } = harness();
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    const ok = response(inv, 200);
    user.txns[0].respond(ok);
    user.txns[0].respond(ok);
    user.txns[0].respond(response(inv, 486));
    expect(sender.sent.map((s) => (s.message as SipResponse).status)).toEqual([100, 200, 200]);
    expect(user.txns[0].lastResponse).toBe(ok);
  });
});

describe('non-INVITE server transaction (§17.2.2)', () => {
  it('Trying absorbs retransmissions; Proceeding and Completed repeat the last response; Timer J = 64*T1', () => {
    const { layer, clock, sender, user } = harness();
    const bye = request('BYE');
    layer.receive(inbound(bye));
    layer.receive(inbound(bye));
    expect(sender.sent).toHaveLength(0);
    expect(user.txns[0].state).toBe('trying');
    user.txns[0].respond(response(bye, 100));
    expect(user.txns[0].state).toBe('proceeding');
    layer.receive(inbound(bye));
    user.txns[0].respond(response(bye, 200));
    expect(user.txns[0].state).toBe('completed');
    user.txns[0].respond(response(bye, 500)); // after the final: ignored
    layer.receive(inbound(bye));
    expect(sender.sent.map((s) => [(s.message as SipResponse).status, s.at])).toEqual([[100, 0], [100, 0], [200, 0], [200, 0]]);
    expect(layer.counters.absorbed).toBe(3);
    expect(user.requests).toHaveLength(1);
    clock.advance(31_999);
    expect(sender.sent).toHaveLength(4); // no retransmission of non-INVITE finals by timer
    expect(layer.counters.serverTransactions).toBe(1);
    clock.advance(1);
    expect(layer.counters.serverTransactions).toBe(0);
    layer.receive(inbound(bye));
    expect(user.requests).toHaveLength(2);
  });

  it('Timer J is 0 over TCP', () => {
    const { layer, clock, user } = harness();
    const bye = request('BYE', { transport: 'TCP' });
    layer.receive(inbound(bye, TCP_PEER));
    user.txns[0].respond(response(bye, 200));
    expect(layer.counters.serverTransactions).toBe(1);
    clock.advance(0);
    expect(layer.counters.serverTransactions).toBe(0);
  });

  it('a transport error sending a response ends the transaction and is logged', async () => {
    const { layer, sender, user, logs } = harness();
    const bye = request('BYE', { transport: 'TCP' });
    layer.receive(inbound(bye, TCP_PEER));
    sender.fail = new Error('connection reset');
    user.txns[0].respond(response(bye, 200));
    await flush();
    expect(user.txns[0].state).toBe('terminated');
    expect(layer.counters.serverTransactions).toBe(0);
    expect(logs.some((l) => l.msg === 'response could not be sent; transaction ends' && l.callId === 'c1@127.0.0.1')).toBe(true);
  });
});
