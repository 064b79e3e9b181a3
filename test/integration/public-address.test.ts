import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import type { RunningTandem } from '../../src/main.js';
import { startTestTandem, type TestTandem } from '../helpers/tandem.js';
import { startB2bua, outOfDialog, ackAndBye, isFinalFor } from '../helpers/b2bua-env.js';
import { SipPeer, isRequest, isResponse, sdpOffer } from '../helpers/sip-peer.js';
import { getHeader, headerLines } from '../../src/sip/message.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { pino } from 'pino';
import { RtpPeer, rtpPacket, patternPayload, sdpFor } from '../helpers/rtp-peer.js';

/**
 * Tandem behind a 1:1 NAT: `--interface=127.0.0.1!192.0.2.10` binds media on 127.0.0.1 while every
 * SDP it writes names 192.0.2.10 (TEST-NET-1). By construction nothing here is ever sent toward
 * 192.0.2.10: the peers address 127.0.0.1 with the ports the SDP named (see `target`), so media
 * that arrives proves the sockets are on the bind address and the SDP's ports are theirs; and the
 * media plane's own view (ng `query`) shows it sends only to the peers on loopback.
 */
const PUBLIC = '192.0.2.10';
const iface = { interface: '127.0.0.1', interfaces: [{ name: 'default', address: '127.0.0.1', advertise: PUBLIC }] };

/** The port the SDP names (o= too: the B2BUA replaces it, over ng `replace: [origin]` asks for it), checked to be on the advertised address; always sent to on loopback. */
function target(sdp: string): { address: string; port: number } {
  expect(sdp).toMatch(new RegExp(`^c=IN IP4 ${PUBLIC.replace(/\./g, '\\.')}\\r?$`, 'm'));
  expect(sdp).toMatch(new RegExp(`^o=.* IN IP4 ${PUBLIC.replace(/\./g, '\\.')}\\r?$`, 'm'));
  expect(sdp).not.toContain('127.0.0.1');
  const m = /^m=audio (\d+) /m.exec(sdp);
  if (m === null) throw new Error(`no m=audio in:\n${sdp}`);
  return { address: '127.0.0.1', port: Number(m[1]) };
}

/** Sends `n` PCMU frames from `from` to `to` and waits until `at` has `n` more packets. */
async function flows(from: RtpPeer, to: { address: string; port: number }, at: RtpPeer, n = 5): Promise<void> {
  const before = at.received.length;
  for (let i = 0; i < n; i++) {
    await from.send(rtpPacket({ pt: 0, seq: 100 + i, ts: 160 * i, ssrc: 0x5150, payload: patternPayload(160, i) }), to.port, to.address);
  }
  await at.waitFor(before + n);
}

