import type { Logger } from '../../common/log.js';
import { errorMessage } from '../../common/errors.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { BRANCH_COOKIE, createResponse, newTag } from '../build.js';
import { getCSeq, getCallId, getTo, getVias, type SipRequest, type SipResponse, type Via } from '../message.js';
import { isReliable, type InboundMessage, type SipEndpoint, type SipSender } from '../transport/types.js';
import { ClientTxn } from './client.js';
import { ServerTxn } from './server.js';
import { callUp, doubling, OneShot, resolveTimers, Retransmitter, toError, transmit } from './timers.js';
import type { ClientTransaction, ClientTransactionHandler, ServerTransaction, TimerSettings, TransactionUser } from './types.js';

export interface TransactionLayerOptions {
  sender: SipSender;
  clock?: Clock;
  timers?: Partial<TimerSettings>;
  log: Logger;
  user: TransactionUser;
  /**
   * How long an INVITE server transaction may stay without a final response before the layer
   * answers 408 itself and tells the TU (`onDeadline`); default 180 000 ms, RFC 3261 Timer C's
   * 3 minutes. A non-INVITE one gets 2*64*T1: its client gave up after 64*T1 (Timer F).
   */
  inviteDeadlineMs?: number;
}

/** How often settle() looks whether the transactions it waits for have ended. */
const SETTLE_POLL_MS = 20;

/** RFC 3261 §16.6 Timer C: "MUST be greater than 3 minutes" for a proxy; the same bound for our UAS. */
export const DEFAULT_INVITE_DEADLINE_MS = 180_000;

export interface TransactionCounters {
  /** live client transactions (including ones lingering in Completed/Accepted). */
  clientTransactions: number;
  /** live server transactions. */
  serverTransactions: number;
  /** retransmissions sent: requests (A, E), finals (G, repeats for a retransmitted request), 2xx, re-ACKs. */
  retransmissions: number;
  /** requests matched to an existing transaction (retransmissions from the peer) and not passed up. */
  absorbed: number;
  /** messages without a usable Via (branch) or CSeq, or received after close(). */
  dropped: number;
  /** client transactions settle() gave up on at shutdown: BYEs, CANCELs, and CANCELled INVITEs still without their 487. */
  abandoned: number;
  /** requests the TU threw on: answered 500 by the layer. */
  userErrors: number;
  /** server transactions that reached their deadline without a final response: answered 408 by the layer. */
  deadlines: number;
}

/** A 2xx to INVITE waiting for its ACK (RFC 3261 §13.3.1.4): retransmitted over UDP until then. */
interface Pending2xx {
  retransmit: Retransmitter;
  giveUp: OneShot;
}

/**
 * The transaction layer (RFC 3261 §17): matches messages to transactions, runs their timers on an
 * injected clock, and hands new requests, 2xx ACKs and stray responses to the transaction user.
 *
 * Matching (§17.1.3, §17.2.3) is by RFC 3261 branch. A request whose top Via has a branch without
 * the `z9hG4bK` cookie (an RFC 2543 peer) is still matched by branch + sent-by + method rather
 * than by the §17.2.3 RFC 2543 rules: such branches are unique in practice, and the full rules
 * are not worth their weight today. A request with no branch at all is dropped and counted,
 * except an ACK, which may still be the ACK for one of our 2xx (matched by dialog, not branch).
 */
export class TransactionLayer {
  private readonly clients = new Map<string, ClientTxn>();
  private readonly servers = new Map<string, ServerTxn>();
  private readonly waitingAck = new Map<string, Pending2xx>();
  private readonly clock: Clock;
  private readonly timers: TimerSettings;
  private readonly log: Logger;
  private readonly counts = { retransmissions: 0, absorbed: 0, dropped: 0, userErrors: 0, deadlines: 0, abandoned: 0 };
  private closed = false;

  constructor(private readonly opts: TransactionLayerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.timers = resolveTimers(opts.timers);
    this.log = opts.log;
  }

  /** A snapshot, for logs and tests. */
  get counters(): TransactionCounters {
    return { clientTransactions: this.clients.size, serverTransactions: this.servers.size, ...this.counts };
  }

  private txnLog(msg: SipRequest | SipResponse): Logger {
    const callId = safely(() => getCallId(msg));
    return callId === undefined ? this.log : this.log.child({ callId });
  }

