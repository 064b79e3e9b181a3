import type { Logger } from '../common/log.js';
import type { SipHeader, SipRequest } from '../sip/message.js';
import type { Dialog } from '../sip/dialog.js';
import type { InboundMessage, SipEndpoint, TransportProtocol } from '../sip/transport/types.js';
import type { ServerTransaction } from '../sip/transaction/types.js';
import type { SipContext } from './sip-context.js';
import type { CallPolicy, Direction } from './policy.js';
import type { RouteTarget } from './routes.js';
import type { CallState } from './call-state.js';
import type { UacAuth } from './uac-auth.js';

/** Which leg of a B2BUA call: A is the caller's (we are its UAS), B the callee's (we are its UAC). */
export type Leg = 'a' | 'b';

export function otherLeg(leg: Leg): Leg {
  return leg === 'a' ? 'b' : 'a';
}

/** The media direction of an offer made by `leg`. */
export function offerDirection(leg: Leg): Direction {
  return leg === 'a' ? 'a-to-b' : 'b-to-a';
}

export function reverse(dir: Direction): Direction {
  return dir === 'a-to-b' ? 'b-to-a' : 'a-to-b';
}

/** One leg as the B2BUA sees it: its dialog, and where requests to it go. */
export interface LegPath {
  dialog: Dialog | undefined;
  protocol: TransportProtocol;
  destination: SipEndpoint;
  contact: string;
  /** leg B toward a target with `auth`: answers its challenges to in-dialog requests (uac-auth.ts). */
  uacAuth?: UacAuth;
}

export interface CallSetup {
  invite: SipRequest;
  txn: ServerTransaction;
  inbound: InboundMessage;
  routeName: string;
  policy: CallPolicy;
  /** in failover order (or all at once, with `parallel`). */
  targets: RouteTarget[];
  /** fork to every target at once (a registered AOR's contacts) instead of failing over. */
  parallel?: boolean;
  /** X-Outbound-Proxy (an IP) from a trusted source: leg B's first hop, whatever the target; a named one is in each target's `nextHop`. */
  nextHop?: SipEndpoint;
  copyHeaders: string[];
  /** audio codec names of the caller's offer (telephone-event and CN excluded). */
  callerCodecs: string[];
}

/**
 * A late offer in flight (RFC 3264 §4 with RFC 3261 §13.2.1): the 2xx from `to` carried the offer,
 * the answer comes in the ACK from `from`; only then is `to` ACKed, with that answer.
 */
export interface LateAck {
  from: Leg;
  to: Leg;
  dir: Direction;
  seq: number;
}

export interface EndOptions {
  /** the leg that hung up: it gets no BYE. */
  except?: Leg;
  /** final response for a caller still waiting (500 when absent). */
  aStatus?: number;
  /** Reason header (RFC 3326) of the BYEs. */
  sipReason?: string;
}

/**
 * What the outbound and re-offer paths may use of their call. The call owns its state, legs and
 * media tags; these paths act through this interface so that each can be read (and tested) on its own.
 */
export interface CallCore {
  readonly ctx: SipContext;
  readonly setup: CallSetup;
  readonly log: Logger;
  readonly bCallId: string;
  readonly bLocalTag: string;
  readonly state: CallState;
  /** Moves the call to `to`; an illegal transition throws (and the event ends the call). */
  moveTo(to: CallState): void;
  /** Queues an event of this call behind the ones already running. */
  run(fn: () => Promise<void> | void): void;
  leg(leg: Leg): LegPath;
  mediaOffer(dir: Direction, sdp: string): Promise<string>;
  mediaAnswer(dir: Direction, sdp: string): Promise<string>;
  /** A response to the caller's INVITE, sent only while the caller waits for a final one. */
  respondA(status: number, opts?: { reason?: string; sdp?: string; headers?: SipHeader[] }): void;
  sendBye(d: Dialog, destination: SipEndpoint, why: string, reason?: string): void;
  /** The caller's 2xx waits for an answer in the ACK from `to`'s peer (a late offer). */
  ackAwaitsAnswer(to: Leg): boolean;
  expectAnswerInAck(late: LateAck): void;
  end(reason: string, opts?: EndOptions): void;
  /** Forgets the call (once): media deleted, registry told. */
  finish(reason: string, logged: boolean): void;
}

/** Where leg B's requests toward `target` go first: its X-Outbound-Proxy address, if the caller's INVITE set one. */
export function proxyHop(setup: CallSetup, target: RouteTarget): SipEndpoint | undefined {
  return target.nextHop ?? setup.nextHop;
}
