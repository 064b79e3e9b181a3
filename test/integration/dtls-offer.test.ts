import { describe, it, expect } from 'vitest';
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, patternPayload, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { WebRtcPeer } from '../helpers/webrtc-peer.js';
import { SrtpContext } from '../../src/media/rtp/srtp.js';
import { createDtlsCertificate } from '../../src/media/rtp/dtls.js';

/**
 * Tandem as the DTLS-SRTP offerer: a plain RTP phone's offer becomes, with the WebRTC flag (or
 * transport-protocol UDP/TLS/RTP/SAVPF), an offer a browser accepts. The browser is werift's
 * RTCPeerConnection (full ICE agent + DTLS + SRTP), talking to Tandem's ICE-lite port on loopback.
 */
const tandem = tandemPerFile();
let n = 0;

// The phone signals its SSRC: werift routes received RTP by signalled SSRC only (a browser also
// takes an unsignalled one on a single m= line); Tandem passes the line and the SSRC through.
const PHONE_SSRC = 0x1234;
const pcma = (port: number): string => sdpFor({ port, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: [`a=ssrc:${PHONE_SSRC} cname:phone`] });

async function ok(msg: Record<string, unknown>): Promise<string> {
  const r = await tandem.ng.request(msg as never);
  expect(r.result, String(r['error-reason'])).toBe('ok');
  return String(r.sdp);
}

/** Plain phone → Tandem (WebRTC) → werift, answered and connected. */
async function webrtcCall(callId: string): Promise<{ phone: RtpPeer; browser: WebRtcPeer; toBrowser: string; toPhone: string }> {
  const phone = await RtpPeer.open();
  const toBrowser = await ok({ command: 'offer', 'call-id': callId, 'from-tag': 'phone', sdp: pcma(phone.port), flags: ['WebRTC'] });
  const browser = WebRtcPeer.create();
  const answer = await browser.answer(toBrowser);
  const toPhone = await ok({ command: 'answer', 'call-id': callId, 'from-tag': 'phone', 'to-tag': 'browser', sdp: answer });
  await browser.connected();
  return { phone, browser, toBrowser, toPhone };
}

/** Media both ways: phone → browser arrives decrypted as sent, browser → phone arrives as plain RTP. */
async function mediaFlows(c: { phone: RtpPeer; browser: WebRtcPeer; toPhone: string }, seed: number): Promise<void> {
  const p = patternPayload(160, seed);
  const before = c.browser.received.length;
  // The first packets may meet a socket still latching; send a few, each is checked.
  for (let i = 0; i < 3; i++) await c.phone.send(rtpPacket({ pt: 8, seq: seed * 10 + i, ts: 160 * i, ssrc: PHONE_SSRC, payload: p }), mediaTarget(c.toPhone).port);
  const got = await c.browser.waitFor(before + 1);
  expect(got[before].pt).toBe(8);
  expect(got[before].payload).toEqual(p);
  const q = patternPayload(160, seed + 100);
  const had = c.phone.received.length;
  await expect
    .poll(async () => {
      await c.browser.send(q);
      return c.phone.received.length;
    }, { timeout: 3000, interval: 50 })
    .toBeGreaterThan(had);
  const atPhone = c.phone.received[had];
  expect(atPhone[1] & 0x7f).toBe(8);
  expect(atPhone.subarray(12)).toEqual(q);
}

