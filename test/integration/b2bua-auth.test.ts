import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningTandem } from '../../src/main.js';
import type { TandemConfig } from '../../src/config/config.js';
import { getHeader, headerLines, type SipMessage } from '../../src/sip/message.js';
import { digestResponse, ha1Of } from '../../src/sip/digest.js';
import { withPassword } from '../../src/edge/auth-users.js';
import { SipPeer, isRequest, sdpOffer, type Received } from '../helpers/sip-peer.js';
import { ackNon2xx, isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';

/**
 * Issue 12, digest authentication through a real B2BUA on loopback: who is challenged, what
 * reaches leg B, and what a scanner or a replayer learns.
 */
const REALM = 'tandem.test';
let tandem: RunningTandem;
let sip: { address: string; port: number };
let caller: SipPeer;
let callee: SipPeer;
let usersFile: string;

beforeEach(async () => {
  caller = await SipPeer.udp();
  callee = await SipPeer.udp();
  const dir = mkdtempSync(join(tmpdir(), 'tandem-auth-'));
  usersFile = join(dir, 'users');
  writeFileSync(usersFile, withPassword(withPassword('', 'alice', REALM, 'secret'), 'bob', REALM, 'hunter2'));
});

afterEach(async () => {
  caller.close();
  callee.close();
  await tandem?.close();
});

async function start(over: Partial<TandemConfig> = {}): Promise<void> {
  ({ tandem, sip } = await startB2bua({ route: `sip:127.0.0.1:${callee.port}`, authUsers: usersFile, realm: REALM, ...over }));
}

const offer = (): string => sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]);

/** Sends an INVITE (ACKing a non-2xx final) and returns the first non-100 response. */
async function invite(o: { headers?: string[]; callId?: string; user?: string } = {}): Promise<{ res: Received; callId: string }> {
  const r = outOfDialog('INVITE', caller, sip, { sdp: offer(), ...o });
  const from = caller.inbox.length;
  caller.send(r.text, sip);
  // Only what arrives after this send: a retry shares its Call-ID with the challenged INVITE.
  const res = await caller.next((m) => isFinalFor(r.callId)(m) || (m.kind === 'response' && m.status > 100 && m.status < 200), 3000, from);
  if (res.msg.kind === 'response' && res.msg.status >= 300) ackNon2xx(res, r, caller, sip);
  return { res, callId: r.callId };
}

/** The Proxy-Authorization a client would build for this challenge (first offered algorithm unless told). */
function answer(challenge: SipMessage, o: { user?: string; password?: string; nc?: string; md5?: boolean; ruser?: string } = {}): string {
  const offers = headerLines(challenge, 'Proxy-Authenticate');
  const chosen = offers.find((v) => v.includes(o.md5 === true ? 'algorithm=MD5' : 'algorithm=SHA-256')) ?? '';
  const nonce = /nonce="([^"]+)"/.exec(chosen)?.[1] ?? '';
  const alg = o.md5 === true ? 'MD5' : 'SHA-256';
  const user = o.user ?? 'alice';
  const uri = `sip:${o.ruser ?? '100'}@127.0.0.1:${sip.port}`;
  const nc = o.nc ?? '00000001';
  const response = digestResponse(alg, ha1Of(alg, user, REALM, o.password ?? 'secret'), { nonce, nc, cnonce: 'c0ffee', qop: 'auth', method: 'INVITE', uri });
  return `Proxy-Authorization: Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="c0ffee"`;
}

const status = (r: Received): number => (r.msg.kind === 'response' ? r.msg.status : 0);

/** Sends an INVITE expected to go through (the callee does not answer; tandem.close() ends it). */
function send(o: { headers?: string[]; callId?: string; user?: string } = {}): void {
  caller.send(outOfDialog('INVITE', caller, sip, { sdp: offer(), ...o }).text, sip);
}

/** Calls that reached `peer` (UDP retransmissions of one INVITE are one call). */
function calls(peer: SipPeer): number {
  return new Set(peer.inbox.filter((r) => isRequest('INVITE')(r.msg)).map((r) => getHeader(r.msg, 'Call-ID'))).size;
}

