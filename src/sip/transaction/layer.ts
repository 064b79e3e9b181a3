import type { Logger } from '../../common/log.js';
import { systemClock, type Clock, type TimerHandle } from '../../common/clock.js';
import { createResponse } from '../build.js';
import { getCSeq, getCallId, getTo, getVias, type SipRequest, type SipResponse } from '../message.js';
import { isReliable, type InboundMessage, type SipEndpoint, type SipSender } from '../transport/types.js';
import { ClientTxn } from './client.js';
import { ServerTxn } from './server.js';
import {
  DEFAULT_TIMERS,
  type ClientTransaction,
  type ClientTransactionHandler,
  type ServerTransaction,
  type TimerSettings,
  type TransactionUser,
} from './types.js';

export interface TransactionLayerOptions {
  sender: SipSender;
  clock?: Clock;
  timers?: Partial<TimerSettings>;
  log: Logger;
  user: TransactionUser;
}

export interface TransactionCounters {
  clientTransactions: number;
  serverTransactions: number;
  retransmissions: number;
  /** requests matched to an existing transaction (retransmissions from the peer). */
  absorbed: number;
  /** messages without a usable Via or CSeq. */
  dropped: number;
}

/** A 2xx to INVITE waiting for its ACK (RFC 3261 §13.3.1.4): retransmitted over UDP until then. */
interface Pending2xx {
  txn: ServerTxn;
  res: SipResponse;
  retransmit: TimerHandle | undefined;
  giveUp: TimerHandle;
}

/**
 * The transaction layer (RFC 3261 §17): matches messages to transactions, runs their timers on
 * an injected clock, and hands new requests, 2xx ACKs and stray responses to the transaction
 * user. Only RFC 3261 branches (`z9hG4bK…`) are matched; a request without one is matched by
 * branch text anyway, which is right for every UA written since 2002.
 */
export class TransactionLayer {
  private readonly clients = new Map<string, ClientTxn>();
  private readonly servers = new Map<string, ServerTxn>();
  private readonly waitingAck = new Map<string, Pending2xx>();
  private readonly clock: Clock;
  private readonly timers: TimerSettings;
  private readonly counts = { retransmissions: 0, absorbed: 0, dropped: 0 };

  constructor(private readonly opts: TransactionLayerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.timers = { ...DEFAULT_TIMERS, ...opts.timers };
  }

  get counters(): TransactionCounters {
    return { clientTransactions: this.clients.size, serverTransactions: this.servers.size, ...this.counts };
  }

  /** What every transaction gets from the layer; a terminated one leaves `table`. */
  private env<T extends { id: string }>(table: Map<string, T>) {
    return {
      sender: this.opts.sender,
      clock: this.clock,
      timers: this.timers,
      log: this.opts.log,
      onRetransmit: () => void this.counts.retransmissions++,
      onTerminated: (t: T) => {
        if (table.get(t.id) === t) table.delete(t.id);
      },
    };
  }

  // ---- client side --------------------------------------------------------------------------

  sendRequest(request: SipRequest, destination: SipEndpoint, handler: ClientTransactionHandler): ClientTransaction {
    const branch = getVias(request)[0]?.branch ?? '';
    const id = `${branch}|${request.method}`;
    const txn = new ClientTxn(id, request, destination, handler, this.env(this.clients));
    this.clients.set(id, txn);
    txn.start();
    return txn;
  }

  // ---- server side --------------------------------------------------------------------------

  private serverKey(req: SipRequest, method: string): string | undefined {
    const via = getVias(req)[0];
    if (via === undefined || via.branch === undefined) return undefined;
    return `${via.branch}|${via.host}:${via.port ?? ''}|${method}`;
  }

  findInviteServerTransaction(cancel: SipRequest): ServerTransaction | undefined {
    const key = this.serverKey(cancel, 'INVITE');
    return key === undefined ? undefined : this.servers.get(key);
  }

  private ackKey(callId: string, seq: number, toTag: string): string {
    return `${callId}|${seq}|${toTag}`;
  }

