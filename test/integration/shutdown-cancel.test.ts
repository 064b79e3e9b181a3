import { describe, it, expect, afterEach } from 'vitest';
import { getCSeq, getCallId, getVias, type SipMessage } from '../../src/sip/message.js';
import { isResponse, sdpOffer, type Received } from '../helpers/sip-peer.js';
import { OpsEnv, WAIT_MS, sample } from '../helpers/ops-env.js';

/**
 * Shutdown with a call still ringing: the B2BUA CANCELs leg B, and the transaction layer's
 * settle() waits (within --shutdown-grace) not only for the CANCEL's 200 but for the INVITE's 487,
 * which it ACKs (RFC 3261 §9.1, §17.1.1.3), so the callee does not retransmit its 487 into a
 * Tandem that is gone. Real UDP on loopback, T1 = 500 ms.
 */
let env: OpsEnv | undefined;
/** set once a test has begun Tandem's shutdown itself: the peers are left to close. */
let shutting: Promise<unknown> | undefined;

afterEach(async () => {
  if (shutting !== undefined) {
    await shutting.catch(() => undefined);
    env?.caller.close();
    env?.callee.close();
  } else await env?.close();
  env = undefined;
  shutting = undefined;
});

const isReq = (method: string, callId: string) => (m: SipMessage): boolean => m.kind === 'request' && m.method === method && getCallId(m) === callId;

/** A call the callee rings (180) and does not answer; resolves with leg B's INVITE once the caller heard the 180. */
async function ringing(e: OpsEnv): Promise<Received> {
  const { text } = e.invite(sdpOffer(40010, [{ pt: 8, name: 'PCMA' }]));
  e.caller.send(text, e.sip);
  const bInvite = await e.callee.next((m) => m.kind === 'request' && m.method === 'INVITE', WAIT_MS);
  e.callee.reply(bInvite, 180, { reason: 'Ringing' });
  await e.caller.next(isResponse(180, 'INVITE'), WAIT_MS);
  return bInvite;
}

describe('shutdown while leg B rings: the CANCELled INVITE\'s 487 is ACKed before Tandem exits', () => {
  it('the callee answers the CANCEL at once and sends its 487 later: the ACK comes, then close() resolves', async () => {
    env = await OpsEnv.start(() => ({ sipT1: 500, sipT2: 4000, sipT4: 5000, shutdownGrace: 5 }));
    const e = env;
    const bInvite = await ringing(e);
    const bCallId = getCallId(bInvite.msg) ?? '';
    const events: string[] = [];
    const closed = e.tandem.close().then(() => events.push('tandem closed'));
    shutting = closed;
    const cancel = await e.callee.next(isReq('CANCEL', bCallId), WAIT_MS);
    events.push('callee CANCEL');
    e.callee.reply(cancel, 200, { reason: 'OK' });
    // Long after the CANCEL's 200 (settle looks every 20 ms): without the wait, Tandem is gone by now.
    await new Promise((r) => setTimeout(r, 500));
    events.push('callee 487');
    e.callee.reply(bInvite, 487, { reason: 'Request Terminated' });
    const ack = await e.callee.next(isReq('ACK', bCallId), WAIT_MS);
    events.push('callee ACK');
    await closed;
    expect(events).toEqual(['callee CANCEL', 'callee 487', 'callee ACK', 'tandem closed']);
    // The ACK of the 487 itself: the INVITE's branch and CSeq number (§17.1.1.3).
    expect(getVias(ack.msg)[0]?.branch).toBe(getVias(bInvite.msg)[0]?.branch);
    expect(getCSeq(ack.msg)?.seq).toBe(getCSeq(bInvite.msg)?.seq);
    expect(e.tandem.sip?.transactions.counters.abandoned).toBe(0);
    expect(sample((await e.tandem.ops.metrics?.text()) ?? '', 'tandem_sip_transactions_abandoned_total')).toBe(0);
  });

  it('a callee that never sends its 487: given up after --shutdown-grace, counted in tandem_sip_transactions_abandoned_total', async () => {
    env = await OpsEnv.start(() => ({ sipT1: 500, sipT2: 4000, sipT4: 5000, shutdownGrace: 1 }));
    const e = env;
    expect(sample(await e.metrics(), 'tandem_sip_transactions_abandoned_total')).toBe(0);
    const bInvite = await ringing(e);
    const bCallId = getCallId(bInvite.msg) ?? '';
    const closed = e.tandem.close();
    shutting = closed;
    const cancel = await e.callee.next(isReq('CANCEL', bCallId), WAIT_MS);
    e.callee.reply(cancel, 200, { reason: 'OK' });
    await closed;
    // Positive control for "no ACK": the callee did hear Tandem (the CANCEL) on this same flow.
    expect(e.callee.count(isReq('CANCEL', bCallId))).toBeGreaterThanOrEqual(1);
    expect(e.callee.count(isReq('ACK', bCallId))).toBe(0);
    expect(e.tandem.sip?.transactions.counters.abandoned).toBe(1);
    expect(sample((await e.tandem.ops.metrics?.text()) ?? '', 'tandem_sip_transactions_abandoned_total')).toBe(1);
  });
});
