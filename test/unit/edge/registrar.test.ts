import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/log.js';
import { createRequest } from '../../../src/sip/build.js';
import type { SipHeader, SipRequest } from '../../../src/sip/message.js';
import type { SipEndpoint } from '../../../src/sip/transport/types.js';
import { Registrar, type AuthVerdict, type RegistrarLimits } from '../../../src/edge/registrar.js';
import { MemoryLocationStore } from '../../../src/edge/location.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const TRUSTED: SipEndpoint = { protocol: 'udp', address: '127.0.0.1', port: 5070 };
const UNTRUSTED: SipEndpoint = { protocol: 'udp', address: '127.0.0.9', port: 5070 };

function register(opts: { contacts?: string[]; expires?: string; callId?: string; cseq?: number; to?: string; extra?: SipHeader[] } = {}): SipRequest {
  const headers: SipHeader[] = [
    { name: 'Via', value: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1' },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: '<sip:alice@example.com>;tag=f1' },
    { name: 'To', value: opts.to ?? '<sip:alice@example.com>' },
    { name: 'Call-ID', value: opts.callId ?? 'reg-1' },
    { name: 'CSeq', value: `${opts.cseq ?? 1} REGISTER` },
  ];
  for (const c of opts.contacts ?? []) headers.push({ name: 'Contact', value: c });
  if (opts.expires !== undefined) headers.push({ name: 'Expires', value: opts.expires });
  headers.push(...(opts.extra ?? []));
  return createRequest('REGISTER', 'sip:example.com', headers);
}

function registrar(limits: Partial<RegistrarLimits> = {}, authorize?: (req: SipRequest) => AuthVerdict) {
  const clock = new FakeClock(1_000_000);
  const store = new MemoryLocationStore();
  const r = new Registrar({
    clock,
    store,
    log: createLogger({ level: 'silent' }),
    isTrusted: (a) => a === '127.0.0.1',
    limits: { expiryJitter: 0, ...limits },
    sweepMs: 0,
    ...(authorize !== undefined ? { authorizer: { authorize } } : {}),
  });
  return { r, clock, store };
}

const contacts = (h: SipHeader[]): string[] => h.filter((x) => x.name === 'Contact').map((x) => x.value);

describe('Registrar: expiry rules (RFC 3261 §10.3 step 7)', () => {
  it('takes the Contact expires first, then Expires, then the default; caps at the maximum', async () => {
    const { r } = registrar({ defaultExpires: 1800, maxExpires: 3600 });
    const res = await r.handle(register({ contacts: ['<sip:a@127.0.0.1:5070>;expires=120', '<sip:b@127.0.0.1:5071>', '<sip:c@127.0.0.1:5072>;expires=99999'], expires: '300' }), TRUSTED);
    expect(res.status).toBe(200);
    const cs = contacts(res.headers);
    expect(cs.find((c) => c.includes('sip:a@'))).toContain('expires=120');
    expect(cs.find((c) => c.includes('sip:b@'))).toContain('expires=300');
    expect(cs.find((c) => c.includes('sip:c@'))).toContain('expires=3600');
    const { r: r2 } = registrar({ defaultExpires: 1800 });
    const res2 = await r2.handle(register({ contacts: ['<sip:a@127.0.0.1:5070>'] }), TRUSTED);
    expect(contacts(res2.headers)[0]).toContain('expires=1800');
  });

  it('answers 423 with Min-Expires to an interval too brief, and changes nothing', async () => {
    const { r, store } = registrar({ minExpires: 60 });
    const res = await r.handle(register({ contacts: ['<sip:a@127.0.0.1:5070>;expires=30', '<sip:b@127.0.0.1:5070>'] }), TRUSTED);
    expect(res.status).toBe(423);
    expect(res.headers).toContainEqual({ name: 'Min-Expires', value: '60' });
    expect(await store.size()).toBe(0);
    expect(r.counters.tooBrief).toBe(1);
  });

  it('takes up to the jitter fraction off a granted interval, never below the minimum', async () => {
    const clock = new FakeClock(0);
    const r = new Registrar({ clock, log: createLogger({ level: 'silent' }), isTrusted: () => true, limits: { expiryJitter: 0.1, minExpires: 60 }, random: () => 0.999, sweepMs: 0 });
    const res = await r.handle(register({ contacts: ['<sip:a@127.0.0.1>'], expires: '1000' }), TRUSTED);
    expect(contacts(res.headers)[0]).toContain('expires=901');
    const res2 = await r.handle(register({ contacts: ['<sip:b@127.0.0.1>'], expires: '61', cseq: 2 }), TRUSTED);
    expect(contacts(res2.headers).find((c) => c.includes('sip:b@'))).toContain('expires=60');
  });

  it('forgets a binding when it expires (manual clock), and sweeps it from the store', async () => {
    const { r, clock, store } = registrar();
    await r.handle(register({ contacts: ['<sip:a@127.0.0.1:5070>'], expires: '60' }), TRUSTED);
    expect(await r.lookup('alice', 'EXAMPLE.com')).toHaveLength(1);
    clock.advance(59_000);
    expect(await r.lookup('alice', 'example.com')).toHaveLength(1);
    clock.advance(1_000);
    expect(await r.lookup('alice', 'example.com')).toHaveLength(0);
    await r.sweep();
    expect(await store.size()).toBe(0);
    expect(r.counters.expired).toBe(1);
  });

  it('removes one binding with expires=0 and lists the rest with their remaining time', async () => {
    const { r, clock } = registrar();
    await r.handle(register({ contacts: ['<sip:a@127.0.0.1:5070>', '<sip:b@127.0.0.1:5071>'], expires: '600' }), TRUSTED);
    clock.advance(100_000);
    const res = await r.handle(register({ contacts: ['<sip:a@127.0.0.1:5070>;expires=0'], cseq: 2 }), TRUSTED);
    expect(res.status).toBe(200);
    expect(contacts(res.headers)).toEqual(['<sip:b@127.0.0.1:5071>;expires=500;q=1.0']);
  });
});

describe('Registrar: q ordering, wildcard, CSeq order', () => {
  it('lists and looks up contacts highest q first', async () => {
    const { r } = registrar();
    const res = await r.handle(register({ contacts: ['<sip:low@127.0.0.1>;q=0.1, <sip:high@127.0.0.1>;q=0.9', '<sip:mid@127.0.0.1>;q=0.5'] }), TRUSTED);
    expect(contacts(res.headers).map((c) => /sip:(\w+)@/.exec(c)?.[1])).toEqual(['high', 'mid', 'low']);
    expect((await r.lookup('alice', 'example.com')).map((b) => b.q)).toEqual([900, 500, 100]);
  });

  it('Contact: * with Expires: 0 removes every binding; mixed with others or without Expires: 0 it is a 400', async () => {
    const { r } = registrar();
    await r.handle(register({ contacts: ['<sip:a@127.0.0.1>', '<sip:b@127.0.0.1>'] }), TRUSTED);
    expect((await r.handle(register({ contacts: ['*', '<sip:c@127.0.0.1>'], expires: '0', callId: 'x' }), TRUSTED)).status).toBe(400);
    expect((await r.handle(register({ contacts: ['*'], expires: '60', callId: 'x' }), TRUSTED)).status).toBe(400);
    expect((await r.handle(register({ contacts: ['*'], callId: 'x' }), TRUSTED)).status).toBe(400);
    const res = await r.handle(register({ contacts: ['*'], expires: '0', callId: 'x' }), TRUSTED);
    expect(res.status).toBe(200);
    expect(contacts(res.headers)).toEqual([]);
    expect(await r.lookup('alice', 'example.com')).toHaveLength(0);
  });

  it('refuses an older or equal CSeq for the same Call-ID and contact (400), a newer one refreshes', async () => {
    const { r } = registrar();
    expect((await r.handle(register({ contacts: ['<sip:a@127.0.0.1>'], cseq: 5 }), TRUSTED)).status).toBe(200);
    const old = await r.handle(register({ contacts: ['<sip:a@127.0.0.1>'], cseq: 4 }), TRUSTED);
    expect(old.status).toBe(400);
    expect(old.reason).toMatch(/CSeq/);
    expect((await r.handle(register({ contacts: ['<sip:a@127.0.0.1>'], cseq: 5 }), TRUSTED)).status).toBe(400);
    expect((await r.handle(register({ contacts: ['<sip:a@127.0.0.1>'], cseq: 6 }), TRUSTED)).status).toBe(200);
    // Another Call-ID (another UA instance) may replace it whatever its CSeq.
    expect((await r.handle(register({ contacts: ['<SIP:a@127.0.0.1>'], cseq: 1, callId: 'other' }), TRUSTED)).status).toBe(200);
    expect(r.counters).toMatchObject({ created: 1, refreshed: 2, outOfOrder: 2 });
  });

  it('the same contact twice in one REGISTER is one binding, the last one counting', async () => {
    const { r } = registrar({ maxBindingsPerAor: 1 });
    const res = await r.handle(register({ contacts: ['<sip:a@127.0.0.1>;q=0.2', '<sip:a@127.0.0.1>;q=0.7'] }), TRUSTED);
    expect(res.status).toBe(200);
    expect(contacts(res.headers)).toEqual(['<sip:a@127.0.0.1>;expires=3600;q=0.7']);
    expect(r.counters.created).toBe(1);
  });

  it('answers a query (no Contact) with the current bindings', async () => {
    const { r } = registrar();
    await r.handle(register({ contacts: ['<sip:a@127.0.0.1>'] }), TRUSTED);
    const res = await r.handle(register({ cseq: 2 }), TRUSTED);
    expect(res.status).toBe(200);
    expect(contacts(res.headers)).toHaveLength(1);
  });
});

describe('Registrar: who may register, and Path', () => {
  it('without an authorizer, only trusted sources may register (403)', async () => {
    const { r } = registrar();
    const res = await r.handle(register({ contacts: ['<sip:a@127.0.0.9>'] }), UNTRUSTED);
    expect(res.status).toBe(403);
    expect(r.counters.forbidden).toBe(1);
  });

  it('with an authorizer: its challenge goes out as is, and the AOR user must be the authenticated one', async () => {
    let verdict: AuthVerdict = { ok: false, status: 401, reason: 'Unauthorized', headers: [{ name: 'WWW-Authenticate', value: 'Digest realm="x"' }] };
    const { r } = registrar({}, () => verdict);
    const challenged = await r.handle(register({ contacts: ['<sip:a@127.0.0.9>'] }), UNTRUSTED);
    expect(challenged.status).toBe(401);
    expect(challenged.headers).toContainEqual({ name: 'WWW-Authenticate', value: 'Digest realm="x"' });
    verdict = { ok: true, user: 'bob' };
    expect((await r.handle(register({ contacts: ['<sip:a@127.0.0.9>'], cseq: 2 }), UNTRUSTED)).status).toBe(403);
    verdict = { ok: true, user: 'alice' };
    expect((await r.handle(register({ contacts: ['<sip:a@127.0.0.9>'], cseq: 3 }), UNTRUSTED)).status).toBe(200);
    expect(r.counters).toMatchObject({ challenged: 1, forbidden: 1, created: 1 });
  });

  it('keeps Path from a trusted source (echoed in the 200), ignores it from an untrusted one', async () => {
    const verdict: AuthVerdict = { ok: true, user: 'alice' };
    const { r } = registrar({}, () => verdict);
    const path = { name: 'Path', value: '<sip:127.0.0.1:5090;lr>' };
    const res = await r.handle(register({ contacts: ['<sip:a@10.0.0.1>'], extra: [path] }), TRUSTED);
    expect(res.headers).toContainEqual(path);
    expect((await r.lookup('alice', 'example.com'))[0].path).toEqual(['sip:127.0.0.1:5090;lr']);
    const res2 = await r.handle(register({ contacts: ['<sip:b@10.0.0.2>'], extra: [path], callId: 'u' }), UNTRUSTED);
    expect(res2.headers).not.toContainEqual(path);
    expect((await r.lookup('alice', 'example.com')).find((b) => b.contact === 'sip:b@10.0.0.2')?.path).toEqual([]);
    expect(r.counters.pathIgnored).toBe(1);
  });

  it('ties a binding made over TCP/WS to its connection; it goes when that closes', async () => {
    const { r } = registrar();
    const ws: SipEndpoint = { protocol: 'ws', address: '127.0.0.1', port: 40000 };
    await r.handle(register({ contacts: ['<sip:x@abc.invalid;transport=ws>'] }), ws);
    await r.handle(register({ contacts: ['<sip:u@127.0.0.1:5070>'], callId: 'udp' }), TRUSTED);
    const [b] = (await r.lookup('alice', 'example.com')).filter((x) => x.connectionBound);
    expect(b.flow).toEqual(ws);
    await r.flowClosed({ protocol: 'ws', address: '127.0.0.1', port: 40001 });
    expect(await r.lookup('alice', 'example.com')).toHaveLength(2);
    await r.flowClosed(ws);
    expect((await r.lookup('alice', 'example.com')).map((x) => x.contact)).toEqual(['sip:u@127.0.0.1:5070']);
    expect(r.counters.flowClosed).toBe(1);
  });

  it('a contact registered again over a new connection stays when the old connection closes', async () => {
    const { r } = registrar();
    const a: SipEndpoint = { protocol: 'tcp', address: '127.0.0.1', port: 41000 };
    const b: SipEndpoint = { protocol: 'tcp', address: '127.0.0.1', port: 41001 };
    await r.handle(register({ contacts: ['<sip:x@127.0.0.1;transport=tcp>'], cseq: 1 }), a);
    await r.handle(register({ contacts: ['<sip:x@127.0.0.1;transport=tcp>'], cseq: 2 }), b);
    await r.flowClosed(a);
    const [binding] = await r.lookup('alice', 'example.com');
    expect(binding.flow).toEqual(b);
    await r.flowClosed(b);
    expect(await r.lookup('alice', 'example.com')).toHaveLength(0);
  });

  it('refuses more than 10 Path entries with a 400', async () => {
    const { r } = registrar();
    const extra = Array.from({ length: 11 }, (_, i) => ({ name: 'Path', value: `<sip:127.0.0.${i + 1};lr>` }));
    const res = await r.handle(register({ contacts: ['<sip:a@127.0.0.1>'], extra }), TRUSTED);
    expect([res.status, res.reason]).toEqual([400, 'More Than 10 Path Entries']);
  });
});

describe('Registrar: limits', () => {
  it('refuses a REGISTER that would exceed the bindings per AOR (403), keeping the existing ones', async () => {
    const { r } = registrar({ maxBindingsPerAor: 2 });
    expect((await r.handle(register({ contacts: ['<sip:a@127.0.0.1>', '<sip:b@127.0.0.1>'] }), TRUSTED)).status).toBe(200);
    const res = await r.handle(register({ contacts: ['<sip:c@127.0.0.1>'], cseq: 2 }), TRUSTED);
    expect(res.status).toBe(403);
    expect(await r.lookup('alice', 'example.com')).toHaveLength(2);
    // Replacing one in the same request stays within the limit.
    expect((await r.handle(register({ contacts: ['<sip:a@127.0.0.1>;expires=0', '<sip:c@127.0.0.1>'], cseq: 3 }), TRUSTED)).status).toBe(200);
    expect(r.counters.aorLimit).toBe(1);
  });

  it('refuses beyond the total bindings with 503 and Retry-After', async () => {
    const { r } = registrar({ maxBindings: 1 });
    expect((await r.handle(register({ contacts: ['<sip:a@127.0.0.1>'] }), TRUSTED)).status).toBe(200);
    const res = await r.handle(register({ contacts: ['<sip:b@127.0.0.1>'], to: '<sip:bob@example.com>', callId: 'b' }), TRUSTED);
    expect(res.status).toBe(503);
    expect(res.headers.some((h) => h.name === 'Retry-After')).toBe(true);
    expect(r.counters.totalLimit).toBe(1);
  });

  it('refuses more contacts than the limit, and an over-long Contact line, with a 400 naming it', async () => {
    const { r } = registrar({ maxContacts: 3, maxContactLength: 200 });
    const many = Array.from({ length: 4 }, (_, i) => `<sip:u${i}@127.0.0.1>`).join(', ');
    const res = await r.handle(register({ contacts: [many] }), TRUSTED);
    expect([res.status, res.reason]).toEqual([400, 'More Than 3 Contacts']);
    const long = await r.handle(register({ contacts: [`<sip:${'x'.repeat(300)}@127.0.0.1>`] }), TRUSTED);
    expect([long.status, long.reason]).toEqual([400, 'Contact Longer Than 200']);
  });
});

describe('Registrar: hostile REGISTERs get a clear 400, never an exception', () => {
  const cases: [string, Parameters<typeof register>[0], RegExp][] = [
    ['unbalanced <', { contacts: ['<sip:a@127.0.0.1'] }, /Malformed Contact/],
    ['unbalanced quotes', { contacts: ['"Alice <sip:a@127.0.0.1>'] }, /Malformed Contact/],
    ['a tel: contact', { contacts: ['<tel:+123>'] }, /sip: or sips:/],
    ['a non-URI contact', { contacts: ['garbage'] }, /Malformed Contact/],
    ['Expires not a number', { contacts: ['<sip:a@127.0.0.1>'], expires: 'soon' }, /Malformed Expires/],
    ['negative Expires', { contacts: ['<sip:a@127.0.0.1>'], expires: '-1' }, /Malformed Expires/],
    ['expires param not a number', { contacts: ['<sip:a@127.0.0.1>;expires=1e3'] }, /Malformed expires/],
    ['expires param without value', { contacts: ['<sip:a@127.0.0.1>;expires'] }, /Malformed expires/],
    ['q above 1', { contacts: ['<sip:a@127.0.0.1>;q=1.5'] }, /Malformed q/],
    ['q with four decimals', { contacts: ['<sip:a@127.0.0.1>;q=0.1234'] }, /Malformed q/],
    ['a To without user', { contacts: ['<sip:a@127.0.0.1>'], to: '<sip:example.com>' }, /No User/],
    ['a tel: To', { contacts: ['<sip:a@127.0.0.1>'], to: '<tel:+1234>' }, /To must be/],
    ['an empty list entry', { contacts: ['<sip:a@127.0.0.1>,,<sip:b@127.0.0.1>'] }, /Malformed Contact/],
  ];
  for (const [what, opts, reason] of cases) {
    it(what, async () => {
      const { r, store } = registrar();
      const res = await r.handle(register(opts), TRUSTED);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.reason).toMatch(reason);
      expect(await store.size()).toBe(0);
    });
  }

  it('a huge number of contacts is refused before any is parsed', async () => {
    const { r } = registrar();
    const huge = Array.from({ length: 5000 }, (_, i) => `<sip:u${i}@127.0.0.1>`);
    const res = await r.handle(register({ contacts: huge }), TRUSTED);
    expect(res.status).toBe(400);
    expect(res.reason).toBe('More Than 20 Contacts');
    expect(r.counters.malformed).toBe(1);
  });
});