describe('plain RTP offerer → DTLS-SRTP answerer (Tandem offers DTLS)', () => {
  it('WebRTC flag: the browser gets UDP/TLS/RTP/SAVPF with fingerprint, actpass, ICE-lite, rtcp-mux, mid and BUNDLE; the phone gets plain RTP; media flows both ways', async () => {
    const c = await webrtcCall(`dtls-offer-${++n}`);
    const b = c.toBrowser;
    expect(b).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 8\r?$/m);
    expect(b).toMatch(/^a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r?$/m);
    expect(b).toMatch(/^a=setup:actpass\r?$/m);
    expect(b).toMatch(/^a=ice-lite\r?$/m);
    expect(b).toMatch(/^a=ice-ufrag:\S{4,}\r?$/m);
    expect(b).toMatch(/^a=ice-pwd:\S{22,}\r?$/m);
    expect(b).toMatch(new RegExp(`^a=candidate:1 1 UDP \\d+ 127\\.0\\.0\\.1 ${mediaTarget(b).port} typ host\\r?$`, 'm'));
    expect(b).toMatch(/^a=rtcp-mux\r?$/m);
    expect(b).toMatch(/^a=mid:0\r?$/m);
    expect(b).toMatch(/^a=group:BUNDLE 0\r?$/m);
    expect(b).not.toMatch(/a=crypto|a=rtcp:/);

    const p = c.toPhone;
    expect(p).toMatch(/^m=audio \d+ RTP\/AVP 8\r?$/m);
    for (const gone of [/a=fingerprint/, /a=setup/, /a=ice-/, /a=candidate/, /a=mid/, /a=group/, /a=rtcp-mux/, /a=crypto/]) expect(p).not.toMatch(gone);

    await mediaFlows(c, 1);
    await c.browser.close();
    c.phone.close();
  });

  it('a re-offer keeps the DTLS roles and the association, from either side', async () => {
    const callId = `dtls-offer-${++n}`;
    const c = await webrtcCall(callId);
    await mediaFlows(c, 2);
    // werift answered actpass with active: Tandem is the DTLS server, and says so from now on.
    const ourFp = /^a=fingerprint:(.*)$/m.exec(c.toBrowser)?.[1];
    const ufrag = /^a=ice-ufrag:(.*)$/m.exec(c.toBrowser)?.[1];

    // The phone re-offers (e.g. a re-INVITE): passive, same certificate, same ICE credentials.
    const reoffer = await ok({ command: 'offer', 'call-id': callId, 'from-tag': 'phone', sdp: pcma(c.phone.port).replace('o=- 1545997027 1', 'o=- 1545997027 2'), flags: ['WebRTC'] });
    expect(reoffer).toMatch(/^a=setup:passive\r?$/m);
    expect(/^a=fingerprint:(.*)$/m.exec(reoffer)?.[1]).toBe(ourFp);
    expect(/^a=ice-ufrag:(.*)$/m.exec(reoffer)?.[1]).toBe(ufrag);
    // An answer that tries to flip the roles does not restart anything.
    const flipped = String(c.browser.pc.localDescription?.sdp).replace(/a=setup:active/, 'a=setup:passive');
    await ok({ command: 'answer', 'call-id': callId, 'from-tag': 'phone', 'to-tag': 'browser', sdp: flipped });
    await mediaFlows(c, 3);

    // The browser re-offers (a re-INVITE from the callee, no transport-protocol): the phone keeps
    // plain RTP, the browser keeps its DTLS association and is answered passive again.
    const browserOffer = await c.browser.offer();
    const toPhone = await ok({ command: 'offer', 'call-id': callId, 'from-tag': 'browser', sdp: browserOffer, 'rtcp-mux': ['accept'] });
    expect(toPhone).toMatch(/^m=audio \d+ RTP\/AVP 8\r?$/m);
    expect(toPhone).not.toMatch(/a=fingerprint|a=crypto|a=ice-/);
    const toBrowser = await ok({ command: 'answer', 'call-id': callId, 'from-tag': 'browser', 'to-tag': 'phone', sdp: pcma(c.phone.port) });
    expect(toBrowser).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 8\r?$/m);
    expect(toBrowser).toMatch(/^a=setup:passive\r?$/m);
    expect(toBrowser).toMatch(/^a=rtcp-mux\r?$/m);
    expect(/^a=fingerprint:(.*)$/m.exec(toBrowser)?.[1]).toBe(ourFp);
    expect(/^a=ice-ufrag:(.*)$/m.exec(toBrowser)?.[1]).toBe(ufrag);
    await c.browser.accept(toBrowser);
    await mediaFlows(c, 4);
    await c.browser.close();
    c.phone.close();
  });

  it('offers a=setup:passive / active for DTLS=passive / DTLS=active; DTLS=off refuses a UDP/TLS profile', async () => {
    const phone = await RtpPeer.open();
    const passive = await ok({ command: 'offer', 'call-id': `dtls-offer-${++n}`, 'from-tag': 'a', sdp: pcma(phone.port), 'transport-protocol': 'UDP/TLS/RTP/SAVP', DTLS: 'passive' });
    expect(passive).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVP 8\r?$/m);
    expect(passive).toMatch(/^a=setup:passive\r?$/m);
    expect(passive).not.toMatch(/a=ice-|a=crypto/);
    const active = await ok({ command: 'offer', 'call-id': `dtls-offer-${++n}`, 'from-tag': 'a', sdp: pcma(phone.port), 'transport-protocol': 'UDP/TLS/RTP/SAVPF', flags: ['DTLS-active'] });
    expect(active).toMatch(/^a=setup:active\r?$/m);
    // DTLS=off: no DTLS, so a UDP/TLS profile cannot be offered.
    const off = await tandem.ng.request({ command: 'offer', 'call-id': `dtls-offer-${++n}`, 'from-tag': 'a', sdp: pcma(phone.port), 'transport-protocol': 'UDP/TLS/RTP/SAVPF', DTLS: 'off' });
    expect([off.result, String(off['error-reason'])]).toEqual(['error', expect.stringMatching(/DTLS=off/)]);
    phone.close();
  });

  it('an SDES offerer toward a DTLS answerer: each side keeps its own keying (a=crypto answered with ours, DTLS toward the answerer)', async () => {
    const phone = await RtpPeer.open();
    const callId = `dtls-offer-${++n}`;
    const key = Buffer.alloc(30, 7).toString('base64');
    const sdesOffer = sdpFor({ port: phone.port, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: [`a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${key}`] }).replace('RTP/AVP', 'RTP/SAVP');
    const toDtls = await ok({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdesOffer, 'transport-protocol': 'UDP/TLS/RTP/SAVPF' });
    expect(toDtls).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 8\r?$/m);
    expect(toDtls).toMatch(/^a=setup:actpass\r?$/m);
    expect(toDtls).not.toMatch(/a=crypto/);
    const cert = await createDtlsCertificate();
    const answer = sdpFor({ port: 40400, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: [`a=fingerprint:${cert.fingerprint}`, 'a=setup:active'] }).replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');
    const toSdes = await ok({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: answer });
    expect(toSdes).toMatch(/^m=audio \d+ RTP\/SAVP 8\r?$/m);
    expect(toSdes).toMatch(/^a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:\S+\r?$/m);
    expect(toSdes).not.toMatch(/a=fingerprint|a=setup/);
    phone.close();
  });

  it('a UDP/TLS answer without a fingerprint is an ng error', async () => {
    const phone = await RtpPeer.open();
    const callId = `dtls-offer-${++n}`;
    await ok({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: pcma(phone.port), 'transport-protocol': 'UDP/TLS/RTP/SAVPF' });
    const answer = sdpFor({ port: 40400, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: ['a=setup:active'] }).replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');
    const r = await tandem.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: answer });
    expect(r.result).toBe('error');
    expect(String(r['error-reason'])).toMatch(/fingerprint/);
    phone.close();
  });
});

