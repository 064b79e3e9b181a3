import type { Logger } from '../common/log.js';
import { TandemError, errorMessage } from '../common/errors.js';
import { serializeSipMessage } from '../sip/serialize.js';
import { parseSipMessage } from '../sip/parse.js';
import type { Dialog } from '../sip/dialog.js';
import type { SipRequest } from '../sip/message.js';
import type { SipEndpoint, TransportProtocol } from '../sip/transport/types.js';
import type { ServerTransaction } from '../sip/transaction/types.js';
import type { CallPolicy } from './policy.js';
import type { CallSetup, LegPath } from './call-core.js';
import type { B2buaCall, RestoredLegs } from './call.js';
import { CallState } from './call-state.js';

/** Where the B2BUA writes its confirmed calls when they change, and removes them when they end (`--redis`). */
export interface DialogPersistence {
  save(id: string, snapshot: string): void;
  remove(id: string): void;
}

interface StoredLeg {
  dialog: Dialog;
  protocol: TransportProtocol;
  destination: SipEndpoint;
  contact: string;
}

/**
 * A confirmed B2BUA call as plain data: the caller's INVITE (for its Call-ID, policy pins and
 * logs), the flow it came on, the route's policy and both dialogs with their CSeqs, route sets
 * and destinations. A trunk's digest state (nonce, nc) is not kept: a BYE challenged after a
 * takeover is answered with a new nonce only if the trunk sends one.
 */
interface DialogSnapshot {
  v: 1;
  invite: string;
  source: SipEndpoint;
  local: SipEndpoint;
  routeName: string;
  policy: CallPolicy;
  callerCodecs: string[];
  copyHeaders: string[];
  aLocalTag: string;
  bCallId: string;
  bLocalTag: string;
  a: StoredLeg;
  b: StoredLeg;
}

/** The call's snapshot, or undefined while it is not confirmed (a call being set up is not taken over). */
export function encodeDialogs(call: B2buaCall): string | undefined {
  const a = call.leg('a');
  const b = call.leg('b');
  if (call.state !== CallState.Confirmed || a.dialog === undefined || b.dialog === undefined) return undefined;
  const s: DialogSnapshot = {
    v: 1,
    // Credentials the caller answered our challenge with are of no use later: they are not stored.
    invite: serializeSipMessage({ ...call.setup.invite, headers: call.setup.invite.headers.filter((h) => !/^(proxy-)?authorization$/i.test(h.name)) }).toString('utf8'),
    source: call.setup.inbound.source,
    local: call.setup.inbound.local,
    routeName: call.setup.routeName,
    policy: call.setup.policy,
    callerCodecs: call.setup.callerCodecs,
    copyHeaders: call.setup.copyHeaders,
    aLocalTag: call.aLocalTag,
    bCallId: call.bCallId,
    bLocalTag: call.bLocalTag,
    a: stored(a, a.dialog),
    b: stored(b, b.dialog),
  };
  return JSON.stringify(s);
}

/**
 * The B2BUA's side of `--redis`: each live call written after every event that changed it (only a
 * confirmed one; `saved` holds what was last written), removed when it ends, and read back at start.
 */
export class DialogTakeover {
  private readonly saved = new Map<B2buaCall, string>();

  watch(call: B2buaCall, persist: DialogPersistence | undefined, isLive: (call: B2buaCall) => boolean): void {
    if (persist === undefined) return;
    call.onSettled = (c) => {
      const text = encodeDialogs(c);
      if (text === undefined || text === this.saved.get(c) || !isLive(c)) return;
      this.saved.set(c, text);
      persist.save(c.mediaCallId, text);
    };
  }

  ended(call: B2buaCall, persist: DialogPersistence | undefined): void {
    if (this.saved.delete(call)) persist?.remove(call.mediaCallId);
  }

