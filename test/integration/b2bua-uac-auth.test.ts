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
import type { DigestAlgorithm } from '../../src/sip/digest.js';
import { SipPeer, isRequest, sdpOffer, type Received } from '../helpers/sip-peer.js';
import { ackAndBye, ackNon2xx, isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';

/**
 * Issue 13, UAC digest toward a trunk: the callee plays a provider that challenges every INVITE
 * with 407 and checks the answer with Tandem's own server-side Authenticator.
 */
const REALM = 'trunk.test';
let tandem: RunningTandem | undefined;
let sip: { address: string; port: number };
let caller: SipPeer;
let callee: SipPeer;
let stop: (() => void) | undefined;
let dir: string;

beforeEach(async () => {
  caller = await SipPeer.udp();
  callee = await SipPeer.udp();
  dir = mkdtempSync(join(tmpdir(), 'tandem-uac-auth-'));
});

afterEach(async () => {
  stop?.();
  stop = undefined;
  caller.close();
  callee.close();
  await tandem?.close();
  tandem = undefined;
});

/** The trunk: 407 until an INVITE (initial or re-INVITE) carries alice/secret, 200 with SDP then; BYE and INFO likewise with `challengeBye`. */
function trunk(algorithms: readonly DigestAlgorithm[] = ['SHA-256', 'MD5'], challengeBye = false, staleOnce = false): { auth: Authenticator } {
  // `staleOnce`: the trunk's clock jumps past the nonce's life just before it checks the first credentials.
  let skew = 0;
  const clock = { ...systemClock, now: () => systemClock.now() + skew };
  const auth = new Authenticator({
    users: new UserStore(parseUsersFile(withPassword('', 'alice', REALM, 'secret'), 'users')),
    realm: REALM,
    clock,
    nonceTtlMs: 60_000,
    log: pino({ level: 'silent' }),
    algorithms,
  });
  let seen = 0;
  // A UDP retransmission (Timer A/E under load) carries the same nonce count: checked again it would be a
  // replay and count as a failure, so each request is judged once and its retransmissions get the same answer.
  const judged = new Set<string>();
  const timer = setInterval(() => {
    while (seen < callee.inbox.length) {
      const r = callee.inbox[seen++];
      if (r.msg.kind !== 'request') continue;
      const key = `${getHeader(r.msg, 'Call-ID') ?? ''} ${getCSeq(r.msg)?.seq ?? -1} ${r.msg.method}`;
      if (judged.has(key)) continue;
      judged.add(key);
      if (r.msg.method === 'INVITE') {
        // authenticate() strips our credentials from the message: check a copy, keep the original for the test.
        const copy: SipRequest = { ...r.msg, headers: [...r.msg.headers] };
        if (staleOnce && skew === 0 && headerLines(copy, 'Proxy-Authorization').length > 0) skew = 120_000;
        const v = auth.authenticate(copy, r.from.address, 'proxy');
        if (v.kind === 'ok') callee.reply(r, 200, { reason: 'OK', sdp: sdpOffer(41000, [{ pt: 0, name: 'PCMU' }]) });
        else callee.reply(r, v.status, { reason: v.reason, headers: v.headers.map((h) => `${h.name}: ${h.value}`) });
      } else if (r.msg.method === 'BYE' || r.msg.method === 'INFO') {
        const v = challengeBye ? auth.authenticate({ ...r.msg, headers: [...r.msg.headers] }, r.from.address, 'proxy') : { kind: 'ok' as const };
        if (v.kind === 'ok') callee.reply(r, 200, { reason: 'OK' });
        else callee.reply(r, v.status, { reason: v.reason, headers: v.headers.map((h) => `${h.name}: ${h.value}`) });
      }
    }
  }, 2);
  stop = () => clearInterval(timer);
  return { auth };
}

async function start(auth: Record<string, string>): Promise<void> {
  const routesFile = join(dir, 'routes.json');
  writeFileSync(routesFile, JSON.stringify({ routes: [{ targets: [{ uri: `sip:127.0.0.1:${callee.port}`, auth }] }] }));
  ({ tandem, sip } = await startB2bua({ routesFile }));
}

async function call(): Promise<{ res: Received; invite: ReturnType<typeof outOfDialog> }> {
  const invite = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]) });
  caller.send(invite.text, sip);
  const res = await caller.next(isFinalFor(invite.callId), 3000);
  return { res, invite };
}

