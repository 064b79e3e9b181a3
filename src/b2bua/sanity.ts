import {
  getCSeq, getCallId, getContentLength, getFrom, getMaxForwards, getRequire, getTo, getVias, headerLines,
  type SipRequest, type Via,
} from '../sip/message.js';

/**
 * Checks a request must pass before the B2BUA does anything with it (RFC 3261 §8.2, §16.3), in
 * the order a proxy runs them, so a scanner or a broken client gets the cheapest clear answer.
 */
export interface SanityOptions {
  /** case-insensitive User-Agent substrings dropped without an answer. */
  uaDeny: string[];
  /** option tags we implement; anything else in Require gets 420 (§8.2.2.3). */
  supportedExtensions: string[];
  isOwnVia: (via: Via) => boolean;
}

export type SanityVerdict =
  | { action: 'accept' }
  | { action: 'reject'; status: number; reason: string; headers: { name: string; value: string }[] }
  | { action: 'drop'; reason: string };

export const KNOWN_METHODS: readonly string[] = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'UPDATE', 'MESSAGE', 'PRACK', 'REFER', 'NOTIFY', 'SUBSCRIBE', 'REGISTER', 'PUBLISH'];
export const HANDLED_METHODS: readonly string[] = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'UPDATE', 'MESSAGE', 'NOTIFY'];

const reject = (status: number, reason: string, headers: { name: string; value: string }[] = []): SanityVerdict => ({ action: 'reject', status, reason, headers });

export function checkRequest(req: SipRequest, opts: SanityOptions): SanityVerdict {
  const ua = headerLines(req, 'User-Agent').join(' ').toLowerCase();
  if (ua !== '') {
    const hit = opts.uaDeny.find((d) => d !== '' && ua.includes(d.toLowerCase()));
    if (hit !== undefined) return { action: 'drop', reason: `User-Agent matches "${hit}"` };
  }
  // The typed accessors throw on a hand-built bad header; the parser has already vetted received ones.
  try {
    for (const [name, present] of [
      ['Via', getVias(req).length > 0],
      ['From', getFrom(req) !== undefined],
      ['To', getTo(req) !== undefined],
      ['Call-ID', getCallId(req) !== undefined],
      ['CSeq', getCSeq(req) !== undefined],
    ] as const) {
      if (!present) return reject(400, `Missing ${name}`);
    }
    const cseq = getCSeq(req);
    if (cseq !== undefined && cseq.method !== req.method) return reject(400, 'CSeq Method Does Not Match');
    const length = getContentLength(req);
    if (length !== undefined && length !== req.body.length) return reject(400, 'Invalid Content-Length');
    // §16.3 step 2: Max-Forwards 0 may not be forwarded; OPTIONS to us is answered anyway (§11).
    const mf = getMaxForwards(req);
    if (mf === 0 && req.method !== 'OPTIONS') return reject(483, 'Too Many Hops');
    if (!KNOWN_METHODS.includes(req.method)) return reject(501, 'Not Implemented', [{ name: 'Allow', value: HANDLED_METHODS.join(', ') }]);
    if (!HANDLED_METHODS.includes(req.method)) return reject(405, 'Method Not Allowed', [{ name: 'Allow', value: HANDLED_METHODS.join(', ') }]);
    if (req.method !== 'ACK' && req.method !== 'CANCEL') {
      const unsupported = getRequire(req).filter((t) => !opts.supportedExtensions.some((s) => s.toLowerCase() === t.toLowerCase()));
      if (unsupported.length > 0) return reject(420, 'Bad Extension', [{ name: 'Unsupported', value: unsupported.join(', ') }]);
    }
    // A request that already passed through us has looped (§16.3 step 4, in B2BUA terms: our own
    // Via can only be there if leg B was routed back to us).
    if (getVias(req).some(opts.isOwnVia)) return reject(482, 'Loop Detected');
  } catch (err) {
    return reject(400, err instanceof Error ? err.message : 'Bad Request');
  }
  return { action: 'accept' };
}
