import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { grantedExpires, OutboundRegistrar, parseRegistrations, refreshDelayMs, retryDelayMs, type RegistrationConfig } from '../../../src/b2bua/outbound-registration.js';
import { parseRoutes } from '../../../src/b2bua/routes.js';
import { createResponse } from '../../../src/sip/build.js';
import { getHeader, type SipRequest, type SipResponse } from '../../../src/sip/message.js';
import type { ClientTransaction, ClientTransactionHandler } from '../../../src/sip/transaction/types.js';
import type { SipEndpoint } from '../../../src/sip/transport/types.js';
import { Authenticator } from '../../../src/edge/auth.js';
import { parseUsersFile, UserStore, withPassword } from '../../../src/edge/auth-users.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const log = pino({ level: 'silent' });
const cfg = (extra: Record<string, unknown> = {}): RegistrationConfig =>
  parseRegistrations('r.json', [{ registrar: 'sip:127.0.0.2:5070', aor: 'sip:alice@provider.example', auth: { username: 'alice', password: 'secret' }, ...extra }])[0];

describe('outbound registration: timing', () => {
  it('refreshes at 80 % of the granted expires, never sooner than 1 s', () => {
    expect(refreshDelayMs(3600)).toBe(2_880_000);
    expect(refreshDelayMs(2)).toBe(1600);
    expect(refreshDelayMs(0)).toBe(1000);
  });
  it('backs off 30 s doubling to 30 min', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => retryDelayMs(n) / 1000)).toEqual([30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
  });
  it('takes the granted expires from our Contact, then Expires, then what we asked', () => {
    const res = (headers: { name: string; value: string }[]): SipResponse => ({ kind: 'response', version: 'SIP/2.0', status: 200, reason: 'OK', headers, body: Buffer.alloc(0) });
    expect(grantedExpires(res([{ name: 'Contact', value: '<sip:other@1.2.3.4>;expires=10, <sip:alice@127.0.0.1:5060>;expires=120' }, { name: 'Expires', value: '30' }]), 'alice', 3600)).toBe(120);
    expect(grantedExpires(res([{ name: 'Expires', value: '30' }]), 'alice', 3600)).toBe(30);
    expect(grantedExpires(res([]), 'alice', 3600)).toBe(3600);
  });
});

describe('outbound registration: config', () => {
  const bad = (v: unknown): string => {
    try {
      parseRoutes(JSON.stringify({ routes: [], registrations: v }), 'r.json');
    } catch (err) {
      return (err as Error).message;
    }
    return 'no error';
  };
  it('parses an entry with defaults (name = AOR user, expires 3600) and a host name for DNS', () => {
    const t = parseRoutes(JSON.stringify({ routes: [], registrations: [{ registrar: 'sip:provider.example;transport=tcp', aor: 'sip:u1@provider.example', auth: { username: 'u1', password: 'p' } }] }), 'r.json');
    const r = t.registrations?.[0];
    expect(r?.name).toBe('u1');
    expect(r?.expires).toBe(3600);
    expect(r?.lookup).toMatchObject({ host: 'provider.example', transport: 'tcp' });
    expect(parseRoutes(JSON.stringify({ routes: [] }), 'r.json').registrations).toBeUndefined();
  });
  it('names the key of every error', () => {
    expect(bad({})).toBe('r.json: registrations: must be a list');
    expect(bad([{ aor: 'sip:a@b' }])).toContain('registrations[0].registrar: must be');
    expect(bad([{ registrar: 'http://x', aor: 'sip:a@b' }])).toContain('registrations[0].registrar');
    expect(bad([{ registrar: 'sip:1.2.3.4', aor: 'sip:b' }])).toContain('registrations[0].aor: "sip:b" is not a sip: URI with a user');
    expect(bad([{ registrar: 'sip:1.2.3.4', aor: 'sip:a@b', expires: 0 }])).toContain('registrations[0].expires: must be a whole number');
    expect(bad([{ registrar: 'sip:1.2.3.4', aor: 'sip:a@b', auth: { username: 'a' } }])).toContain('registrations[0].auth.password: missing');
    expect(bad([{ registrar: 'sip:1.2.3.4', aor: 'sip:a@b', extra: 1 }])).toContain('registrations[0].extra: unknown key');
    expect(bad([{ registrar: 'sip:1.2.3.4', aor: 'sip:a@b', name: 'x y' }])).toContain('registrations[0].name: "x y" is not usable');
    expect(bad([{ registrar: 'sip:1.2.3.4', aor: 'sip:a@b' }, { registrar: 'sip:1.2.3.5', aor: 'sip:a@c' }])).toContain('registrations[1].name: "a" is used by another');
  });
});

