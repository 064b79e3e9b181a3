import { describe, it, expect, beforeEach } from 'vitest';
import { pino } from 'pino';
import { TransactionLayer } from '../../../../src/sip/transaction/layer.js';
import type { ServerTransaction, TransactionUser } from '../../../../src/sip/transaction/types.js';
import { parseSipMessage } from '../../../../src/sip/parse.js';
import { createResponse } from '../../../../src/sip/build.js';
import { getCSeq, getHeader, getTo, getVias, type SipMessage, type SipRequest, type SipResponse } from '../../../../src/sip/message.js';
import type { InboundMessage, SipEndpoint, SipSender, TransportProtocol } from '../../../../src/sip/transport/types.js';
import { ManualClock } from '../../../helpers/manual-clock.js';

/**
 * RFC 3261 §17 timers on a manual clock (T1 = 500 ms, T2 = 4 s, T4 = 5 s unless a test says
 * otherwise): every retransmission is counted at the time it is sent.
 */
const PEER: SipEndpoint = { protocol: 'udp', address: '127.0.0.1', port: 5070 };
const TCP_PEER: SipEndpoint = { protocol: 'tcp', address: '127.0.0.1', port: 5070 };

class RecordingSender implements SipSender {
  sent: { msg: SipMessage; to: SipEndpoint; at: number }[] = [];
  fail = false;
  constructor(private readonly clock: ManualClock) {}
  send(message: SipMessage, destination: SipEndpoint): Promise<void> {
    if (this.fail) return Promise.reject(new Error('connection refused'));
    this.sent.push({ msg: message, to: destination, at: this.clock.now() });
    return Promise.resolve();
  }
  localEndpoint(protocol: TransportProtocol): SipEndpoint {
    return { protocol, address: '127.0.0.1', port: 5060 };
  }
  times(pred: (m: SipMessage) => boolean): number[] {
    return this.sent.filter((s) => pred(s.msg)).map((s) => s.at);
  }
}

function msg(text: string): SipMessage {
  const r = parseSipMessage(Buffer.from(text.replace(/\n/g, '\r\n')));
  if (!r.ok) throw new Error(r.error.message);
  return r.message;
}

function request(method: string, branch = 'z9hG4bKabc', extra = ''): SipRequest {
  const m = msg(`${method} sip:bob@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch}
Max-Forwards: 70
From: <sip:alice@127.0.0.1>;tag=a1
To: <sip:bob@127.0.0.1>${extra}
Call-ID: c1@127.0.0.1
CSeq: 1 ${method}
Content-Length: 0

`);
  return m as SipRequest;
}

function response(req: SipRequest, status: number, toTag = 'b1'): SipResponse {
  return createResponse(req, status, undefined, { toTag });
}

const isMethod = (method: string) => (m: SipMessage) => m.kind === 'request' && m.method === method;
const isStatus = (status: number) => (m: SipMessage) => m.kind === 'response' && m.status === status;

let clock: ManualClock;
let sender: RecordingSender;
let layer: TransactionLayer;
let user: TransactionUser & { requests: SipRequest[]; txns: ServerTransaction[]; acks: SipRequest[]; ackTimeouts: number; stray: SipResponse[] };

function build(timers = {}): void {
  clock = new ManualClock();
  sender = new RecordingSender(clock);
  user = {
    requests: [],
    txns: [],
    acks: [],
    ackTimeouts: 0,
    stray: [],
    onRequest(r, t) { this.requests.push(r); this.txns.push(t); },
    onAck(a) { this.acks.push(a); },
    onStrayResponse(r) { this.stray.push(r); },
    onAckTimeout() { this.ackTimeouts++; },
  };
  layer = new TransactionLayer({ sender, clock, timers, log: pino({ level: 'silent' }), user });
}

function inbound(m: SipMessage, source: SipEndpoint = PEER): InboundMessage {
  return { message: m, source, local: { protocol: source.protocol, address: '127.0.0.1', port: 5060 } };
}

