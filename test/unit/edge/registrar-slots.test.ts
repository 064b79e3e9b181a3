import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/log.js';
import { createRequest } from '../../../src/sip/build.js';
import type { SipHeader, SipRequest } from '../../../src/sip/message.js';
import type { SipEndpoint } from '../../../src/sip/transport/types.js';
import { Registrar } from '../../../src/edge/registrar.js';
import { SourceLimits } from '../../../src/edge/acl-sources.js';
import { BindingSlots } from '../../../src/edge/registrar-slots.js';
import { MemoryLocationStore } from '../../../src/edge/location.js';
import { FakeClock } from '../../helpers/fake-clock.js';

// --max-registrations-per-source at the registrar: one slot per binding, of the source that made
// it, given back whichever way the binding goes.

const A: SipEndpoint = { protocol: 'udp', address: '127.0.0.2', port: 5070 };
const B: SipEndpoint = { protocol: 'udp', address: '127.0.0.3', port: 5070 };

let seq = 0;
function register(user: string, contacts: string[], opts: { expires?: string; callId?: string } = {}): SipRequest {
  const headers: SipHeader[] = [
    { name: 'Via', value: `SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK-s${++seq}` },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: `<sip:${user}@example.com>;tag=f1` },
    { name: 'To', value: `<sip:${user}@example.com>` },
    { name: 'Call-ID', value: opts.callId ?? `slots-${user}` },
    { name: 'CSeq', value: `${seq} REGISTER` },
  ];
  for (const c of contacts) headers.push({ name: 'Contact', value: c });
  if (opts.expires !== undefined) headers.push({ name: 'Expires', value: opts.expires });
  return createRequest('REGISTER', 'sip:example.com', headers);
}

function setup(max = 2) {
  const clock = new FakeClock(1_000_000);
  const store = new MemoryLocationStore();
  const limits = new SourceLimits({ maxCallsPerSource: 0, maxRegistrationsPerSource: max, isTrusted: (a) => a === '127.0.0.1' });
  const r = new Registrar({ clock, store, log: createLogger({ level: 'silent' }), isTrusted: () => true, limits: { expiryJitter: 0, minExpires: 60 }, sweepMs: 0, sourceLimits: limits });
  const held = (e: SipEndpoint): number => limits.count('registration', e.address);
  return { r, clock, store, limits, held };
}

