import { createLogger } from '../../../src/common/log.js';
import { createRequest, createResponse, newTag } from '../../../src/sip/build.js';
import { getCSeq, getHeader, type SipHeader, type SipMessage, type SipRequest, type SipResponse } from '../../../src/sip/message.js';
import type { SipEndpoint, SipSender, TransportProtocol } from '../../../src/sip/transport/types.js';
import type { ClientTransaction, ClientTransactionHandler, ServerState, ServerTransaction } from '../../../src/sip/transaction/types.js';
import type { AnswerRequest, CallStats, DeleteRequest, GlobalStatistics, MediaControl, OfferRequest, SdpResult } from '../../../src/media/api.js';
import { LOCAL_CODEC_CAPABILITIES } from '../../../src/media/codecs/codec.js';
import { SipContext, type TransactionApi } from '../../../src/b2bua/sip-context.js';
import { B2buaCall } from '../../../src/b2bua/call.js';
import { defaultLegPolicy } from '../../../src/b2bua/policy.js';
import type { RouteTarget } from '../../../src/b2bua/routes.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/**
 * One B2buaCall between scripted legs, through the SipContext seam: the transaction layer, the
 * sender and the media plane are fakes that record what the call asks of them, so a test plays
 * leg B's responses and leg A's requests and reads what went where.
 */
