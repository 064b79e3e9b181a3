import type { BDict, BValue } from './bencode.js';
import { TandemError, errorCode, errorMessage, isErrorCode, type ErrorCode } from '../common/errors.js';

/**
 * Error codes on the ng wire, both ways. rtpengine's replies have only `error-reason`; ours add
 * `error-code` with the catalogue code (common/errors.ts), which rtpengine and Kamailio ignore as an
 * unknown key, so a Tandem talking to a Tandem keeps the code across the hop.
 */

/** An error-reason longer than this is cut: a reply must not echo a large request back. */
const MAX_REASON_CHARS = 300;

export function clipReason(reason: string): string {
  return reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS)}… (${reason.length} characters)`;
}

/** `{result: "error", "error-reason", "error-code"}`; the reason is clipped. */
export function ngErrorReply(code: ErrorCode, reason: string): BDict {
  return { result: 'error', 'error-reason': clipReason(reason), 'error-code': code };
}

/** The reply for anything a command threw: its message, prefixed when given, and its code. */
export function ngErrorReplyFor(err: unknown, prefix = ''): BDict {
  return ngErrorReply(errorCode(err), `${prefix}${errorMessage(err)}`);
}

/**
 * The TandemError for an ng error reply. A peer's `error-code` from our catalogue (a Tandem sent
 * it) is kept when it says something about the call or the request; one about the peer's own
 * machinery means, from here, that the remote failed. Without a code, rtpengine's texts that
 * callers react to are read (Kamailio fails over on the first two).
 */
export function errorFromNgReply(reply: BDict, reason: string, context: Record<string, string>): TandemError {
  const sent = reply['error-code'];
  const code = isErrorCode(sent) ? (REMOTE_INTERNAL.has(sent) ? 'REMOTE' : sent) : codeFromReason(reply.result, reason);
  return new TandemError(code, reason, context);
}

const REMOTE_INTERNAL: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['INTERNAL', 'CONFIG', 'BENCODE', 'RTP_FORMAT', 'NG_TIMEOUT', 'NG_CLOSED', 'NG_SEND', 'NG_BAD_REPLY']);

function codeFromReason(result: BValue | undefined, reason: string): ErrorCode {
  if (result === 'load limit' || /session limit/i.test(reason)) return 'LOAD_LIMIT';
  if (/ran out of ports/i.test(reason)) return 'NO_PORTS';
  if (/unknown call|call-id not found/i.test(reason)) return 'UNKNOWN_CALL';
  if (/sdp/i.test(reason)) return 'BAD_SDP';
  return 'REMOTE';
}
