import { describe, it, expect, afterEach } from 'vitest';
import { runCtl } from '../../src/cli/ctl.js';
import { getCallId, type SipMessage } from '../../src/sip/message.js';
import { OpsEnv, WAIT_MS } from '../helpers/ops-env.js';
import { answerByes, type ByeAnswerer } from '../helpers/bye-answerer.js';

/**
 * `tandem ctl terminate` hangs up with the same BYEs as a drain timeout (B2buaCall.end → a
 * non-INVITE client transaction): over UDP a BYE the peer dropped is retransmitted (Timer E, same
 * branch) until answered; the leg that answered at once gets exactly one (the positive control).
 * Real UDP on loopback, T1 = 500 ms.
 */
let env: OpsEnv | undefined;
const answerers: ByeAnswerer[] = [];

afterEach(async () => {
  for (const a of answerers.splice(0)) a.stop();
  await env?.close();
  env = undefined;
});

const isByeOf = (callId: string) => (m: SipMessage): boolean => m.kind === 'request' && m.method === 'BYE' && getCallId(m) === callId;

describe('tandem ctl terminate: reliable BYEs', () => {
  it('the dropped BYE comes again with the same branch and is answered; the answered one comes once', async () => {
    // RFC 3261's T1 (not the helper's 50 ms): the peer that answers at once has 500 ms to do so
    // before a retransmission, so a busy test box does not turn the positive control into two BYEs.
    env = await OpsEnv.start(() => ({ sipT1: 500, sipT2: 4000, sipT4: 5000 }));
    const { callId, bInvite } = await env.call();
    const bCallId = getCallId(bInvite.msg) ?? '';
    const dropper = answerByes(env.callee, 'drop-first');
    const control = answerByes(env.caller, 'answer');
    answerers.push(dropper, control);
    let out = '';
    expect(await runCtl([`--url=${env.admin}`, 'terminate', callId], (s) => (out += s), () => undefined)).toBe(0);
    expect(out).toContain('hung up both legs');

    await env.caller.next(isByeOf(callId), WAIT_MS);
    const first = await env.callee.next(isByeOf(bCallId), WAIT_MS);
    const firstIndex = env.callee.inbox.indexOf(first);
    await env.callee.next(isByeOf(bCallId), WAIT_MS, firstIndex + 1);
    await expect.poll(() => dropper.answered(), { timeout: WAIT_MS }).toBe(1);
    // Once no BYE waits for an answer any more, nothing can be retransmitted: the counts are final.
    const sip = env.tandem.sip;
    if (sip === undefined) throw new Error('no SIP side');
    expect(await sip.transactions.settle(WAIT_MS)).toEqual([]);
    expect(dropper.branches()).toHaveLength(2);
    expect(new Set(dropper.branches()).size).toBe(1);
    expect(control.branches()).toHaveLength(1);
    expect(control.answered()).toBe(1);
    expect(sip.transactions.counters.abandoned).toBe(0);
  });
});
