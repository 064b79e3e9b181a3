import { describe, expect, it } from 'vitest';
import { ATTR, attribute, decodeXorMappedAddress, parseStun, STUN_TYPE, verifyFingerprint, verifyMessageIntegrity } from '../../../src/media/rtp/stun.js';
import { bindingRequest, bindingResponse, browserOffer, parseWebrtcAnswer, summary, webrtcOfferFlags } from '../../../bench/lib/webrtc-setup.js';

describe('bench --dtls-setup helpers', () => {
  it('the browser offer is UDP/TLS/RTP/SAVPF Opus with ICE, actpass, rtcp-mux and BUNDLE', () => {
    const sdp = browserOffer({ sessionId: 7, port: 40000, ufrag: 'abcd', pwd: 'p'.repeat(24), fingerprint: 'sha-256 AA:BB' });
    for (const line of [
      'm=audio 40000 UDP/TLS/RTP/SAVPF 111',
      'a=ice-ufrag:abcd',
      `a=ice-pwd:${'p'.repeat(24)}`,
      'a=fingerprint:sha-256 AA:BB',
      'a=setup:actpass',
      'a=rtcp-mux',
      'a=group:BUNDLE 0',
      'a=mid:0',
      'a=rtpmap:111 opus/48000/2',
      'a=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host generation 0',
    ]) {
      expect(sdp).toContain(`${line}\r\n`);
    }
  });

  it('reads the answer: address, role, fingerprint, ICE (lite or full), rtcp-mux', () => {
    const lite = parseWebrtcAnswer(
      'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\na=ice-lite\r\nm=audio 30012 UDP/TLS/RTP/SAVPF 111\r\na=setup:passive\r\na=ice-ufrag:U\r\na=ice-pwd:P\r\na=fingerprint:sha-256 4D:A5\r\na=rtcp-mux\r\n',
    );
    expect(lite).toEqual({ protocol: 'UDP/TLS/RTP/SAVPF', address: '127.0.0.2', port: 30012, payloadTypes: [111], setup: 'passive', ufrag: 'U', pwd: 'P', fingerprint: 'sha-256 4D:A5', iceLite: true, rtcpMux: true });
    const none = parseWebrtcAnswer('v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5 RTP/AVP 8\r\nc=IN IP4 127.0.0.3\r\n');
    expect(none).toMatchObject({ address: '127.0.0.3', port: 5, iceLite: false, rtcpMux: false, ufrag: undefined, setup: undefined });
    expect(() => parseWebrtcAnswer('v=0\r\n')).toThrow(/without audio/);
  });

  it('a Binding request is signed with the peer password; our answer to one is signed with ours', () => {
    const tie = Buffer.alloc(8, 1);
    const req = bindingRequest({ remoteUfrag: 'srv', localUfrag: 'me', remotePwd: 'serverpwd', tieBreaker: tie, transactionId: Buffer.alloc(12, 9) });
    const p = parseStun(req);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.message.type).toBe(STUN_TYPE.bindingRequest);
    expect(attribute(p.message, ATTR.username)?.toString()).toBe('srv:me');
    expect(attribute(p.message, ATTR.useCandidate)).toEqual(Buffer.alloc(0));
    expect(attribute(p.message, ATTR.iceControlling)).toEqual(tie);
    expect(verifyMessageIntegrity(req, Buffer.from('serverpwd'))).toBe(true);
    expect(verifyFingerprint(req)).toBe(true);

    // The server checking us: USERNAME "me:srv", signed with our password.
    const check = bindingRequest({ remoteUfrag: 'me', localUfrag: 'srv', remotePwd: 'mypwd', tieBreaker: tie, transactionId: Buffer.alloc(12, 3) });
    const res = bindingResponse(check, { address: '127.0.0.1', port: 30012 }, 'me', 'mypwd');
    expect(res).toBeDefined();
    const r = parseStun(res ?? Buffer.alloc(0));
    expect(r.ok && r.message.type).toBe(STUN_TYPE.bindingSuccess);
    if (!r.ok || res === undefined) return;
    expect(r.message.transactionId).toEqual(Buffer.alloc(12, 3));
    expect(verifyMessageIntegrity(res, Buffer.from('mypwd'))).toBe(true);
    expect(decodeXorMappedAddress(attribute(r.message, ATTR.xorMappedAddress) ?? Buffer.alloc(0), r.message.transactionId)).toEqual({ family: 4, address: '127.0.0.1', port: 30012 });
    // Not for us, or badly signed: no answer.
    expect(bindingResponse(check, { address: '127.0.0.1', port: 1 }, 'other', 'mypwd')).toBeUndefined();
    expect(bindingResponse(check, { address: '127.0.0.1', port: 1 }, 'me', 'wrong')).toBeUndefined();
  });

  it('summary: median, nearest-rank p95, max; NaN-free', () => {
    expect(summary([])).toEqual({ n: 0, median: NaN, p95: NaN, max: NaN });
    expect(summary([3, 1, 2])).toEqual({ n: 3, median: 2, p95: 3, max: 3 });
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summary([...xs, NaN])).toEqual({ n: 100, median: 50.5, p95: 95, max: 100 });
  });

  it('gateway offer flags: ICE=remove by default, left out with keep', () => {
    expect(webrtcOfferFlags()).toMatchObject({ ICE: 'remove', 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['demux'] });
    expect(webrtcOfferFlags('keep')).not.toHaveProperty('ICE');
  });
});