/**
 * The DTLS peer for the fingerprint checks: werift's bare DTLS client on a test socket (no ICE
 * needed without ICE=force), so the test controls which certificate it presents and sees the alert.
 */
const requireCjs = createRequire(import.meta.url);
interface Client {
  onConnect: { subscribe(fn: () => void): void };
  connect(): Promise<void>;
  extractSessionKeys(k: number, s: number): { localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer };
}
const { DtlsClient, DtlsServer } = requireCjs('werift') as { DtlsClient: new (o: object) => Client; DtlsServer: new (o: object) => Client };

async function dtlsPeer(cert: { certPem: string; keyPem: string }): Promise<{ sock: dgram.Socket; port: number; media: Buffer[]; alerts: number; connectTo(port: number, role?: 'client' | 'server'): Client }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const media: Buffer[] = [];
  let onData: (d: Buffer, a: [string, number]) => void = () => undefined;
  let remote = 0;
  const peer = {
    sock, port: sock.address().port, media, alerts: 0,
    connectTo(port: number, role: 'client' | 'server' = 'client'): Client {
      remote = port;
      const transport = {
        type: 'udp', closed: false, address: sock.address(),
        set onData(f: (d: Buffer, a: [string, number]) => void) { onData = f; },
        get onData() { return onData; },
        send: (d: Buffer) => new Promise<void>((r) => sock.send(d, port, '127.0.0.1', () => r())),
        close: async () => undefined,
      };
      const opts = { transport, cert: cert.certPem, key: cert.keyPem, signatureHash: { hash: 4, signature: 3 }, srtpProfiles: [1], certificateRequest: true };
      return role === 'client' ? new DtlsClient(opts) : new DtlsServer(opts);
    },
  };
  sock.on('message', (m) => {
    // werift's client swallows a fatal alert (it throws inside its record parser), so the test
    // counts alert records (content type 21) itself.
    if (m[0] === 21) peer.alerts++;
    if (m[0] >= 20 && m[0] <= 63) onData(m, ['127.0.0.1', remote]);
    else media.push(m);
  });
  return peer;
}

