import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { TransactionLayer } from '../../../../src/sip/transaction/layer.js';
import type { SipRequest, SipResponse } from '../../../../src/sip/message.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { harness, inbound, isMethod, msg, PEER, recordingHandler, recordingUser, RecordingSender, request, response } from './harness.js';

/** Matching (§17.1.3, §17.2.3), routing to the TU, bad input, close(), logging. */

describe('matching and routing', () => {
  it('CANCEL lookup: same branch and sent-by (host case-insensitive), method INVITE; CANCEL is its own transaction', () => {
    const { layer, user, clock } = harness();
    const inv = request('INVITE', { sentBy: 'PBX.example.com:5070' });
    layer.receive(inbound(inv));
    const cancel = request('CANCEL', { sentBy: 'pbx.example.com:5070' });
    layer.receive(inbound(cancel));
    expect(user.requests.map((r) => r.method)).toEqual(['INVITE', 'CANCEL']);
    expect(user.txns[1]).not.toBe(user.txns[0]);
    expect(layer.findInviteServerTransaction(cancel)).toBe(user.txns[0]);
    expect(layer.findInviteServerTransaction(request('CANCEL', { branch: 'z9hG4bKother', sentBy: 'pbx.example.com:5070' }))).toBeUndefined();
    expect(layer.findInviteServerTransaction(request('CANCEL', { sentBy: 'pbx.example.com:5080' }))).toBeUndefined();
    // Once the INVITE transaction is gone, the CANCEL finds nothing (the TU answers 481).
    user.txns[0].respond(response(inv, 487));
    clock.advance(32_000);
    expect(layer.findInviteServerTransaction(cancel)).toBeUndefined();
  });

  it('the same branch from another sent-by, or for another method, is a different transaction', () => {
    const { layer, user } = harness();
    layer.receive(inbound(request('OPTIONS')));
    layer.receive(inbound(request('OPTIONS', { sentBy: '10.0.0.1:5060' })));
    layer.receive(inbound(request('INFO')));
    expect(user.requests).toHaveLength(3);
    expect(layer.counters.serverTransactions).toBe(3);
  });

  it('a response whose branch matches but CSeq method does not is stray (§17.1.3)', () => {
    const { layer, user } = harness();
    const inv = request('INVITE');
    const h = recordingHandler();
    layer.sendRequest(inv, PEER, h);
    const wrong = response(request('BYE'), 200);
    layer.receive(inbound(wrong));
    expect(h.events).toEqual([]);
    expect(user.stray).toEqual([wrong]);
  });

  it('an ACK that matches nothing goes to onAck', () => {
    const { layer, user } = harness();
    const ack = request('ACK', { branch: 'z9hG4bKlonely', toTag: 'x' });
    layer.receive(inbound(ack));
    expect(user.acks).toEqual([ack]);
  });

  it('an ACK without a branch can still be the ACK for our 2xx (matched by dialog)', () => {
    const { layer, user, clock, sender } = harness();
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 200, 'tt'));
    const ack = msg(`ACK sip:bob@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070
From: <sip:alice@127.0.0.1>;tag=a1
To: <sip:bob@127.0.0.1>;tag=tt
Call-ID: c1@127.0.0.1
CSeq: 1 ACK
Content-Length: 0

`) as SipRequest;
    layer.receive(inbound(ack));
    clock.advance(10_000);
    expect(user.acks).toEqual([ack]);
    expect(sender.sent.filter((s) => (s.message as SipResponse).status === 200)).toHaveLength(1);
  });

  it('a branch without the z9hG4bK cookie is matched by branch + sent-by (documented fallback)', () => {
    const { layer, user, sender } = harness();
    const old = request('INVITE', { branch: '1234abcd' });
    layer.receive(inbound(old));
    layer.receive(inbound(old));
    expect(user.requests).toHaveLength(1);
    expect(sender.sent).toHaveLength(2); // 100 and its repeat
  });

  it('sendRequest needs a Via branch; an ACK is sent once and no transaction is kept', () => {
    const { layer, clock, sender } = harness();
    const noBranch = msg(`OPTIONS sip:x@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5060
From: <sip:a@127.0.0.1>;tag=1
To: <sip:x@127.0.0.1>
Call-ID: nb
CSeq: 1 OPTIONS
Content-Length: 0

`) as SipRequest;
    expect(() => layer.sendRequest(noBranch, PEER, recordingHandler())).toThrow(TypeError);
    const ack = layer.sendRequest(request('ACK', { toTag: 't' }), PEER, recordingHandler());
    expect(ack.state).toBe('terminated');
    clock.advance(40_000);
    expect(sender.times(isMethod('ACK'))).toEqual([0]);
    expect(layer.counters.clientTransactions).toBe(0);
  });
});

