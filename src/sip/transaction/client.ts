import type { Logger } from '../../common/log.js';
import type { Clock } from '../../common/clock.js';
import type { SipRequest, SipResponse } from '../message.js';
import { buildNon2xxAck } from '../build.js';
import { isReliable, type SipEndpoint, type SipSender, type StreamWatcher } from '../transport/types.js';
import type { ClientState, ClientTransaction, ClientTransactionHandler, TimerSettings } from './types.js';
import { callUp, doubling, OneShot, Retransmitter, timerValues, toError, transmit, type TimerValues } from './timers.js';

export interface ClientEnv {
  sender: SipSender;
  clock: Clock;
  timers: TimerSettings;
  /** already a child with this transaction's callId. */
  log: Logger;
  onRetransmit: () => void;
  onTerminated: (t: ClientTxn) => void;
}

/**
 * A client transaction (RFC 3261 §17.1): the INVITE machine of §17.1.1 with the Accepted state of
 * RFC 6026 §7.2, or the non-INVITE machine of §17.1.2. Requests are retransmitted over UDP only
 * (§17.1.1.2: a reliable transport does its own).
 */
export class ClientTxn implements ClientTransaction {
  state: ClientState;
  private readonly invite: boolean;
  private readonly t: TimerValues;
  /** Timer A or E. */
  private readonly retransmit: Retransmitter;
  /** Timer B or F. */
  private readonly timeout: OneShot;
  /** Timer D, K or M: how long the terminated-in-waiting machine keeps absorbing. */
  private readonly linger: OneShot;
  /** RFC 3261 §9.1: after a CANCEL, how long the INVITE may still wait for its final (64*T1). */
  private readonly cancelGiveUp: OneShot;
  /** an INVITE we sent a CANCEL for (§9.1): its 487 (or other final) is still owed an ACK. */
  private cancelled = false;
  /** the ACK we sent for a non-2xx final; re-sent for each retransmission of that final (§17.1.1.2). */
  private ack: SipRequest | undefined;
  /** over TCP/TLS/WS: hears if the connection the request went out on goes before the final (§18.4). */
  private readonly watcher: StreamWatcher | undefined;

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly destination: SipEndpoint,
    private readonly handler: ClientTransactionHandler,
    private readonly env: ClientEnv,
  ) {
    this.invite = request.method === 'INVITE';
    this.state = this.invite ? 'calling' : 'trying';
    this.t = timerValues(env.timers, isReliable(destination.protocol));
    this.retransmit = new Retransmitter(env.clock);
    this.timeout = new OneShot(env.clock);
    this.linger = new OneShot(env.clock);
    this.cancelGiveUp = new OneShot(env.clock);
    if (isReliable(destination.protocol)) {
      // An INVITE in Proceeding still waits: a callee whose connection vanished will never answer.
      const watching = (): boolean => this.waiting || this.state === 'proceeding';
      this.watcher = {
        get watching() {
          return watching();
        },
        connectionLost: (err) => this.connectionLost(err),
      };
    }
  }

  /**
   * A CANCEL for this INVITE was sent. Once a provisional came, no timer of §17.1.1 runs, so a
   * callee that never sends the final (not even 487) would keep the transaction for ever:
   * §9.1 says to consider it cancelled and destroy it after 64*T1; the TU hears a timeout.
   */
  cancelSent(): void {
    if (!this.invite) return;
    this.cancelled = true;
    if (this.state !== 'proceeding') return;
    this.cancelGiveUp.arm(this.t.B, () => {
      if (this.state !== 'proceeding') return;
      this.env.log.info({ txn: this.id }, 'no final response 64*T1 after CANCEL: INVITE transaction destroyed (RFC 3261 §9.1)');
      this.terminate();
      callUp(this.env.log, 'onTimeout', () => this.handler.onTimeout());
    });
  }

  /**
   * An INVITE we CANCELled whose final (the 487) has not come: the callee retransmits that 487
   * until our ACK (§17.2.1), so shutdown waits for it as it waits for a BYE's answer.
   */
  get awaitingFinalAfterCancel(): boolean {
    return this.invite && this.cancelled && (this.state === 'calling' || this.state === 'proceeding');
  }

  /** The request has not been answered yet: Timer B/F and transport errors still matter to the TU. */
  private get waiting(): boolean {
    return this.state === 'calling' || this.state === 'trying' || (!this.invite && this.state === 'proceeding');
  }

  start(): void {
    this.send(this.request, this.watcher);
    if (!isReliable(this.destination.protocol)) {
      const { t2 } = this.env.timers;
      // Timer A: T1, doubling with no cap (§17.1.1.2). Timer E: T1 doubling up to T2, and every T2
      // once a provisional came (§17.1.2.2).
      const next = this.invite ? doubling() : (ms: number) => (this.state === 'proceeding' ? t2 : Math.min(ms * 2, t2));
      this.retransmit.start(this.invite ? this.t.A : this.t.E, next, () => {
        if (!this.waiting) return false;
        this.env.onRetransmit();
        this.send(this.request);
        return true;
      });
    }
    // Timer B (§17.1.1.2) or Timer F (§17.1.2.2): no final answer in 64*T1.
    this.timeout.arm(this.invite ? this.t.B : this.t.F, () => {
      if (!this.waiting) return;
      this.env.log.debug({ txn: this.id, method: this.request.method }, this.invite ? 'Timer B fired' : 'Timer F fired');
      this.terminate();
      callUp(this.env.log, 'onTimeout', () => this.handler.onTimeout());
    });
  }

  /**
   * RFC 3261 §18.4 / §17.1.4: the TCP/TLS/WebSocket connection the request went out on closed before its
   * final response, which can no longer come back on it: a transport error now, not Timer B later.
   */
  private connectionLost(err: Error): void {
    if (this.state === 'terminated' || this.watcher?.watching !== true) return;
    this.env.log.warn({ err, txn: this.id, method: this.request.method, state: this.state }, 'connection closed before the final response: transport error');
    this.terminate();
    callUp(this.env.log, 'onTransportError', () => this.handler.onTransportError(err));
  }

  private send(msg: SipRequest, watcher?: StreamWatcher): void {
    transmit(this.env.sender, msg, this.destination, watcher).catch((err: unknown) => {
      if (this.state === 'terminated') return;
      const wasWaiting = this.waiting;
      this.env.log.warn({ err: toError(err), txn: this.id, method: msg.method }, 'transport error in a client transaction');
      // §17.1.4: a transport error ends the transaction and is reported to the TU (as a 503,
      // §8.1.3.1) — but only while the TU still waits for an answer; after the final, nobody asks.
      this.terminate();
      if (wasWaiting) callUp(this.env.log, 'onTransportError', () => this.handler.onTransportError(toError(err)));
    });
  }

  receive(res: SipResponse): void {
    if (this.invite) this.receiveInvite(res);
    else this.receiveNonInvite(res);
  }

  private receiveInvite(res: SipResponse): void {
    const s = res.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        if (s < 200) {
          // §17.1.1.2: a provisional stops Timer A; Timer B no longer applies (the TU may CANCEL).
          this.state = 'proceeding';
          this.retransmit.cancel();
          this.timeout.cancel();
          callUp(this.env.log, 'onProvisional', () => this.handler.onProvisional?.(res));
        } else if (s < 300) {
          // RFC 6026 §7.2: Accepted, for Timer M; the TU ACKs the 2xx itself (§13.2.2.4).
          this.state = 'accepted';
          this.stopWaiting();
          this.linger.arm(this.t.M, () => this.terminate());
          callUp(this.env.log, 'onFinal', () => this.handler.onFinal(res));
        } else {
          // §17.1.1.3: the transaction ACKs a non-2xx final itself, then Timer D absorbs retransmissions.
          this.state = 'completed';
          this.stopWaiting();
          this.ack = buildNon2xxAck(this.request, res);
          this.send(this.ack);
          this.linger.arm(this.t.D, () => this.terminate());
          callUp(this.env.log, 'onFinal', () => this.handler.onFinal(res));
        }
        return;
      case 'accepted':
        // RFC 6026 §7.2: every 2xx (retransmission or another fork) goes up so the TU can ACK it.
        if (s >= 200 && s < 300) callUp(this.env.log, 'onFinal', () => this.handler.onFinal(res));
        return;
      case 'completed':
        // §17.1.1.2: a retransmitted final means our ACK was lost: send it again, tell no one.
        if (s >= 300 && this.ack !== undefined) {
          this.env.onRetransmit();
          this.send(this.ack);
        }
        return;
      default:
        return;
    }
  }

  private receiveNonInvite(res: SipResponse): void {
    // Completed absorbs every retransmitted response until Timer K (§17.1.2.2).
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    if (res.status < 200) {
      this.state = 'proceeding';
      callUp(this.env.log, 'onProvisional', () => this.handler.onProvisional?.(res));
      return;
    }
    this.state = 'completed';
    this.stopWaiting();
    this.linger.arm(this.t.K, () => this.terminate());
    callUp(this.env.log, 'onFinal', () => this.handler.onFinal(res));
  }

  private stopWaiting(): void {
    this.watcher?.detach?.();
    this.retransmit.cancel();
    this.timeout.cancel();
    this.cancelGiveUp.cancel();
  }

  /** Ends the transaction silently (close(), or a timer that ran out). */
  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.stopWaiting();
    this.linger.cancel();
    this.env.onTerminated(this);
  }
}
