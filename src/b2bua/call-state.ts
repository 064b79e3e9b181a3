import { TandemError } from '../common/errors.js';

/**
 * Where one call is in its life. The states say what the caller has been told and what leg B's
 * INVITE is waiting for, so that each event (a response from leg B, a CANCEL, a hang-up) is
 * handled by looking at one value instead of a handful of flags that had to agree.
 */
export enum CallState {
  /** Leg B's INVITE is out (first target or a failover one); nothing but 100 back yet. */
  Trying = 'trying',
  /** Leg B sent a provisional response: the caller hears it, and a CANCEL may now go (RFC 3261 §9.1). */
  Early = 'early',
  /** The caller cancelled (487 sent) before leg B sent a provisional: our CANCEL waits for one. */
  CancelPending = 'cancel-pending',
  /** The caller cancelled and our CANCEL is out: leg B's final response closes the call. */
  Cancelling = 'cancelling',
  /** Both legs answered: the caller got its 2xx. */
  Confirmed = 'confirmed',
  /** Over: media deleted, the registry told. Nothing leaves this state. */
  Ended = 'ended',
}

/** The transitions a call may take; anything else is a bug in the call's logic. */
export const CALL_TRANSITIONS: Readonly<Record<CallState, readonly CallState[]>> = {
  [CallState.Trying]: [CallState.Early, CallState.CancelPending, CallState.Confirmed, CallState.Ended],
  // Back to Trying: leg B failed after ringing and the next target is tried.
  [CallState.Early]: [CallState.Trying, CallState.Cancelling, CallState.Confirmed, CallState.Ended],
  [CallState.CancelPending]: [CallState.Cancelling, CallState.Ended],
  [CallState.Cancelling]: [CallState.Ended],
  [CallState.Confirmed]: [CallState.Ended],
  [CallState.Ended]: [],
};

export function canTransition(from: CallState, to: CallState): boolean {
  return CALL_TRANSITIONS[from].includes(to);
}

/** The state after `from` → `to`, or a TandemError (INTERNAL) naming both when the table forbids it. */
export function transition(from: CallState, to: CallState): CallState {
  if (!canTransition(from, to)) throw new TandemError('INTERNAL', `illegal call state transition ${from} → ${to}`, { from, to });
  return to;
}

/** The caller still waits for a final response to its INVITE. */
export function awaitingAnswer(state: CallState): boolean {
  return state === CallState.Trying || state === CallState.Early;
}

/** The caller cancelled and leg B's INVITE has not ended yet. */
export function isCancelled(state: CallState): boolean {
  return state === CallState.CancelPending || state === CallState.Cancelling;
}
