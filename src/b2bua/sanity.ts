import {
  SipParseError, getCSeq, getCallId, getContentLength, getFrom, getMaxForwards, getRequire, getTo, getVias, headerLines,
  type SipRequest, type Via,
} from '../sip/message.js';
import { ALLOW, IN_DIALOG_METHODS, allowOutOfDialog } from './methods.js';

/**
 * Checks a request passes before the B2BUA does anything else with it. Pure: request in, verdict
 * out; the caller sends the response (or nothing). Order, cheapest and most decisive first:
 *
 * 1. User-Agent on the deny list → drop, no answer: scanners (friendly-scanner, sipvicious,
 *    sipcli…) learn nothing, not even that something listens.
 * 2. Max-Forwards 0 → 483 (RFC 3261 §16.3 step 3, which a B2BUA applies since it forwards the
 *    call on leg B). A missing Max-Forwards passes, as §16.3 step 3 says ("If the request does not
 *    contain a Max-Forwards header field, this check is passed"), although §8.1.1.6 makes UACs
 *    send it: RFC 2543 clients did not. Exempt: OPTIONS (§16.3 step 3 lets the element answer it
 *    as final recipient, §11: the caller must then answer it itself, not relay it), CANCEL (hop by
 *    hop, §9.2: answered here, leg B gets its own CANCEL) and ACK (never answered, §17).
 * 3. Via, From, To, Call-ID and CSeq present and well-formed, CSeq method = request method
 *    (§8.1.1, §8.2.6.2 wants a 400 naming the fault) → 400.
 * 4. Content-Length, when present, equal to the body's octets (§18.3, §20.14) → 400.
 * 5. Method: unknown → 501 (§21.5.2), known but not handled here → 405 (§8.2.1); both with Allow
 *    (§20.5) for the request's context: in a dialog or outside one (methods.ts).
 *    This runs before Require because §8.2.1 (method inspection) precedes §8.2.2.3
 *    (extensions): a client that got 420 and dropped the extension would only get 405/501 next.
 * 6. Require with an option tag not in `supportedExtensions` → 420 with Unsupported (§8.2.2.3).
 *    Not for ACK and CANCEL, which §8.2.2.3 exempts. Proxy-Require is for proxies (§20.29): a
 *    B2BUA is a UAS and ignores it.
 * 7. One of our own Vias in the stack → 482 (§16.3 step 4 in B2BUA terms: a request carrying a Via
 *    we inserted has come back to us, so leg B was routed to ourselves).
 *
 * An ACK is never answered (§17.1.1.3, §17.2.3): any reject verdict for it becomes a drop.
 */
export interface SanityOptions {
  /** case-insensitive substrings of User-Agent dropped without an answer (friendly-scanner, sipvicious, sipcli…). */
  uaDeny: string[];
  /** option tags we implement; the caller decides (e.g. [] or ['replaces']). Compared case-insensitively. */
  supportedExtensions: string[];
  /** does this Via header value belong to us (our sent-by address and port)? */
  isOwnVia: (via: Via) => boolean;
  /** the registrar is on: REGISTER is handled out of dialog (and listed in Allow). */
  registrar?: boolean;
}

export type SanityVerdict =
  | { action: 'accept' }
  | { action: 'reject'; status: number; reason: string; headers: { name: string; value: string }[] }
  | { action: 'drop'; reason: string };

/** Methods of RFC 3261 and its common extensions (RFC 2976, 3262, 3265, 3311, 3428, 3515). */
export const KNOWN_METHODS: readonly string[] = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'UPDATE', 'MESSAGE', 'PRACK', 'REFER', 'NOTIFY', 'SUBSCRIBE', 'REGISTER'];
/** What the B2BUA handles anywhere (the in-dialog set, methods.ts); NOTIFY too: in a dialog it is relayed like INFO. */
export const HANDLED_METHODS: readonly string[] = IN_DIALOG_METHODS;

type Header = { name: string; value: string };

function reject(status: number, reason: string, headers: Header[] = []): SanityVerdict {
  return { action: 'reject', status, reason, headers };
}

/** Allow true to where the request was aimed: inside a dialog (To tag) or outside one (methods.ts). */
function allow(req: SipRequest, registrar: boolean): Header[] {
  return [{ name: 'Allow', value: getTo(req)?.tag !== undefined ? ALLOW : allowOutOfDialog(registrar) }];
}

export function checkRequest(req: SipRequest, opts: SanityOptions): SanityVerdict {
  const verdict = runChecks(req, opts);
  if (req.method === 'ACK' && verdict.action === 'reject') return { action: 'drop', reason: `ACK not answerable: ${verdict.status} ${verdict.reason}` };
  return verdict;
}

function runChecks(req: SipRequest, opts: SanityOptions): SanityVerdict {
  const ua = headerLines(req, 'User-Agent').join(' ').toLowerCase();
  if (ua !== '') {
    const hit = opts.uaDeny.find((d) => d.trim() !== '' && ua.includes(d.trim().toLowerCase()));
    if (hit !== undefined) return { action: 'drop', reason: `User-Agent matches "${hit}"` };
  }
  // The typed accessors throw SipParseError on a malformed or repeated header; the parser has
  // already vetted what came off the wire, so this mostly guards hand-built or relayed requests.
  try {
    const mf = getMaxForwards(req);
    if (mf === 0 && !['OPTIONS', 'CANCEL', 'ACK'].includes(req.method)) return reject(483, 'Too Many Hops');

    const present: [string, boolean][] = [
      ['Via', getVias(req).length > 0],
      ['From', getFrom(req) !== undefined],
      ['To', getTo(req) !== undefined],
      ['Call-ID', getCallId(req) !== undefined],
      ['CSeq', getCSeq(req) !== undefined],
    ];
    const missing = present.filter(([, ok]) => !ok).map(([name]) => name);
    if (missing.length > 0) return reject(400, `Missing ${missing.join(', ')}`);
    const cseq = getCSeq(req);
    if (cseq !== undefined && cseq.method !== req.method) return reject(400, 'CSeq Method Does Not Match');

    const length = getContentLength(req);
    if (length !== undefined && length !== req.body.length) return reject(400, 'Invalid Content-Length');

    const registrar = opts.registrar === true;
    if (!KNOWN_METHODS.includes(req.method)) return reject(501, 'Not Implemented', allow(req, registrar));
    if (!HANDLED_METHODS.includes(req.method) && !(registrar && req.method === 'REGISTER')) return reject(405, 'Method Not Allowed', allow(req, registrar));

    if (req.method !== 'ACK' && req.method !== 'CANCEL') {
      const supported = opts.supportedExtensions.map((s) => s.toLowerCase());
      const unsupported = getRequire(req).filter((t) => !supported.includes(t.toLowerCase()));
      if (unsupported.length > 0) return reject(420, 'Bad Extension', [{ name: 'Unsupported', value: unsupported.join(', ') }]);
    }

    if (getVias(req).some((v) => opts.isOwnVia(v))) return reject(482, 'Loop Detected');
  } catch (err) {
    return reject(400, err instanceof SipParseError ? err.reason : err instanceof Error ? err.message : 'Bad Request');
  }
  return { action: 'accept' };
}