describe('digest authentication through the B2BUA', () => {
  it('an unauthenticated INVITE gets 407 and never reaches the callee; the authenticated retry does, without our credentials', async () => {
    await start();
    const first = await invite();
    expect(status(first.res)).toBe(407);
    expect(headerLines(first.res.msg, 'Proxy-Authenticate').map((v) => /algorithm=([\w-]+)/.exec(v)?.[1])).toEqual(['SHA-256', 'MD5']);
    // Positive control: the same caller, answering the challenge, reaches the callee.
    send({ callId: first.callId, headers: [answer(first.res.msg)] });
    const b = await callee.next(isRequest('INVITE'));
    expect(calls(callee)).toBe(1);
    expect(getHeader(b.msg, 'Proxy-Authorization')).toBeUndefined();
    expect(getHeader(b.msg, 'Authorization')).toBeUndefined();
    expect(b.msg.kind === 'request' && b.msg.body.toString()).not.toContain('c0ffee');
    expect(tandem.sip?.auth?.stats()).toMatchObject({ successes: 1, failures: 0 });
  });

  it('MD5 answers work too (older phones)', async () => {
    await start();
    const first = await invite();
    send({ callId: first.callId, headers: [answer(first.res.msg, { md5: true })] });
    await callee.next(isRequest('INVITE'));
  });

  it('a trusted source (--trusted) is not challenged', async () => {
    await start({ trusted: ['127.0.0.1'] });
    const r = outOfDialog('INVITE', caller, sip, { sdp: offer() });
    caller.send(r.text, sip);
    await callee.next(isRequest('INVITE'));
    expect(caller.count((m) => m.kind === 'response' && m.status === 407)).toBe(0);
  });

  it('a wrong password and a nonexistent user get identical responses (status, reason, headers but nonce and tags)', async () => {
    await start();
    const shape = (m: SipMessage) => ({
      status: m.kind === 'response' ? m.status : 0,
      reason: m.kind === 'response' ? m.reason : '',
      headers: m.headers
        .filter((h) => !/^(via|from|to|call-id|cseq)$/i.test(h.name))
        .map((h) => `${h.name}: ${h.value.replace(/nonce="[^"]+"/, 'nonce=…')}`),
    });
    const c1 = await invite();
    const wrong = await invite({ callId: c1.callId, headers: [answer(c1.res.msg, { password: 'guess' })] });
    const c2 = await invite();
    const nobody = await invite({ callId: c2.callId, headers: [answer(c2.res.msg, { user: 'mallory', password: 'guess' })] });
    expect(status(wrong.res)).toBe(407);
    expect(shape(nobody.res.msg)).toEqual(shape(wrong.res.msg));
    expect(tandem.sip?.auth?.stats()).toMatchObject({ failures: 2, unknownUsers: 1, failuresBySource: { '127.0.0.1': 2 } });
    // Positive control: a right answer after those reaches the callee, and it is the only call there.
    const c3 = await invite();
    send({ callId: c3.callId, headers: [answer(c3.res.msg)] });
    await callee.next(isRequest('INVITE'));
    expect(calls(callee)).toBe(1);
  });

  it('a replayed nonce and nc (a captured INVITE sent again as a new call) is refused', async () => {
    await start();
    const first = await invite();
    const creds = answer(first.res.msg);
    send({ callId: first.callId, headers: [creds] });
    await callee.next(isRequest('INVITE'));
    const replay = await invite({ headers: [creds] });
    expect(status(replay.res)).toBe(407);
    expect(calls(callee)).toBe(1);
    expect(tandem.sip?.auth?.stats()).toMatchObject({ replays: 1 });
  });

  it('unreadable credentials get a 400 naming the fault; OPTIONS keepalives are never challenged', async () => {
    await start();
    const bad = await invite({ headers: ['Proxy-Authorization: Digest username="alice, realm="x'] });
    expect(status(bad.res)).toBe(400);
    expect(bad.res.msg.kind === 'response' && bad.res.msg.reason).toMatch(/^Bad Proxy-Authorization: /);
    const o = outOfDialog('OPTIONS', caller, sip);
    caller.send(o.text, sip);
    expect(status(await caller.next(isFinalFor(o.callId, 'OPTIONS')))).toBe(200);
  });

  it('routes: match.user picks the authenticated user\'s route; "auth": "none" needs no credentials', async () => {
    const other = await SipPeer.udp();
    try {
      const file = join(mkdtempSync(join(tmpdir(), 'tandem-auth-')), 'routes.json');
      writeFileSync(file, JSON.stringify({ routes: [
        { name: 'alice', match: { user: 'alice' }, targets: [{ uri: `sip:127.0.0.1:${callee.port}` }] },
        { name: 'free', match: { userPrefix: '0800' }, auth: 'none', targets: [{ uri: `sip:127.0.0.1:${other.port}` }] },
      ] }));
      ({ tandem, sip } = await startB2bua({ routesFile: file, authUsers: usersFile, realm: REALM }));
      const free = outOfDialog('INVITE', caller, sip, { user: '0800123', sdp: offer() });
      caller.send(free.text, sip);
      await other.next(isRequest('INVITE'));
      // bob authenticates, but no route is his: 404 after the challenge, and nothing reaches alice's target.
      const c = await invite();
      const bob = await invite({ callId: c.callId, headers: [answer(c.res.msg, { user: 'bob', password: 'hunter2' })] });
      expect(status(bob.res)).toBe(404);
      const c2 = await invite();
      send({ callId: c2.callId, headers: [answer(c2.res.msg)] });
      await callee.next(isRequest('INVITE'));
      expect(calls(callee)).toBe(1);
      expect(calls(other)).toBe(1);
    } finally {
      other.close();
    }
  });

  it('REGISTER: 401 until answered (the registrar is on with --auth-users), then a call to the "registered" route reaches that UA', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tandem-auth-')), 'routes.json');
    writeFileSync(file, JSON.stringify({ routes: [{ name: 'users', targets: [{ uri: 'registered' }] }] }));
    ({ tandem, sip } = await startB2bua({ routesFile: file, authUsers: usersFile, realm: REALM }));
    const register = (extra: string[], cseq: number): SipMessage | Promise<SipMessage> => {
      const from = callee.inbox.length;
      callee.send([
        'REGISTER sip:127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:${callee.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
        'Max-Forwards: 70',
        `From: <sip:alice@127.0.0.1>;tag=reg1`,
        `To: <sip:alice@127.0.0.1>`,
        'Call-ID: reg-auth-1',
        `CSeq: ${cseq} REGISTER`,
        `Contact: <sip:alice@127.0.0.1:${callee.port}>`,
        'Expires: 600',
        ...extra,
        '',
        '',
      ].join('\n'), sip);
      return callee.next((m) => m.kind === 'response' && m.status >= 200, 3000, from).then((r) => r.msg);
    };
    const challenge = await register([], 1);
    expect(challenge.kind === 'response' && challenge.status).toBe(401);
    const offers = headerLines(challenge, 'WWW-Authenticate');
    expect(offers.map((v) => /algorithm=([\w-]+)/.exec(v)?.[1])).toEqual(['SHA-256', 'MD5']);
    const nonce = /nonce="([^"]+)"/.exec(offers[0])?.[1] ?? '';
    const response = digestResponse('SHA-256', ha1Of('SHA-256', 'alice', REALM, 'secret'), { nonce, nc: '00000001', cnonce: 'r1', qop: 'auth', method: 'REGISTER', uri: 'sip:127.0.0.1' });
    const ok = await register([`Authorization: Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="sip:127.0.0.1", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="r1"`], 2);
    expect(ok.kind === 'response' && ok.status).toBe(200);
    // bob's password cannot bind alice's AOR: 403 after a right answer.
    const c2 = await register([], 3);
    const n2 = /nonce="([^"]+)"/.exec(headerLines(c2, 'WWW-Authenticate')[0])?.[1] ?? '';
    const bobs = digestResponse('SHA-256', ha1Of('SHA-256', 'bob', REALM, 'hunter2'), { nonce: n2, nc: '00000001', cnonce: 'r2', qop: 'auth', method: 'REGISTER', uri: 'sip:127.0.0.1' });
    const forbidden = await register([`Authorization: Digest username="bob", realm="${REALM}", nonce="${n2}", uri="sip:127.0.0.1", response="${bobs}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="r2"`], 4);
    expect(forbidden.kind === 'response' && forbidden.status).toBe(403);
    // The call: the caller authenticates (407), then reaches alice where she registered.
    const c = await invite({ user: 'alice' });
    expect(status(c.res)).toBe(407);
    send({ user: 'alice', callId: c.callId, headers: [answer(c.res.msg, { ruser: 'alice' })] });
    const b = await callee.next(isRequest('INVITE'));
    expect(getHeader(b.msg, 'Proxy-Authorization')).toBeUndefined();
  });
});