/** Lets promise callbacks (transport errors) run. */
const flush = () => new Promise((r) => setImmediate(r));

beforeEach(() => build());

describe('INVITE client transaction (§17.1.1, RFC 6026)', () => {
  it('Timer A retransmits at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s and Timer B times out at 32 s', () => {
    let timeouts = 0;
    layer.sendRequest(request('INVITE'), PEER, { onFinal: () => undefined, onTimeout: () => timeouts++, onTransportError: () => undefined });
    clock.advance(40_000);
    expect(sender.times(isMethod('INVITE'))).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(timeouts).toBe(1);
    expect(layer.counters.clientTransactions).toBe(0);
  });

  it('does not retransmit over TCP, and still times out with Timer B', () => {
    let timeouts = 0;
    layer.sendRequest(request('INVITE'), TCP_PEER, { onFinal: () => undefined, onTimeout: () => timeouts++, onTransportError: () => undefined });
    clock.advance(31_999);
    expect(timeouts).toBe(0);
    clock.advance(1);
    expect(sender.times(isMethod('INVITE'))).toEqual([0]);
    expect(timeouts).toBe(1);
  });

  it('a provisional stops Timer A and Timer B', () => {
    const req = request('INVITE');
    const prov: number[] = [];
    let timeouts = 0;
    layer.sendRequest(req, PEER, { onProvisional: (r) => prov.push(r.status), onFinal: () => undefined, onTimeout: () => timeouts++, onTransportError: () => undefined });
    clock.advance(600);
    layer.receive(inbound(response(req, 180)));
    clock.advance(60_000);
    expect(prov).toEqual([180]);
    expect(sender.times(isMethod('INVITE'))).toEqual([0, 500]);
    expect(timeouts).toBe(0);
  });

  it('ACKs a non-2xx final itself (same branch, To tag of the response) and again for each retransmission during Timer D', () => {
    const req = request('INVITE');
    const finals: number[] = [];
    layer.sendRequest(req, PEER, { onFinal: (r) => finals.push(r.status), onTimeout: () => undefined, onTransportError: () => undefined });
    const busy = response(req, 486);
    layer.receive(inbound(busy));
    layer.receive(inbound(busy));
    const acks = sender.sent.filter((s) => isMethod('ACK')(s.msg)).map((s) => s.msg as SipRequest);
    expect(acks).toHaveLength(2);
    expect(getVias(acks[0])[0].branch).toBe('z9hG4bKabc');
    expect(getTo(acks[0])?.tag).toBe('b1');
    expect(getCSeq(acks[0])).toEqual({ seq: 1, method: 'ACK' });
    expect(acks[0].uri).toBe(req.uri);
    expect(finals).toEqual([486]);
    clock.advance(31_999);
    expect(layer.counters.clientTransactions).toBe(1);
    clock.advance(1);
    expect(layer.counters.clientTransactions).toBe(0);
  });

  it('Accepted passes every 2xx up (so the TU re-ACKs) and ends after Timer M = 64*T1', () => {
    const req = request('INVITE');
    const finals: number[] = [];
    layer.sendRequest(req, PEER, { onFinal: (r) => finals.push(r.status), onTimeout: () => undefined, onTransportError: () => undefined });
    layer.receive(inbound(response(req, 200)));
    layer.receive(inbound(response(req, 200)));
    expect(finals).toEqual([200, 200]);
    expect(sender.times(isMethod('ACK'))).toEqual([]);
    clock.advance(32_000);
    layer.receive(inbound(response(req, 200)));
    expect(finals).toEqual([200, 200]);
    expect(user.stray).toHaveLength(1);
  });

  it('a transport failure is reported once and ends the transaction', async () => {
    sender.fail = true;
    const errors: string[] = [];
    layer.sendRequest(request('INVITE'), TCP_PEER, { onFinal: () => undefined, onTimeout: () => errors.push('timeout'), onTransportError: (e) => errors.push(e.message) });
    await flush();
    clock.advance(40_000);
    expect(errors).toEqual(['connection refused']);
  });

  it('custom T1 scales the schedule', () => {
    build({ t1: 100 });
    layer.sendRequest(request('INVITE'), PEER, { onFinal: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
    clock.advance(10_000);
    expect(sender.times(isMethod('INVITE'))).toEqual([0, 100, 300, 700, 1500, 3100, 6300]);
  });
});

describe('non-INVITE client transaction (§17.1.2)', () => {
  it('Timer E doubles up to T2 and Timer F times out at 64*T1: 11 sends', () => {
    let timeouts = 0;
    layer.sendRequest(request('BYE'), PEER, { onFinal: () => undefined, onTimeout: () => timeouts++, onTransportError: () => undefined });
    clock.advance(40_000);
    expect(sender.times(isMethod('BYE'))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(timeouts).toBe(1);
  });

  it('after a provisional it retransmits every T2; a final stops it; Timer K absorbs for T4', () => {
    const req = request('BYE');
    const finals: number[] = [];
    layer.sendRequest(req, PEER, { onFinal: (r) => finals.push(r.status), onTimeout: () => undefined, onTransportError: () => undefined });
    clock.advance(100);
    layer.receive(inbound(response(req, 100)));
    clock.advance(9_000);
    expect(sender.times(isMethod('BYE'))).toEqual([0, 500, 4500, 8500]);
    layer.receive(inbound(response(req, 200)));
    layer.receive(inbound(response(req, 200)));
    expect(finals).toEqual([200]);
    clock.advance(4_999);
    expect(layer.counters.clientTransactions).toBe(1);
    clock.advance(1);
    expect(layer.counters.clientTransactions).toBe(0);
  });
});

describe('INVITE server transaction (§17.2.1, RFC 6026)', () => {
  it('answers 100 at once, repeats the last response to a retransmitted INVITE', () => {
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    expect(sender.sent.map((s) => (s.msg as SipResponse).status)).toEqual([100]);
    expect(sender.sent[0].to).toEqual(PEER);
    user.txns[0].respond(response(inv, 180));
    layer.receive(inbound(inv));
    expect(sender.sent.map((s) => (s.msg as SipResponse).status)).toEqual([100, 180, 180]);
    expect(user.requests).toHaveLength(1);
  });

  it('Timer G retransmits a non-2xx final until the ACK (0.5, 1.5, 3.5, 7.5, 11.5 …), Timer H gives up at 32 s', () => {
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 486));
    clock.advance(40_000);
    expect(sender.times(isStatus(486))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(layer.counters.serverTransactions).toBe(0);
  });

  it('the ACK confirms it: no more retransmissions, Timer I absorbs ACKs for T4', () => {
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 486));
    clock.advance(600);
    layer.receive(inbound(msg(`ACK sip:bob@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc
Max-Forwards: 70
From: <sip:alice@127.0.0.1>;tag=a1
To: <sip:bob@127.0.0.1>;tag=b1
Call-ID: c1@127.0.0.1
CSeq: 1 ACK
Content-Length: 0

`)));
    expect(user.txns[0].state).toBe('confirmed');
    clock.advance(4_000);
    expect(sender.times(isStatus(486))).toEqual([0, 500]);
    expect(user.acks).toHaveLength(0);
    clock.advance(1_000);
    expect(layer.counters.serverTransactions).toBe(0);
  });

  it('a 2xx is retransmitted (T1 doubling to T2) until the dialog ACK, which goes to the TU', () => {
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 200, 'tt'));
    expect(user.txns[0].state).toBe('accepted');
    clock.advance(8_000);
    expect(sender.times(isStatus(200))).toEqual([0, 500, 1500, 3500, 7500]);
    // RFC 6026: INVITE retransmissions are absorbed in Accepted.
    layer.receive(inbound(inv));
    expect(sender.times(isStatus(200))).toHaveLength(5);
    layer.receive(inbound(msg(`ACK sip:bob@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnewbranch
Max-Forwards: 70
From: <sip:alice@127.0.0.1>;tag=a1
To: <sip:bob@127.0.0.1>;tag=tt
Call-ID: c1@127.0.0.1
CSeq: 1 ACK
Content-Length: 0

`)));
    expect(user.acks).toHaveLength(1);
    clock.advance(60_000);
    expect(sender.times(isStatus(200))).toHaveLength(5);
    expect(user.ackTimeouts).toBe(0);
    expect(layer.counters.serverTransactions).toBe(0);
  });

  it('a 2xx never ACKed is given up after 64*T1 and the TU is told', () => {
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 200));
    clock.advance(31_999);
    expect(user.ackTimeouts).toBe(0);
    clock.advance(1);
    expect(user.ackTimeouts).toBe(1);
    expect(sender.times(isStatus(200))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  });

  it('over TCP there are no retransmissions of finals', () => {
    const inv = request('INVITE');
    layer.receive(inbound(inv, TCP_PEER));
    user.txns[0].respond(response(inv, 486));
    clock.advance(40_000);
    expect(sender.times(isStatus(486))).toEqual([0]);
  });

  it('CANCEL finds the INVITE transaction by branch and sent-by', () => {
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    const cancel = request('CANCEL');
    layer.receive(inbound(cancel));
    expect(user.requests.map((r) => r.method)).toEqual(['INVITE', 'CANCEL']);
    expect(layer.findInviteServerTransaction(cancel)).toBe(user.txns[0]);
    expect(layer.findInviteServerTransaction(request('CANCEL', 'z9hG4bKother'))).toBeUndefined();
  });
});

