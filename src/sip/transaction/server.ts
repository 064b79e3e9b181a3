import type { Logger } from '../../common/log.js';
import type { Clock } from '../../common/clock.js';
import type { SipRequest, SipResponse } from '../message.js';
import { isReliable, type SipEndpoint, type SipSender } from '../transport/types.js';
import type { ServerState, ServerTransaction, TimerSettings } from './types.js';
import { doubling, OneShot, Retransmitter, timerValues, toError, transmit, type TimerValues } from './timers.js';

export interface ServerEnv {
  sender: SipSender;
  clock: Clock;
  timers: TimerSettings;
  /** already a child with this transaction's callId. */
  log: Logger;
  onRetransmit: () => void;
  onTerminated: (t: ServerTxn) => void;
  /** a 2xx to INVITE was sent: the layer retransmits it until the dialog's ACK (RFC 6026 §8.1). */
  on2xx: (t: ServerTxn, res: SipResponse) => void;
  /** how long the TU may take to send a final response before `onDeadline` (ms). */
  deadlineMs: number;
  /** no final response within `deadlineMs`: the layer answers for the TU. */
  onDeadline: (t: ServerTxn) => void;
}

/**
 * A server transaction (RFC 3261 §17.2): the INVITE machine of §17.2.1 with RFC 6026's Accepted
 * state, or the non-INVITE machine of §17.2.2. Responses go back to where the request came from
 * (RFC 3581 symmetric response routing; the transport resolves nothing for us here).
 */
export class ServerTxn implements ServerTransaction {
  state: ServerState;
  lastResponse: SipResponse | undefined;
  private readonly invite: boolean;
  private readonly t: TimerValues;
  /** Timer G. */
  private readonly retransmit: Retransmitter;
  /** Timer H, I, J or L. */
  private readonly linger: OneShot;
  /**
   * The backstop that keeps a transaction from outliving its timers: none of §17.2's timers runs
   * in Trying/Proceeding, so a TU that never answers would keep the request for ever.
   */
  private readonly deadline: OneShot;

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly source: SipEndpoint,
    private readonly env: ServerEnv,
  ) {
    this.invite = request.method === 'INVITE';
    this.state = this.invite ? 'proceeding' : 'trying';
    this.t = timerValues(env.timers, isReliable(source.protocol));
    this.retransmit = new Retransmitter(env.clock);
    this.linger = new OneShot(env.clock);
    this.deadline = new OneShot(env.clock);
    this.deadline.arm(env.deadlineMs, () => {
      if (this.state === 'trying' || this.state === 'proceeding') env.onDeadline(this);
    });
  }

  private send(res: SipResponse): void {
    transmit(this.env.sender, res, this.source).catch((err: unknown) => {
      if (this.state === 'terminated') return;
      // §17.2.4: the transport failed to deliver a response: the transaction ends. Nobody above
      // can do better than the retransmitting peer (or Timer B/F on its side).
      this.env.log.warn({ err: toError(err), txn: this.id, status: res.status }, 'response could not be sent; transaction ends');
      this.terminate();
    });
  }

  respond(res: SipResponse, opts?: { stateless?: boolean }): void {
    const s = res.status;
    if (this.state === 'accepted' && this.invite && s >= 200 && s < 300) {
      // RFC 6026 §8.7: a 2xx the TU passes down in Accepted (a retransmission) goes to the transport.
      this.send(res);
      return;
    }
    if (this.state !== 'trying' && this.state !== 'proceeding') {
      this.env.log.debug({ txn: this.id, status: s, state: this.state }, 'response after the final one ignored');
      return;
    }
    if (!Number.isInteger(s) || s < 100 || s > 699) {
      this.env.log.warn({ txn: this.id, status: s }, 'response with an invalid status not sent');
      return;
    }
    this.lastResponse = res;
    if (s >= 200) this.deadline.cancel();
    if (s < 200) {
      // §17.2.2: the first provisional moves a non-INVITE transaction to Proceeding.
      if (!this.invite) this.state = 'proceeding';
      this.send(res);
      return;
    }
    if (this.invite && s < 300) {
      // RFC 6026 §8.5: Accepted; the 2xx and its ACK belong to the dialog (the layer retransmits
      // the 2xx for the UAS core, §13.3.1.4). Timer L keeps absorbing INVITE retransmissions.
      this.state = 'accepted';
      this.send(res);
      this.env.on2xx(this, res);
      this.linger.arm(this.t.L, () => this.terminate());
      return;
    }
    this.state = 'completed';
    this.send(res);
    if (opts?.stateless === true) {
      this.terminate();
      return;
    }
    if (this.invite) {
      // §17.2.1: Timer G retransmits the final over UDP (T1 doubling up to T2) until the ACK;
      // Timer H gives up on the ACK after 64*T1.
      if (!isReliable(this.source.protocol)) {
        this.retransmit.start(this.t.G, doubling(this.env.timers.t2), () => {
          if (this.state !== 'completed' || this.lastResponse === undefined) return false;
          this.env.onRetransmit();
          this.send(this.lastResponse);
          return true;
        });
      }
      this.linger.arm(this.t.H, () => {
        this.env.log.debug({ txn: this.id, status: s }, 'no ACK for a final response (Timer H)');
        this.terminate();
      });
    } else {
      // §17.2.2: Timer J absorbs request retransmissions (64*T1 over UDP, 0 reliable).
      this.linger.arm(this.t.J, () => this.terminate());
    }
  }

  /** The same request again (a retransmission): repeat the last response, or absorb it (§17.2.1, §17.2.2). */
  retransmitted(): void {
    if (this.lastResponse === undefined) return; // non-INVITE Trying: nothing to repeat yet
    if (this.state === 'proceeding' || this.state === 'completed') {
      this.env.onRetransmit();
      this.send(this.lastResponse);
    }
    // accepted (RFC 6026 §8.7), confirmed: absorbed.
  }

  /** ACK matching this INVITE transaction (the ACK for a non-2xx final response). */
  acked(): void {
    if (this.state !== 'completed') return;
    // §17.2.1: Confirmed stops Timer G and H; Timer I absorbs ACK retransmissions.
    this.state = 'confirmed';
    this.retransmit.cancel();
    this.linger.arm(this.t.I, () => this.terminate());
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.retransmit.cancel();
    this.linger.cancel();
    this.deadline.cancel();
    this.env.onTerminated(this);
  }
}
