import type { SipRequest, SipResponse } from '../message.js';
import type { InboundMessage, SipEndpoint } from '../transport/types.js';

/** RFC 3261 §17 timer bases, in milliseconds (defaults T1 500, T2 4000, T4 5000). */
export interface TimerSettings {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_TIMERS: TimerSettings = { t1: 500, t2: 4000, t4: 5000 };

/** What a client transaction reports to whoever sent the request (the transaction user). */
export interface ClientTransactionHandler {
  /** 1xx (the transaction keeps going). */
  onProvisional?(response: SipResponse): void;
  /**
   * Final response. For INVITE, called for the first 2xx and again for each 2xx retransmission
   * (or 2xx from another fork) seen while the transaction is Accepted (RFC 6026), so the TU can
   * re-send its ACK. Non-2xx finals are reported once; the transaction ACKs them itself.
   */
  onFinal(response: SipResponse): void;
  /** Timer B or F fired with no final response: the TU treats it as 408 (§8.1.3.1). */
  onTimeout(): void;
  /**
   * The transport refused the request (connect failure, send error), or the stream connection (TCP, TLS, WS) it
   * went out on closed before the final response (§18.4, a `ConnectionLostError`): treated as 503 (§8.1.3.1).
   */
  onTransportError(error: Error): void;
}

export type ClientState = 'calling' | 'trying' | 'proceeding' | 'accepted' | 'completed' | 'terminated';
export type ServerState = 'trying' | 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';

export interface ClientTransaction {
  readonly id: string;
  readonly request: SipRequest;
  readonly destination: SipEndpoint;
  readonly state: ClientState;
}

export interface ServerTransaction {
  readonly id: string;
  readonly request: SipRequest;
  /** where the request came from; responses go back there (RFC 3581 symmetric response routing). */
  readonly source: SipEndpoint;
  readonly state: ServerState;
  /** the last response sent (what a retransmitted request gets again), if any. */
  readonly lastResponse: SipResponse | undefined;
  /**
   * Sends a response. For INVITE, a 2xx moves the transaction to Accepted (RFC 6026) and, over
   * UDP, the layer retransmits that 2xx (T1 doubling up to T2) until the dialog's ACK arrives or
   * 64*T1 passes (then `TransactionUser.onAckTimeout`).
   *
   * `stateless` (a non-2xx final only): sent once and the transaction ends at once, instead of
   * lingering 64*T1 to absorb retransmissions; a retransmitted request is then a new one. For an
   * overload 503: refused work must not hold the very table whose size measures the overload.
   */
  respond(response: SipResponse, opts?: { stateless?: boolean }): void;
}

/**
 * The layer above transactions: the B2BUA core (or a test). If `onRequest` throws, the layer
 * answers 500 itself, so a request never waits for a response nobody will send.
 */
export interface TransactionUser {
  /** A new request that is not an ACK. An INVITE already got `100 Trying` from the layer. */
  onRequest(request: SipRequest, transaction: ServerTransaction, inbound: InboundMessage): void;
  /** An ACK that matched no transaction (the ACK for a 2xx), after it stopped any 2xx retransmission. */
  onAck(ack: SipRequest, inbound: InboundMessage): void;
  /** A response that matched no client transaction (e.g. a late 2xx retransmission). */
  onStrayResponse?(response: SipResponse, inbound: InboundMessage): void;
  /** A 2xx to INVITE was retransmitted for 64*T1 without an ACK (RFC 3261 §13.3.1.4: end the dialog). */
  onAckTimeout?(transaction: ServerTransaction): void;
  /**
   * The TU sent no final response in time (INVITE: `inviteDeadlineMs`, else 2*64*T1); the layer has
   * answered 408 for it. The TU releases whatever it holds for this request.
   */
  onDeadline?(transaction: ServerTransaction): void;
}
