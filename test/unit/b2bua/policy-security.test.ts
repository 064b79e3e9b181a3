import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { offerMediaOptions, answerMediaOptions, offererStrips, defaultLegPolicy, type CallPolicy, type LegPolicy } from '../../../src/b2bua/policy.js';
import { LocalMedia } from '../../../src/media/session/local-media.js';

/**
 * Media security and ICE per leg, judged by the SDP the media plane writes with the options the
 * policy produced: leg B's offer and the answer that goes back to leg A. One in-process media
 * plane (one worker) writes them; no packet is sent.
 */
let media: LocalMedia;
let n = 0;
beforeAll(async () => {
  const base = 20000 + Math.floor(Math.random() * 45) * 200;
  media = new LocalMedia({ interface: '127.0.0.1', portMin: base, portMax: base + 199, workers: 1, maxSessions: 0, mediaTimeoutMs: 60_000, logLevel: 'silent', log: pino({ level: 'silent' }) });
  await media.ready();
});
afterAll(() => media.close());

function policy(b: Partial<LegPolicy>, a: Partial<LegPolicy> = {}): CallPolicy {
  return { a: { ...defaultLegPolicy(), ...a }, b: { ...defaultLegPolicy(), ...b } };
}

const phoneOffer = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000', ''].join('\r\n');
const FP = `sha-256 ${Array.from({ length: 32 }, (_v, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':')}`;

/** Leg A's plain offer through the policy: what leg B is offered. */
async function toB(p: CallPolicy, callId: string): Promise<string> {
  return (await media.offer({ callId, fromTag: 'a', sdp: phoneOffer, options: offerMediaOptions(p, 'a-to-b') })).sdp;
}