export const sdp = (host: string, port = 4000): string =>
  ['v=0', `o=- 1 1 IN IP4 ${host}`, 's=-', `c=IN IP4 ${host}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

const LOCAL: SipEndpoint = { protocol: 'udp', address: '192.0.2.1', port: 5060 };
const CALLER: SipEndpoint = { protocol: 'udp', address: '203.0.113.5', port: 5060 };

export function target(n: number): RouteTarget {
  return { uri: `sip:gw${n}@198.51.100.${n}`, endpoint: { protocol: 'udp', address: `198.51.100.${n}`, port: 5060 }, weight: 1, priority: n };
}

/** A request the call sent through the transaction layer, with the handler its responses go to. */
export interface SentRequest {
  req: SipRequest;
  destination: SipEndpoint;
  handler: ClientTransactionHandler;
}

class FakeMedia implements MediaControl {
  readonly codecs = LOCAL_CODEC_CAPABILITIES;
  readonly offers: OfferRequest[] = [];
  readonly answers: AnswerRequest[] = [];
  readonly deletes: DeleteRequest[] = [];
  failOffer: unknown;
  failAnswer: unknown;

  offer(req: OfferRequest): Promise<SdpResult> {
    this.offers.push(req);
    if (this.failOffer !== undefined) return Promise.reject(this.failOffer);
    return Promise.resolve({ sdp: `${req.sdp}a=x-offered-by:${req.fromTag}\r\n`, warnings: [] });
  }
  answer(req: AnswerRequest): Promise<SdpResult> {
    this.answers.push(req);
    if (this.failAnswer !== undefined) return Promise.reject(this.failAnswer);
    return Promise.resolve({ sdp: `${req.sdp}a=x-answered-by:${req.fromTag}\r\n`, warnings: [] });
  }
  delete(req: DeleteRequest): Promise<CallStats> {
    this.deletes.push(req);
    return Promise.resolve({} as CallStats);
  }
  query(): Promise<CallStats> {
    return Promise.resolve({} as CallStats);
  }
  list(): Promise<string[]> {
    return Promise.resolve([]);
  }
  statistics(): Promise<GlobalStatistics> {
    return Promise.resolve({} as GlobalStatistics);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class CallHarness {
  readonly media = new FakeMedia();
  readonly clock = new FakeClock(1000);
  /** requests sent through the transaction layer, in order. */
  readonly sent: SentRequest[] = [];
  /** messages sent outside any transaction (ACKs for 2xx). */
  readonly direct: { msg: SipMessage; destination: SipEndpoint }[] = [];
  /** responses on leg A's INVITE transaction. */
  readonly toA: SipResponse[] = [];
  readonly ended: string[] = [];
  readonly call: B2buaCall;
  readonly invite: SipRequest;
  readonly aTag = newTag();
  private aSeq = 1;
  private bSeq = 100;
  readonly bTag = newTag();

  constructor(opts: { targets?: RouteTarget[]; offer?: boolean; parallel?: boolean } = {}) {
    const transactions: TransactionApi = {
      sendRequest: (req, destination, handler): ClientTransaction => {
        this.sent.push({ req, destination, handler });
        return { id: String(this.sent.length), request: req, destination, state: 'calling' };
      },
      findInviteServerTransaction: () => undefined,
    };
    const sender: SipSender = {
      send: (msg, destination) => {
        this.direct.push({ msg, destination });
        return Promise.resolve();
      },
      localEndpoint: (protocol: TransportProtocol) => ({ ...LOCAL, protocol }),
    } as SipSender;
    const ctx = new SipContext(transactions, sender, this.media, this.clock, createLogger({ level: 'silent' }), undefined);
    const body = opts.offer === false ? undefined : sdp('203.0.113.5');
    this.invite = createRequest(
      'INVITE',
      'sip:100@192.0.2.1',
      [
        { name: 'Via', value: 'SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKcaller1' },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `<sip:alice@203.0.113.5>;tag=${this.aTag}` },
        { name: 'To', value: '<sip:100@192.0.2.1>' },
        { name: 'Call-ID', value: 'call-1@203.0.113.5' },
        { name: 'CSeq', value: `${this.aSeq} INVITE` },
        { name: 'Contact', value: '<sip:alice@203.0.113.5:5060>' },
        ...(body !== undefined ? [{ name: 'Content-Type', value: 'application/sdp' }] : []),
      ],
      body !== undefined ? Buffer.from(body) : Buffer.alloc(0),
    );
    const txn: ServerTransaction = {
      id: 'a-invite',
      request: this.invite,
      source: CALLER,
      state: 'proceeding' as ServerState,
      lastResponse: undefined,
      respond: (res) => this.toA.push(res),
    };
    this.call = new B2buaCall(
      ctx,
      {
        invite: this.invite,
        txn,
        inbound: { message: this.invite, source: CALLER, local: LOCAL },
        routeName: 'test',
        policy: { a: defaultLegPolicy(), b: defaultLegPolicy() },
        targets: opts.targets ?? [target(1)],
        ...(opts.parallel === true ? { parallel: true } : {}),
        copyHeaders: [],
        callerCodecs: ['PCMU'],
      },
      (_c, reason) => this.ended.push(reason),
    );
  }

  /** Lets the call's event chain run (fake media answers at once). */
  async settle(): Promise<void> {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  }

  async start(): Promise<void> {
    this.call.start();
    await this.settle();
  }

  /** Requests sent with this method, in order. */
  sentOf(method: string): SentRequest[] {
    return this.sent.filter((s) => s.req.method === method);
  }

  /** The last request sent with this method. */
  last(method: string): SentRequest {
    const all = this.sentOf(method);
    if (all.length === 0) throw new Error(`no ${method} sent`);
    return all[all.length - 1];
  }

  /** A response from leg B to `s`, To-tagged and with a Contact; `body` makes it carry SDP. */
  response(s: SentRequest, status: number, body?: string): SipResponse {
    const headers: SipHeader[] = [{ name: 'Contact', value: `<sip:bob@${s.destination.address}:5060>` }];
    if (body !== undefined) headers.push({ name: 'Content-Type', value: 'application/sdp' });
    return createResponse(s.req, status, undefined, { toTag: this.bTag, headers, ...(body !== undefined ? { body: Buffer.from(body) } : {}) });
  }

  async provisional(s: SentRequest, status = 180, body?: string): Promise<void> {
    s.handler.onProvisional?.(this.response(s, status, body));
    await this.settle();
  }

  async final(s: SentRequest, status: number, body?: string): Promise<void> {
    s.handler.onFinal(this.response(s, status, body));
    await this.settle();
  }

  /** Leg B's 200 with an answer (or, for an offerless INVITE, an offer). */
  async answer(s: SentRequest = this.last('INVITE')): Promise<void> {
    await this.final(s, 200, sdp('198.51.100.9', 5000));
  }

  /** An in-dialog request from `leg` with its own CSeq, handed to the call with a recording server transaction. */
  inDialog(leg: 'a' | 'b', method: string, body?: string): { req: SipRequest; responses: SipResponse[] } {
    const responses: SipResponse[] = [];
    const req = this.dialogRequest(leg, method, leg === 'a' ? ++this.aSeq : ++this.bSeq, body);
    const txn: ServerTransaction = { id: `${leg}-${method}-${this.sent.length}`, request: req, source: CALLER, state: 'trying', lastResponse: undefined, respond: (r) => responses.push(r) };
    this.call.handleRequest(leg, req, txn);
    return { req, responses };
  }

  /** The ACK from `leg` for the 2xx we sent it, with an answer when given. */
  ack(leg: 'a' | 'b', cseq: number, body?: string): void {
    this.call.handleAck(leg, this.dialogRequest(leg, 'ACK', cseq, body));
  }

  private dialogRequest(leg: 'a' | 'b', method: string, seq: number, body?: string): SipRequest {
    const a = leg === 'a';
    const headers: SipHeader[] = [
      { name: 'Via', value: `SIP/2.0/UDP ${a ? '203.0.113.5' : '198.51.100.1'}:5060;branch=z9hG4bK${method}${seq}` },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: a ? `<sip:alice@203.0.113.5>;tag=${this.aTag}` : `<sip:bob@198.51.100.1>;tag=${this.bTag}` },
      { name: 'To', value: a ? `<sip:100@192.0.2.1>;tag=${this.call.aLocalTag}` : `<sip:alice@203.0.113.5>;tag=${this.call.bLocalTag}` },
      { name: 'Call-ID', value: a ? this.call.mediaCallId : this.call.bCallId },
      { name: 'CSeq', value: `${seq} ${method}` },
      { name: 'Contact', value: a ? '<sip:alice@203.0.113.5:5060>' : '<sip:bob@198.51.100.1:5060>' },
    ];
    if (body !== undefined) headers.push({ name: 'Content-Type', value: 'application/sdp' });
    return createRequest(method, 'sip:x@192.0.2.1', headers, body !== undefined ? Buffer.from(body) : Buffer.alloc(0));
  }

  /** Statuses leg A's INVITE got, in order. */
  aStatuses(): number[] {
    return this.toA.map((r) => r.status);
  }

  /** ACKs sent outside a transaction to `address`. */
  acksTo(address: string): SipRequest[] {
    return this.direct.filter((d) => d.destination.address === address && d.msg.kind === 'request' && d.msg.method === 'ACK').map((d) => d.msg as SipRequest);
  }
}

export function cseqOf(req: SipRequest): number | undefined {
  return getCSeq(req)?.seq;
}

export function hasSdp(msg: SipMessage): boolean {
  return msg.body.length > 0 && getHeader(msg, 'Content-Type') === 'application/sdp';
}
