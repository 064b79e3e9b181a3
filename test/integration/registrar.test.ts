import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { RunningTandem } from '../../src/main.js';
import { getCallId, getHeader, headerLines, type SipMessage } from '../../src/sip/message.js';
import { parseSipMessage } from '../../src/sip/parse.js';
import { SipPeer, isRequest, isResponse, sdpOffer, type Received } from '../helpers/sip-peer.js';
import { ackAndBye, ackNon2xx, isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';

/**
 * Issue 12, the registrar through a real B2BUA on loopback: UAs REGISTER over UDP, TCP and
 * WebSocket from a trusted source, then calls to a route whose target is "registered" reach them
 * over the flow they registered on, forked in parallel when an AOR has several contacts.
 */
let tandem: RunningTandem;
let sip: { address: string; port: number };
let tcpPort = 0;
let wsPort = 0;
let dir: string;
const peers: SipPeer[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tandem-registrar-'));
  const routes = join(dir, 'routes.json');
  writeFileSync(routes, JSON.stringify({ routes: [{ name: 'users', targets: [{ uri: 'registered' }] }], trusted: ['127.0.0.1'] }));
  ({ tandem, sip } = await startB2bua({
    routesFile: routes,
    registrar: true,
    registrarMinExpires: 1,
    registrarExpiryJitter: 0,
    listenSip: [
      { protocol: 'udp', address: '127.0.0.1', port: 0 },
      { protocol: 'tcp', address: '127.0.0.1', port: 0 },
      { protocol: 'ws', address: '127.0.0.1', port: 0 },
    ],
  }));
  tcpPort = tandem.sip?.listeners.find((l) => l.protocol === 'tcp')?.port ?? 0;
  wsPort = tandem.sip?.listeners.find((l) => l.protocol === 'ws')?.port ?? 0;
});

afterAll(async () => {
  await tandem?.close();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});

async function udpPeer(): Promise<SipPeer> {
  const p = await SipPeer.udp();
  peers.push(p);
  return p;
}