describe('Registrar: --max-registrations-per-source', () => {
  it('refuses the binding over the limit with 403 and a reason, counted; another source still registers; a refresh takes no slot', async () => {
    const { r, store, limits, held } = setup(2);
    expect((await r.handle(register('u1', ['<sip:u1@127.0.0.2:5070>']), A)).status).toBe(200);
    expect((await r.handle(register('u2', ['<sip:u2@127.0.0.2:5070>']), A)).status).toBe(200);
    const over = await r.handle(register('u3', ['<sip:u3@127.0.0.2:5070>']), A);
    expect(over).toMatchObject({ status: 403, reason: 'Too Many Registrations From This Source' });
    expect(r.counters.sourceLimit).toBe(1);
    expect(limits.counters.refusedRegistrations).toBe(1);
    expect(await r.lookup('u3', 'example.com')).toHaveLength(0);
    // Positive control: the limit is per source.
    expect((await r.handle(register('u3', ['<sip:u3@127.0.0.3:5070>']), B)).status).toBe(200);
    // A refresh of a binding A holds needs no new slot.
    expect((await r.handle(register('u1', ['<sip:u1@127.0.0.2:5070>']), A)).status).toBe(200);
    expect(r.counters.refreshed).toBe(1);
    expect(held(A)).toBe(2);
    expect(held(B)).toBe(1);
    expect(await store.size()).toBe(3);
  });

  it('is all or nothing: two new contacts with one slot left are refused and change nothing', async () => {
    const { r, store, held } = setup(2);
    expect((await r.handle(register('u1', ['<sip:u1@127.0.0.2:5070>']), A)).status).toBe(200);
    const res = await r.handle(register('u2', ['<sip:u2@127.0.0.2:5070>', '<sip:u2@127.0.0.2:5071>']), A);
    expect(res.status).toBe(403);
    expect(held(A)).toBe(1);
    expect(await store.size()).toBe(1);
  });

  it('gives the slot back on unregister, wildcard, expiry and a closed connection', async () => {
    const { r, clock, held } = setup(1);
    const again = async (user: string, from: SipEndpoint = A): Promise<number> => (await r.handle(register(user, [`<sip:${user}@127.0.0.2:5070>`]), from)).status;
    // expires=0
    expect(await again('u1')).toBe(200);
    expect(await again('u2')).toBe(403);
    expect((await r.handle(register('u1', ['<sip:u1@127.0.0.2:5070>'], { expires: '0' }), A)).status).toBe(200);
    expect(held(A)).toBe(0);
    // wildcard
    expect(await again('u2')).toBe(200);
    expect((await r.handle(register('u2', ['*'], { expires: '0' }), A)).status).toBe(200);
    expect(held(A)).toBe(0);
    // expiry, freed by the sweep
    expect((await r.handle(register('u3', ['<sip:u3@127.0.0.2:5070>'], { expires: '60' }), A)).status).toBe(200);
    clock.advance(61_000);
    await r.sweep();
    expect(r.counters.expired).toBe(1);
    expect(held(A)).toBe(0);
    // expiry, freed when the AOR is next touched (before any sweep)
    expect((await r.handle(register('u4', ['<sip:u4@127.0.0.2:5070>'], { expires: '60' }), A)).status).toBe(200);
    clock.advance(61_000);
    expect((await r.handle(register('u4', ['<sip:u4@127.0.0.2:5071>'], { callId: 'other' }), A)).status).toBe(200);
    expect(held(A)).toBe(1);
    expect((await r.handle(register('u4', ['*'], { expires: '0', callId: 'other' }), A)).status).toBe(200);
    // a closed TCP connection
    const tcp: SipEndpoint = { protocol: 'tcp', address: A.address, port: 40000 };
    expect(await again('u5', tcp)).toBe(200);
    expect(held(A)).toBe(1);
    await r.flowClosed(tcp);
    expect(r.counters.flowClosed).toBe(1);
    expect(held(A)).toBe(0);
    expect(await again('u6')).toBe(200);
  });

  it('a contact registered again from another source moves its slot there', async () => {
    const { r, held } = setup(1);
    expect((await r.handle(register('u1', ['<sip:u1@10.0.0.1:5070>']), A)).status).toBe(200);
    expect((await r.handle(register('u1', ['<sip:u1@10.0.0.1:5070>']), B)).status).toBe(200);
    expect(held(A)).toBe(0);
    expect(held(B)).toBe(1);
    // B is now at its limit, A is free again.
    expect((await r.handle(register('u2', ['<sip:u2@10.0.0.1:5070>']), B)).status).toBe(403);
    expect((await r.handle(register('u2', ['<sip:u2@10.0.0.1:5070>']), A)).status).toBe(200);
  });

  it('trusted sources are not limited, and close() gives every slot back', async () => {
    const { r, held } = setup(1);
    const T: SipEndpoint = { protocol: 'udp', address: '127.0.0.1', port: 5070 };
    for (const u of ['t1', 't2', 't3']) expect((await r.handle(register(u, [`<sip:${u}@127.0.0.1:5070>`]), T)).status).toBe(200);
    expect(held(T)).toBe(3);
    r.close();
    expect(held(T)).toBe(0);
  });

  it('without a limiter, BindingSlots takes nothing and refuses nothing', () => {
    const s = new BindingSlots(undefined);
    const res = s.reserve(['a', 'b'], '127.0.0.2');
    expect(res).toBeDefined();
    res?.commit('a');
    expect(s.size).toBe(0);
  });
});