/** The distinct INVITEs (by Call-ID and CSeq: UDP retransmissions are one) that reached the trunk. */
function invites(): SipRequest[] {
  const bySeq = new Map<string, SipRequest>();
  for (const r of callee.inbox) if (r.msg.kind === 'request' && r.msg.method === 'INVITE') bySeq.set(`${getHeader(r.msg, 'Call-ID') ?? ''} ${getCSeq(r.msg)?.seq ?? -1}`, r.msg);
  return [...bySeq.values()];
}

describe('UAC digest toward a trunk that answers 407', () => {
  it('the call connects: the INVITE goes again with CSeq+1, the same Call-ID and From tag, SHA-256 credentials', async () => {
    const { auth } = trunk();
    await start({ username: 'alice', password: 'secret' });
    const { res } = await call();
    expect(res.msg.kind === 'response' && res.msg.status).toBe(200);
    const [first, second] = invites();
    expect(invites()).toHaveLength(2);
    expect(getCSeq(second)?.seq).toBe((getCSeq(first)?.seq ?? 0) + 1);
    expect(getHeader(second, 'Call-ID')).toBe(getHeader(first, 'Call-ID'));
    expect(getHeader(second, 'From')).toBe(getHeader(first, 'From'));
    expect(headerLines(first, 'Proxy-Authorization')).toHaveLength(0);
    expect(headerLines(second, 'Proxy-Authorization')[0]).toMatch(/algorithm=SHA-256/);
    // The 407 was ACKed by the transaction layer (RFC 3261 §17.1.1.3).
    await callee.next(isRequest('ACK'), 3000);
    expect(auth.stats()).toMatchObject({ successes: 1, failures: 0 });
    expect(tandem?.sip?.b2bua.trunkAuthStats()).toEqual({ answered: 1, refused: 0 });
    ackAndBye(res, caller, sip);
    await caller.next((m) => m.kind === 'response' && getCSeq(m)?.method === 'BYE', 3000);
    await callee.next(isRequest('BYE'), 3000);
  });

  it('an MD5-only trunk and a password from passwordFile', async () => {
    const { auth } = trunk(['MD5']);
    writeFileSync(join(dir, 'trunk.pw'), 'secret\n');
    await start({ username: 'alice', passwordFile: 'trunk.pw', realm: REALM });
    const { res } = await call();
    expect(res.msg.kind === 'response' && res.msg.status).toBe(200);
    expect(headerLines(invites()[1], 'Proxy-Authorization')[0]).toMatch(/algorithm=MD5/);
    expect(auth.stats().successes).toBe(1);
    ackAndBye(res, caller, sip);
  });

  it('a wrong password: the caller gets 403 with a Warning, exactly two INVITEs reach the trunk (no loop)', async () => {
    const { auth } = trunk();
    await start({ username: 'alice', password: 'wrong' });
    const { res, invite } = await call();
    expect(res.msg.kind === 'response' && res.msg.status).toBe(403);
    expect(getHeader(res.msg, 'Warning')).toMatch(/refused our credentials/);
    ackNon2xx(res, invite, caller, sip);
    const firstCallId = getHeader(invites()[0], 'Call-ID') ?? '';
    // Positive control for "no third INVITE": a second call's two INVITEs reach the trunk after any stray one would have.
    const second = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40002, [{ pt: 0, name: 'PCMU' }]) });
    caller.send(second.text, sip);
    await caller.next(isFinalFor(second.callId), 3000);
    const seqsOf = (callId: string): number => new Set(invites().filter((m) => getHeader(m, 'Call-ID') === callId).map((m) => getCSeq(m)?.seq)).size;
    expect(seqsOf(getHeader(invites()[invites().length - 1], 'Call-ID') ?? '')).toBe(2);
    expect(seqsOf(firstCallId)).toBe(2);
    expect(invites()).toHaveLength(4);
    // One refused answer per call: the unauthenticated first INVITE is a challenge, not a failure.
    expect(auth.stats().failures).toBe(2);
    expect(tandem?.sip?.b2bua.trunkAuthStats()).toEqual({ answered: 2, refused: 2 });
  });

  it('stale=true: one more INVITE with the new nonce, and the call connects', async () => {
    const { auth } = trunk(['SHA-256', 'MD5'], false, true);
    await start({ username: 'alice', password: 'secret' });
    const { res } = await call();
    expect(res.msg.kind === 'response' && res.msg.status).toBe(200);
    const all = invites();
    expect(all.map((m) => getCSeq(m)?.seq)).toEqual([1, 2, 3]);
    const nonceOf = (m: SipRequest): string | undefined => /nonce="([^"]+)"/.exec(headerLines(m, 'Proxy-Authorization')[0] ?? '')?.[1];
    expect(nonceOf(all[2])).not.toBe(nonceOf(all[1]));
    expect(auth.stats()).toMatchObject({ stale: 1, successes: 1, failures: 0 });
    ackAndBye(res, caller, sip);
  });

  it('a challenge for another realm than the configured one is refused without sending the password', async () => {
    trunk();
    await start({ username: 'alice', password: 'secret', realm: 'elsewhere' });
    const { res } = await call();
    expect(res.msg.kind === 'response' && res.msg.status).toBe(403);
    expect(getHeader(res.msg, 'Warning')).toMatch(/not ours/);
    expect(invites()).toHaveLength(1);
  });
});