  /** `make` builds and tracks the live call (undefined: it is already there); one that cannot be read is logged and `dropped(i)`. */
  restore(snapshots: string[], dropped: ((index: number) => void) | undefined, log: Logger, make: (setup: CallSetup, legs: RestoredLegs) => B2buaCall | undefined): { restored: number; failed: number } {
    let restored = 0;
    let failed = 0;
    for (const [i, text] of snapshots.entries()) {
      try {
        const { setup, restored: legs } = decodeDialogs(text);
        const call = make(setup, legs);
        if (call === undefined) continue;
        this.saved.set(call, text);
        call.log.info({ from: setup.inbound.source.address }, 'call taken over');
        restored++;
      } catch (err) {
        failed++;
        log.warn({ err }, 'stored call could not be taken over; dropped');
        dropped?.(i);
      }
    }
    return { restored, failed };
  }
}

function stored(leg: LegPath, dialog: Dialog): StoredLeg {
  return { dialog, protocol: leg.protocol, destination: leg.destination, contact: leg.contact };
}

/** What a new B2buaCall needs to stand for a stored one; a text that is not a snapshot is a TandemError naming why. */
export function decodeDialogs(text: string): { setup: CallSetup; restored: RestoredLegs } {
  let s: Partial<DialogSnapshot>;
  try {
    s = JSON.parse(text) as Partial<DialogSnapshot>;
  } catch (err) {
    throw new TandemError('BAD_REQUEST', `stored dialog is not JSON: ${errorMessage(err)}`);
  }
  if (typeof s !== 'object' || s === null || s.v !== 1) throw new TandemError('BAD_REQUEST', 'stored dialog: not a version 1 snapshot');
  for (const k of ['invite', 'routeName', 'aLocalTag', 'bCallId', 'bLocalTag'] as const) if (typeof s[k] !== 'string') throw new TandemError('BAD_REQUEST', `stored dialog: no ${k}`);
  if (!isEndpoint(s.source) || !isEndpoint(s.local)) throw new TandemError('BAD_REQUEST', 'stored dialog: no source or listener');
  if (!isLeg(s.a) || !isLeg(s.b)) throw new TandemError('BAD_REQUEST', 'stored dialog: a leg without its dialog');
  if (typeof s.policy !== 'object' || s.policy === null || !Array.isArray(s.callerCodecs) || !Array.isArray(s.copyHeaders)) throw new TandemError('BAD_REQUEST', 'stored dialog: no policy');
  const parsed = parseSipMessage(Buffer.from(s.invite as string, 'utf8'));
  if (!parsed.ok || parsed.message.kind !== 'request') throw new TandemError('BAD_REQUEST', `stored dialog: the INVITE does not parse${parsed.ok ? '' : `: ${parsed.error.message}`}`);
  const invite: SipRequest = parsed.message;
  const source = s.source;
  const txn: ServerTransaction = { id: `restored:${s.aLocalTag}`, request: invite, source, state: 'terminated', lastResponse: undefined, respond: () => undefined };
  return {
    setup: { invite, txn, inbound: { message: invite, source, local: s.local }, routeName: s.routeName as string, policy: s.policy, targets: [], copyHeaders: s.copyHeaders, callerCodecs: s.callerCodecs },
    restored: { aLocalTag: s.aLocalTag as string, bCallId: s.bCallId as string, bLocalTag: s.bLocalTag as string, a: { ...s.a }, b: { ...s.b } },
  };
}

function isEndpoint(v: unknown): v is SipEndpoint {
  const e = v as Partial<SipEndpoint> | null;
  return typeof e === 'object' && e !== null && typeof e.address === 'string' && typeof e.port === 'number' && typeof e.protocol === 'string';
}

function isLeg(v: unknown): v is StoredLeg {
  const l = v as Partial<StoredLeg> | null;
  const d = l?.dialog as Partial<Dialog> | undefined;
  return typeof l === 'object' && l !== null && isEndpoint(l.destination) && typeof l.contact === 'string' && typeof d === 'object' && d !== null
    && typeof d.callId === 'string' && typeof d.localTag === 'string' && typeof d.remoteTag === 'string' && typeof d.localSeq === 'number'
    && typeof d.remoteTarget === 'string' && Array.isArray(d.routeSet);
}
