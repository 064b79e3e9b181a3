import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { RunningTandem } from '../../src/main.js';
import { createResponse } from '../../src/sip/build.js';
import { serializeSipMessage } from '../../src/sip/serialize.js';
import { parseSipMessage } from '../../src/sip/parse.js';
import { getCallId, getHeader, type SipRequest } from '../../src/sip/message.js';
import { SipPeer, isResponse, sdpOffer } from '../helpers/sip-peer.js';
import { ackAndBye, ackNon2xx, isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';

/**
 * RFC 3261 §18.4 over SIP-over-WebSocket (RFC 7118): a browser whose WebSocket closes while
 * Tandem's INVITE towards it waits for a final response is a transport error at once, as a TCP
 * trunk's closed connection is (b2bua-trunk-close.test.ts): the caller hears 503 without waiting
 * for Timer B. T1 is RFC 3261's 500 ms here, so Timer B is 32 s and every wait below is 3 s: a
 * 503 that came from Timer B would fail the test, not slow it. The browser registers over its
 * WebSocket (registrar, route target "registered"), so the INVITE can only reach it there.
 */
const WAIT_MS = 3000;
let tandem: RunningTandem;
let sip: { address: string; port: number };
let wsPort = 0;
let dir: string;
const peers: SipPeer[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tandem-ws-close-'));
  const routes = join(dir, 'routes.json');
  writeFileSync(routes, JSON.stringify({ routes: [{ name: 'users', targets: [{ uri: 'registered' }] }], trusted: ['127.0.0.1'] }));
  ({ tandem, sip } = await startB2bua({
    routesFile: routes,
    registrar: true,
    sipT1: 500,
    sipT2: 4000,
    sipT4: 5000,
    listenHttp: { address: '127.0.0.1', port: 0 },
    listenSip: [
      { protocol: 'udp', address: '127.0.0.1', port: 0 },
      { protocol: 'ws', address: '127.0.0.1', port: 0 },
    ],
  }));
  wsPort = tandem.sip?.listeners.find((l) => l.protocol === 'ws')?.port ?? 0;
});

afterAll(async () => {
  await tandem?.close();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  for (const s of sockets.splice(0)) s.terminate();
});