  private readonly countRetransmission = (): void => {
    this.counts.retransmissions++;
  };

  // ---- client side --------------------------------------------------------------------------

  /**
   * Starts a client transaction. The request must carry its top Via with a `z9hG4bK` branch
   * (§8.1.1.7); without one there is nothing to match responses with, so this throws (a bug in
   * the caller, not a network condition). An ACK is not a transaction (§17.1.1.3: the ACK for a
   * 2xx belongs to the TU): it is sent once and the returned handle is already terminated.
   */
  /** What every transaction gets from the layer; a terminated one leaves `table`. */
  private env<T extends { id: string }>(table: Map<string, T>, log: Logger) {
    return {
      sender: this.opts.sender,
      clock: this.clock,
      timers: this.timers,
      log,
      onRetransmit: this.countRetransmission,
      onTerminated: (t: T) => {
        if (table.get(t.id) === t) table.delete(t.id);
      },
    };
  }

  sendRequest(request: SipRequest, destination: SipEndpoint, handler: ClientTransactionHandler): ClientTransaction {
    const branch = getVias(request)[0]?.branch;
    if (branch === undefined || branch === '') throw new TypeError('sendRequest: the request has no top Via branch');
    const log = this.txnLog(request);
    const id = `${branch}|${request.method}`;
    if (request.method === 'ACK') {
      transmit(this.opts.sender, request, destination).catch((err: unknown) => {
        log.warn({ err: toError(err) }, 'ACK could not be sent');
        callUp(log, 'onTransportError', () => handler.onTransportError(toError(err)));
      });
      return { id, request, destination, state: 'terminated' };
    }
    if (!branch.startsWith(BRANCH_COOKIE)) log.warn({ branch }, 'client transaction with a non-RFC 3261 branch');
    const previous = this.clients.get(id);
    if (previous !== undefined) {
      // A reused branch is a caller bug (§8.1.1.7: unique across space and time); the newer wins.
      log.warn({ txn: id }, 'branch reused while its client transaction is alive; the old one is dropped');
      previous.terminate();
    }
    const txn = new ClientTxn(id, request, destination, handler, this.env(this.clients, log));
    this.clients.set(id, txn);
    txn.start();
    // §9.1: a CANCEL shares its INVITE's branch; that INVITE may now wait only 64*T1 for its final.
    if (request.method === 'CANCEL') this.clients.get(`${branch}|INVITE`)?.cancelSent();
    return txn;
  }

  // ---- server side --------------------------------------------------------------------------

  /** §17.2.3: branch + sent-by (host case-insensitive) + method; ACK is looked up with INVITE. */
  private serverKey(via: Via | undefined, method: string): string | undefined {
    if (via?.branch === undefined || via.branch === '') return undefined;
    return `${via.branch}|${via.host.toLowerCase()}:${via.port ?? ''}|${method}`;
  }

  /** RFC 3261 §9.2: the INVITE server transaction a CANCEL refers to (same branch and sent-by). */
  findInviteServerTransaction(cancel: SipRequest): ServerTransaction | undefined {
    const key = safely(() => this.serverKey(getVias(cancel)[0], 'INVITE'));
    return key === undefined ? undefined : this.servers.get(key);
  }

  /** Every message from the transport. Never throws: a message it cannot place is counted and dropped. */
  receive(inbound: InboundMessage): void {
    if (this.closed) {
      this.counts.dropped++;
      return;
    }
    try {
      if (inbound.message.kind === 'response') this.receiveResponse(inbound.message, inbound);
      else this.receiveRequest(inbound.message, inbound);
    } catch (err) {
      // Only header accessors on a hand-built or damaged message get here (TU callbacks are guarded).
      this.drop(inbound, errorMessage(err));
    }
  }

  private drop(inbound: InboundMessage, why: string): void {
    this.counts.dropped++;
    const m = inbound.message;
    this.log.debug({ why, source: `${inbound.source.address}:${inbound.source.port}`, what: m.kind === 'request' ? m.method : m.status }, 'message dropped by the transaction layer');
  }

  private receiveResponse(res: SipResponse, inbound: InboundMessage): void {
    // §17.1.3: top Via branch + CSeq method.
    const branch = getVias(res)[0]?.branch;
    const method = getCSeq(res)?.method;
    if (branch === undefined || method === undefined) {
      this.drop(inbound, 'response without a Via branch or CSeq');
      return;
    }
    const txn = this.clients.get(`${branch}|${method}`);
    if (txn === undefined) {
      const user = this.opts.user;
      callUp(this.log, 'onStrayResponse', () => user.onStrayResponse?.(res, inbound));
      return;
    }
    txn.receive(res);
  }