describe('DTLS roles from the answer', () => {
  /** Plain phone → Tandem (UDP/TLS, no ICE) → a werift DTLS peer answering with `setup`. */
  async function call(setup: string, peerRole: 'client' | 'server') {
    const cert = await createDtlsCertificate();
    const phone = await RtpPeer.open();
    const peer = await dtlsPeer(cert);
    const callId = `dtls-role-${++n}`;
    const offer = await ok({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: pcma(phone.port), 'transport-protocol': 'UDP/TLS/RTP/SAVPF' });
    expect(offer).toMatch(/^a=setup:actpass\r?$/m);
    const ourFp = /^a=fingerprint:(.*?)\r?$/m.exec(offer)?.[1] ?? '';
    const answer = sdpFor({ port: peer.port, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: [`a=fingerprint:${cert.fingerprint}`, ...(setup === '' ? [] : [`a=setup:${setup}`])] }).replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');
    const dtls = peer.connectTo(mediaTarget(offer).port, peerRole);
    const up = new Promise<void>((r) => dtls.onConnect.subscribe(() => r()));
    if (peerRole === 'client') void dtls.connect();
    const toPhone = await ok({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: answer });
    await up;
    const k = dtls.extractSessionKeys(16, 14);
    // Media both ways proves the keys, and so the roles, agree.
    const p = patternPayload(160, 7);
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.localKey, k.localSalt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.remoteKey, k.remoteSalt);
    await peer.sock.send(tx.protectRtp(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 5, payload: p })), mediaTarget(offer).port, '127.0.0.1');
    const [atPhone] = await phone.waitFor(1);
    expect(atPhone.subarray(12)).toEqual(p);
    await phone.send(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 6, payload: p }), mediaTarget(toPhone).port);
    await expect.poll(() => peer.media.length, { timeout: 3000 }).toBeGreaterThan(0);
    const dec = rx.unprotectRtp(peer.media[0]);
    expect(dec.ok && dec.packet.subarray(12).equals(p)).toBe(true);
    expect(ourFp).toMatch(/^sha-256 /);
    if (peerRole === 'client') {
      // The client's ClientHello went out before the answer reached Tandem: kept for the association
      // the answer created, not counted as a bad packet (and not left to a retransmission).
      const q = await tandem.ng.request({ command: 'query', 'call-id': callId });
      expect(JSON.stringify(q)).not.toMatch(/"errors":[1-9]/);
    }
    phone.close();
    peer.sock.close();
  }

  it('a=setup:passive in the answer: Tandem connects as DTLS client and checks the server\'s certificate', async () => {
    await call('passive', 'server');
  });

  it('a=setup:actpass or no a=setup in the answer is taken as active: Tandem waits as DTLS server', async () => {
    await call('actpass', 'client');
    await call('', 'client');
  });
});