/** A registrar behind a fake transaction layer: challenges with the edge's Authenticator, answers as `script` says. */
function harness(script: (req: SipRequest, n: number) => 'auth' | number | 'timeout' | 'silent') {
  const clock = new FakeClock(0);
  const auth = new Authenticator({ users: new UserStore(parseUsersFile(withPassword('', 'alice', 'provider.example', 'secret'), 'u')), realm: 'provider.example', clock, log });
  const sent: SipRequest[] = [];
  const statuses: number[] = [];
  const transactions = {
    sendRequest(req: SipRequest, destination: SipEndpoint, h: ClientTransactionHandler): ClientTransaction {
      sent.push(req);
      const what = script(req, sent.length);
      let res: SipResponse | undefined;
      if (what === 'auth') {
        const v = auth.authenticate(req, '127.0.0.2', 'registrar');
        res =
          v.kind === 'ok'
            ? createResponse(req, 200, 'OK', { toTag: 't', headers: [{ name: 'Contact', value: getHeader(req, 'Contact') ?? '' }] })
            : createResponse(req, v.status, v.reason, { toTag: 't', headers: v.headers });
      } else if (typeof what === 'number') res = createResponse(req, what, undefined, { toTag: 't' });
      // Recorded before the answer is delivered: the registrar may send again from inside onFinal.
      statuses.push(res?.status ?? 0);
      if (what === 'timeout') h.onTimeout();
      else if (res !== undefined) h.onFinal(res);
      return { id: String(sent.length), request: req, destination, state: 'terminated' };
    },
  };
  const sender = { localEndpoint: () => ({ protocol: 'udp' as const, address: '127.0.0.1', port: 5060 }) };
  return { clock, sent, statuses, transactions, sender, auth };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('outbound registration: the REGISTER exchange', () => {
  it('registers through a 401, refreshes before expiry on the same Call-ID with rising CSeq, unregisters on close', async () => {
    const h = harness(() => 'auth');
    const r = new OutboundRegistrar({ registrations: [cfg({ expires: 2, name: 'prov' })], transactions: h.transactions, sender: h.sender, clock: h.clock, log });
    r.start();
    await settle();
    expect(h.statuses).toEqual([401, 200]);
    const first = h.sent[0];
    expect(first.method).toBe('REGISTER');
    expect(first.uri).toBe('sip:127.0.0.2:5070');
    expect(getHeader(first, 'Contact')).toBe('<sip:prov@127.0.0.1:5060>;expires=2');
    expect(getHeader(first, 'To')).toBe('<sip:alice@provider.example>');
    expect(r.stats()).toMatchObject({ registered: 1, failed: 0, auth: { answered: 1 }, registrations: [{ name: 'prov', state: 'registered', lastStatus: 200, nextAttemptInMs: 1600 }] });
    h.clock.advance(1599);
    await settle();
    expect(h.sent).toHaveLength(2);
    h.clock.advance(1);
    await settle();
    expect(h.sent.length).toBeGreaterThanOrEqual(3);
    expect(h.statuses.at(-1)).toBe(200);
    const callIds = new Set(h.sent.map((q) => getHeader(q, 'Call-ID')));
    expect(callIds.size).toBe(1);
    const cseqs = h.sent.map((q) => Number((getHeader(q, 'CSeq') ?? '').split(' ')[0]));
    expect(cseqs).toEqual([...cseqs].sort((a, b) => a - b));
    expect(new Set(cseqs).size).toBe(cseqs.length);
    const before = h.sent.length;
    await r.close();
    const last = h.sent.at(-1);
    expect(h.sent.length).toBeGreaterThan(before);
    expect(getHeader(last as SipRequest, 'Expires')).toBe('0');
    expect(h.statuses.at(-1)).toBe(200);
    expect(r.stats()).toMatchObject({ unregistered: 1, registrations: [{ state: 'closed' }] });
    // closed: no more attempts, however long we wait
    const n = h.sent.length;
    h.clock.advance(3_600_000);
    await settle();
    expect(h.sent).toHaveLength(n);
  });

  it('backs off on 403 and timeouts (30 s, 60 s, …) and resets after success', async () => {
    const h = harness((_req, n) => (n === 1 ? 403 : n === 2 ? 'timeout' : 'auth'));
    const r = new OutboundRegistrar({ registrations: [cfg()], transactions: h.transactions, sender: h.sender, clock: h.clock, log });
    r.start();
    await settle();
    expect(r.stats()).toMatchObject({ failed: 1, registrations: [{ state: 'failed', lastStatus: 403, nextAttemptInMs: 30_000 }] });
    h.clock.advance(29_999);
    await settle();
    expect(h.sent).toHaveLength(1);
    h.clock.advance(1);
    await settle();
    expect(r.stats()).toMatchObject({ failed: 2, registrations: [{ state: 'failed', lastStatus: 408, nextAttemptInMs: 60_000 }] });
    h.clock.advance(60_000);
    await settle();
    expect(r.stats()).toMatchObject({ registered: 1, registrations: [{ state: 'registered', lastStatus: 200, nextAttemptInMs: 2_880_000 }] });
    await r.close();
  });

  it('does not loop on a wrong password: one answer, then the 401 is a failure', async () => {
    const h = harness(() => 'auth');
    const wrong = parseRegistrations('r.json', [{ registrar: 'sip:127.0.0.2', aor: 'sip:alice@provider.example', auth: { username: 'alice', password: 'nope' } }]);
    const r = new OutboundRegistrar({ registrations: wrong, transactions: h.transactions, sender: h.sender, clock: h.clock, log });
    r.start();
    await settle();
    expect(h.statuses).toEqual([401, 401]);
    expect(r.stats()).toMatchObject({ failed: 1, auth: { answered: 1, refused: 1 }, registrations: [{ state: 'failed', lastStatus: 401 }] });
    await r.close();
    expect(h.sent).toHaveLength(2);
  });

  it('close() while a REGISTER is unanswered still sends expires=0, and waits at most closeWaitMs', async () => {
    const h = harness(() => 'silent');
    const r = new OutboundRegistrar({ registrations: [cfg()], transactions: h.transactions, sender: h.sender, clock: h.clock, log, closeWaitMs: 2000 });
    r.start();
    await settle();
    expect(h.sent).toHaveLength(1);
    const closing = r.close();
    expect(h.sent).toHaveLength(2);
    expect(getHeader(h.sent[1], 'Expires')).toBe('0');
    expect(Number(getHeader(h.sent[1], 'CSeq')?.split(' ')[0])).toBeGreaterThan(Number(getHeader(h.sent[0], 'CSeq')?.split(' ')[0]));
    h.clock.advance(2000);
    await closing;
    expect(r.stats()).toMatchObject({ unregistered: 0, registrations: [{ state: 'closed' }] });
  });

  it('asks again with Min-Expires after a 423', async () => {
    const h = harness((req, n) => (n === 1 ? 423 : 'auth'));
    const orig = h.transactions.sendRequest.bind(h.transactions);
    h.transactions.sendRequest = (req, d, handler) =>
      orig(req, d, { ...handler, onFinal: (res) => handler.onFinal(res.status === 423 ? { ...res, headers: [...res.headers, { name: 'Min-Expires', value: '7200' }] } : res) });
    const r = new OutboundRegistrar({ registrations: [cfg()], transactions: h.transactions, sender: h.sender, clock: h.clock, log });
    r.start();
    await settle();
    expect(getHeader(h.sent[1], 'Expires')).toBe('7200');
    expect(r.stats().registrations[0].state).toBe('registered');
    // The refresh asks for the registrar's minimum too, not the 3600 it refused.
    const n = h.sent.length;
    h.clock.advance(refreshDelayMs(7200));
    await settle();
    expect(h.sent.length).toBeGreaterThan(n);
    expect(getHeader(h.sent[n], 'Expires')).toBe('7200');
    expect(h.statuses.filter((s) => s === 423)).toHaveLength(1);
    await r.close();
  });
});
