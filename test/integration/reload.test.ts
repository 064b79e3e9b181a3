import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningTandem } from '../../src/main.js';
import type { TandemConfig } from '../../src/config/config.js';
import { headerLines, type SipMessage } from '../../src/sip/message.js';
import { digestResponse, ha1Of } from '../../src/sip/digest.js';
import { withPassword } from '../../src/edge/auth-users.js';
import { SipPeer, isRequest, sdpOffer, type Received } from '../helpers/sip-peer.js';
import { ackAndBye, ackNon2xx, autoAnswer, isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';

/**
 * Issue 16's follow-up: a reload (what SIGHUP and `tandem ctl reload` run: `ops.reload()`) reads
 * the users file and the access-list file again, all or nothing, through a real B2BUA on loopback.
 */
const REALM = 'tandem.test';
let tandem: RunningTandem | undefined;
let sip: { address: string; port: number };
let caller: SipPeer;
let callee: SipPeer;
let dir: string;
let usersFile: string;
let aclFile: string;
/** the callee answers every INVITE with 200, so an admitted call is a 200 and a refused one a 407. */
let stopAnswering: () => void;

const users = (...list: [string, string][]): string => list.reduce((text, [u, p]) => withPassword(text, u, REALM, p), '');

beforeEach(async () => {
  caller = await SipPeer.udp();
  callee = await SipPeer.udp();
  dir = mkdtempSync(join(tmpdir(), 'tandem-reload-'));
  usersFile = join(dir, 'users');
  aclFile = join(dir, 'acl');
  writeFileSync(usersFile, users(['alice', 'secret']));
  writeFileSync(aclFile, '# who may reach SIP\nallow 127.0.0.0/8\n');
  stopAnswering = autoAnswer(callee, (port) => sdpOffer(port, [{ pt: 0, name: 'PCMU' }]));
});

afterEach(async () => {
  stopAnswering();
  caller.close();
  callee.close();
  await tandem?.close();
  tandem = undefined;
});

async function start(over: Partial<TandemConfig> = {}): Promise<RunningTandem> {
  const started = await startB2bua({ route: `sip:127.0.0.1:${callee.port}`, authUsers: usersFile, realm: REALM, sipAclFile: aclFile, listenHttp: { address: '127.0.0.1', port: 0 }, ...over });
  ({ sip } = started);
  tandem = started.tandem;
  return started.tandem;
}

const status = (r: Received): number => (r.msg.kind === 'response' ? r.msg.status : 0);

/** Sends an INVITE (ACKing a non-2xx final) and returns the first response above 100. */
async function invite(o: { headers?: string[]; callId?: string } = {}): Promise<{ res: Received; callId: string }> {
  const r = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]), ...o });
  const from = caller.inbox.length;
  caller.send(r.text, sip);
  const res = await caller.next((m) => isFinalFor(r.callId)(m) || (m.kind === 'response' && m.status > 100 && m.status < 200), 3000, from);
  if (res.msg.kind === 'response' && res.msg.status >= 300) ackNon2xx(res, r, caller, sip);
  return { res, callId: r.callId };
}

function answer(challenge: SipMessage, user: string, password: string): string {
  const nonce = /nonce="([^"]+)"/.exec(headerLines(challenge, 'Proxy-Authenticate')[0] ?? '')?.[1] ?? '';
  const uri = `sip:100@127.0.0.1:${sip.port}`;
  const response = digestResponse('SHA-256', ha1Of('SHA-256', user, REALM, password), { nonce, nc: '00000001', cnonce: 'c0ffee', qop: 'auth', method: 'INVITE', uri });
  return `Proxy-Authorization: Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c0ffee"`;
}

/** A challenged INVITE answered with `user`'s password: the final (or first provisional) response to the answer. */
async function authenticatedInvite(user: string, password: string): Promise<Received> {
  const first = await invite();
  expect(status(first.res)).toBe(407);
  return (await invite({ callId: first.callId, headers: [answer(first.res.msg, user, password)] })).res;
}

async function metric(t: RunningTandem, line: RegExp): Promise<string | undefined> {
  return (await t.ops.metrics?.text())?.split('\n').find((l) => line.test(l));
}

