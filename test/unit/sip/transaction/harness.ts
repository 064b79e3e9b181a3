import { pino } from 'pino';
import { TransactionLayer } from '../../../../src/sip/transaction/layer.js';
import type { ClientTransactionHandler, ServerTransaction, TimerSettings, TransactionUser } from '../../../../src/sip/transaction/types.js';
import { parseSipMessage } from '../../../../src/sip/parse.js';
import { createResponse } from '../../../../src/sip/build.js';
import type { SipMessage, SipRequest, SipResponse } from '../../../../src/sip/message.js';
import type { InboundMessage, SipEndpoint, SipSender, StreamWatcher, TransportProtocol } from '../../../../src/sip/transport/types.js';
import { StreamWatchers } from '../../../../src/sip/transport/stream-watch.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

/** Shared fixtures for the transaction-layer tests (not a test file itself). */

export const PEER: SipEndpoint = { protocol: 'udp', address: '127.0.0.1', port: 5070 };
export const TCP_PEER: SipEndpoint = { protocol: 'tcp', address: '127.0.0.1', port: 5070 };

export interface Sent {
  message: SipMessage;
  destination: SipEndpoint;
  at: number;
  watcher?: StreamWatcher;
}

/** An in-memory transport: records every message with the clock time it was sent. */
export class RecordingSender implements SipSender {
  sent: Sent[] = [];
  /** reject every send with this error (asynchronously, like a real transport). */
  fail: Error | undefined;
  /** throw synchronously instead (a faulty transport). */
  throwSync = false;
  /** the one stream connection every watched send is attached to (as the transport would). */
  readonly connection = new StreamWatchers();

  constructor(private readonly clock: FakeClock) {}

  send(message: SipMessage, destination: SipEndpoint, watcher?: StreamWatcher): Promise<void> {
    if (this.throwSync) throw new Error('sender exploded');
    if (this.fail !== undefined) return Promise.reject(this.fail);
    if (watcher !== undefined) this.connection.add(watcher);
    this.sent.push({ message, destination, at: this.clock.now(), ...(watcher !== undefined ? { watcher } : {}) });
    return Promise.resolve();
  }

  localEndpoint(protocol: TransportProtocol): SipEndpoint {
    return { protocol, address: '127.0.0.1', port: 5060 };
  }

  /** send times of the messages that match. */
  times(pred: (m: SipMessage) => boolean): number[] {
    return this.sent.filter((s) => pred(s.message)).map((s) => s.at);
  }

  of(pred: (m: SipMessage) => boolean): SipMessage[] {
    return this.sent.filter((s) => pred(s.message)).map((s) => s.message);
  }
}

export const isMethod = (method: string) => (m: SipMessage): boolean => m.kind === 'request' && m.method === method;
export const isStatus = (status: number) => (m: SipMessage): boolean => m.kind === 'response' && m.status === status;

export function msg(text: string): SipMessage {
  const r = parseSipMessage(Buffer.from(text.replace(/\r?\n/g, '\r\n')));
  if (!r.ok) throw new Error(r.error.message);
  return r.message;
}

export interface RequestOpts {
  branch?: string;
  sentBy?: string;
  transport?: string;
  toTag?: string;
  seq?: number;
  callId?: string;
}

export function request(method: string, o: RequestOpts = {}): SipRequest {
  const to = o.toTag === undefined ? '' : `;tag=${o.toTag}`;
  return msg(`${method} sip:bob@127.0.0.1 SIP/2.0
Via: SIP/2.0/${o.transport ?? 'UDP'} ${o.sentBy ?? '127.0.0.1:5070'};branch=${o.branch ?? 'z9hG4bKabc'}
Max-Forwards: 70
From: <sip:alice@127.0.0.1>;tag=a1
To: <sip:bob@127.0.0.1>${to}
Call-ID: ${o.callId ?? 'c1@127.0.0.1'}
CSeq: ${o.seq ?? 1} ${method}
Content-Length: 0

`) as SipRequest;
}

export function response(req: SipRequest, status: number, toTag = 'b1'): SipResponse {
  return createResponse(req, status, undefined, { toTag });
}

export function inbound(m: SipMessage, source: SipEndpoint = PEER): InboundMessage {
  return { message: m, source, local: { protocol: source.protocol, address: '127.0.0.1', port: 5060 } };
}

/** Lets promise callbacks (transport errors) run. */
export const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface RecordingUser extends TransactionUser {
  requests: SipRequest[];
  txns: ServerTransaction[];
  acks: SipRequest[];
  ackTimeouts: ServerTransaction[];
  stray: SipResponse[];
}

export function recordingUser(): RecordingUser {
  return {
    requests: [],
    txns: [],
    acks: [],
    ackTimeouts: [],
    stray: [],
    onRequest(r, t) { this.requests.push(r); this.txns.push(t); },
    onAck(a) { this.acks.push(a); },
    onStrayResponse(r) { this.stray.push(r); },
    onAckTimeout(t) { this.ackTimeouts.push(t); },
  };
}

/** A client handler that records what it is told, in order. */
export interface RecordingHandler extends ClientTransactionHandler {
  events: string[];
  finals: SipResponse[];
}

export function recordingHandler(): RecordingHandler {
  return {
    events: [],
    finals: [],
    onProvisional(r) { this.events.push(`provisional ${r.status}`); },
    onFinal(r) { this.events.push(`final ${r.status}`); this.finals.push(r); },
    onTimeout() { this.events.push('timeout'); },
    onTransportError(e) { this.events.push(`transport error: ${e.message}`); },
  };
}

export interface Harness {
  clock: FakeClock;
  sender: RecordingSender;
  user: RecordingUser;
  layer: TransactionLayer;
  /** JSON log lines (level debug and up). */
  logs: Record<string, unknown>[];
}

export function harness(timers: Partial<TimerSettings> = {}): Harness {
  const clock = new FakeClock();
  const sender = new RecordingSender(clock);
  const user = recordingUser();
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const layer = new TransactionLayer({ sender, clock, timers, log, user });
  return { clock, sender, user, layer, logs };
}