describe('srtp / ice per leg → the SDP each leg gets', () => {
  it('srtp dtls: leg B gets what a browser accepts (UDP/TLS/RTP/SAVPF, fingerprint + actpass, ICE-lite, rtcp-mux, mid, BUNDLE, no a=crypto)', async () => {
    const sdp = await toB(policy({ srtp: 'dtls' }), `pol-${++n}`);
    expect(sdp).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 8\r?$/m);
    expect(sdp).toMatch(/^a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r?$/m);
    expect(sdp).toMatch(/^a=setup:actpass\r?$/m);
    expect(sdp).toMatch(/^a=ice-lite\r?$/m);
    expect(sdp).toMatch(/^a=ice-ufrag:\S+\r?$/m);
    expect(sdp.match(/^a=candidate:/gm)).toHaveLength(1);
    expect(sdp).toMatch(/^a=rtcp-mux\r?$/m);
    expect(sdp).toMatch(/^a=mid:0\r?$/m);
    expect(sdp).toMatch(/^a=group:BUNDLE 0\r?$/m);
    expect(sdp).not.toMatch(/a=crypto|a=rtcp:/);
  });

  it('srtp dtls: the DTLS answer goes back to leg A as plain RTP/AVP without fingerprint, ICE or bundling', async () => {
    const p = policy({ srtp: 'dtls' });
    const callId = `pol-${++n}`;
    await toB(p, callId);
    const answer = [
      'v=0', 'o=- 2 1 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 8', 'c=IN IP4 0.0.0.0',
      'a=rtpmap:8 PCMA/8000', 'a=mid:0', 'a=rtcp-mux', 'a=ice-ufrag:wxyz', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
      'a=candidate:1 1 udp 2130706431 127.0.0.1 40100 typ host', `a=fingerprint:${FP}`, 'a=setup:active', '',
    ].join('\r\n');
    const toA = (await media.answer({ callId, fromTag: 'a', toTag: 'b', sdp: answer, options: answerMediaOptions(p, 'a-to-b') })).sdp;
    expect(toA).toMatch(/^m=audio \d+ RTP\/AVP 8\r?$/m);
    for (const gone of [/a=fingerprint/, /a=setup/, /a=ice-/, /a=candidate/, /a=mid/, /a=group/, /a=rtcp-mux/]) expect(toA).not.toMatch(gone);
  });

  it('srtp dtls with ice remove: DTLS without ICE attributes', async () => {
    const sdp = await toB(policy({ srtp: 'dtls', ice: 'remove' }), `pol-${++n}`);
    expect(sdp).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 8\r?$/m);
    expect(sdp).toMatch(/^a=setup:actpass\r?$/m);
    expect(sdp).not.toMatch(/a=ice-|a=candidate/);
  });

  it('ice lite without srtp: plain RTP with Tandem as ICE-lite agent; sdes keeps SDES', async () => {
    const lite = await toB(policy({ ice: 'lite' }), `pol-${++n}`);
    expect(lite).toMatch(/^m=audio \d+ RTP\/AVP 8\r?$/m);
    expect(lite).toMatch(/^a=ice-lite\r?$/m);
    expect(lite).not.toMatch(/a=fingerprint/);
    const sdes = await toB(policy({ srtp: 'sdes', ice: 'lite' }), `pol-${++n}`);
    expect(sdes).toMatch(/^m=audio \d+ RTP\/SAVP 8\r?$/m);
    expect(sdes).toMatch(/^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/m);
    expect(sdes).toMatch(/^a=ice-ufrag:/m);
    expect(sdes).not.toMatch(/a=fingerprint/);
  });

  it('a leg A policy of srtp dtls applies to offers toward A (a re-INVITE from B)', () => {
    const o = offerMediaOptions(policy({}, { srtp: 'dtls' }), 'b-to-a');
    expect([o.transportProtocol, o.ice, o.generateMid]).toEqual(['UDP/TLS/RTP/SAVPF', 'force', true]);
    expect(offerMediaOptions(policy({}, { srtp: 'dtls' }), 'a-to-b').transportProtocol).toBeUndefined();
  });

  it('leg A restricted to Opus: a browser that also offers G.711 answers Opus, and the plain leg B gets PCMU by transcoding, no rtcp-mux', async () => {
    const p = policy({ codecs: ['PCMU'], srtp: 'none' }, { codecs: ['opus'] });
    const browser = [
      'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40200 RTP/AVP 111 0 8 101',
      'a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=rtcp-mux', '',
    ].join('\r\n');
    const names = ['opus', 'PCMU', 'PCMA', 'telephone-event'];
    const strips = offererStrips(p, 'a-to-b', names);
    expect(strips).toEqual(['PCMU', 'PCMA']);
    const callId = `pol-${++n}`;
    const toBSdp = (await media.offer({ callId, fromTag: 'a', sdp: browser, options: offerMediaOptions(p, 'a-to-b', strips) })).sdp;
    expect(toBSdp).toMatch(/^m=audio \d+ RTP\/AVP 0 101\r?$/m);
    expect(toBSdp).not.toMatch(/a=rtcp-mux/);
    const phone = ['v=0', 'o=- 2 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40300 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', ''].join('\r\n');
    const toA = (await media.answer({ callId, fromTag: 'a', toTag: 'b', sdp: phone, options: answerMediaOptions(p, 'a-to-b') })).sdp;
    expect(toA).toMatch(/^m=audio \d+ RTP\/AVP 111 101\r?$/m);
    // rtcp-mux is accepted back to the browser although leg B was not asked to multiplex.
    expect(toA).toMatch(/^a=rtcp-mux\r?$/m);
  });

  it('the pinned caller list is not a restriction: without a route list for the offering leg nothing is stripped', () => {
    expect(offererStrips(policy({ codecs: ['PCMU'] }), 'a-to-b', ['PCMA', 'PCMU'])).toEqual([]);
    expect(offererStrips(policy({}, { codecs: ['PCMA'] }), 'b-to-a', ['PCMU'])).toEqual([]);
    // An offer with none of the leg's codecs is left whole (transcoded), not emptied.
    expect(offererStrips(policy({ codecs: ['PCMU'] }), 'b-to-a', ['PCMA', 'telephone-event'])).toEqual([]);
    expect(offererStrips(policy({ codecs: ['PCMU'] }), 'b-to-a', ['PCMA', 'PCMU'])).toEqual(['PCMA']);
  });

  it('ice remove on the offering leg: no ICE in the answer to it either (reject ICE)', () => {
    expect(offerMediaOptions(policy({}, { ice: 'remove' }), 'a-to-b').rejectIce).toBe(true);
    expect(offerMediaOptions(policy({ ice: 'remove' }), 'a-to-b').rejectIce).toBeUndefined();
  });
});