describe('robustness', () => {
  it('drops requests and responses it cannot place, counts them, and never throws', () => {
    const { layer, user } = harness();
    const noBranch = msg(`OPTIONS sip:x@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070
From: <sip:a@127.0.0.1>;tag=1
To: <sip:x@127.0.0.1>
Call-ID: nb
CSeq: 1 OPTIONS
Content-Length: 0

`);
    const badVia: SipRequest = { kind: 'request', version: 'SIP/2.0', method: 'BYE', uri: 'sip:x', headers: [{ name: 'Via', value: '%%%' }, { name: 'CSeq', value: '1 BYE' }], body: Buffer.alloc(0) };
    const noVia: SipRequest = { kind: 'request', version: 'SIP/2.0', method: 'BYE', uri: 'sip:x', headers: [{ name: 'CSeq', value: '1 BYE' }], body: Buffer.alloc(0) };
    const noCSeq: SipRequest = { kind: 'request', version: 'SIP/2.0', method: 'INVITE', uri: 'sip:x', headers: [{ name: 'Via', value: 'SIP/2.0/UDP h;branch=z9hG4bK1' }], body: Buffer.alloc(0) };
    const badCSeq: SipRequest = { ...noCSeq, headers: [...noCSeq.headers, { name: 'CSeq', value: 'x y z' }] };
    const badResponse: SipResponse = { kind: 'response', version: 'SIP/2.0', status: 200, reason: 'OK', headers: [{ name: 'Via', value: '!!' }], body: Buffer.alloc(0) };
    const noBranchResponse: SipResponse = { kind: 'response', version: 'SIP/2.0', status: 200, reason: 'OK', headers: [{ name: 'Via', value: 'SIP/2.0/UDP h' }, { name: 'CSeq', value: '1 INVITE' }], body: Buffer.alloc(0) };
    for (const m of [noBranch, badVia, noVia, noCSeq, badCSeq, badResponse, noBranchResponse]) {
      expect(() => layer.receive(inbound(m))).not.toThrow();
    }
    expect(layer.counters.dropped).toBe(7);
    expect(user.requests).toHaveLength(0);
    expect(user.stray).toHaveLength(0);
    expect(layer.findInviteServerTransaction(badVia)).toBeUndefined();
  });

  it('a TU that throws does not break the layer or the clock; it is logged', () => {
    const { clock, sender, logs } = harness();
    const user = recordingUser();
    user.onRequest = () => {
      throw new Error('tu bug');
    };
    const log = pino({ level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
    const layer = new TransactionLayer({ sender, clock, log, user });
    const inv = request('INVITE');
    expect(() => layer.receive(inbound(inv))).not.toThrow();
    expect(layer.counters.dropped).toBe(0);
    const h = recordingHandler();
    h.onTimeout = () => {
      throw new Error('handler bug');
    };
    layer.sendRequest(request('OPTIONS', { branch: 'z9hG4bKopt' }), PEER, h);
    expect(() => clock.advance(40_000)).not.toThrow();
    expect(logs.filter((l) => l.msg === 'transaction user threw').map((l) => l.callback)).toEqual(['onRequest', 'onTimeout']);
  });

  it('close() cancels every timer and later input is dropped', () => {
    const { layer, clock, sender, user } = harness();
    layer.sendRequest(request('INVITE', { branch: 'z9hG4bKc1' }), PEER, recordingHandler());
    layer.sendRequest(request('BYE', { branch: 'z9hG4bKc2' }), PEER, recordingHandler());
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 200));
    const opt = request('OPTIONS', { branch: 'z9hG4bKo' });
    layer.receive(inbound(opt));
    user.txns[1].respond(response(opt, 200));
    expect(clock.pending()).toBeGreaterThan(0);
    const before = sender.sent.length;
    layer.close();
    expect(clock.pending()).toBe(0);
    expect(layer.counters).toMatchObject({ clientTransactions: 0, serverTransactions: 0 });
    layer.receive(inbound(request('INVITE', { branch: 'z9hG4bKlate' })));
    clock.advance(100_000);
    expect(sender.sent.length).toBe(before);
    expect(user.requests).toHaveLength(2);
    expect(user.ackTimeouts).toEqual([]);
  });

  it('bad timer settings (undefined, NaN, 0) keep the defaults', () => {
    const clock = new FakeClock();
    const sender = new RecordingSender(clock);
    const layer = new TransactionLayer({ sender, clock, timers: { t1: undefined, t2: Number.NaN, t4: 0 }, log: pino({ level: 'silent' }), user: recordingUser() });
    layer.sendRequest(request('BYE'), PEER, recordingHandler());
    clock.advance(40_000);
    expect(sender.sent).toHaveLength(11);
  });

  it('transaction log lines carry the callId', () => {
    const { layer, clock, logs } = harness();
    layer.sendRequest(request('INVITE', { callId: 'log-test@host' }), PEER, recordingHandler());
    clock.advance(32_000);
    const line = logs.find((l) => l.msg === 'Timer B fired');
    expect(line?.callId).toBe('log-test@host');
  });
});
