import type { Logger } from '../../common/log.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { errorMessage } from '../../common/errors.js';
import type { SipRequest, SipResponse } from '../message.js';
import { buildNon2xxAck } from '../build.js';
import { isReliable, type SipEndpoint, type SipSender } from '../transport/types.js';
import type { ClientState, ClientTransaction, ClientTransactionHandler, TimerSettings } from './types.js';

/**
 * A client transaction (RFC 3261 §17.1): the INVITE machine of §17.1.1 with the Accepted state of
 * RFC 6026 §7.2, or the non-INVITE machine of §17.1.2. Retransmissions happen over UDP only.
 */
export class ClientTxn implements ClientTransaction {
  state: ClientState;
  private readonly invite: boolean;
  private readonly reliable: boolean;
  private retransmit: TimerHandle | undefined;
  private timeout: TimerHandle | undefined;
  private linger: TimerHandle | undefined;
  private interval: number;
  private ack: SipRequest | undefined;

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly destination: SipEndpoint,
    private readonly handler: ClientTransactionHandler,
    private readonly env: { sender: SipSender; clock: Clock; timers: TimerSettings; log: Logger; onRetransmit: () => void; onTerminated: (t: ClientTxn) => void },
  ) {
    this.invite = request.method === 'INVITE';
    this.reliable = isReliable(destination.protocol);
    this.state = this.invite ? 'calling' : 'trying';
    this.interval = env.timers.t1;
  }

  start(): void {
    const { t1 } = this.env.timers;
    this.transmit(this.request);
    if (!this.reliable) this.armRetransmit(t1);
    // Timer B (§17.1.1.2) or Timer F (§17.1.2.2).
    this.timeout = this.env.clock.setTimer(64 * t1, () => {
      if (this.state === 'calling' || this.state === 'trying' || (!this.invite && this.state === 'proceeding')) {
        this.terminate();
        this.handler.onTimeout();
      }
    });
  }

  private transmit(msg: SipRequest): void {
    this.env.sender.send(msg, this.destination).catch((err: unknown) => {
      if (this.state === 'terminated') return;
      this.env.log.debug({ err: errorMessage(err), txn: this.id }, 'transport error');
      const wasWaiting = this.state === 'calling' || this.state === 'trying' || this.state === 'proceeding';
      this.terminate();
      if (wasWaiting) this.handler.onTransportError(err instanceof Error ? err : new Error(String(err)));
    });
  }

  /** Timer A (INVITE: T1 doubling, §17.1.1.2) or Timer E (non-INVITE: doubling up to T2, §17.1.2.2). */
  private armRetransmit(ms: number): void {
    this.interval = ms;
    this.retransmit = this.env.clock.setTimer(ms, () => {
      const { t2 } = this.env.timers;
      if (this.state === 'calling') {
        this.env.onRetransmit();
        this.transmit(this.request);
        this.armRetransmit(this.interval * 2);
      } else if (this.state === 'trying' || (!this.invite && this.state === 'proceeding')) {
        this.env.onRetransmit();
        this.transmit(this.request);
        this.armRetransmit(this.state === 'proceeding' ? t2 : Math.min(this.interval * 2, t2));
      }
    });
  }

  receive(res: SipResponse): void {
    const s = res.status;
    if (this.invite) this.receiveInvite(res, s);
    else this.receiveNonInvite(res, s);
  }

  private receiveInvite(res: SipResponse, s: number): void {
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        if (s < 200) {
          this.state = 'proceeding';
          this.retransmit?.cancel();
          this.handler.onProvisional?.(res);
        } else if (s < 300) {
          // RFC 6026 §7.2: Accepted absorbs nothing; every 2xx goes up so the TU can ACK it.
          this.state = 'accepted';
          this.cancelTimers();
          this.linger = this.env.clock.setTimer(64 * this.env.timers.t1, () => this.terminate()); // Timer M
          this.handler.onFinal(res);
        } else {
          this.state = 'completed';
          this.cancelTimers();
          this.ack = buildNon2xxAck(this.request, res);
          this.transmit(this.ack);
          // Timer D: long enough to absorb the server's retransmissions of the final response.
          const d = this.reliable ? 0 : Math.max(64 * this.env.timers.t1, 32_000);
          this.linger = this.env.clock.setTimer(d, () => this.terminate());
          this.handler.onFinal(res);
        }
        return;
      case 'accepted':
        if (s >= 200 && s < 300) this.handler.onFinal(res);
        return;
      case 'completed':
        if (s >= 300 && this.ack !== undefined) this.transmit(this.ack);
        return;
      default:
        return;
    }
  }

  private receiveNonInvite(res: SipResponse, s: number): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    if (s < 200) {
      this.state = 'proceeding';
      this.handler.onProvisional?.(res);
      return;
    }
    this.state = 'completed';
    this.cancelTimers();
    // Timer K: absorb retransmitted finals for T4 over UDP.
    this.linger = this.env.clock.setTimer(this.reliable ? 0 : this.env.timers.t4, () => this.terminate());
    this.handler.onFinal(res);
  }

  private cancelTimers(): void {
    this.retransmit?.cancel();
    this.timeout?.cancel();
    this.retransmit = undefined;
    this.timeout = undefined;
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.cancelTimers();
    this.linger?.cancel();
    this.env.onTerminated(this);
  }
}
