import { describe, it, expect } from 'vitest';
import { CALL_TRANSITIONS, CallState, awaitingAnswer, canTransition, isCancelled, transition } from '../../../src/b2bua/call-state.js';
import { TandemError } from '../../../src/common/errors.js';

const S = CallState;
const ALL = Object.values(CallState);

/** The call's life as the B2BUA runs it, written out once more so a change to the table is a deliberate one. */
const ALLOWED: [CallState, CallState][] = [
  [S.Trying, S.Early], // leg B rings
  [S.Trying, S.CancelPending], // caller cancels before any provisional
  [S.Trying, S.Confirmed], // leg B answers at once
  [S.Trying, S.Ended],
  [S.Early, S.Trying], // failover after ringing
  [S.Early, S.Cancelling], // caller cancels while leg B rings
  [S.Early, S.Confirmed],
  [S.Early, S.Ended],
  [S.CancelPending, S.Cancelling], // leg B's provisional lets the CANCEL go
  [S.CancelPending, S.Ended],
  [S.Cancelling, S.Ended],
  [S.Confirmed, S.Ended],
];

const isAllowed = (from: CallState, to: CallState): boolean => ALLOWED.some(([f, t]) => f === from && t === to);

describe('call state machine', () => {
  it('has exactly the transitions of the call life, no more', () => {
    const table = ALL.flatMap((from) => CALL_TRANSITIONS[from].map((to) => [from, to] as [CallState, CallState]));
    expect(table.sort()).toEqual([...ALLOWED].sort());
  });

  const pairs = ALL.flatMap((from) => ALL.map((to) => [from, to] as const));

  it.each(pairs.filter(([f, t]) => isAllowed(f, t)))('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(transition(from, to)).toBe(to);
  });

  it.each(pairs.filter(([f, t]) => !isAllowed(f, t)))('refuses %s → %s with an error naming both states', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    let thrown: unknown;
    try {
      transition(from, to);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TandemError);
    expect((thrown as TandemError).code).toBe('INTERNAL');
    expect((thrown as TandemError).message).toContain(`${from} → ${to}`);
    expect((thrown as TandemError).context).toEqual({ from, to });
  });

  it('nothing leaves Ended, and no state moves to itself', () => {
    expect(CALL_TRANSITIONS[S.Ended]).toEqual([]);
    for (const s of ALL) expect(canTransition(s, s)).toBe(false);
  });

  it('says when the caller still waits for a final response, and when it cancelled', () => {
    expect(ALL.filter(awaitingAnswer)).toEqual([S.Trying, S.Early]);
    expect(ALL.filter(isCancelled)).toEqual([S.CancelPending, S.Cancelling]);
  });
});
