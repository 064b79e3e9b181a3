import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { TransactionLayer } from '../../../../src/sip/transaction/layer.js';
import { getTo } from '../../../../src/sip/message.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { inbound, isStatus, recordingUser, RecordingSender, request, response, type RecordingUser } from './harness.js';

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
