import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, patternPayload, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import {
  ATTR, STUN_TYPE, attribute, decodeXorMappedAddress, parseStun, serializeStun, verifyFingerprint, verifyMessageIntegrity,
} from '../../src/media/rtp/stun.js';

/**
 * Tandem as an ICE-lite agent (RFC 8445 §2.5) on a media port: the peer's full agent sends
 * Binding requests; the right credentials get a success response, wrong ones get nothing.
 */
const tandem = tandemPerFile();
let n = 0;

function iceOf(sdp: string): { ufrag: string; pwd: string; lite: boolean; candidates: string[] } {
  return {
    ufrag: /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? '',
    pwd: /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1] ?? '',
    lite: /^a=ice-lite/m.test(sdp),
    candidates: [...sdp.matchAll(/^a=candidate:(.*)$/gm)].map((m) => m[1].trim()),
  };
}

/** The transaction id of a STUN message we built (answers carry the request's). */
function transactionIdOf(req: Buffer): Buffer {
  const parsed = parseStun(req);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.message.transactionId;
}

function bindingRequest(o: { ufrag: string; pwd: string; peerUfrag: string; nominate: boolean }): Buffer {
  return serializeStun(
    {
      type: STUN_TYPE.bindingRequest,
      transactionId: randomBytes(12),
      attributes: [
        { type: ATTR.username, value: Buffer.from(`${o.ufrag}:${o.peerUfrag}`) },
        { type: ATTR.iceControlling, value: randomBytes(8) },
        { type: ATTR.priority, value: Buffer.from([0x6e, 0, 0x01, 0xff]) },
        ...(o.nominate ? [{ type: ATTR.useCandidate, value: Buffer.alloc(0) }] : []),
      ],
    },
    { integrityKey: Buffer.from(o.pwd), fingerprint: true },
  );
}