  private receiveRequest(req: SipRequest, inbound: InboundMessage): void {
    const cseq = getCSeq(req);
    const via = getVias(req)[0];
    if (cseq === undefined || via === undefined) {
      this.drop(inbound, 'request without a Via or CSeq');
      return;
    }
    if (req.method === 'ACK') {
      this.receiveAck(req, inbound, via, cseq.seq);
      return;
    }
    const key = this.serverKey(via, req.method);
    if (key === undefined) {
      this.drop(inbound, 'request without a Via branch');
      return;
    }
    const existing = this.servers.get(key);
    if (existing !== undefined) {
      this.counts.absorbed++;
      existing.retransmitted();
      return;
    }
    const log = this.txnLog(req);
    const txn = new ServerTxn(key, req, inbound.source, {
      ...this.env(this.servers, log),
      on2xx: (t, res) => this.await2xxAck(t, res, log),
      // Non-INVITE: twice Timer F, so a TU relaying the request gets its own Timer F (408) first.
      deadlineMs: req.method === 'INVITE' ? (this.opts.inviteDeadlineMs ?? DEFAULT_INVITE_DEADLINE_MS) : 2 * 64 * this.timers.t1,
      onDeadline: (t) => this.deadlineReached(t, log),
    });
    this.servers.set(key, txn);
    // §17.2.1: answer an INVITE with 100 at once, so the caller stops retransmitting it (Timer A).
    if (req.method === 'INVITE') txn.respond(createResponse(req, 100));
    if (!callUp(log, 'onRequest', () => this.opts.user.onRequest(req, txn, inbound))) {
      // A TU bug must not leave the peer retransmitting into a transaction nobody will answer.
      this.counts.userErrors++;
      this.answerForUser(txn, 500, 'Server Internal Error');
    }
  }

  /** A final response the layer sends when the TU cannot: same To tag as any provisional, else a new one (§8.2.6.2). */
  private answerForUser(txn: ServerTxn, status: number, reason: string): void {
    if (txn.state !== 'trying' && txn.state !== 'proceeding') return;
    const tag = safely(() => (txn.lastResponse === undefined ? undefined : getTo(txn.lastResponse)?.tag)) ?? newTag();
    const res = safely(() => createResponse(txn.request, status, reason, { toTag: tag }));
    if (res === undefined) txn.terminate();
    else txn.respond(res);
  }

  private deadlineReached(txn: ServerTxn, log: Logger): void {
    this.counts.deadlines++;
    log.warn({ txn: txn.id, method: txn.request.method }, 'no final response from the transaction user in time: 408 sent for it');
    this.answerForUser(txn, 408, 'Request Timeout');
    const user = this.opts.user;
    callUp(log, 'onDeadline', () => user.onDeadline?.(txn));
  }

  private receiveAck(ack: SipRequest, inbound: InboundMessage, via: Via, seq: number): void {
    // The ACK for a non-2xx final shares the INVITE's branch and is part of its transaction (§17.2.3).
    const key = this.serverKey(via, 'INVITE');
    const txn = key === undefined ? undefined : this.servers.get(key);
    if (txn !== undefined && txn.state === 'completed') {
      txn.acked();
      return;
    }
    if (txn !== undefined && txn.state === 'confirmed') {
      this.counts.absorbed++; // Timer I absorbs ACK retransmissions
      return;
    }
    // The ACK for a 2xx is a transaction of its own with a new branch (§17.1.1.3): match it to the
    // 2xx by dialog (Call-ID, To tag) and CSeq number, stop retransmitting, and pass it up.
    const ackKey = this.ackKey(getCallId(ack) ?? '', seq, getTo(ack)?.tag ?? '');
    const pending = this.waitingAck.get(ackKey);
    if (pending !== undefined) {
      pending.retransmit.cancel();
      pending.giveUp.cancel();
      this.waitingAck.delete(ackKey);
    }
    callUp(this.log, 'onAck', () => this.opts.user.onAck(ack, inbound));
  }

  private ackKey(callId: string, seq: number, toTag: string): string {
    return `${callId}|${seq}|${toTag}`;
  }

