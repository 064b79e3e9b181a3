import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { RunningTandem } from '../../src/main.js';
import { getCSeq, getHeader, headerLines, type SipRequest } from '../../src/sip/message.js';
import { Authenticator } from '../../src/edge/auth.js';
import { parseUsersFile, UserStore, withPassword } from '../../src/edge/auth-users.js';
import { systemClock } from '../../src/common/clock.js';
import { SipPeer, isRequest, isResponse, type Received } from '../helpers/sip-peer.js';
import { ackNon2xx, isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';

/**
 * Issue 13, outbound registration: `provider` is a registrar that challenges every REGISTER with
 * 401 and checks the answer with Tandem's own server-side Authenticator; then it calls the contact
 * Tandem registered, and the route matching the contact user carries the call to `pbx`.
 */
const REALM = 'provider.test';
let tandem: RunningTandem | undefined;
let sip: { address: string; port: number };
let provider: SipPeer;
let pbx: SipPeer;
let stop: (() => void) | undefined;
let dir: string;
let registers: Received[] = [];
let auth: Authenticator;

beforeEach(async () => {
  provider = await SipPeer.udp();
  pbx = await SipPeer.udp();
  dir = mkdtempSync(join(tmpdir(), 'tandem-outreg-'));
  registers = [];
  auth = new Authenticator({ users: new UserStore(parseUsersFile(withPassword('', 'alice', REALM, 'secret'), 'users')), realm: REALM, clock: systemClock, log: pino({ level: 'silent' }) });
  let seen = 0;
  const timer = setInterval(() => {
    while (seen < provider.inbox.length) {
      const r = provider.inbox[seen++];
      if (r.msg.kind !== 'request' || r.msg.method !== 'REGISTER') continue;
      registers.push(r);
      // authenticate() strips the credentials: check a copy, keep the original for the test.
      const v = auth.authenticate({ ...r.msg, headers: [...r.msg.headers] }, r.from.address, 'registrar');
      if (v.kind !== 'ok') provider.reply(r, v.status, { reason: v.reason, headers: v.headers.map((h) => `${h.name}: ${h.value}`) });
      else provider.reply(r, 200, { reason: 'OK', headers: [`Contact: ${getHeader(r.msg, 'Contact') ?? ''}`] });
    }
  }, 2);
  stop = () => clearInterval(timer);
});

afterEach(async () => {
  await tandem?.close();
  tandem = undefined;
  stop?.();
  provider.close();
  pbx.close();
});

async function start(expires: number): Promise<void> {
  const routesFile = join(dir, 'routes.json');
  writeFileSync(
    routesFile,
    JSON.stringify({
      registrations: [{ name: 'prov', registrar: `sip:127.0.0.1:${provider.port}`, aor: `sip:alice@${REALM}`, auth: { username: 'alice', password: 'secret', realm: REALM }, expires }],
      routes: [{ name: 'from-provider', match: { userPrefix: 'prov', source: '127.0.0.1' }, targets: [{ uri: `sip:127.0.0.1:${pbx.port}` }] }],
    }),
  );
  ({ tandem, sip } = await startB2bua({ routesFile }));
}

/** The distinct REGISTERs (by CSeq: UDP retransmissions are one). */
function distinct(): SipRequest[] {
  const bySeq = new Map<number, SipRequest>();
  for (const r of registers) if (r.msg.kind === 'request') bySeq.set(getCSeq(r.msg)?.seq ?? -1, r.msg);
  return [...bySeq.values()];
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  for (let i = 0; i < ms / 10 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe('outbound registration toward a registrar that answers 401', () => {
  it('registers with credentials, refreshes before a 2 s binding ends, and unregisters on close', async () => {
    await start(2);
    await until(() => auth.stats().successes >= 1, 3000);
    const [first, second] = distinct();
    expect(headerLines(first, 'Authorization')).toHaveLength(0);
    expect(headerLines(second, 'Authorization')[0]).toMatch(/username="alice"/);
    expect(getHeader(second, 'Call-ID')).toBe(getHeader(first, 'Call-ID'));
    expect(getHeader(first, 'Contact')).toBe(`<sip:prov@127.0.0.1:${sip.port}>;expires=2`);
    expect(tandem?.sip?.outboundRegistrar?.stats()).toMatchObject({ registered: 1, registrations: [{ name: 'prov', state: 'registered', lastStatus: 200 }] });
    // The refresh (at 1.6 s) comes before the binding ends, on the same Call-ID with a higher CSeq.
    await until(() => auth.stats().successes >= 2, 4000);
    const all = distinct();
    expect(new Set(all.map((q) => getHeader(q, 'Call-ID'))).size).toBe(1);
    const seqs = all.map((q) => getCSeq(q)?.seq ?? 0);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const running = tandem;
    tandem = undefined;
    await running?.close();
    const last = distinct().at(-1);
    expect(last !== undefined && getHeader(last, 'Expires')).toBe('0');
    expect(last !== undefined && getHeader(last, 'Contact')).toBe(`<sip:prov@127.0.0.1:${sip.port}>;expires=0`);
    expect(running?.sip?.outboundRegistrar?.stats()).toMatchObject({ unregistered: 1 });
  });

  it("the provider's INVITE to the registered contact takes the route matching its user", async () => {
    await start(3600);
    await until(() => auth.stats().successes >= 1, 3000);
    const contact = /<([^>]+)>/.exec(getHeader(distinct()[0], 'Contact') ?? '')?.[1];
    expect(contact).toBe(`sip:prov@127.0.0.1:${sip.port}`);
    // outOfDialog's Request-URI is sip:USER@127.0.0.1:PORT: exactly the contact.
    const invite = outOfDialog('INVITE', provider, sip, { user: 'prov' });
    provider.send(invite.text, sip);
    const atPbx = await pbx.next(isRequest('INVITE'), 3000);
    pbx.reply(atPbx, 486, { reason: 'Busy Here' });
    const res = await provider.next(isFinalFor(invite.callId), 3000);
    expect(res.msg.kind === 'response' && res.msg.status).toBe(486);
    ackNon2xx(res, invite, provider, sip);
    // The route is what took it: another user finds none (404 No Route) and never reaches the pbx.
    const other = outOfDialog('INVITE', provider, sip, { user: 'nobody' });
    provider.send(other.text, sip);
    const miss = await provider.next(isFinalFor(other.callId), 3000);
    expect(miss.msg.kind === 'response' && miss.msg.status).toBe(404);
    expect(pbx.count(isRequest('INVITE'))).toBe(1);
    expect(provider.count(isResponse(486))).toBeGreaterThanOrEqual(1);
  });
});