describe('non-INVITE server transaction (§17.2.2)', () => {
  it('absorbs retransmissions while trying, repeats the final while completed, ends after Timer J', () => {
    const bye = request('BYE');
    layer.receive(inbound(bye));
    layer.receive(inbound(bye));
    expect(sender.sent).toHaveLength(0);
    expect(layer.counters.absorbed).toBe(1);
    user.txns[0].respond(response(bye, 200));
    layer.receive(inbound(bye));
    expect(sender.times(isStatus(200))).toEqual([0, 0]);
    clock.advance(31_999);
    expect(layer.counters.serverTransactions).toBe(1);
    clock.advance(1);
    expect(layer.counters.serverTransactions).toBe(0);
    // After Timer J the same request is new again.
    layer.receive(inbound(bye));
    expect(user.requests).toHaveLength(2);
  });

  it('Timer J is zero over TCP', () => {
    const bye = request('BYE');
    layer.receive(inbound(bye, TCP_PEER));
    user.txns[0].respond(response(bye, 200));
    clock.advance(0);
    expect(layer.counters.serverTransactions).toBe(0);
  });
});

describe('bad input', () => {
  it('drops requests and responses it cannot place, and never throws', () => {
    const noBranch = msg(`OPTIONS sip:x@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070
Max-Forwards: 70
From: <sip:a@127.0.0.1>;tag=1
To: <sip:x@127.0.0.1>
Call-ID: nb
CSeq: 1 OPTIONS
Content-Length: 0

`);
    expect(() => layer.receive(inbound(noBranch))).not.toThrow();
    const handmade: SipRequest = { kind: 'request', version: 'SIP/2.0', method: 'BYE', uri: 'sip:x', headers: [{ name: 'Via', value: '%%%' }], body: Buffer.alloc(0) };
    expect(() => layer.receive(inbound(handmade))).not.toThrow();
    expect(layer.counters.dropped).toBe(2);
    expect(user.requests).toHaveLength(0);
    expect(getHeader(noBranch, 'Call-ID')).toBe('nb');
  });
});