  /** Every message from the transport. Never throws: a message we cannot place is counted and dropped. */
  receive(inbound: InboundMessage): void {
    try {
      if (inbound.message.kind === 'response') this.receiveResponse(inbound.message, inbound);
      else this.receiveRequest(inbound.message, inbound);
    } catch (err) {
      this.counts.dropped++;
      this.opts.log.warn({ err: err instanceof Error ? err.message : String(err), source: inbound.source.address }, 'message dropped by the transaction layer');
    }
  }

  private receiveResponse(res: SipResponse, inbound: InboundMessage): void {
    const branch = getVias(res)[0]?.branch;
    const method = getCSeq(res)?.method;
    if (branch === undefined || method === undefined) {
      this.counts.dropped++;
      return;
    }
    const txn = this.clients.get(`${branch}|${method}`);
    if (txn === undefined) {
      this.opts.user.onStrayResponse?.(res, inbound);
      return;
    }
    txn.receive(res);
  }

  private receiveRequest(req: SipRequest, inbound: InboundMessage): void {
    const cseq = getCSeq(req);
    if (cseq === undefined || getVias(req).length === 0) {
      this.counts.dropped++;
      return;
    }
    if (req.method === 'ACK') {
      this.receiveAck(req, inbound, cseq.seq);
      return;
    }
    const key = this.serverKey(req, req.method);
    if (key === undefined) {
      this.counts.dropped++;
      return;
    }
    const existing = this.servers.get(key);
    if (existing !== undefined) {
      this.counts.absorbed++;
      existing.retransmitted();
      return;
    }
    const txn = new ServerTxn(key, req, inbound.source, { ...this.env(this.servers), on2xx: (t, res) => this.await2xxAck(t, res) });
    this.servers.set(key, txn);
    // §17.2.1: answer an INVITE with 100 at once, so the caller stops retransmitting it.
    if (req.method === 'INVITE') txn.respond(createResponse(req, 100));
    this.opts.user.onRequest(req, txn, inbound);
  }

  private receiveAck(ack: SipRequest, inbound: InboundMessage, seq: number): void {
    const key = this.serverKey(ack, 'INVITE');
    const txn = key === undefined ? undefined : this.servers.get(key);
    if (txn !== undefined && txn.state === 'completed') {
      txn.acked();
      return;
    }
    if (txn !== undefined && txn.state === 'confirmed') {
      this.counts.absorbed++;
      return;
    }
    // The ACK for a 2xx is its own transaction (§17.1.1.3): match it to the 2xx by dialog and CSeq.
    const pending = this.waitingAck.get(this.ackKey(getCallId(ack) ?? '', seq, getTo(ack)?.tag ?? ''));
    if (pending !== undefined) {
      pending.retransmit?.cancel();
      pending.giveUp.cancel();
      this.waitingAck.delete(this.ackKey(getCallId(ack) ?? '', seq, getTo(ack)?.tag ?? ''));
    }
    this.opts.user.onAck(ack, inbound);
  }

  /** RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx (T1 doubling up to T2) until the ACK, 64*T1 at most. */
  private await2xxAck(txn: ServerTxn, res: SipResponse): void {
    const key = this.ackKey(getCallId(res) ?? '', getCSeq(res)?.seq ?? 0, getTo(res)?.tag ?? '');
    const { t1, t2 } = this.timers;
    const entry: Pending2xx = {
      txn,
      res,
      retransmit: undefined,
      giveUp: this.clock.setTimer(64 * t1, () => {
        entry.retransmit?.cancel();
        this.waitingAck.delete(key);
        this.opts.user.onAckTimeout?.(txn);
      }),
    };
    const arm = (ms: number): void => {
      entry.retransmit = this.clock.setTimer(ms, () => {
        this.counts.retransmissions++;
        this.opts.sender.send(res, txn.source).catch(() => undefined);
        arm(Math.min(ms * 2, t2));
      });
    };
    if (!isReliable(txn.source.protocol)) arm(t1);
    this.waitingAck.set(key, entry);
  }

  /** Cancels every timer; transactions in flight are dropped without telling anyone. */
  close(): void {
    for (const t of [...this.clients.values()]) t.terminate();
    for (const t of [...this.servers.values()]) t.terminate();
    for (const p of this.waitingAck.values()) {
      p.retransmit?.cancel();
      p.giveUp.cancel();
    }
    this.waitingAck.clear();
  }
}