describe('reload: the users file and the access list', () => {
  it('a user added to the users file authenticates after a reload; before it, the right password is refused', async () => {
    const t = await start();
    // Positive control: carol's right password before she is in the file is a failure (a fresh 407).
    expect(status(await authenticatedInvite('carol', 'pw-carol'))).toBe(407);
    writeFileSync(usersFile, users(['alice', 'secret'], ['carol', 'pw-carol']));
    expect(t.ops.reload()).toEqual({ ok: true, reloaded: { users: 2, acl: 1 } });
    expect(status(await authenticatedInvite('carol', 'pw-carol'))).toBeLessThan(300);
    // One call reached the callee (UDP retransmissions of its INVITE share a Call-ID).
    expect(new Set(callee.inbox.filter((r) => isRequest('INVITE')(r.msg)).map((r) => headerLines(r.msg, 'Call-ID')[0])).size).toBe(1);
    expect(await metric(t, /^tandem_reloads_total\{result="ok",file="all"\}/)).toMatch(/ 1$/);
  });

  it('a removed user is refused from the next request; the call it already had goes on to its BYE', async () => {
    const t = await start();
    {
      const ok = await authenticatedInvite('alice', 'secret');
      const answered = status(ok) === 200 ? ok : await caller.next((m) => m.kind === 'response' && m.status === 200, 3000);
      writeFileSync(usersFile, users(['bob', 'hunter2']));
      expect(t.ops.reload()).toMatchObject({ ok: true, reloaded: { users: 1 } });
      expect(status(await authenticatedInvite('alice', 'secret'))).toBe(407);
      expect(t.sip?.b2bua.activeCalls()).toBe(1);
      // The call admitted with the old file is not re-checked: its BYE goes through and is answered.
      const from = caller.inbox.length;
      ackAndBye(answered, caller, sip);
      await callee.next(isRequest('BYE'));
      await caller.next((m) => m.kind === 'response' && m.status === 200 && headerLines(m, 'CSeq')[0]?.endsWith('BYE') === true, 3000, from);
      // bob, who is new, gets through.
      expect(status(await authenticatedInvite('bob', 'hunter2'))).toBeLessThan(300);
    }
  });

  it('a removed user\'s registration stays until it expires (as Kamailio); its next REGISTER is refused', async () => {
    const t = await start();
    let cseq = 1;
    const register = async (extra: string[]): Promise<SipMessage> => {
      const from = caller.inbox.length;
      caller.send([
        'REGISTER sip:127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
        'Max-Forwards: 70',
        'From: <sip:alice@127.0.0.1>;tag=reg1',
        'To: <sip:alice@127.0.0.1>',
        'Call-ID: reload-reg-1',
        `CSeq: ${cseq++} REGISTER`,
        `Contact: <sip:alice@127.0.0.1:${caller.port}>`,
        'Expires: 600',
        ...extra,
        '',
        '',
      ].join('\n'), sip);
      return (await caller.next((m) => m.kind === 'response' && m.status >= 200, 3000, from)).msg;
    };
    const authenticated = async (): Promise<SipMessage> => {
      const challenge = await register([]);
      expect(challenge.kind === 'response' && challenge.status).toBe(401);
      const nonce = /nonce="([^"]+)"/.exec(headerLines(challenge, 'WWW-Authenticate')[0] ?? '')?.[1] ?? '';
      const response = digestResponse('SHA-256', ha1Of('SHA-256', 'alice', REALM, 'secret'), { nonce, nc: '00000001', cnonce: 'r1', qop: 'auth', method: 'REGISTER', uri: 'sip:127.0.0.1' });
      return register([`Authorization: Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="sip:127.0.0.1", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="r1"`]);
    };
    const ok = await authenticated();
    expect(ok.kind === 'response' && ok.status).toBe(200);
    expect(await t.sip?.registrar?.lookup('alice', '127.0.0.1')).toHaveLength(1);
    writeFileSync(usersFile, users(['bob', 'hunter2']));
    expect(t.ops.reload()).toMatchObject({ ok: true });
    expect(await t.sip?.registrar?.lookup('alice', '127.0.0.1')).toHaveLength(1);
    // The same right answer as before: now a failure, answered as a wrong password is (a fresh 401).
    const refused = await authenticated();
    expect(refused.kind === 'response' && refused.status).toBe(401);
    expect(await t.sip?.registrar?.lookup('alice', '127.0.0.1')).toHaveLength(1);
  });

  it('an access-list change takes effect for the next request, and a later allow lets the source back in', async () => {
    const t = await start();
    const options = async (): Promise<boolean> => {
      const o = outOfDialog('OPTIONS', caller, sip);
      const from = caller.inbox.length;
      caller.send(o.text, sip);
      return caller.next(isFinalFor(o.callId, 'OPTIONS'), 300, from).then(() => true, () => false);
    };
    expect(await options()).toBe(true);
    writeFileSync(aclFile, 'allow 127.0.0.0/8\ndeny 127.0.0.1\n');
    expect(t.ops.reload()).toMatchObject({ ok: true, reloaded: { acl: 2 } });
    const denied = t.sip?.edge.acl.counters.denied ?? 0;
    expect(await options()).toBe(false);
    expect(t.sip?.edge.acl.counters.denied).toBeGreaterThan(denied);
    // Positive control: the same peer, once the deny line is gone, is answered again.
    writeFileSync(aclFile, 'allow 127.0.0.0/8\n');
    expect(t.ops.reload()).toMatchObject({ ok: true, reloaded: { acl: 1 } });
    expect(await options()).toBe(true);
  });

  it('a malformed users file or access list refuses the whole reload naming file:line; every old setting stays', async () => {
    const t = await start();
    writeFileSync(usersFile, `${users(['alice', 'secret'])}carol:${REALM}:nothex\n`);
    const bad = t.ops.reload();
    expect(bad).toMatchObject({ ok: false, failed: 'users' });
    expect(bad?.ok === false && bad.error).toContain(`${usersFile}:3:`);
    expect(status(await authenticatedInvite('alice', 'secret'))).toBeLessThan(300);

    // A good users file with a bad access list: nothing is taken, carol included.
    writeFileSync(usersFile, users(['alice', 'secret'], ['carol', 'pw-carol']));
    writeFileSync(aclFile, 'allow 127.0.0.0/8\ndeny 10.0.0.0/33\n');
    const badAcl = t.ops.reload();
    expect(badAcl).toMatchObject({ ok: false, failed: 'acl' });
    expect(badAcl?.ok === false && badAcl.error).toContain(`${aclFile}:2:`);
    expect(status(await authenticatedInvite('carol', 'pw-carol'))).toBe(407);
    expect(status(await authenticatedInvite('alice', 'secret'))).toBeLessThan(300);
    expect(await metric(t, /^tandem_reloads_total\{result="failed",file="users"\}/)).toMatch(/ 1$/);
    expect(await metric(t, /^tandem_reloads_total\{result="failed",file="acl"\}/)).toMatch(/ 1$/);
  });

  it('a malformed access list at start is a configuration error naming file:line', async () => {
    writeFileSync(aclFile, 'permit 10.0.0.0/8\n');
    await expect(start()).rejects.toThrow(`${aclFile}:1: expected "allow IP/CIDR" or "deny IP/CIDR"`);
  });

  it('a reloaded routes file\'s "trusted" reaches the registrar too: an untrusted REGISTER is refused, trusted after the reload it binds', async () => {
    const routes = join(dir, 'routes.json');
    const table = (trusted: string[]): string => JSON.stringify({ routes: [{ name: 'users', targets: [{ uri: 'registered' }] }], trusted });
    writeFileSync(routes, table([]));
    // No --auth-users: only trusted sources may register (the secure default).
    const started = await startB2bua({ routesFile: routes, registrar: true, floodExempt: [] });
    tandem = started.tandem;
    const reg = async (n: number): Promise<number> => {
      const from = caller.inbox.length;
      caller.send([
        'REGISTER sip:127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bKtr${n};rport`,
        'Max-Forwards: 70',
        'From: <sip:alice@127.0.0.1>;tag=tr',
        'To: <sip:alice@127.0.0.1>',
        'Call-ID: reload-trusted',
        `CSeq: ${n} REGISTER`,
        `Contact: <sip:alice@127.0.0.1:${caller.port}>`,
        'Expires: 600',
        '',
        '',
      ].join('\n'), started.sip);
      const r = (await caller.next((m) => m.kind === 'response' && m.status >= 200, 3000, from)).msg;
      return r.kind === 'response' ? r.status : 0;
    };
    expect(await reg(1)).toBe(403);
    writeFileSync(routes, table(['127.0.0.1']));
    expect(started.tandem.ops.reload()).toEqual({ ok: true, reloaded: { routes: 1 }, routes: ['users'] });
    expect(await reg(2)).toBe(200);
  });
});