describe('ICE-lite', () => {
  it('answers an ICE offerer as a lite agent and its connectivity checks with authenticated responses', async () => {
    const browser = await RtpPeer.open();
    const plain = await RtpPeer.open();
    const callId = `ice-${++n}`;
    const offerSdp = sdpFor({
      port: browser.port, pts: [0], rtpmaps: ['0 PCMU/8000'],
      extra: ['a=ice-ufrag:brws', 'a=ice-pwd:browserpasswordbrowserpw', `a=candidate:1 1 UDP 2130706431 127.0.0.1 ${browser.port} typ host`, 'a=rtcp-mux'],
    });
    // rtcp-mux accept: the browser side keeps RTP and RTCP on one port, so one candidate.
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: offerSdp, 'rtcp-mux': ['accept'] });
    expect(offer.result).toBe('ok');
    expect(iceOf(String(offer.sdp))).toMatchObject({ ufrag: '', lite: false, candidates: [] });
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plain.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect(answer.result).toBe('ok');
    const toBrowser = String(answer.sdp);
    const ice = iceOf(toBrowser);
    const port = mediaTarget(toBrowser).port;
    expect(ice.lite).toBe(true);
    expect(ice.ufrag.length).toBeGreaterThanOrEqual(4);
    expect(ice.pwd.length).toBeGreaterThanOrEqual(22);
    expect(ice.candidates).toEqual([expect.stringMatching(new RegExp(`^1 1 UDP \\d+ 127\\.0\\.0\\.1 ${port} typ host$`))]);

    // Wrong password: no answer at all. The right check right after it is the positive control: its
    // answer must be the first (and only) thing back, which an answer to the wrong one would precede.
    await browser.send(bindingRequest({ ufrag: ice.ufrag, pwd: 'wrongpasswordwrongpassword', peerUfrag: 'brws', nominate: true }), port);
    const good = bindingRequest({ ufrag: ice.ufrag, pwd: ice.pwd, peerUfrag: 'brws', nominate: true });
    await browser.send(good, port);
    const [res] = await browser.waitFor(1);
    expect(browser.received).toHaveLength(1);
    const parsed = parseStun(res);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.message.type).toBe(STUN_TYPE.bindingSuccess);
    expect(parsed.message.transactionId).toEqual(transactionIdOf(good));
    expect(verifyMessageIntegrity(res, Buffer.from(ice.pwd))).toBe(true);
    expect(verifyFingerprint(res)).toBe(true);
    const xma = attribute(parsed.message, ATTR.xorMappedAddress);
    expect(xma && decodeXorMappedAddress(xma, parsed.message.transactionId)).toEqual({ family: 4, address: '127.0.0.1', port: browser.port });

    // Media from the checked address flows on, and back to it.
    const p = patternPayload(160, 1);
    await browser.send(rtpPacket({ pt: 0, seq: 1, ts: 0, ssrc: 9, payload: p }), port);
    expect((await plain.waitFor(1))[0].subarray(12)).toEqual(p);
    await plain.send(rtpPacket({ pt: 0, seq: 1, ts: 0, ssrc: 8, payload: p }), mediaTarget(String(offer.sdp)).port);
    await browser.waitFor(2);
    expect(browser.received[1].subarray(12)).toEqual(p);
    browser.close();
    plain.close();
  });

  it('ICE=force makes Tandem a lite agent toward the recipient too; ICE=remove strips it both ways', async () => {
    const forced = await tandem.ng.request({ command: 'offer', 'call-id': `ice-${++n}`, 'from-tag': 'a', sdp: sdpFor({ port: 40010, pts: [0], rtpmaps: ['0 PCMU/8000'] }), ICE: 'force' });
    expect(iceOf(String(forced.sdp))).toMatchObject({ lite: true });
    expect(iceOf(String(forced.sdp)).candidates).toHaveLength(2); // RTP and RTCP: no rtcp-mux offered
    const removed = await tandem.ng.request({
      command: 'offer', 'call-id': `ice-${++n}`, 'from-tag': 'a', ICE: 'remove',
      sdp: sdpFor({ port: 40012, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: ['a=ice-ufrag:abcd', 'a=ice-pwd:abcdabcdabcdabcdabcdabcd', 'a=candidate:1 1 UDP 1 127.0.0.1 40012 typ host'] }),
    });
    expect(iceOf(String(removed.sdp))).toEqual({ ufrag: '', pwd: '', lite: false, candidates: [] });
  });

  it('a peer that does not multiplex gets its component-2 checks answered on the RTCP port, and RTCP follows the nominated pair', async () => {
    const peerRtp = await RtpPeer.open();
    const peerRtcp = await RtpPeer.open();
    const plain = await RtpPeer.open();
    const callId = `ice-${++n}`;
    const offerSdp = sdpFor({
      port: peerRtp.port, pts: [0], rtpmaps: ['0 PCMU/8000'],
      extra: ['a=ice-ufrag:sfph', 'a=ice-pwd:softphonepasswordsoftph', `a=candidate:1 1 UDP 2130706431 127.0.0.1 ${peerRtp.port} typ host`, `a=candidate:1 2 UDP 2130706430 127.0.0.1 ${peerRtcp.port} typ host`],
    });
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: offerSdp });
    expect(offer.result).toBe('ok');
    const offerToPlain = String(offer.sdp);
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plain.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    const toPeer = String(answer.sdp);
    const ice = iceOf(toPeer);
    const rtpPort = mediaTarget(toPeer).port;
    const rtcpCandidate = ice.candidates.find((c) => /^1 2 /.test(c));
    expect(rtcpCandidate).toMatch(new RegExp(`^1 2 UDP \\d+ 127\\.0\\.0\\.1 ${rtpPort + 1} typ host$`));

    // A check with the wrong password on component 2 gets nothing; the right one an authenticated success.
    await peerRtcp.send(bindingRequest({ ufrag: ice.ufrag, pwd: 'wrongpasswordwrongpassword', peerUfrag: 'sfph', nominate: true }), rtpPort + 1);
    const good = bindingRequest({ ufrag: ice.ufrag, pwd: ice.pwd, peerUfrag: 'sfph', nominate: true });
    await peerRtcp.send(good, rtpPort + 1);
    const [res] = await peerRtcp.waitFor(1);
    expect(peerRtcp.received).toHaveLength(1);
    const parsed = parseStun(res);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.message.type).toBe(STUN_TYPE.bindingSuccess);
    expect(parsed.message.transactionId).toEqual(transactionIdOf(good));
    expect(verifyMessageIntegrity(res, Buffer.from(ice.pwd))).toBe(true);
    const xma = attribute(parsed.message, ATTR.xorMappedAddress);
    expect(xma && decodeXorMappedAddress(xma, parsed.message.transactionId)).toEqual({ family: 4, address: '127.0.0.1', port: peerRtcp.port });
    expect(peerRtp.received).toHaveLength(0);

    // RTCP from the plain side reaches the peer's nominated component-2 address (not RTP port + 1).
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 8]); // an empty receiver report, SSRC 8
    await plain.send(rr, mediaTarget(offerToPlain).port + 1);
    const got = await peerRtcp.waitFor(2);
    expect(got[1]).toEqual(rr);
    peerRtp.close();
    peerRtcp.close();
    plain.close();
  });

  it('the recipient of an ICE=force offer is answered from the offer on: a browser checks before its answer reaches us', async () => {
    const browser = await RtpPeer.open();
    const callId = `ice-${++n}`;
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdpFor({ port: 40020, pts: [0], rtpmaps: ['0 PCMU/8000'] }), ICE: 'force', 'rtcp-mux': ['offer', 'require'] });
    expect(offer.result).toBe('ok');
    const toBrowser = String(offer.sdp);
    const ice = iceOf(toBrowser);
    const port = mediaTarget(toBrowser).port;
    await browser.send(bindingRequest({ ufrag: ice.ufrag, pwd: ice.pwd, peerUfrag: 'late', nominate: true }), port);
    const [res] = await browser.waitFor(1);
    const parsed = parseStun(res);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.message.type).toBe(STUN_TYPE.bindingSuccess);
    expect(verifyMessageIntegrity(res, Buffer.from(ice.pwd))).toBe(true);
    browser.close();
  });
});