let n = 0;
/** REGISTER text from a UA on `transport` at `port`. */
function registerText(o: { user: string; contact: string; port: number; transport?: 'UDP' | 'TCP' | 'WS'; expires?: number; callId?: string; cseq?: number }): { text: string; callId: string } {
  const callId = o.callId ?? `reg-${++n}-${Math.random().toString(36).slice(2)}`;
  const text = [
    `REGISTER sip:127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/${o.transport ?? 'UDP'} 127.0.0.1:${o.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: <sip:${o.user}@127.0.0.1>;tag=r${n}`,
    `To: <sip:${o.user}@127.0.0.1>`,
    `Call-ID: ${callId}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
    `Contact: <${o.contact}>`,
    `Expires: ${o.expires ?? 600}`,
    '',
    '',
  ].join('\n');
  return { text, callId };
}

async function registerUdp(ua: SipPeer, user: string, expires = 600): Promise<SipMessage> {
  const r = registerText({ user, contact: `sip:${user}@127.0.0.1:${ua.port}`, port: ua.port, expires });
  ua.send(r.text, sip);
  return (await ua.next(isFinalFor(r.callId, 'REGISTER'))).msg;
}

/** An INVITE with an offer from `caller` to `user`; returns what the final response needs. */
function call(caller: SipPeer, user: string): { text: string; callId: string; branch: string } {
  const inv = outOfDialog('INVITE', caller, sip, { user, sdp: sdpOffer(40010, [{ pt: 0, name: 'PCMU' }]) });
  caller.send(inv.text, sip);
  return inv;
}

const status = (m: SipMessage): number => (m.kind === 'response' ? m.status : 0);

describe('registrar: REGISTER, then calls to "registered"', () => {
  it('a UDP UA registers from a trusted source and a call reaches it at its contact; the 200 lists the binding', async () => {
    const ua = await udpPeer();
    const caller = await udpPeer();
    const ok = await registerUdp(ua, 'alice');
    expect(status(ok)).toBe(200);
    expect(headerLines(ok, 'Contact')).toEqual([`<sip:alice@127.0.0.1:${ua.port}>;expires=600;q=1.0`]);
    const inv = call(caller, 'alice');
    const bInvite = await ua.next(isRequest('INVITE'));
    expect(bInvite.msg.kind === 'request' && bInvite.msg.uri).toBe(`sip:alice@127.0.0.1:${ua.port}`);
    ua.reply(bInvite, 200, { reason: 'OK', sdp: sdpOffer(40012, [{ pt: 0, name: 'PCMU' }]) });
    const final = await caller.next(isFinalFor(inv.callId));
    expect(status(final.msg)).toBe(200);
    ackAndBye(final, caller, sip);
    await caller.next(isResponse(200, 'BYE'));
  });

  it('a Path from a trusted proxy is the route toward the contact: the INVITE goes to the proxy with Route headers', async () => {
    const proxy = await udpPeer();
    const caller = await udpPeer();
    const r = registerText({ user: 'paula', contact: 'sip:paula@10.9.9.9:5060', port: proxy.port });
    proxy.send(r.text.replace('Expires: 600', `Expires: 600\nPath: <sip:127.0.0.1:${proxy.port};lr>`), sip);
    const ok = await proxy.next(isFinalFor(r.callId, 'REGISTER'));
    expect(headerLines(ok.msg, 'Path')).toEqual([`<sip:127.0.0.1:${proxy.port};lr>`]);
    const inv = call(caller, 'paula');
    const bInvite = await proxy.next(isRequest('INVITE'));
    expect(bInvite.msg.kind === 'request' && bInvite.msg.uri).toBe('sip:paula@10.9.9.9:5060');
    expect(headerLines(bInvite.msg, 'Route')).toEqual([`<sip:127.0.0.1:${proxy.port};lr>`]);
    proxy.reply(bInvite, 404, { reason: 'Not Found' });
    const final = await caller.next(isFinalFor(inv.callId));
    expect(status(final.msg)).toBe(404);
    ackNon2xx(final, inv, caller, sip);
  });

  it('an AOR with no registered contact gets 480', async () => {
    const caller = await udpPeer();
    const inv = call(caller, 'nobody');
    const final = await caller.next(isFinalFor(inv.callId));
    expect(status(final.msg)).toBe(480);
    ackNon2xx(final, inv, caller, sip);
  });

  it('two contacts are forked in parallel: the first 200 wins and the other branch gets CANCEL', async () => {
    const ua1 = await udpPeer();
    const ua2 = await udpPeer();
    const caller = await udpPeer();
    expect(status(await registerUdp(ua1, 'bob'))).toBe(200);
    expect(status(await registerUdp(ua2, 'bob'))).toBe(200);
    const inv = call(caller, 'bob');
    // Both ring before either answers: the INVITEs went out together, not one after the other's failure.
    const [i1, i2] = await Promise.all([ua1.next(isRequest('INVITE')), ua2.next(isRequest('INVITE'))]);
    ua1.reply(i1, 180, { reason: 'Ringing' });
    ua2.reply(i2, 180, { reason: 'Ringing' });
    await caller.next(isResponse(180));
    ua2.reply(i2, 200, { reason: 'OK', sdp: sdpOffer(40014, [{ pt: 0, name: 'PCMU' }]) });
    const cancel = await ua1.next(isRequest('CANCEL'));
    ua1.reply(cancel, 200, { reason: 'OK' });
    ua1.reply(i1, 487, { reason: 'Request Terminated' });
    const final = await caller.next(isFinalFor(inv.callId));
    expect(status(final.msg)).toBe(200);
    expect(ua2.count(isRequest('CANCEL'))).toBe(0);
    ackAndBye(final, caller, sip);
    await caller.next(isResponse(200, 'BYE'));
    await ua2.next(isRequest('BYE'));
  });

  it('when every branch fails, the best final response goes back (6xx beats a lower class)', async () => {
    const ua1 = await udpPeer();
    const ua2 = await udpPeer();
    const caller = await udpPeer();
    await registerUdp(ua1, 'carol');
    await registerUdp(ua2, 'carol');
    const inv = call(caller, 'carol');
    const [i1, i2] = await Promise.all([ua1.next(isRequest('INVITE')), ua2.next(isRequest('INVITE'))]);
    ua1.reply(i1, 486, { reason: 'Busy Here' });
    ua2.reply(i2, 603, { reason: 'Decline' });
    const final = await caller.next(isFinalFor(inv.callId));
    expect(status(final.msg)).toBe(603);
    ackNon2xx(final, inv, caller, sip);
  });

  it('the caller cancels while both branches ring: each gets CANCEL, the caller 487', async () => {
    const ua1 = await udpPeer();
    const ua2 = await udpPeer();
    const caller = await udpPeer();
    await registerUdp(ua1, 'gina');
    await registerUdp(ua2, 'gina');
    const inv = call(caller, 'gina');
    const [i1, i2] = await Promise.all([ua1.next(isRequest('INVITE')), ua2.next(isRequest('INVITE'))]);
    ua1.reply(i1, 180, { reason: 'Ringing' });
    ua2.reply(i2, 180, { reason: 'Ringing' });
    await caller.next(isResponse(180));
    const lines = inv.text.split('\n');
    const cancel = [`CANCEL ${lines[0].split(' ')[1]} SIP/2.0`, ...lines.slice(1).filter((l) => /^(Via|Max-Forwards|From|To|Call-ID):/.test(l)), `CSeq: ${/^CSeq: (\d+)/m.exec(inv.text)?.[1] ?? '1'} CANCEL`, '', ''].join('\n');
    caller.send(cancel, sip);
    const [c1, c2] = await Promise.all([ua1.next(isRequest('CANCEL')), ua2.next(isRequest('CANCEL'))]);
    for (const [ua, c, i] of [[ua1, c1, i1], [ua2, c2, i2]] as const) {
      ua.reply(c, 200, { reason: 'OK' });
      ua.reply(i, 487, { reason: 'Request Terminated' });
    }
    const final = await caller.next(isFinalFor(inv.callId));
    expect(status(final.msg)).toBe(487);
    ackNon2xx(final, inv, caller, sip);
  });

  it('a REGISTER from an untrusted source is refused 403 (no authentication configured)', async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.2', () => r()));
    const got = new Promise<SipMessage>((resolve) => s.once('message', (buf) => {
      const r = parseSipMessage(buf);
      if (r.ok) resolve(r.message);
    }));
    const r = registerText({ user: 'mallory', contact: `sip:mallory@127.0.0.2:${s.address().port}`, port: s.address().port });
    s.send(Buffer.from(r.text.replace(/127\.0\.0\.1:(\d+);branch/, '127.0.0.2:$1;branch').replace(/\n/g, '\r\n')), sip.port, sip.address);
    const res = await got;
    s.close();
    expect(status(res)).toBe(403);
    // Positive control for "nothing registered": the same AOR called gets 480.
    const caller = await udpPeer();
    const inv = call(caller, 'mallory');
    expect(status((await caller.next(isFinalFor(inv.callId))).msg)).toBe(480);
  });

  it('a binding expires: after its short interval a call gets 480', async () => {
    const ua = await udpPeer();
    const caller = await udpPeer();
    expect(status(await registerUdp(ua, 'dave', 1))).toBe(200);
    const registrar = tandem.sip?.registrar;
    expect(await registrar?.lookup('dave', '127.0.0.1')).toHaveLength(1);
    await expect.poll(async () => (await registrar?.lookup('dave', '127.0.0.1'))?.length, { timeout: 3000, interval: 100 }).toBe(0);
    const inv = call(caller, 'dave');
    expect(status((await caller.next(isFinalFor(inv.callId))).msg)).toBe(480);
    expect(ua.count(isRequest('INVITE'))).toBe(0);
  });

  it('a TCP-registered UA is reached over its own connection; when the connection closes the binding goes', async () => {
    const ua = await SipPeer.tcp({ address: '127.0.0.1', port: tcpPort });
    peers.push(ua);
    const caller = await udpPeer();
    // Port 9 in the Contact: nothing listens there, so only the registered connection can deliver.
    const r = registerText({ user: 'erin', contact: 'sip:erin@127.0.0.1:9;transport=tcp', port: ua.port, transport: 'TCP' });
    ua.send(r.text, sip);
    expect(status((await ua.next(isFinalFor(r.callId, 'REGISTER'))).msg)).toBe(200);
    const inv = call(caller, 'erin');
    const bInvite = await ua.next(isRequest('INVITE'));
    expect(headerLines(bInvite.msg, 'Via')[0]).toMatch(/^SIP\/2\.0\/TCP /);
    ua.reply(bInvite, 486, { reason: 'Busy Here' });
    const final = await caller.next(isFinalFor(inv.callId));
    expect(status(final.msg)).toBe(486);
    ackNon2xx(final, inv, caller, sip);
    await ua.next(isRequest('ACK'));
    ua.close();
    await expect.poll(async () => (await tandem.sip?.registrar?.lookup('erin', '127.0.0.1'))?.length, { timeout: 3000, interval: 20 }).toBe(0);
    expect(tandem.sip?.registrar?.counters.flowClosed).toBeGreaterThanOrEqual(1);
  });

  it('a WebSocket-registered UA (a browser) receives the INVITE over its WebSocket', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}`, 'sip');
    await new Promise<void>((res, rej) => ws.once('open', () => res()).once('error', rej));
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    const r = registerText({ user: 'frank', contact: 'sip:k3x9@df7jal23ls0d.invalid;transport=ws', port: 9, transport: 'WS' });
    ws.send(r.text.replace('127.0.0.1:9', 'df7jal23ls0d.invalid').replace(/\n/g, '\r\n'));
    await expect.poll(() => got.some((m) => /^SIP\/2\.0 200 /.test(m)), { timeout: 3000 }).toBe(true);
    const caller = await udpPeer();
    const inv = call(caller, 'frank');
    await expect.poll(() => got.some((m) => /^INVITE sip:k3x9@df7jal23ls0d\.invalid;transport=ws SIP\/2\.0/.test(m)), { timeout: 3000 }).toBe(true);
    const text = got.find((m) => m.startsWith('INVITE ')) ?? '';
    const parsed = parseSipMessage(Buffer.from(text));
    if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('INVITE over WS did not parse');
    expect(headerLines(parsed.message, 'Via')[0]).toMatch(/^SIP\/2\.0\/WS /);
    // Refuse it over the WebSocket; the caller hears it.
    const m = parsed.message;
    const reply = [
      'SIP/2.0 603 Decline',
      ...headerLines(m, 'Via').map((v) => `Via: ${v}`),
      `From: ${getHeader(m, 'From') ?? ''}`,
      `To: ${getHeader(m, 'To') ?? ''};tag=wsx`,
      `Call-ID: ${getCallId(m) ?? ''}`,
      `CSeq: ${getHeader(m, 'CSeq') ?? ''}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    ws.send(reply);
    const final: Received = await caller.next(isFinalFor(inv.callId));
    expect(status(final.msg)).toBe(603);
    ackNon2xx(final, inv, caller, sip);
    ws.close();
    await expect.poll(async () => (await tandem.sip?.registrar?.lookup('frank', '127.0.0.1'))?.length, { timeout: 3000, interval: 20 }).toBe(0);
  });

  it('a failing location store ends in a 500 to REGISTER and INVITE, and Tandem goes on serving', async () => {
    const store = tandem.sip?.registrar?.store;
    if (store === undefined) throw new Error('no registrar');
    const get = store.get.bind(store);
    store.get = () => Promise.reject(new Error('store down'));
    try {
      const ua = await udpPeer();
      expect(status(await registerUdp(ua, 'hank'))).toBe(500);
      const caller = await udpPeer();
      const inv = call(caller, 'hank');
      const final = await caller.next(isFinalFor(inv.callId));
      expect(status(final.msg)).toBe(500);
      ackNon2xx(final, inv, caller, sip);
    } finally {
      store.get = get;
    }
    const ua = await udpPeer();
    expect(status(await registerUdp(ua, 'hank'))).toBe(200);
  });

  it('Allow outside a dialog lists REGISTER when the registrar is on', async () => {
    const caller = await udpPeer();
    const o = outOfDialog('OPTIONS', caller, sip);
    caller.send(o.text, sip);
    const res = await caller.next(isFinalFor(o.callId, 'OPTIONS'));
    expect(getHeader(res.msg, 'Allow')).toBe('INVITE, ACK, CANCEL, OPTIONS, REGISTER');
  });
});
