import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { TransactionLayer } from '../../../../src/sip/transaction/layer.js';
import { getTo } from '../../../../src/sip/message.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { inbound, isStatus, PEER, recordingHandler, recordingUser, RecordingSender, request, response, type RecordingUser } from './harness.js';
import { buildCancel } from '../../../../src/sip/build.js';

/** Issue 10, defect 2: a server transaction can never outlive its timers, whatever the TU does. */

function setup(user: RecordingUser = recordingUser(), inviteDeadlineMs?: number) {
  const clock = new FakeClock();
  const sender = new RecordingSender(clock);
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
  const layer = new TransactionLayer({ sender, clock, log, user, ...(inviteDeadlineMs !== undefined ? { inviteDeadlineMs } : {}) });
  return { clock, sender, logs, layer, user };
}

describe('server transactions the TU does not answer', () => {
  it('a TU that throws on an INVITE: the layer answers 500 with a To tag, counts it, and the transaction ends after its ACK', () => {
    const user = recordingUser();
    user.onRequest = () => {
      throw new TypeError('entry.trim is not a function');
    };
    const { layer, sender, clock, logs } = setup(user);
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    const finals = sender.of(isStatus(500));
    expect(finals).toHaveLength(1);
    expect(getTo(finals[0])?.tag).toMatch(/.+/);
    expect(layer.counters.userErrors).toBe(1);
    expect(logs.find((l) => l.msg === 'transaction user threw')?.err).toMatchObject({ message: 'entry.trim is not a function' });
    layer.receive(inbound(request('ACK')));
    clock.advance(5_000); // Timer I (T4)
    expect(layer.counters.serverTransactions).toBe(0);
  });

  it('a TU that throws on a non-INVITE: 500 at once, gone after Timer J', () => {
    const user = recordingUser();
    user.onRequest = () => {
      throw new Error('bug');
    };
    const { layer, sender, clock } = setup(user);
    layer.receive(inbound(request('OPTIONS')));
    expect(sender.of(isStatus(500))).toHaveLength(1);
    clock.advance(32_000);
    expect(layer.counters.serverTransactions).toBe(0);
  });

  it('an INVITE left in Proceeding is answered 408 at the deadline (default 3 min), the TU is told, and the transaction is freed', () => {
    const { layer, sender, clock, user } = setup();
    const told: string[] = [];
    user.onDeadline = (t) => told.push(t.request.method);
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 180, 'ring1'));
    clock.advance(179_999);
    expect(sender.of(isStatus(408))).toHaveLength(0);
    expect(told).toEqual([]);
    clock.advance(1);
    const r408 = sender.of(isStatus(408));
    expect(r408).toHaveLength(1);
    expect(getTo(r408[0])?.tag).toBe('ring1'); // the tag of the early dialog it already had
    expect(told).toEqual(['INVITE']);
    expect(layer.counters.deadlines).toBe(1);
    // No ACK ever comes: Timer H still frees it.
    clock.advance(32_000);
    expect(layer.counters.serverTransactions).toBe(0);
    // The TU's late final is ignored, not sent.
    user.txns[0].respond(response(inv, 200, 'ring1'));
    expect(sender.of(isStatus(200))).toHaveLength(0);
  });

  it('a final response in time cancels the deadline (positive control: nothing extra is sent)', () => {
    const { layer, sender, clock, user } = setup(recordingUser(), 1_000);
    const inv = request('INVITE');
    layer.receive(inbound(inv));
    user.txns[0].respond(response(inv, 486));
    layer.receive(inbound(request('ACK')));
    clock.advance(10_000);
    expect(sender.of(isStatus(408))).toHaveLength(0);
    expect(sender.of(isStatus(486))).toHaveLength(1);
    expect(layer.counters.deadlines).toBe(0);
    expect(layer.counters.serverTransactions).toBe(0);
  });

  it('a non-INVITE never answered gets 408 after 2*64*T1 and is freed', () => {
    const { layer, sender, clock } = setup();
    layer.receive(inbound(request('INFO', { toTag: 'x' })));
    clock.advance(63_999);
    expect(sender.of(isStatus(408))).toHaveLength(0);
    clock.advance(1);
    expect(sender.of(isStatus(408))).toHaveLength(1);
    clock.advance(32_000);
    expect(layer.counters.serverTransactions).toBe(0);
  });
});

describe('client INVITE after CANCEL (RFC 3261 §9.1)', () => {
  it('a callee that never sends the final after CANCEL: the INVITE transaction is destroyed after 64*T1 and the TU hears a timeout', () => {
    const { layer, clock } = setup();
    const inv = request('INVITE', { branch: 'z9hG4bKcl1' });
    const h = recordingHandler();
    layer.sendRequest(inv, PEER, h);
    layer.receive(inbound(response(inv, 180, 'r1')));
    clock.advance(60_000); // ringing: no timer runs, the transaction stays (that is allowed)
    expect(layer.counters.clientTransactions).toBe(1);
    const cancel = buildCancel(inv);
    layer.sendRequest(cancel, PEER, recordingHandler());
    layer.receive(inbound(response(cancel, 200, 'r1')));
    layer.receive(inbound(response(inv, 183, 'r1'))); // a late provisional does not restart anything
    clock.advance(31_999);
    expect(h.events).toEqual(['provisional 180', 'provisional 183']);
    clock.advance(1);
    expect(h.events).toEqual(['provisional 180', 'provisional 183', 'timeout']);
    clock.advance(10_000); // CANCEL's Timer K
    expect(layer.counters.clientTransactions).toBe(0);
  });

  it('the 487 in time ends it the normal way, with no timeout (positive control)', () => {
    const { layer, clock } = setup();
    const inv = request('INVITE', { branch: 'z9hG4bKcl2' });
    const h = recordingHandler();
    layer.sendRequest(inv, PEER, h);
    layer.receive(inbound(response(inv, 180, 'r1')));
    layer.sendRequest(buildCancel(inv), PEER, recordingHandler());
    layer.receive(inbound(response(inv, 487, 'r1')));
    clock.advance(64_000);
    expect(h.events).toEqual(['provisional 180', 'final 487']);
    expect(layer.counters.clientTransactions).toBe(0);
  });
});
