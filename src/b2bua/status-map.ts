import { errorCode, errorMessage, type ErrorCode } from '../common/errors.js';
import type { SipHeader } from '../sip/message.js';
import { warning } from './sip-context.js';

/**
 * What a caller is told when something below the B2BUA fails: catalogue code → SIP final
 * response, leg B's transaction failures → the status relayed or failed over on, and the Reason
 * of a BYE we send because the media plane ended a call. One table, so a new code gets a status
 * by being added here (the type makes it mandatory).
 */
export interface SipStatus {
  status: number;
  reason: string;
}

const NOT_ACCEPTABLE: SipStatus = { status: 488, reason: 'Not Acceptable Here' };
// 503 lets an upstream proxy fail over to another B2BUA: the fault is capacity, not the call.
const MEDIA_UNAVAILABLE: SipStatus = { status: 503, reason: 'Media Unavailable' };
const MEDIA_PLANE_ERROR: SipStatus = { status: 500, reason: 'Media Plane Error' };

/** A media-plane failure (offer or answer refused) → the final response leg A gets. */
export const MEDIA_FAILURE_STATUS: Readonly<Record<ErrorCode, SipStatus>> = {
  BAD_SDP: NOT_ACCEPTABLE,
  CODEC: NOT_ACCEPTABLE,
  LOAD_LIMIT: MEDIA_UNAVAILABLE,
  NO_PORTS: MEDIA_UNAVAILABLE,
  REMOTE: MEDIA_UNAVAILABLE,
  WORKER: MEDIA_UNAVAILABLE,
  BAD_REQUEST: MEDIA_PLANE_ERROR,
  UNKNOWN_CALL: MEDIA_PLANE_ERROR,
  CONFIG: MEDIA_PLANE_ERROR,
  TOO_LARGE: MEDIA_PLANE_ERROR,
  BENCODE: MEDIA_PLANE_ERROR,
  RTP_FORMAT: MEDIA_PLANE_ERROR,
  NG_TIMEOUT: MEDIA_PLANE_ERROR,
  NG_CLOSED: MEDIA_PLANE_ERROR,
  NG_SEND: MEDIA_PLANE_ERROR,
  NG_BAD_REPLY: MEDIA_PLANE_ERROR,
  CONNECTION_LOST: MEDIA_PLANE_ERROR, // never from the media plane: leg B's transport error (LEG_B_TRANSPORT_ERROR)
  DNS: MEDIA_PLANE_ERROR, // never from the media plane: a DnsFailure is answered 503 in b2bua.ts
  INTERNAL: MEDIA_PLANE_ERROR,
};

export function mediaFailureStatus(err: unknown): SipStatus {
  return MEDIA_FAILURE_STATUS[errorCode(err)];
}

/** The final response refusing a new call whose media offer failed; a 488 says why in a Warning. */
export function mediaFailureResponse(err: unknown): SipStatus & { headers: SipHeader[] } {
  const s = mediaFailureStatus(err);
  return { ...s, headers: s.status === 488 ? [warning(errorMessage(err))] : [] };
}

/** A request whose handling threw: an SDP fault is the peer's (488 with a Warning), anything else ours (500). */
export function requestFailureResponse(err: unknown): SipStatus & { headers: SipHeader[] } {
  const code = errorCode(err);
  if (code === 'BAD_SDP' || code === 'CODEC') return { ...NOT_ACCEPTABLE, headers: [warning(errorMessage(err))] };
  return { status: 500, reason: 'Server Internal Error', headers: [] };
}

/** Leg B's INVITE got no final response (Timer B): treated as 408 (RFC 3261 §8.1.3.1). */
export const LEG_B_TIMEOUT: SipStatus = { status: 408, reason: 'Request Timeout' };
/** The transport could not deliver leg B's INVITE: treated as 503 (RFC 3261 §8.1.3.1). */
export const LEG_B_TRANSPORT_ERROR: SipStatus = { status: 503, reason: 'Service Unavailable' };

/**
 * What the caller is told, beyond the 503, when leg B's transport failed: a connection the next hop
 * closed before answering says so in a Warning (RFC 3261 §20.43; no address, topology hiding).
 */
export function legBTransportErrorHeaders(err: unknown): SipHeader[] {
  return errorCode(err) === 'CONNECTION_LOST' ? [warning('next hop closed the connection before a final response', 399)] : [];
}

/** A final response from leg B after which the next target is tried: 408 and 5xx; 4xx and 6xx are the callee's answer. */
export function isFailoverStatus(status: number): boolean {
  return status === 408 || (status >= 500 && status < 600);
}

/** Reason (RFC 3326) of the BYE sent when the media plane dropped the call after a media timeout. */
export const REASON_MEDIA_TIMEOUT = 'SIP;cause=408;text="media timeout"';
/** Reason of the BYE sent when the media worker carrying the call failed. */
export const REASON_WORKER_FAILED = 'SIP;cause=500;text="media worker failed"';

/**
 * An in-dialog request's final response from the other leg, as relayed back. A 401/407 there is a
 * challenge Tandem did not (or could not) answer: relayed bare it would lack the WWW-/Proxy-
 * Authenticate RFC 3261 §21.4.2/§21.4.8 require, and the caller cannot answer for leg B's dialog
 * anyway, so it becomes 403 with a Warning — what the initial INVITE gets in the same case.
 */
export function relayedInDialogStatus(status: number, reason: string): SipStatus & { headers: SipHeader[] } {
  if (status === 401 || status === 407) return { status: 403, reason: 'Forbidden', headers: [warning(`the far end challenged (${status}) and the challenge was not answered`, 399)] };
  return { status, reason, headers: [] };
}
