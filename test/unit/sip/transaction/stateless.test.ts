import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { TransactionLayer } from '../../../../src/sip/transaction/layer.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { inbound, isStatus, recordingUser, RecordingSender, request, response } from './harness.js';

/**
 * Issue 12, a registration storm: an overload 503 is sent statelessly, so refused requests do not
 * fill the server-transaction table whose size is an overload input, and a retransmitted request
 * is a new one (answered again, or served once the overload has passed).
 */
function setup() {
  const clock = new FakeClock();
  const sender = new RecordingSender(clock);
  const user = recordingUser();
  const seen: string[] = [];
  user.onRequest = (_req, txn) => {
    seen.push(txn.request.method);
    txn.respond(response(txn.request, 503), { stateless: true });
  };
  const layer = new TransactionLayer({ sender, clock, log: pino({ level: 'silent' }), user });
  return { clock, sender, layer, seen };
}

describe('a stateless final response', () => {
  it('non-INVITE: sent once, the transaction ends at once; a retransmission reaches the TU again', () => {
    const { layer, sender, seen, clock } = setup();
    const reg = request('REGISTER');
    layer.receive(inbound(reg));
    expect(sender.of(isStatus(503))).toHaveLength(1);
    expect(layer.counters.serverTransactions).toBe(0);
    layer.receive(inbound(reg));
    expect(seen).toEqual(['REGISTER', 'REGISTER']);
    clock.advance(64_000);
    expect(sender.of(isStatus(503))).toHaveLength(2);
  });

  it('INVITE over UDP: no Timer G retransmissions, no transaction waiting for the ACK', () => {
    const { layer, sender, clock } = setup();
    layer.receive(inbound(request('INVITE')));
    expect(layer.counters.serverTransactions).toBe(0);
    clock.advance(64_000);
    expect(sender.of(isStatus(503))).toHaveLength(1);
  });

  it('without the option a non-INVITE final still lingers for Timer J (the control)', () => {
    const clock = new FakeClock();
    const sender = new RecordingSender(clock);
    const user = recordingUser();
    user.onRequest = (_req, txn) => txn.respond(response(txn.request, 503));
    const layer = new TransactionLayer({ sender, clock, log: pino({ level: 'silent' }), user });
    layer.receive(inbound(request('REGISTER')));
    expect(layer.counters.serverTransactions).toBe(1);
    clock.advance(32_000);
    expect(layer.counters.serverTransactions).toBe(0);
  });
});