describe('advertised media address over ng', () => {
  let env: TestTandem;
  beforeAll(async () => {
    env = await startTestTandem(iface);
  });
  afterAll(() => env.close());

  it('names 192.0.2.10 in c= and o= toward both sides while media flows on 127.0.0.1', async () => {
    const caller = await RtpPeer.open();
    const callee = await RtpPeer.open();
    try {
      const ids = { 'call-id': `pub-${process.pid}@test`, 'from-tag': 'ft1' };
      const offer = await env.ng.request({ command: 'offer', ...ids, replace: ['origin'], sdp: sdpFor({ port: caller.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
      expect(offer.result, String(offer['error-reason'])).toBe('ok');
      const answer = await env.ng.request({ command: 'answer', ...ids, 'to-tag': 'tt1', replace: ['origin'], sdp: sdpFor({ port: callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
      expect(answer.result, String(answer['error-reason'])).toBe('ok');
      const toCallee = target(String(answer.sdp));
      const toCaller = target(String(offer.sdp));
      await flows(caller, toCallee, callee);
      await flows(callee, toCaller, caller);
      // Where the media plane sends: every stream's endpoint (the peer it sends to) is a test peer on
      // loopback (and no errors counted); the advertised address is in the SDP only, never a destination.
      const q = JSON.stringify(await env.ng.request({ command: 'query', ...ids }), (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString() : v));
      const endpoints = [...q.matchAll(/"endpoint":\{"address":"([^"]+)","family":"IPv4","port":(\d+)\}/g)].map((m) => `${m[1]}:${m[2]}`);
      expect(endpoints).toEqual(expect.arrayContaining([`127.0.0.1:${caller.port}`, `127.0.0.1:${callee.port}`]));
      expect(endpoints.every((e) => e.startsWith('127.0.0.1:'))).toBe(true);
      expect(q).not.toContain(PUBLIC);
      expect(q).toMatch(/"totals":\{"RTCP":\{[^}]*\},"RTP":\{"bytes":\d+,"errors":0,"packets":10\}/);
      await env.ng.request({ command: 'delete', ...ids });
    } finally {
      caller.close();
      callee.close();
    }
  });
});

describe('two named interfaces, ng direction [priv, pub]', () => {
  // priv = 127.0.0.1 (not advertised), pub = bound on 127.0.0.2, advertised as 192.0.2.20 (never sent to).
  let env: TestTandem;
  beforeAll(async () => {
    env = await startTestTandem({
      interface: '127.0.0.1',
      interfaces: [{ name: 'priv', address: '127.0.0.1' }, { name: 'pub', address: '127.0.0.2', advertise: '192.0.2.20' }],
    });
  });
  afterAll(() => env.close());

  it('gives the answerer 192.0.2.20 with sockets on 127.0.0.2, the offerer 127.0.0.1, and media flows across', async () => {
    const caller = await RtpPeer.open();
    const callee = await RtpPeer.open();
    const calleeFrom: string[] = [];
    callee.socket.on('message', (_m, rinfo) => calleeFrom.push(rinfo.address));
    try {
      const ids = { 'call-id': `dir-${process.pid}@test`, 'from-tag': 'ft1' };
      const offer = await env.ng.request({ command: 'offer', ...ids, direction: ['priv', 'pub'], replace: ['origin'], sdp: sdpFor({ port: caller.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
      expect(offer.result, String(offer['error-reason'])).toBe('ok');
      const toAnswerer = String(offer.sdp);
      expect(toAnswerer).toMatch(/^c=IN IP4 192\.0\.2\.20\r?$/m);
      expect(toAnswerer).toMatch(/^o=.* IN IP4 192\.0\.2\.20\r?$/m);
      // No direction on the answer: the call remembers the offer's choice (rtpengine's behaviour).
      const answer = await env.ng.request({ command: 'answer', ...ids, 'to-tag': 'tt1', replace: ['origin'], sdp: sdpFor({ port: callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
      expect(answer.result, String(answer['error-reason'])).toBe('ok');
      const toOfferer = String(answer.sdp);
      expect(toOfferer).toMatch(/^c=IN IP4 127\.0\.0\.1\r?$/m);
      expect(toOfferer).not.toContain('192.0.2.20');
      const portFor = (sdp: string): number => Number(/^m=audio (\d+) /m.exec(sdp)?.[1]);
      // The callee reaches the pub socket on its bind address 127.0.0.2, the caller the priv one on 127.0.0.1.
      await flows(callee, { address: '127.0.0.2', port: portFor(toAnswerer) }, caller);
      await flows(caller, { address: '127.0.0.1', port: portFor(toOfferer) }, callee);
      // What the callee got left from the pub interface.
      expect(new Set(calleeFrom)).toEqual(new Set(['127.0.0.2']));
      await env.ng.request({ command: 'delete', ...ids });
    } finally {
      caller.close();
      callee.close();
    }
  });

  it('refuses a direction naming an interface that is not configured, leaving no call behind', async () => {
    const ids = { 'call-id': `dir-bad-${process.pid}@test`, 'from-tag': 'ft1' };
    const offer = await env.ng.request({ command: 'offer', ...ids, direction: ['priv', 'nowhere'], sdp: sdpFor({ port: 40000, pts: [0] }) });
    expect(offer.result).toBe('error');
    expect(String(offer['error-reason'])).toContain('"nowhere"');
    expect(await env.t.media.list()).not.toContain(ids['call-id']);
  });
});

describe('advertised media address through the B2BUA', () => {
  let tandem: RunningTandem;
  let sip: { address: string; port: number };
  let callee: SipPeer;
  beforeAll(async () => {
    callee = await SipPeer.udp();
    ({ tandem, sip } = await startB2bua({ ...iface, route: `sip:127.0.0.1:${callee.port}` }));
  });
  afterAll(async () => {
    callee.close();
    await tandem.close();
  });

  it('leg B and leg A both get 192.0.2.10, and the call carries media over loopback', async () => {
    const caller = await SipPeer.udp();
    const rtpA = await RtpPeer.open();
    const rtpB = await RtpPeer.open();
    try {
      const invite = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(rtpA.port, [{ pt: 0, name: 'PCMU' }]) });
      caller.send(invite.text, sip);
      const legB = await callee.next(isRequest('INVITE'));
      const toB = target(legB.msg.body.toString());
      callee.reply(legB, 200, { reason: 'OK', sdp: sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }]) });
      const ok = await caller.next(isFinalFor(invite.callId));
      expect(ok.msg.kind === 'response' ? ok.msg.status : 0).toBe(200);
      const toA = target(ok.msg.body.toString());
      // Each peer sends to the port its own leg's SDP named.
      await flows(rtpA, toA, rtpB);
      await flows(rtpB, toB, rtpA);
      ackAndBye(ok, caller, sip);
    } finally {
      caller.close();
      rtpA.close();
      rtpB.close();
    }
  });
});

describe('advertised SIP listener (advertise=sip.example.test:5080)', () => {
  let tandem: RunningTandem;
  let sip: { address: string; port: number };
  let callee: SipPeer;
  beforeAll(async () => {
    callee = await SipPeer.udp();
    ({ tandem, sip } = await startB2bua({
      listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0, advertise: { host: 'sip.example.test', port: 5080 } }],
      route: `sip:127.0.0.1:${callee.port}`,
    }));
  });
  afterAll(async () => {
    callee.close();
    await tandem.close();
  });

  it('leg B\'s INVITE names the advertised host in Via and Contact, and the call completes over loopback', async () => {
    // The peers answer to the packet's source (127.0.0.1), never to sip.example.test, which does not resolve.
    const caller = await SipPeer.udp();
    try {
      const invite = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]) });
      caller.send(invite.text, sip);
      const legB = await callee.next(isRequest('INVITE'));
      const vias = headerLines(legB.msg, 'Via');
      expect(vias).toHaveLength(1);
      expect(vias[0]).toMatch(/^SIP\/2\.0\/UDP sip\.example\.test:5080;/);
      expect(getHeader(legB.msg, 'Contact')).toBe('<sip:tandem@sip.example.test:5080>');
      expect(legB.msg.body.toString()).not.toContain('sip.example.test');
      callee.reply(legB, 200, { reason: 'OK', sdp: sdpOffer(40002, [{ pt: 0, name: 'PCMU' }]) });
      const ok = await caller.next(isFinalFor(invite.callId));
      expect(ok.msg.kind === 'response' ? ok.msg.status : 0).toBe(200);
      expect(getHeader(ok.msg, 'Contact')).toBe('<sip:tandem@sip.example.test:5080>');
      ackAndBye(ok, caller, sip);
      await callee.next(isRequest('ACK'));
      const bye = await callee.next(isRequest('BYE'));
      expect(headerLines(bye.msg, 'Via')[0]).toContain('sip.example.test:5080');
      callee.reply(bye, 200, { reason: 'OK' });
      await caller.next(isResponse(200, 'BYE'));
      await expect.poll(() => tandem.media.list(), { timeout: 2000 }).toEqual([]);
    } finally {
      caller.close();
    }
  });
});

describe('routes-file leg interfaces: a on priv, b on pub', () => {
  const twoInterfaces = {
    interface: '127.0.0.1',
    interfaces: [{ name: 'priv', address: '127.0.0.1' }, { name: 'pub', address: '127.0.0.2', advertise: '192.0.2.20' }],
  };
  function routesFile(callee: number, b: Record<string, unknown>): string {
    const file = join(mkdtempSync(join(tmpdir(), 'tandem-pub-')), 'routes.json');
    writeFileSync(file, JSON.stringify({ routes: [{ name: 'trunk', targets: [{ uri: `sip:127.0.0.1:${callee}` }], policy: { a: { interface: 'priv' }, b } }] }));
    return file;
  }

  it('leg B gets 192.0.2.20 and reaches 127.0.0.2, leg A gets 127.0.0.1, and media flows across', async () => {
    const callee = await SipPeer.udp();
    const { tandem, sip } = await startB2bua({ ...twoInterfaces, routesFile: routesFile(callee.port, { interface: 'pub' }) });
    const caller = await SipPeer.udp();
    const rtpA = await RtpPeer.open();
    const rtpB = await RtpPeer.open();
    try {
      const invite = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(rtpA.port, [{ pt: 0, name: 'PCMU' }]) });
      caller.send(invite.text, sip);
      const legB = await callee.next(isRequest('INVITE'));
      const bSdp = legB.msg.body.toString();
      expect(bSdp).toMatch(/^c=IN IP4 192\.0\.2\.20\r?$/m);
      callee.reply(legB, 200, { reason: 'OK', sdp: sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }]) });
      const ok = await caller.next(isFinalFor(invite.callId));
      const aSdp = ok.msg.body.toString();
      expect(aSdp).toMatch(/^c=IN IP4 127\.0\.0\.1\r?$/m);
      const portIn = (sdp: string): number => Number(/^m=audio (\d+) /m.exec(sdp)?.[1]);
      await flows(rtpA, { address: '127.0.0.1', port: portIn(aSdp) }, rtpB);
      await flows(rtpB, { address: '127.0.0.2', port: portIn(bSdp) }, rtpA);
      ackAndBye(ok, caller, sip);
    } finally {
      caller.close();
      callee.close();
      rtpA.close();
      rtpB.close();
      await tandem.close();
    }
  });

  it('refuses at start a leg interface that is not configured, naming the file, route and key', async () => {
    const file = routesFile(5080, { interface: 'dmz' });
    const config = { ...defaultConfig(), ...twoInterfaces, listenNg: { address: '127.0.0.1', port: 0 }, listenSip: [{ protocol: 'udp' as const, address: '127.0.0.1', port: 0 }], routesFile: file, logLevel: 'silent' };
    await expect(startTandem(config, pino({ level: 'silent' }))).rejects.toThrow(/routes\.json: route trunk: policy\.b\.interface "dmz" is not a configured --interface name \(priv, pub\)/);
  });
});