describe('the answer\'s fingerprint', () => {
  it('a peer whose certificate does not match the answer\'s a=fingerprint is refused; its packets are counted and dropped; another call is unaffected', async () => {
    const [presented, claimed, good] = await Promise.all([createDtlsCertificate(), createDtlsCertificate(), createDtlsCertificate()]);
    const setUp = async (callId: string, cert: { certPem: string; keyPem: string }, fingerprint: string) => {
      const phone = await RtpPeer.open();
      const peer = await dtlsPeer(cert);
      const offer = await ok({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: pcma(phone.port), 'transport-protocol': 'UDP/TLS/RTP/SAVPF' });
      const answer = sdpFor({ port: peer.port, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: [`a=fingerprint:${fingerprint}`, 'a=setup:active'] }).replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');
      const toPhone = await ok({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: answer });
      const client = peer.connectTo(mediaTarget(offer).port);
      const up = new Promise<void>((r) => client.onConnect.subscribe(() => r()));
      void client.connect();
      await up;
      const k = client.extractSessionKeys(16, 14);
      return {
        phone, peer, offer, toPhone,
        tx: new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.localKey, k.localSalt),
        rx: new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.remoteKey, k.remoteSalt),
      };
    };
    const badId = `dtls-fp-${++n}`;
    const goodId = `dtls-fp-${++n}`;
    const bad = await setUp(badId, presented, claimed.fingerprint);
    const fine = await setUp(goodId, good, good.fingerprint);

    // Refused: a fatal alert (bad_certificate) ends the peer's association.
    await expect.poll(() => bad.peer.alerts, { timeout: 2000 }).toBe(1);
    expect(fine.peer.alerts).toBe(0);
    for (let i = 0; i < 4; i++) await bad.peer.sock.send(bad.tx.protectRtp(rtpPacket({ pt: 8, seq: i, ts: 0, ssrc: 7, payload: patternPayload(160, i) })), mediaTarget(bad.offer).port, '127.0.0.1');
    await bad.phone.send(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 8, payload: patternPayload(160, 9) }), mediaTarget(bad.toPhone).port);

    // The other call, meanwhile, carries media both ways.
    const p = patternPayload(160, 42);
    await fine.peer.sock.send(fine.tx.protectRtp(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 9, payload: p })), mediaTarget(fine.offer).port, '127.0.0.1');
    const [atPhone] = await fine.phone.waitFor(1);
    expect(atPhone.subarray(12)).toEqual(p);
    await fine.phone.send(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 10, payload: p }), mediaTarget(fine.toPhone).port);
    await expect.poll(() => fine.peer.media.length, { timeout: 3000 }).toBeGreaterThan(0);
    const dec = fine.rx.unprotectRtp(fine.peer.media[0]);
    expect(dec.ok && dec.packet.subarray(12).equals(p)).toBe(true);

    // Positive control: Tandem has taken in all five (the peer's four counted as errors, the phone's
    // one as media) before we look at what came out.
    await expect.poll(async () => JSON.stringify(await tandem.ng.request({ command: 'query', 'call-id': badId })), { timeout: 3000 }).toMatch(/"errors":4.*"packets":1|"packets":1.*"errors":4/);
    expect(bad.phone.received).toHaveLength(0);
    expect(bad.peer.media).toHaveLength(0);
    for (const c of [bad, fine]) {
      c.phone.close();
      c.peer.sock.close();
    }
  });
});
