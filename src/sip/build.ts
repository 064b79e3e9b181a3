import { randomBytes } from 'node:crypto';
import { getHeader, getTo, headerLines, type SipHeader, type SipRequest, type SipResponse } from './message.js';
import { getCSeq } from './message.js';

/** RFC 3261 §8.1.1.7: a branch starting with the magic cookie marks an RFC 3261 transaction id. */
export const BRANCH_COOKIE = 'z9hG4bK';

// Identifiers must be unique (branches across space and time, RFC 3261 §8.1.1.7), not secret: a
// random per-process prefix and a counter give that without a getrandom() call per message, which
// showed up at ~4 % of the main thread's time under a call-setup load.
const PREFIX = randomBytes(6).toString('hex');
let counter = 0;

function unique(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${PREFIX}${counter.toString(36)}`;
}

export function newBranch(): string {
  return `${BRANCH_COOKIE}${unique()}`;
}

export function newTag(): string {
  return unique();
}

export function newCallId(host: string): string {
  return `${unique()}@${host}`;
}

export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted',
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  415: 'Unsupported Media Type', 420: 'Bad Extension', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected',
  483: 'Too Many Hops', 486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here', 491: 'Request Pending',
  500: 'Server Internal Error', 501: 'Not Implemented', 503: 'Service Unavailable', 504: 'Server Time-out',
  505: 'Version Not Supported', 513: 'Message Too Large', 603: 'Decline',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Session Progress' : status < 300 ? 'OK' : 'Error');
}

export function createRequest(method: string, uri: string, headers: SipHeader[], body: Buffer = Buffer.alloc(0)): SipRequest {
  return { kind: 'request', version: 'SIP/2.0', method, uri, headers, body };
}

/**
 * A response to `req` (RFC 3261 §8.2.6.2): Via (every value, in order), From, Call-ID and CSeq
 * copied; To copied and given `toTag` when it has none and the response is not a 100.
 */
export function createResponse(
  req: SipRequest,
  status: number,
  reason: string = reasonPhrase(status),
  opts: { toTag?: string; headers?: SipHeader[]; body?: Buffer } = {},
): SipResponse {
  const headers: SipHeader[] = [];
  for (const h of req.headers) {
    const n = h.name.toLowerCase();
    if (n === 'via' || n === 'v') headers.push({ name: 'Via', value: h.value });
  }
  const from = getHeader(req, 'From');
  let to = getHeader(req, 'To') ?? '';
  const hasTag = getTo(req)?.tag !== undefined;
  if (!hasTag && status !== 100 && opts.toTag !== undefined) to = `${to};tag=${opts.toTag}`;
  if (from !== undefined) headers.push({ name: 'From', value: from });
  headers.push({ name: 'To', value: to });
  headers.push({ name: 'Call-ID', value: getHeader(req, 'Call-ID') ?? '' });
  headers.push({ name: 'CSeq', value: getHeader(req, 'CSeq') ?? '' });
  if (status === 100) {
    // §8.2.6.1: a Timestamp in the request is echoed in the 100.
    const ts = getHeader(req, 'Timestamp');
    if (ts !== undefined) headers.push({ name: 'Timestamp', value: ts });
  }
  headers.push(...(opts.headers ?? []));
  return { kind: 'response', version: 'SIP/2.0', status, reason, headers, body: opts.body ?? Buffer.alloc(0) };
}

/** Header lines of `req` copied verbatim, in order, for the names given (any form). */
function copyLines(req: SipRequest, names: readonly string[]): SipHeader[] {
  return names.flatMap((n) => headerLines(req, n).map((value) => ({ name: n, value })));
}

/**
 * A request in the INVITE's own transaction (ACK for a non-2xx, CANCEL): same Request-URI,
 * Call-ID, From, CSeq number and top Via (so the branch matches), the INVITE's Route headers, and
 * the To given.
 */
function sameTransaction(invite: SipRequest, method: 'ACK' | 'CANCEL', to: string): SipRequest {
  const topVia = headerLines(invite, 'Via')[0] ?? '';
  const headers: SipHeader[] = [
    { name: 'Via', value: topVia.split(',')[0].trim() },
    ...copyLines(invite, ['Route']),
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: getHeader(invite, 'From') ?? '' },
    { name: 'To', value: to },
    { name: 'Call-ID', value: getHeader(invite, 'Call-ID') ?? '' },
    { name: 'CSeq', value: `${getCSeq(invite)?.seq ?? 0} ${method}` },
  ];
  return createRequest(method, invite.uri, headers);
}

/** The ACK a client INVITE transaction sends for a non-2xx final response (RFC 3261 §17.1.1.3): To from the response. */
export function buildNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  return sameTransaction(invite, 'ACK', getHeader(response, 'To') ?? '');
}

/** CANCEL for a pending INVITE (RFC 3261 §9.1): To as in the INVITE. */
export function buildCancel(invite: SipRequest, reason?: string): SipRequest {
  const cancel = sameTransaction(invite, 'CANCEL', getHeader(invite, 'To') ?? '');
  if (reason !== undefined) cancel.headers.push({ name: 'Reason', value: reason });
  return cancel;
}
