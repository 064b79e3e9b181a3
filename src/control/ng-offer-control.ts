import { TandemError } from '../common/errors.js';
import type { MediaControlRequest } from '../media/api.js';
import { normalizeKey, type NgFields } from './ng-options.js';

/**
 * Media control asked for on an offer or answer (rtpengine's `block DTMF` flag, "identical to using
 * a `block DTMF` message for the call party immediately after"; ng_control_protocol.md). rtpengine
 * applies it to the monologue that sent the message: the from-tag's on an offer, the to-tag's on an
 * answer (it swaps the tags), whatever `directional` or `direction` say. So here: what that leg
 * sends is blocked toward the other leg. `block media` is not an offer flag in rtpengine (it logs
 * an unknown flag); Tandem takes it the same way, as the `block media` command from that leg.
 */

/** rtpengine's `DTMF-security` modes (the `block DTMF` message and flag). */
const DTMF_SECURITY_MODES = ['drop', 'off', 'silence', 'tone', 'random', 'zero', 'dtmf'] as const;
export type DtmfSecurity = (typeof DTMF_SECURITY_MODES)[number];

/**
 * `DTMF-security`, if given. Tandem drops events (`drop`) or stops blocking (`off`); the modes that
 * replace events with other audio or digits are not built, so they drop (the digits still do not
 * pass) and the caller gets a warning naming the mode. Anything else is an error naming the key.
 */
export function readDtmfSecurity(f: NgFields): { mode?: DtmfSecurity; warning?: string } {
  const raw = f.raw('dtmf-security');
  if (raw === undefined) return {};
  if (typeof raw !== 'string') throw new TandemError('BAD_REQUEST', 'key "DTMF-security" must be a string');
  const mode = DTMF_SECURITY_MODES.find((m) => m === raw.trim().toLowerCase());
  if (mode === undefined)
    throw new TandemError('BAD_REQUEST', `key "DTMF-security" has unknown value "${raw}" (drop, off, silence, tone, random, zero or DTMF)`);
  if (mode === 'drop' || mode === 'off') return { mode };
  return { mode, warning: `DTMF-security=${raw.trim()} not supported yet; DTMF events are dropped instead` };
}

export interface OfferControl {
  /** Requests to run once the offer/answer has set the call up, in order. */
  requests: MediaControlRequest[];
  warnings: string[];
}

/**
 * The media control an offer/answer's flags ask for, toward the leg `senderTag` names (the
 * message's sender). Read before the offer runs, so a bad value refuses the message whole.
 */
export function readOfferControl(f: NgFields, callId: string, senderTag: string): OfferControl {
  const flags = new Set(f.list('flags').map(normalizeKey));
  const warnings: string[] = [];
  const requests: MediaControlRequest[] = [];
  const leg = (kind: 'block-dtmf' | 'block-media', on: boolean): MediaControlRequest =>
    ({ callId, fromTag: senderTag, all: false, directional: true, action: { kind, on } });
  const security = readDtmfSecurity(f);
  if (flags.has('block-dtmf')) {
    if (security.warning !== undefined) warnings.push(security.warning);
    requests.push(leg('block-dtmf', security.mode !== 'off'));
  } else if (security.mode !== undefined) {
    warnings.push('DTMF-security does nothing on an offer or answer without the block-DTMF flag; ignored');
  }
  if (flags.has('block-media')) requests.push(leg('block-media', true));
  return { requests, warnings };
}