  /**
   * RFC 3261 §13.3.1.4 (and RFC 6026 §8.1): the UAS core retransmits its 2xx over UDP, T1 doubling
   * up to T2, until the ACK arrives; after 64*T1 without one the TU ends the dialog. The layer does
   * it for the TU because it owns the clock and the transport.
   */
  private await2xxAck(txn: ServerTxn, res: SipResponse, log: Logger): void {
    const key = this.ackKey(safely(() => getCallId(res)) ?? '', safely(() => getCSeq(res)?.seq) ?? 0, safely(() => getTo(res)?.tag) ?? '');
    const old = this.waitingAck.get(key);
    old?.retransmit.cancel();
    old?.giveUp.cancel();
    const entry: Pending2xx = { retransmit: new Retransmitter(this.clock), giveUp: new OneShot(this.clock) };
    this.waitingAck.set(key, entry);
    const { t1, t2 } = this.timers;
    if (!isReliable(txn.source.protocol)) {
      entry.retransmit.start(t1, doubling(t2), () => {
        this.counts.retransmissions++;
        transmit(this.opts.sender, res, txn.source).catch((err: unknown) => {
          // The peer is unreachable: retransmitting more is pointless; the ACK timeout still ends the dialog.
          log.warn({ err: toError(err) }, '2xx retransmission could not be sent');
          entry.retransmit.cancel();
        });
        return true;
      });
    }
    entry.giveUp.arm(64 * t1, () => {
      entry.retransmit.cancel();
      if (this.waitingAck.get(key) === entry) this.waitingAck.delete(key);
      log.info({ status: res.status }, 'no ACK for a 2xx within 64*T1');
      const user = this.opts.user;
      callUp(log, 'onAckTimeout', () => user.onAckTimeout?.(txn));
    });
  }

  /**
   * Shutdown, before close(): resolves once no non-INVITE client transaction (the BYEs and CANCELs
   * the TU just sent) still waits for its final response, and no INVITE it CANCELled still waits
   * for its 487 (which the transaction ACKs; without us the callee would retransmit it until its
   * Timer H) — each got its final, or a timer or a transport error ended it — or once `graceMs` has
   * passed. Meanwhile the layer runs as usual: Timer E retransmits over UDP and responses are
   * matched. Resolves with those still unanswered, each logged (with its call-id) and counted in
   * `abandoned`. An INVITE nobody CANCELled is not waited for.
   */
  settle(graceMs: number): Promise<ClientTransaction[]> {
    const waits = (t: ClientTxn): boolean => (t.request.method === 'INVITE' ? t.awaitingFinalAfterCancel : t.state === 'trying' || t.state === 'proceeding');
    const unanswered = (): ClientTxn[] => [...this.clients.values()].filter(waits);
    const startedAt = this.clock.now();
    const giveUpAt = startedAt + graceMs;
    const inFlight = unanswered().length;
    return new Promise((resolve) => {
      const check = (): void => {
        const left = unanswered();
        const remaining = giveUpAt - this.clock.now();
        if (left.length > 0 && remaining > 0 && !this.closed) {
          // A poll, not a hook in every state change: it runs only at shutdown, for a few seconds.
          this.clock.setTimer(Math.min(SETTLE_POLL_MS, remaining), check);
          return;
        }
        for (const t of left) {
          this.counts.abandoned++;
          const d = t.destination;
          this.txnLog(t.request).warn({ method: t.request.method, txn: t.id, to: `${d.protocol}:${d.address}:${d.port}`, graceMs }, 'shutdown: no final response within the grace; giving up on it');
        }
        if (inFlight > 0) this.log.info({ inFlight, unanswered: left.length, waitedMs: Math.round(this.clock.now() - startedAt) }, 'shutdown: done waiting for the requests in flight');
        resolve(left);
      };
      check();
    });
  }

  /** Cancels every timer; transactions in flight are dropped without telling anyone. Later input is dropped. */
  close(): void {
    this.closed = true;
    for (const t of [...this.clients.values()]) t.terminate();
    for (const t of [...this.servers.values()]) t.terminate();
    for (const p of this.waitingAck.values()) {
      p.retransmit.cancel();
      p.giveUp.cancel();
    }
    this.waitingAck.clear();
  }
}

/** A header accessor that may throw on a hand-built message, as undefined instead. */
function safely<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
