import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, patternPayload, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { SrtpContext } from '../../src/media/rtp/srtp.js';

/**
 * RTP/AVP ↔ RTP/SAVP (SDES, RFC 4568) through the media plane over ng: the SRTP side of the test
 * keeps its own SRTP contexts (src/media/rtp/srtp.ts, checked against RFC 3711's vectors), and
 * the plain side must see exactly the payloads the SRTP side encrypted, and the other way round.
 */
const tandem = tandemPerFile();
let n = 0;

function cryptoOf(sdp: string): { tag: number; suite: string; keySalt: Buffer }[] {
  return [...sdp.matchAll(/^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)/gm)].map((m) => ({ tag: Number(m[1]), suite: m[2], keySalt: Buffer.from(m[3], 'base64') }));
}

function ctx(suite: string, keySalt: Buffer): SrtpContext {
  return new SrtpContext(suite as 'AES_CM_128_HMAC_SHA1_80', keySalt.subarray(0, 16), keySalt.subarray(16));
}

describe('SDES-SRTP ↔ plain RTP bridging', () => {
  it('SRTP offerer → plain answerer (transport-protocol RTP/AVP): keys exchanged, media decrypted and encrypted', async () => {
    const srtpPeer = await RtpPeer.open();
    const plainPeer = await RtpPeer.open();
    const theirKey = randomBytes(30);
    const callId = `sdes-${++n}`;
    const offerSdp = sdpFor({ port: srtpPeer.port, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: [`a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:${theirKey.toString('base64')}`] }).replace('RTP/AVP', 'RTP/SAVP');
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: offerSdp, 'transport-protocol': 'RTP/AVP' });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const toPlain = offer.sdp as string;
    expect(toPlain).toMatch(/^m=audio \d+ RTP\/AVP 0/m);
    expect(toPlain).not.toMatch(/a=crypto/);
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plainPeer.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const toSrtp = answer.sdp as string;
    expect(toSrtp).toMatch(/^m=audio \d+ RTP\/SAVP 0/m);
    const ours = cryptoOf(toSrtp);
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatchObject({ tag: 7, suite: 'AES_CM_128_HMAC_SHA1_32' });
    expect(ours[0].keySalt.equals(theirKey)).toBe(false);

    // SRTP peer → Tandem → plain peer: decrypted.
    const tx = ctx('AES_CM_128_HMAC_SHA1_32', theirKey);
    const sent = [0, 1, 2, 3, 4].map((i) => patternPayload(160, i));
    for (const [i, p] of sent.entries()) await srtpPeer.send(tx.protectRtp(rtpPacket({ pt: 0, seq: 100 + i, ts: 160 * i, ssrc: 0xabc, payload: p })), mediaTarget(toSrtp).port);
    const atPlain = await plainPeer.waitFor(5);
    expect(atPlain.map((b) => b.subarray(12))).toEqual(sent);

    // plain peer → Tandem → SRTP peer: encrypted with the key Tandem put in its answer.
    const back = [5, 6, 7].map((i) => patternPayload(160, i));
    for (const [i, p] of back.entries()) await plainPeer.send(rtpPacket({ pt: 0, seq: 50 + i, ts: 160 * i, ssrc: 0xdef, payload: p }), mediaTarget(toPlain).port);
    const atSrtp = await srtpPeer.waitFor(3);
    const rx = ctx(ours[0].suite, ours[0].keySalt);
    const plain = atSrtp.map((b) => rx.unprotectRtp(b));
    expect(plain.every((r) => r.ok)).toBe(true);
    expect(plain.map((r) => (r.ok ? r.packet.subarray(12) : Buffer.alloc(0)))).toEqual(back);
    expect(atSrtp[0].length).toBe(12 + 160 + 4);

    // A forged SRTP packet is counted and dropped; the plain side never sees it.
    const forged = tx.protectRtp(rtpPacket({ pt: 0, seq: 200, ts: 0, ssrc: 0xabc, payload: patternPayload(160, 9) }));
    forged[20] ^= 0xff;
    await srtpPeer.send(forged, mediaTarget(toSrtp).port);
    // Positive control: a genuine packet sent after the forged one arrives, and is the only new one.
    const genuine = patternPayload(160, 10);
    await srtpPeer.send(tx.protectRtp(rtpPacket({ pt: 0, seq: 201, ts: 160, ssrc: 0xabc, payload: genuine })), mediaTarget(toSrtp).port);
    const afterForged = await plainPeer.waitFor(6);
    expect(plainPeer.received).toHaveLength(6);
    expect(afterForged[5].subarray(12)).toEqual(genuine);
    const q = await tandem.ng.request({ command: 'query', 'call-id': callId });
    expect(JSON.stringify(q)).toMatch(/"errors":1/);
    srtpPeer.close();
    plainPeer.close();
  });

  it('plain offerer → SRTP answerer (transport-protocol RTP/SAVP): Tandem offers both suites, the answer picks one', async () => {
    const plainPeer = await RtpPeer.open();
    const srtpPeer = await RtpPeer.open();
    const callId = `sdes-${++n}`;
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdpFor({ port: plainPeer.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }), 'transport-protocol': 'RTP/SAVP' });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const toSrtp = offer.sdp as string;
    expect(toSrtp).toMatch(/^m=audio \d+ RTP\/SAVP 8/m);
    const offered = cryptoOf(toSrtp);
    expect(offered.map((c) => c.suite)).toEqual(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']);
    const theirKey = randomBytes(30);
    const answerSdp = sdpFor({ port: srtpPeer.port, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: [`a=crypto:${offered[0].tag} AES_CM_128_HMAC_SHA1_80 inline:${theirKey.toString('base64')}`] }).replace('RTP/AVP', 'RTP/SAVP');
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: answerSdp });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const toPlain = answer.sdp as string;
    expect(toPlain).toMatch(/^m=audio \d+ RTP\/AVP 8/m);
    expect(toPlain).not.toMatch(/a=crypto/);

    const p = patternPayload(160, 3);
    await plainPeer.send(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 1, payload: p }), mediaTarget(toPlain).port);
    const [enc] = await srtpPeer.waitFor(1);
    const r = ctx('AES_CM_128_HMAC_SHA1_80', offered[0].keySalt).unprotectRtp(enc);
    expect(r.ok && r.packet.subarray(12).equals(p)).toBe(true);

    const q = patternPayload(160, 4);
    await srtpPeer.send(ctx('AES_CM_128_HMAC_SHA1_80', theirKey).protectRtp(rtpPacket({ pt: 8, seq: 9, ts: 0, ssrc: 2, payload: q })), mediaTarget(toSrtp).port);
    const [dec] = await plainPeer.waitFor(1);
    expect(dec.subarray(12)).toEqual(q);
    plainPeer.close();
    srtpPeer.close();
  });

  it('refuses an SRTP offer without a usable key, and SDES=off where SDES is needed, with clear errors', async () => {
    const noKey = sdpFor({ port: 40000, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: ['a=crypto:1 F8_128_HMAC_SHA1_80 inline:AAAA'] }).replace('RTP/AVP', 'RTP/SAVP');
    const r1 = await tandem.ng.request({ command: 'offer', 'call-id': `sdes-${++n}`, 'from-tag': 'a', sdp: noKey, 'transport-protocol': 'RTP/AVP' });
    expect(r1.result).toBe('error');
    expect(String(r1['error-reason'])).toMatch(/usable a=crypto/);
    const r2 = await tandem.ng.request({ command: 'offer', 'call-id': `sdes-${++n}`, 'from-tag': 'a', sdp: sdpFor({ port: 40002, pts: [0], rtpmaps: ['0 PCMU/8000'] }), 'transport-protocol': 'RTP/SAVP', SDES: ['off'] });
    expect(r2.result).toBe('error');
    expect(String(r2['error-reason'])).toMatch(/SDES=off/);
    const r3 = await tandem.ng.request({ command: 'offer', 'call-id': `sdes-${++n}`, 'from-tag': 'a', sdp: sdpFor({ port: 40004, pts: [0], rtpmaps: ['0 PCMU/8000'] }), 'transport-protocol': 'RTP/SAVP', SDES: ['only-AES_CM_128_HMAC_SHA1_32'] });
    expect(r3.result).toBe('ok');
    expect(cryptoOf(r3.sdp as string).map((c) => c.suite)).toEqual(['AES_CM_128_HMAC_SHA1_32']);
  });
});
