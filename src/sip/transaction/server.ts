import type { Logger } from '../../common/log.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { errorMessage } from '../../common/errors.js';
import type { SipRequest, SipResponse } from '../message.js';
import { isReliable, type SipEndpoint, type SipSender } from '../transport/types.js';
import type { ServerState, ServerTransaction, TimerSettings } from './types.js';

export interface ServerEnv {
  sender: SipSender;
  clock: Clock;
  timers: TimerSettings;
  log: Logger;
  onRetransmit: () => void;
  onTerminated: (t: ServerTxn) => void;
  /** a 2xx to INVITE was sent: the layer retransmits it until the dialog's ACK (RFC 6026 §8.1). */
  on2xx: (t: ServerTxn, res: SipResponse) => void;
}

/**
 * A server transaction (RFC 3261 §17.2): the INVITE machine of §17.2.1 with RFC 6026's Accepted
 * state, or the non-INVITE machine of §17.2.2. Responses go back to where the request came from.
 */
export class ServerTxn implements ServerTransaction {
  state: ServerState;
  lastResponse: SipResponse | undefined;
  private readonly invite: boolean;
  private readonly reliable: boolean;
  private retransmit: TimerHandle | undefined;
  private linger: TimerHandle | undefined;

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly source: SipEndpoint,
    private readonly env: ServerEnv,
  ) {
    this.invite = request.method === 'INVITE';
    this.reliable = isReliable(source.protocol);
    this.state = this.invite ? 'proceeding' : 'trying';
  }

  private transmit(res: SipResponse): void {
    this.env.sender.send(res, this.source).catch((err: unknown) => {
      this.env.log.debug({ err: errorMessage(err), txn: this.id }, 'response could not be sent');
      // §17.2.4: a transport failure ends the transaction.
      this.terminate();
    });
  }

  respond(res: SipResponse): void {
    if (this.state === 'completed' || this.state === 'confirmed' || this.state === 'terminated' || this.state === 'accepted') {
      this.env.log.debug({ txn: this.id, status: res.status, state: this.state }, 'response after the final one ignored');
      return;
    }
    this.lastResponse = res;
    const s = res.status;
    const { t1, t2 } = this.env.timers;
    if (s < 200) {
      if (!this.invite) this.state = 'proceeding';
      this.transmit(res);
      return;
    }
    if (this.invite && s < 300) {
      this.state = 'accepted';
      this.transmit(res);
      this.env.on2xx(this, res);
      this.linger = this.env.clock.setTimer(64 * t1, () => this.terminate()); // Timer L
      return;
    }
    this.state = 'completed';
    this.transmit(res);
    if (this.invite) {
      // Timer G (UDP): retransmit the final response, T1 doubling up to T2, until ACK; Timer H gives up.
      if (!this.reliable) this.armG(t1, t2);
      this.linger = this.env.clock.setTimer(64 * t1, () => {
        this.env.log.debug({ txn: this.id }, 'no ACK for a final response (Timer H)');
        this.terminate();
      });
    } else {
      // Timer J: absorb request retransmissions for 64*T1 over UDP.
      this.linger = this.env.clock.setTimer(this.reliable ? 0 : 64 * t1, () => this.terminate());
    }
  }

  private armG(ms: number, t2: number): void {
    this.retransmit = this.env.clock.setTimer(ms, () => {
      if (this.state !== 'completed' || this.lastResponse === undefined) return;
      this.env.onRetransmit();
      this.transmit(this.lastResponse);
      this.armG(Math.min(ms * 2, t2), t2);
    });
  }

  /** The same request again (a retransmission): repeat the last response, or absorb it. */
  retransmitted(): void {
    if (this.lastResponse === undefined) return;
    if (this.state === 'proceeding' || this.state === 'completed') {
      this.env.onRetransmit();
      this.transmit(this.lastResponse);
    }
  }

  /** ACK matching this INVITE transaction (the ACK for a non-2xx final response). */
  acked(): void {
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    this.retransmit?.cancel();
    this.linger?.cancel();
    // Timer I: absorb ACK retransmissions for T4 over UDP.
    this.linger = this.env.clock.setTimer(this.reliable ? 0 : this.env.timers.t4, () => this.terminate());
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.retransmit?.cancel();
    this.linger?.cancel();
    this.env.onTerminated(this);
  }
}