/** A browser registered as `user` over its own WebSocket; `requests` are the SIP requests it receives, in order. */
async function browser(user: string, events: string[]): Promise<{ ws: WebSocket; requests: SipRequest[]; reply(req: SipRequest, status: number, reason: string, body?: string): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${wsPort}`, 'sip');
  sockets.push(ws);
  await new Promise<void>((res, rej) => ws.once('open', () => res()).once('error', rej));
  const requests: SipRequest[] = [];
  let registered = false;
  ws.on('message', (d: Buffer) => {
    const r = parseSipMessage(d);
    if (!r.ok) return;
    if (r.message.kind === 'response') {
      if (r.message.status === 200) registered = true;
      return;
    }
    requests.push(r.message);
    events.push(`browser ${r.message.method}`);
  });
  const callId = `reg-${user}-${Math.random().toString(36).slice(2)}`;
  ws.send([
    'REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/WS ${user}.invalid;branch=z9hG4bK${Math.random().toString(36).slice(2)}`,
    'Max-Forwards: 70',
    `From: <sip:${user}@127.0.0.1>;tag=r${user}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 REGISTER',
    `Contact: <sip:${user}@${user}.invalid;transport=ws>`,
    'Expires: 600',
    '',
    '',
  ].join('\r\n'));
  await expect.poll(() => registered, { timeout: WAIT_MS }).toBe(true);
  const reply = (req: SipRequest, status: number, reason: string, body?: string): void => {
    const headers = [
      ...(status >= 200 && status < 300 && req.method === 'INVITE' ? [{ name: 'Contact', value: `<sip:${user}@${user}.invalid;transport=ws>` }] : []),
      ...(body !== undefined ? [{ name: 'Content-Type', value: 'application/sdp' }] : []),
    ];
    ws.send(serializeSipMessage(createResponse(req, status, reason, { toTag: `b-${user}`, headers, ...(body !== undefined ? { body: Buffer.from(body) } : {}) })));
  };
  return { ws, requests, reply };
}

async function placeCall(user: string): Promise<{ caller: SipPeer; inv: { text: string; callId: string; branch: string } }> {
  const caller = await SipPeer.udp();
  peers.push(caller);
  const inv = outOfDialog('INVITE', caller, sip, { user, sdp: sdpOffer(40010, [{ pt: 0, name: 'PCMU' }]) });
  caller.send(inv.text, sip);
  return { caller, inv };
}

const lost = (): number => tandem.sip?.transport.stats().transactionsLost ?? -1;

describe('a browser whose WebSocket closes while Tandem\'s INVITE (or BYE) waits for its final response', () => {
  it('after reading the INVITE: the caller gets 503 saying the connection closed, at once; counted as connection_lost', async () => {
    const events: string[] = [];
    const b = await browser('gina', events);
    const before = lost();
    const { caller, inv } = await placeCall('gina');
    await expect.poll(() => b.requests.length, { timeout: WAIT_MS }).toBe(1);
    expect(b.requests[0].method).toBe('INVITE');
    events.push('browser closes');
    b.ws.close();
    const final = await caller.next(isFinalFor(inv.callId), WAIT_MS);
    events.push(`caller ${final.msg.kind === 'response' ? final.msg.status : 0}`);
    expect(events).toEqual(['browser INVITE', 'browser closes', 'caller 503']);
    expect(getHeader(final.msg, 'Warning')).toBe('399 tandem "next hop closed the connection before a final response"');
    ackNon2xx(final, inv, caller, sip);
    expect(lost()).toBe(before + 1);
    expect(await tandem.ops.metrics?.text()).toMatch(new RegExp(`tandem_sip_transport_faults_total\\{reason="connection_lost"\\} ${before + 1}`));
    await expect.poll(() => tandem.sip?.b2bua.calls().filter((c) => c.mediaCallId === inv.callId).length, { timeout: WAIT_MS }).toBe(0);
  });

  it('after ringing (180, Proceeding): the caller saw the 180, then gets 503 at once', async () => {
    const events: string[] = [];
    const b = await browser('hank', events);
    const before = lost();
    const { caller, inv } = await placeCall('hank');
    await expect.poll(() => b.requests.length, { timeout: WAIT_MS }).toBe(1);
    b.reply(b.requests[0], 180, 'Ringing');
    await caller.next(isResponse(180, 'INVITE'), WAIT_MS);
    events.push('browser closes');
    b.ws.terminate();
    const final = await caller.next(isFinalFor(inv.callId), WAIT_MS);
    expect(final.msg.kind === 'response' && final.msg.status).toBe(503);
    expect(events).toEqual(['browser INVITE', 'browser closes']);
    ackNon2xx(final, inv, caller, sip);
    expect(lost()).toBe(before + 1);
  });

  it('a BYE towards the browser whose WebSocket then closes unanswered: that BYE ends at once as connection_lost, not at Timer F', async () => {
    const events: string[] = [];
    const b = await browser('jude', events);
    const before = lost();
    const { caller, inv } = await placeCall('jude');
    await expect.poll(() => b.requests.length, { timeout: WAIT_MS }).toBe(1);
    b.reply(b.requests[0], 200, 'OK', sdpOffer(40030, [{ pt: 0, name: 'PCMU' }]));
    const ok = await caller.next(isFinalFor(inv.callId), WAIT_MS);
    ackAndBye(ok, caller, sip);
    await expect.poll(() => b.requests.map((r) => r.method), { timeout: WAIT_MS }).toEqual(['INVITE', 'ACK', 'BYE']);
    events.push('browser closes');
    b.ws.close();
    await caller.next(isResponse(200, 'BYE'), WAIT_MS);
    await expect.poll(() => lost(), { timeout: WAIT_MS }).toBe(before + 1);
    expect(events).toEqual(['browser INVITE', 'browser ACK', 'browser BYE', 'browser closes']);
  });

  it('positive control: a WebSocket that stays open gets its call, answers it, and hears the BYE; nothing is lost', async () => {
    const events: string[] = [];
    const b = await browser('iris', events);
    const before = lost();
    const { caller, inv } = await placeCall('iris');
    await expect.poll(() => b.requests.length, { timeout: WAIT_MS }).toBe(1);
    b.reply(b.requests[0], 200, 'OK', sdpOffer(40020, [{ pt: 0, name: 'PCMU' }]));
    const ok = await caller.next(isFinalFor(inv.callId), WAIT_MS);
    expect(ok.msg.kind === 'response' && ok.msg.status).toBe(200);
    ackAndBye(ok, caller, sip);
    await expect.poll(() => b.requests.map((r) => r.method), { timeout: WAIT_MS }).toEqual(['INVITE', 'ACK', 'BYE']);
    b.reply(b.requests[2], 200, 'OK');
    await caller.next(isResponse(200, 'BYE'), WAIT_MS);
    expect(getCallId(b.requests[2])).toBe(getCallId(b.requests[0]));
    expect(caller.count(isResponse(503))).toBe(0);
    expect(lost()).toBe(before);
  });
});