/** A request from the caller inside the dialog the 2xx `ok` set up. */
function inDialog(ok: Received, method: string, seq: number, sdp?: string): string {
  const r = ok.msg;
  const contact = /<([^>]+)>/.exec(getHeader(r, 'Contact') ?? '')?.[1] ?? `sip:127.0.0.1:${sip.port}`;
  return [
    `${method} ${contact} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: ${getHeader(r, 'From') ?? ''}`,
    `To: ${getHeader(r, 'To') ?? ''}`,
    `Call-ID: ${getHeader(r, 'Call-ID') ?? ''}`,
    `CSeq: ${seq} ${method}`,
    `Contact: <sip:alice@127.0.0.1:${caller.port}>`,
    ...(sdp !== undefined ? ['Content-Type: application/sdp'] : []),
    '',
    sdp ?? '',
  ].join('\n');
}

describe('UAC digest inside the dialog', () => {
  it('a challenged re-INVITE, INFO and BYE are answered with the new nonce; the 2xx is ACKed with the credentialed CSeq', async () => {
    const { auth } = trunk(['SHA-256', 'MD5'], true);
    await start({ username: 'alice', password: 'secret' });
    const { res } = await call();
    expect(res.msg.kind === 'response' && res.msg.status).toBe(200);
    const seq0 = getCSeq(res.msg)?.seq ?? 1;
    const ackText = inDialog(res, 'ACK', seq0).replace(/\nContact: [^\n]*/, '');
    caller.send(ackText, sip);
    await callee.next((m) => m.kind === 'request' && m.method === 'ACK' && getCSeq(m)?.seq === 2, 3000);

    const mark = callee.inbox.length;
    caller.send(inDialog(res, 'INVITE', seq0 + 1, sdpOffer(40004, [{ pt: 0, name: 'PCMU' }])), sip);
    const re = await caller.next((m) => m.kind === 'response' && m.status >= 200 && getCSeq(m)?.seq === seq0 + 1, 3000);
    expect(re.msg.kind === 'response' && re.msg.status).toBe(200);
    const reInvites = callee.inbox.slice(mark).filter((r) => isRequest('INVITE')(r.msg)).map((r) => r.msg);
    const seqs = [...new Set(reInvites.map((m) => getCSeq(m)?.seq))];
    expect(seqs).toEqual([3, 4]);
    expect(headerLines(reInvites[reInvites.length - 1], 'Proxy-Authorization')).toHaveLength(1);
    // Our ACK of the re-INVITE's 2xx names the CSeq that carried credentials (4), not the challenged one.
    await callee.next((m) => m.kind === 'request' && m.method === 'ACK' && getCSeq(m)?.seq === 4, 3000, mark);
    caller.send(inDialog(re, 'ACK', seq0 + 1).replace(/\nContact: [^\n]*/, ''), sip);

    const infoMark = callee.inbox.length;
    caller.send(inDialog(res, 'INFO', seq0 + 2), sip);
    const info = await caller.next((m) => m.kind === 'response' && getCSeq(m)?.method === 'INFO', 3000);
    expect(info.msg.kind === 'response' && info.msg.status).toBe(200);
    expect(callee.inbox.slice(infoMark).filter((r) => isRequest('INFO')(r.msg)).map((r) => headerLines(r.msg, 'Proxy-Authorization').length)).toEqual([0, 1]);

    const byeMark = callee.inbox.length;
    caller.send(inDialog(res, 'BYE', seq0 + 3), sip);
    await caller.next((m) => m.kind === 'response' && getCSeq(m)?.method === 'BYE', 3000);
    const ok = await callee.next((m) => m.kind === 'request' && m.method === 'BYE' && headerLines(m, 'Proxy-Authorization').length === 1, 3000, byeMark);
    expect(getCSeq(ok.msg)?.seq).toBe(8);
    // The trunk script checks what arrived on its next tick: wait for it, bounded.
    for (let i = 0; i < 100 && auth.stats().successes < 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect(auth.stats()).toMatchObject({ successes: 4, failures: 0 });
    expect(tandem?.sip?.b2bua.trunkAuthStats()).toEqual({ answered: 4, refused: 0 });
  });
});

describe('an in-dialog challenge Tandem does not answer', () => {
  it('a target without credentials challenges INFO: the caller gets 403 with a Warning, not a bare 407 it cannot answer; the next INFO still gets 200', async () => {
    let challenged = 0;
    let seen = 0;
    const timer = setInterval(() => {
      while (seen < callee.inbox.length) {
        const r = callee.inbox[seen++];
        if (r.msg.kind !== 'request') continue;
        if (r.msg.method === 'INVITE') callee.reply(r, 200, { reason: 'OK', sdp: sdpOffer(41000, [{ pt: 0, name: 'PCMU' }]) });
        else if (r.msg.method === 'INFO' && challenged++ === 0) callee.reply(r, 407, { reason: 'Proxy Authentication Required', headers: [`Proxy-Authenticate: Digest realm="${REALM}", nonce="n1", algorithm=SHA-256, qop="auth"`] });
        else if (r.msg.method === 'INFO' || r.msg.method === 'BYE') callee.reply(r, 200, { reason: 'OK' });
      }
    }, 2);
    stop = () => clearInterval(timer);
    const routesFile = join(dir, 'routes.json');
    writeFileSync(routesFile, JSON.stringify({ routes: [{ targets: [{ uri: `sip:127.0.0.1:${callee.port}` }] }] }));
    ({ tandem, sip } = await startB2bua({ routesFile }));
    const { res } = await call();
    expect(res.msg.kind === 'response' && res.msg.status).toBe(200);
    const seq0 = getCSeq(res.msg)?.seq ?? 1;
    caller.send(inDialog(res, 'ACK', seq0).replace(/\nContact: [^\n]*/, ''), sip);

    caller.send(inDialog(res, 'INFO', seq0 + 1), sip);
    const first = await caller.next((m) => m.kind === 'response' && getCSeq(m)?.seq === seq0 + 1, 3000);
    expect(first.msg.kind === 'response' && first.msg.status).toBe(403);
    expect(getHeader(first.msg, 'Warning')).toMatch(/challenged \(407\) and the challenge was not answered/);
    expect(headerLines(first.msg, 'Proxy-Authenticate')).toHaveLength(0);
    // Positive control: the dialog is intact and the next INFO, not challenged, is relayed with its 200.
    caller.send(inDialog(res, 'INFO', seq0 + 2), sip);
    const second = await caller.next((m) => m.kind === 'response' && getCSeq(m)?.seq === seq0 + 2, 3000);
    expect(second.msg.kind === 'response' && second.msg.status).toBe(200);
  });
});

describe('a trunk that sends broken challenges', () => {
  /** The challenges a hostile or broken trunk answers our INVITE with; each must end the call cleanly. */
  const broken: { name: string; status: number; headers: string[]; why: RegExp }[] = [
    { name: 'no realm', status: 407, headers: ['Proxy-Authenticate: Digest nonce="n1", algorithm=MD5, qop="auth"'], why: /challenge has no realm/ },
    { name: 'no nonce', status: 401, headers: [`WWW-Authenticate: Digest realm="${REALM}", algorithm=MD5, qop="auth"`], why: /challenge has no nonce/ },
    { name: 'unknown algorithm', status: 407, headers: [`Proxy-Authenticate: Digest realm="${REALM}", nonce="n3", algorithm=SHA-512-256, qop="auth"`], why: /algorithm SHA-512-256 is not supported/ },
    { name: 'unterminated quotes', status: 407, headers: [`Proxy-Authenticate: Digest realm="${REALM}, nonce=n4`], why: /unbalanced quote in parameter realm/ },
    { name: 'quotes closed in the wrong place', status: 407, headers: [`Proxy-Authenticate: Digest realm="${REALM}, nonce="n4`], why: /expected ',' after parameter realm/ },
    { name: 'a 6000-byte header', status: 407, headers: [`Proxy-Authenticate: Digest realm="${'r'.repeat(6000)}", nonce="n5"`], why: /longer than 4096/ },
    { name: 'only auth-int', status: 401, headers: [`WWW-Authenticate: Digest realm="${REALM}", nonce="n6", qop="auth-int"`], why: /qop 'auth-int' has no 'auth'/ },
    { name: 'Basic, not Digest', status: 401, headers: [`WWW-Authenticate: Basic realm="${REALM}"`], why: /scheme Basic is not Digest/ },
    { name: 'a 407 without Proxy-Authenticate (the challenge in the wrong header)', status: 407, headers: [`WWW-Authenticate: Digest realm="${REALM}", nonce="n8"`], why: /no challenge in the response/ },
    { name: 'two challenges, both unusable', status: 407, headers: [`Proxy-Authenticate: Digest realm="${REALM}", nonce="n9", algorithm=MD5-sess`, `Proxy-Authenticate: Digest realm="${REALM}", algorithm=SHA-256`], why: /algorithm MD5-sess is not supported/ },
  ];

  it('each gets the caller 403 with a Warning saying why, after one INVITE (no loop); then a good challenge still connects', async () => {
    await start({ username: 'alice', password: 'secret' });
    const legB: string[] = [];
    for (const b of broken) {
      const mark = callee.inbox.length;
      const invite = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]) });
      caller.send(invite.text, sip);
      const inv = await callee.next(isRequest('INVITE'), 3000, mark);
      legB.push(getHeader(inv.msg, 'Call-ID') ?? '');
      callee.reply(inv, b.status, { reason: 'Auth Required', headers: b.headers });
      const res = await caller.next(isFinalFor(invite.callId), 3000);
      expect(res.msg.kind === 'response' && res.msg.status, b.name).toBe(403);
      expect(getHeader(res.msg, 'Warning'), b.name).toMatch(/^399 tandem "cannot answer the 40[17] challenge: /);
      expect(getHeader(res.msg, 'Warning'), b.name).toMatch(b.why);
      ackNon2xx(res, invite, caller, sip);
    }
    // Positive control: a well-formed challenge on the same Tandem is answered and the call connects.
    const mark = callee.inbox.length;
    const invite = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40002, [{ pt: 0, name: 'PCMU' }]) });
    caller.send(invite.text, sip);
    const first = await callee.next(isRequest('INVITE'), 3000, mark);
    callee.reply(first, 407, { reason: 'Proxy Authentication Required', headers: [`Proxy-Authenticate: Digest realm="${REALM}", nonce="good", algorithm=MD5, qop="auth"`] });
    const second = await callee.next((m) => isRequest('INVITE')(m) && headerLines(m, 'Proxy-Authorization').length === 1, 3000, mark);
    callee.reply(second, 200, { reason: 'OK', sdp: sdpOffer(41000, [{ pt: 0, name: 'PCMU' }]) });
    const ok = await caller.next(isFinalFor(invite.callId), 3000);
    expect(ok.msg.kind === 'response' && ok.msg.status).toBe(200);
    ackAndBye(ok, caller, sip);
    await callee.next(isRequest('BYE'), 3000, mark);
    // No broken challenge earned a second INVITE: every leg B before the good call has one CSeq.
    for (const id of legB) expect(new Set(invites().filter((m) => getHeader(m, 'Call-ID') === id).map((m) => getCSeq(m)?.seq)).size).toBe(1);
    expect(tandem?.sip?.b2bua.trunkAuthStats()).toEqual({ answered: 1, refused: broken.length });
  });

  it('MD5 offered before SHA-256: Tandem answers the SHA-256 one (RFC 8760 §2.4 lets the client pick the strongest)', async () => {
    const { auth } = trunk(['MD5', 'SHA-256']);
    await start({ username: 'alice', password: 'secret' });
    const { res } = await call();
    expect(res.msg.kind === 'response' && res.msg.status).toBe(200);
    const [first, second] = invites();
    expect(first).toBeDefined();
    expect(headerLines(second, 'Proxy-Authorization')[0]).toMatch(/algorithm=SHA-256/);
    expect(auth.stats()).toMatchObject({ successes: 1, failures: 0 });
    ackAndBye(res, caller, sip);
  });
});
