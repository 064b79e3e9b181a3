import { describe, it, expect } from 'vitest';
import { parseSdp } from '../../../../src/sdp/sdp.js';
import type { MediaRewrite } from '../../../../src/sdp/rewrite.js';
import type { MediaOptions } from '../../../../src/media/api.js';
import type { MediaCall } from '../../../../src/media/session/call.js';
import { noteAnswer, noteOffer, offerSideOf, planAnswer, planOffer, type PlannerContext } from '../../../../src/media/session/planner.js';
import { audio, FP, KEY, OPUS, TE8, options, sdp, testCall } from './fixtures.js';

const ctx: PlannerContext = { interface: '203.0.113.5', ourFingerprint: FP };

function offer(call: MediaCall, text: string, o: Partial<MediaOptions> = {}, fromTag = 'a', c = ctx): ReturnType<typeof planOffer> {
  const parsed = parseSdp(text);
  const side = offerSideOf(call, fromTag);
  noteOffer(call, parsed, options(o), side);
  return planOffer(call, parsed, { callId: call.callId, fromTag, sdp: text, options: options(o) }, side, c);
}

function answer(call: MediaCall, text: string, o: Partial<MediaOptions> = {}, fromTag = 'a', toTag = 'b'): ReturnType<typeof planAnswer> {
  const parsed = parseSdp(text);
  const req = { callId: call.callId, fromTag, toTag, sdp: text, options: options(o) };
  return planAnswer(call, parsed, req, noteAnswer(call, parsed, req).offerSide, ctx);
}

function m0(rw: { media: (MediaRewrite | null)[] }): MediaRewrite {
  const r = rw.media[0];
  if (r === null || r === undefined) throw new Error('m= line 0 was left alone');
  return r;
}

const PCMU = sdp([audio(4000, '0')]);
const PCMU_MUX = sdp([audio(4000, '0', ['a=rtcp-mux'])]);
const ANSWER_PCMU = sdp([audio(5000, '0')]);
const ANSWER_PCMU_MUX = sdp([audio(5000, '0', ['a=rtcp-mux'])]);

describe('planner: sides and tags', () => {
  it('a new from-tag before any answer is the offerer changing its tag; after an answer it is refused', () => {
    const { call } = testCall(1);
    expect(offerSideOf(call, 'a2')).toBe(0);
    expect(call.tags[0]).toBe('a2');
    offer(call, PCMU, {}, 'a2');
    answer(call, ANSWER_PCMU, {}, 'a2', 'b');
    expect(offerSideOf(call, 'b')).toBe(1);
    expect(() => offerSideOf(call, 'c')).toThrow(/forking is not supported/);
  });

  it('an answer from an unknown from-tag, or with more m= lines than the offer, is refused', () => {
    const { call } = testCall(1);
    offer(call, PCMU);
    expect(() => answer(call, ANSWER_PCMU, {}, 'x')).toThrow(/Unknown from-tag/);
    expect(() => answer(call, sdp([audio(5000, '0'), audio(5002, '0')]))).toThrow(/more m= lines than the offer/);
  });

  it('an answer from a new to-tag replaces the answering side\'s tag and says which it replaced', () => {
    const { call } = testCall(1);
    offer(call, PCMU);
    const req = (toTag: string): { callId: string; fromTag: string; toTag: string; sdp: string; options: MediaOptions } => ({ callId: call.callId, fromTag: 'a', toTag, sdp: ANSWER_PCMU, options: options() });
    expect(noteAnswer(call, parseSdp(ANSWER_PCMU), req('b'))).toEqual({ offerSide: 0 });
    expect(noteAnswer(call, parseSdp(ANSWER_PCMU), req('b'))).toEqual({ offerSide: 0 });
    expect(noteAnswer(call, parseSdp(ANSWER_PCMU), req('b2'))).toEqual({ offerSide: 0, replacedToTag: 'b' });
    expect(call.tags).toEqual(['a', 'b2']);
  });

  it('a re-offer from the answerer swaps the roles: its ports and SDP face the other side', () => {
    const { call } = testCall(1);
    const first = offer(call, PCMU);
    answer(call, ANSWER_PCMU);
    const again = offer(call, ANSWER_PCMU, {}, 'b');
    expect(call.medias[0].offerSide).toBe(1);
    expect(m0(first.rewrite).port).toBe(call.medias[0].localRtpPort(1));
    expect(m0(again.rewrite).port).toBe(call.medias[0].localRtpPort(0));
  });

  it('a port-0 m= line is left alone in both directions', () => {
    const { call } = testCall(1);
    const o = offer(call, sdp([audio(0, '0')]));
    expect(o.rewrite.media).toEqual([null]);
    expect(answer(call, sdp([audio(0, '0')])).rewrite.media).toEqual([null]);
  });

  it('the SDP address is ours unless media-address names another; the family follows the interface', () => {
    const { call } = testCall(1);
    expect(offer(call, PCMU).rewrite).toMatchObject({ address: '203.0.113.5', family: 'IP4' });
    expect(offer(call, PCMU, { mediaAddress: '198.51.100.1' }).rewrite.address).toBe('198.51.100.1');
    const v6 = testCall(1).call;
    expect(offer(v6, PCMU, {}, 'a', { interface: '2001:db8::1', ourFingerprint: FP }).rewrite.family).toBe('IP6');
  });
});

describe('planner: rtcp-mux (RFC 5761)', () => {
  it('passes a multiplexing offer on and accepts it back when the answerer multiplexes too', () => {
    const { call } = testCall(1);
    expect(m0(offer(call, PCMU_MUX).rewrite)).toMatchObject({ rtcpMux: true });
    expect(m0(offer(call, PCMU_MUX).rewrite).rtcpFallback).toBeUndefined();
    expect(m0(answer(call, ANSWER_PCMU_MUX).rewrite).rtcpMux).toBe(true);
  });

  it('does not accept it back when the answerer does not multiplex (no accept/demux)', () => {
    const { call } = testCall(1);
    offer(call, PCMU_MUX);
    expect(m0(answer(call, ANSWER_PCMU).rewrite).rtcpMux).toBe(false);
    expect(call.medias[0].peer[0]?.rtcpMux).toBe(false);
  });

  it('demux: not offered onward, accepted back toward the offerer', () => {
    const { call } = testCall(1);
    expect(m0(offer(call, PCMU_MUX, { rtcpMux: ['demux'] }).rewrite).rtcpMux).toBe(false);
    expect(m0(answer(call, ANSWER_PCMU).rewrite).rtcpMux).toBe(true);
  });

  it('accept in the answer accepts the offerer\'s rtcp-mux whatever the answerer does', () => {
    const { call } = testCall(1);
    offer(call, PCMU_MUX);
    expect(m0(answer(call, ANSWER_PCMU, { rtcpMux: ['accept'] }).rewrite).rtcpMux).toBe(true);
  });

  it('reject: neither offered onward nor accepted back', () => {
    const { call } = testCall(1);
    expect(m0(offer(call, PCMU_MUX, { rtcpMux: ['reject'] }).rewrite).rtcpMux).toBe(false);
    expect(m0(answer(call, ANSWER_PCMU).rewrite).rtcpMux).toBe(false);
  });

  it('offer: offered to the answerer with a=rtcp kept as a fallback; require: without the fallback', () => {
    const { call } = testCall(1);
    expect(m0(offer(call, PCMU, { rtcpMux: ['offer'] }).rewrite)).toMatchObject({ rtcpMux: true, rtcpFallback: true });
    const r = m0(offer(call, PCMU, { rtcpMux: ['require'] }).rewrite);
    expect(r.rtcpMux).toBe(true);
    expect(r.rtcpFallback).toBeUndefined();
  });

  it('require: the answerer is taken to multiplex even if its answer does not say so', () => {
    const { call } = testCall(1);
    offer(call, PCMU, { rtcpMux: ['require'] });
    answer(call, ANSWER_PCMU);
    expect(call.medias[0].peer[1]?.rtcpMux).toBe(true);
  });

  it('a multiplexing DTLS offerer gets no a=rtcp back; no-rtcp-attribute drops it on request', () => {
    const browser = sdp([audio(4000, '111', [...OPUS, 'a=rtcp-mux', `a=fingerprint:${FP}`, 'a=setup:actpass'], 'UDP/TLS/RTP/SAVPF')]);
    const { call } = testCall(1);
    offer(call, browser, { transportProtocol: 'RTP/AVP', codec: { ...options().codec, transcode: ['PCMU'] } });
    expect(m0(answer(call, ANSWER_PCMU_MUX).rewrite)).toMatchObject({ rtcpMux: true, noRtcpAttribute: true });
    const plain = testCall(1).call;
    expect(m0(offer(plain, PCMU, { noRtcpAttribute: true }).rewrite).noRtcpAttribute).toBe(true);
  });
});

describe('planner: ptime framing', () => {
  it('ptime: G.711 cut to that ptime toward the answerer, the offerer gets its own ptime back', () => {
    const { call } = testCall(1);
    expect(m0(offer(call, PCMU, { ptime: 30 }).rewrite).ptime).toBe(30);
    const a = answer(call, ANSWER_PCMU);
    expect(call.medias[0].framesTo).toEqual([20, 30]);
    expect(m0(a.rewrite).ptime).toBe(20);
    expect(call.medias[0].transcoding).toBe(true);
  });

  it('ptime-reverse sets the offerer\'s framing; none is cut where the answerer already sends it', () => {
    const { call } = testCall(1);
    offer(call, PCMU, { ptimeReverse: 40 });
    const a = answer(call, ANSWER_PCMU);
    expect(call.medias[0].framesTo).toEqual([40, 0]);
    expect(m0(a.rewrite).ptime).toBe(40);
    const same = testCall(1).call;
    offer(same, sdp([audio(4000, '0', ['a=ptime:30'])]), { ptime: 30 });
    answer(same, ANSWER_PCMU);
    expect(same.medias[0].framesTo).toEqual([0, 30]);
  });

  it('without ptime nothing is repacketized and no a=ptime is written', () => {
    const { call } = testCall(1);
    expect(m0(offer(call, PCMU).rewrite).ptime).toBeUndefined();
    expect(m0(answer(call, ANSWER_PCMU).rewrite).ptime).toBeUndefined();
    expect(call.medias[0].framesTo).toEqual([0, 0]);
  });

  it('a ptime toward a codec that is not G.711 is refused with a warning (Opus 20 ms silently)', () => {
    const { call } = testCall(1);
    offer(call, sdp([audio(4000, '111', OPUS)]), { ptime: 30 });
    const a = answer(call, sdp([audio(5000, '111', OPUS)]));
    expect(call.medias[0].framesTo).toEqual([0, 0]);
    expect(a.warnings).toContain('ptime 30 toward the answerer needs G.711 there (opus); media keeps its framing');
  });

  it('ptime keys in an answer are ignored, with a warning', () => {
    const { call } = testCall(1);
    offer(call, PCMU);
    const a = answer(call, ANSWER_PCMU, { ptime: 30 });
    expect(a.warnings).toContain('ptime and ptime-reverse are read in offers only; ignored in this answer');
    expect(call.medias[0].framesTo).toEqual([0, 0]);
  });
});

describe('planner: ICE', () => {
  const ICE_OFFER = sdp([audio(4000, '0', ['a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdef0123456789', 'a=candidate:1 1 udp 2130706431 192.0.2.10 4000 typ host'])]);

  it('an offerer that does ICE is answered as a lite agent; the answerer gets no ICE by default', () => {
    const { call } = testCall(1);
    const o = offer(call, ICE_OFFER);
    expect(m0(o.rewrite).ice).toBeUndefined();
    expect(m0(o.rewrite).removeIce).toBe(true);
    expect(call.medias[0].ice[0]).toBeDefined();
    expect(call.medias[0].ice[1]).toBeUndefined();
    expect(m0(answer(call, ANSWER_PCMU).rewrite).ice).toEqual(call.medias[0].ice[0]);
  });

  it('ICE=force (and lite) makes us a lite agent toward the answerer, with RFC 8839 credentials', () => {
    for (const ice of ['force', 'lite'] as const) {
      const { call } = testCall(1);
      const creds = m0(offer(call, PCMU, { ice }).rewrite).ice;
      expect(creds?.ufrag).toMatch(/^[A-Za-z0-9+/]{8}$/);
      expect(creds?.pwd).toMatch(/^[A-Za-z0-9+/]{24}$/);
    }
  });

  it('a re-offer keeps the credentials (no ICE restart)', () => {
    const { call } = testCall(1);
    const first = m0(offer(call, ICE_OFFER, { ice: 'force' }).rewrite).ice;
    const again = m0(offer(call, ICE_OFFER, { ice: 'force' }).rewrite).ice;
    expect(again).toEqual(first);
    expect(call.medias[0].ice[0]).toBeDefined();
  });

  it('ICE=remove strips ICE onward (warning) but still answers the offerer; reject ICE does not', () => {
    const { call } = testCall(1);
    const o = offer(call, ICE_OFFER, { ice: 'remove' });
    expect(o.warnings).toContain('ICE removed (ICE=remove): the peer must not need connectivity checks');
    expect(call.medias[0].ice[0]).toBeDefined();
    const rejected = testCall(1).call;
    offer(rejected, ICE_OFFER, { rejectIce: true });
    expect(rejected.medias[0].ice[0]).toBeUndefined();
  });

  it('ICE in an answer speaks for the offerer\'s side: force adds it, remove takes it away', () => {
    const { call } = testCall(1);
    offer(call, PCMU);
    expect(m0(answer(call, ANSWER_PCMU, { ice: 'force' }).rewrite).ice).toBeDefined();
    const stripped = testCall(1).call;
    offer(stripped, ICE_OFFER);
    expect(m0(answer(stripped, ANSWER_PCMU, { ice: 'remove' }).rewrite).ice).toBeUndefined();
  });

  it('offering UDP/TLS without ICE=force warns that a WebRTC answerer needs ICE', () => {
    const { call } = testCall(1);
    const o = offer(call, PCMU, { transportProtocol: 'UDP/TLS/RTP/SAVPF' });
    expect(o.warnings).toContain('UDP/TLS offered without ICE=force: a WebRTC answerer needs ICE (the WebRTC flag sets it)');
    const forced = testCall(1).call;
    expect(offer(forced, PCMU, { transportProtocol: 'UDP/TLS/RTP/SAVPF', ice: 'force' }).warnings.join()).not.toMatch(/without ICE=force/);
  });
});

describe('planner: a=mid and BUNDLE', () => {
  it('generate-mid on one m= line: a mid and a BUNDLE group naming it', () => {
    const { call } = testCall(1);
    const o = offer(call, PCMU, { generateMid: true });
    expect(m0(o.rewrite).mid).toBe('0');
    expect(o.rewrite.groups).toEqual([{ type: 'BUNDLE', mids: '0' }]);
  });

  it('generate-mid on several m= lines: fresh mids that skip used ones, and no BUNDLE group', () => {
    const { call } = testCall(2);
    const o = offer(call, sdp([audio(4000, '0'), ['m=video 4002 RTP/AVP 96', 'a=rtpmap:96 VP8/90000', 'a=mid:0']]), { generateMid: true });
    expect(o.rewrite.media[0]?.mid).toBe('1');
    expect(o.rewrite.media[1]?.mid).toBeUndefined();
    expect(o.rewrite.groups).toBeUndefined();
  });

  it('no generate-mid: no mid is invented and no group is set', () => {
    const { call } = testCall(1);
    const o = offer(call, PCMU);
    expect(m0(o.rewrite).mid).toBeUndefined();
    expect(o.rewrite.groups).toBeUndefined();
  });

  it('the offerer\'s groups and mid come back in its answer (RFC 9143)', () => {
    const { call } = testCall(1);
    offer(call, sdp([audio(4000, '0', ['a=mid:audio0'])], ['a=group:BUNDLE audio0']));
    const a = answer(call, ANSWER_PCMU);
    expect(m0(a.rewrite).mid).toBe('audio0');
    expect(a.rewrite.groups).toEqual([{ type: 'BUNDLE', mids: 'audio0' }]);
  });
});

describe('planner: codecs', () => {
  const PCMU_PCMA_TE = sdp([audio(4000, '0 8 101', TE8)]);

  it('strip removes a codec from both the onward offer and the answer back', () => {
    const { call } = testCall(1);
    const o = offer(call, PCMU_PCMA_TE, { codec: { ...options().codec, strip: ['PCMA'] } });
    expect(m0(o.rewrite).codecs?.map((c) => c.name)).toEqual(['PCMU', 'telephone-event']);
    const a = answer(call, sdp([audio(5000, '0 101', TE8)]));
    expect(m0(a.rewrite).codecs?.map((c) => c.name)).toEqual(['PCMU', 'telephone-event']);
  });

  it('mask hides a codec from the answerer only', () => {
    const { call } = testCall(1);
    const o = offer(call, PCMU_PCMA_TE, { codec: { ...options().codec, mask: ['PCMU'] } });
    expect(m0(o.rewrite).codecs?.map((c) => c.name)).toEqual(['PCMA', 'telephone-event']);
    expect(call.medias[0].offerPlan?.offererCodecs.map((c) => c.name)).toEqual(['PCMU', 'PCMA', 'telephone-event']);
  });

  it('transcode adds a codec; an answer that picks it gets a transcoding plan', () => {
    const { call } = testCall(1);
    const o = offer(call, PCMU, { codec: { ...options().codec, transcode: ['PCMA'] } });
    expect(m0(o.rewrite).codecs?.map((c) => `${c.pt} ${c.name}`)).toEqual(['0 PCMU', '8 PCMA']);
    const a = answer(call, sdp([audio(5000, '8')]));
    expect(call.medias[0].transcoding).toBe(true);
    expect(call.medias[0].answerPlan?.mappings.some((mp) => mp.transcode && mp.offererCodec.name === 'PCMU' && mp.answererCodec.name === 'PCMA')).toBe(true);
    expect(m0(a.rewrite).codecs?.map((c) => c.name)).toEqual(['PCMU']);
  });

  it('an answer with a codec the offerer has passes media untouched', () => {
    const { call } = testCall(1);
    offer(call, PCMU_PCMA_TE, { codec: { ...options().codec, transcode: ['opus'] } });
    answer(call, sdp([audio(5000, '8 101', TE8)]));
    expect(call.medias[0].transcoding).toBe(false);
  });

  it('non-audio m= lines keep their formats and get no codec plan', () => {
    const { call } = testCall(1);
    const o = offer(call, sdp([['m=video 4000 RTP/AVP 96', 'a=rtpmap:96 VP8/90000']]), { codec: { ...options().codec, transcode: ['PCMA'] } });
    expect(m0(o.rewrite).codecs?.map((c) => c.name)).toEqual(['VP8']);
  });
});

describe('planner: echo modes', () => {
  it('media-echo on an offer or an answer is recorded with the side that asked', () => {
    const { call } = testCall(1);
    offer(call, PCMU, { mediaEcho: 'forward' });
    expect(call.echo).toEqual({ mode: 'forward', requestedBy: 0 });
    answer(call, ANSWER_PCMU, { mediaEcho: 'backwards' });
    expect(call.echo).toEqual({ mode: 'backwards', requestedBy: 1 });
  });
});

describe('planner: SRTP and DTLS profile bridging', () => {
  const SDES_OFFER = sdp([audio(4000, '0', [`a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${KEY}`])], []).replace('RTP/AVP', 'RTP/SAVP');
  const DTLS_OFFER = (setup: string): string => sdp([audio(4000, '111', [...OPUS, 'a=rtcp-mux', `a=fingerprint:${FP}`, `a=setup:${setup}`], 'UDP/TLS/RTP/SAVPF')]);

  it('same profile, no transport-protocol: crypto passes end to end, with a warning', () => {
    const { call } = testCall(1);
    const o = offer(call, SDES_OFFER);
    expect(m0(o.rewrite).protocol).toBeUndefined();
    expect(m0(o.rewrite).crypto).toBeUndefined();
    expect(o.warnings.join()).toMatch(/a=crypto passed through end to end/);
  });

  it('RTP/AVP → RTP/SAVP: we offer our keys; the answer\'s tag picks one and the offerer gets plain RTP/AVP back', () => {
    const { call } = testCall(1);
    const o = offer(call, PCMU, { transportProtocol: 'RTP/SAVP' });
    const r = m0(o.rewrite);
    expect(r.protocol).toBe('RTP/SAVP');
    expect(r.crypto?.length).toBeGreaterThan(0);
    expect(call.medias[0].bridgedProfiles).toBe(true);
    const ours = r.crypto?.[0];
    const a = answer(call, sdp([audio(5000, '0', [`a=crypto:${ours?.id} ${ours?.suite} inline:${KEY}`])]).replace('RTP/AVP', 'RTP/SAVP'));
    expect(m0(a.rewrite)).toMatchObject({ protocol: 'RTP/AVP', crypto: [] });
    expect(call.medias[0].srtp[1]).toMatchObject({ profile: ours?.suite, recv: KEY });
    expect(call.medias[0].srtp[0]).toBeUndefined();
  });

  it('an SDES answerer that declines SRTP leaves its side plain', () => {
    const { call } = testCall(1);
    offer(call, PCMU, { transportProtocol: 'RTP/SAVP' });
    answer(call, ANSWER_PCMU);
    expect(call.medias[0].srtp).toEqual([undefined, undefined]);
  });

  it('RTP/SAVP → RTP/AVP: the offerer\'s key is taken and answered with ours under its tag', () => {
    const { call } = testCall(1);
    const o = offer(call, SDES_OFFER, { transportProtocol: 'RTP/AVP' });
    expect(m0(o.rewrite)).toMatchObject({ protocol: 'RTP/AVP', crypto: [] });
    const a = answer(call, ANSWER_PCMU);
    const back = m0(a.rewrite);
    expect(back.protocol).toBe('RTP/SAVP');
    expect(back.crypto).toHaveLength(1);
    expect(back.crypto?.[0]).toMatchObject({ id: 3, suite: 'AES_CM_128_HMAC_SHA1_80' });
    expect(call.medias[0].srtp[0]).toMatchObject({ profile: 'AES_CM_128_HMAC_SHA1_80', recv: KEY });
  });

  it('an SDES offer without a usable key, SDES=off toward an SDES answerer: refused', () => {
    const { call } = testCall(1);
    expect(() => offer(call, PCMU.replace('RTP/AVP', 'RTP/SAVP'), { transportProtocol: 'RTP/AVP' })).toThrow(/without a usable a=crypto/);
    const off = testCall(1).call;
    expect(() => offer(off, PCMU, { transportProtocol: 'RTP/SAVP', sdes: { off: true, no: [], only: [] } })).toThrow(/needs SDES, but SDES=off/);
  });

  it('toward a DTLS answerer: our fingerprint with actpass, or the role DTLS=passive|active asks for', () => {
    const { call } = testCall(1);
    expect(m0(offer(call, PCMU, { transportProtocol: 'UDP/TLS/RTP/SAVPF', ice: 'force' }).rewrite).dtls).toEqual({ fingerprint: FP, setup: 'actpass' });
    const passive = testCall(1).call;
    expect(m0(offer(passive, PCMU, { transportProtocol: 'UDP/TLS/RTP/SAVPF', dtls: 'passive' }).rewrite).dtls).toEqual({ fingerprint: FP, setup: 'passive' });
  });

  it('DTLS needs a certificate and DTLS not off', () => {
    const { call } = testCall(1);
    expect(() => offer(call, PCMU, { transportProtocol: 'UDP/TLS/RTP/SAVPF' }, 'a', { interface: '203.0.113.5', ourFingerprint: undefined })).toThrow(/no DTLS certificate/);
    expect(() => offer(call, PCMU, { transportProtocol: 'UDP/TLS/RTP/SAVPF', dtls: 'off' })).toThrow(/needs DTLS, but DTLS=off/);
  });

  it('the answer\'s a=setup fixes our role toward a DTLS answerer (missing = active = we serve)', () => {
    const roles: [string[], 'server' | 'client'][] = [[['a=setup:passive'], 'client'], [['a=setup:active'], 'server'], [[], 'server']];
    for (const [setup, role] of roles) {
      const { call } = testCall(1);
      offer(call, PCMU, { transportProtocol: 'UDP/TLS/RTP/SAVPF', ice: 'force' });
      const a = answer(call, sdp([audio(5000, '0', [`a=fingerprint:${FP}`, ...setup], 'UDP/TLS/RTP/SAVPF')]));
      expect(call.medias[0].dtls).toMatchObject({ side: 1, role });
      expect(m0(a.rewrite)).toMatchObject({ protocol: 'RTP/AVP', dtls: 'remove' });
      expect(a.notes.length).toBe(setup.length === 0 ? 1 : 0);
    }
  });

  it('a DTLS answer without a fingerprint is refused; one that declines DTLS is plain RTP with a note', () => {
    const { call } = testCall(1);
    offer(call, PCMU, { transportProtocol: 'UDP/TLS/RTP/SAVPF' });
    expect(() => answer(call, sdp([audio(5000, '0', [], 'UDP/TLS/RTP/SAVPF')]))).toThrow(/answer without a=fingerprint/);
    const declined = testCall(1).call;
    offer(declined, PCMU, { transportProtocol: 'UDP/TLS/RTP/SAVPF' });
    expect(answer(declined, ANSWER_PCMU).notes).toEqual(['answer declined DTLS-SRTP (RTP/AVP): plain RTP toward the answerer']);
    expect(declined.medias[0].dtls).toBeUndefined();
  });

  it('a DTLS offerer: its fingerprint checked, our role from its a=setup, our fingerprint in the answer', () => {
    const { call } = testCall(1);
    const codec = { ...options().codec, transcode: ['PCMU'] };
    const o = offer(call, DTLS_OFFER('actpass'), { transportProtocol: 'RTP/AVP', codec });
    expect(m0(o.rewrite)).toMatchObject({ protocol: 'RTP/AVP', dtls: 'remove' });
    expect(call.medias[0].dtls).toEqual({ side: 0, role: 'server', peerFingerprint: FP });
    const a = answer(call, ANSWER_PCMU);
    expect(m0(a.rewrite)).toMatchObject({ protocol: 'UDP/TLS/RTP/SAVPF', dtls: { fingerprint: FP, setup: 'passive' } });
    const active = testCall(1).call;
    offer(active, DTLS_OFFER('passive'), { transportProtocol: 'RTP/AVP', codec });
    expect(active.medias[0].dtls?.role).toBe('client');
  });

  it('a DTLS offerer\'s sha-1 fingerprint is refused', () => {
    const { call } = testCall(1);
    const sha1 = DTLS_OFFER('actpass').replace(`a=fingerprint:${FP}`, 'a=fingerprint:sha-1 AA:BB');
    expect(() => offer(call, sha1, { transportProtocol: 'RTP/AVP' })).toThrow(/sha-1 is not supported/);
  });

  it('a re-offer without transport-protocol keeps each side on the profile it negotiated', () => {
    const { call } = testCall(1);
    offer(call, PCMU, { transportProtocol: 'RTP/SAVP' });
    const ours = m0(offer(call, PCMU, { transportProtocol: 'RTP/SAVP' }).rewrite).crypto?.[0];
    answer(call, sdp([audio(5000, '0', [`a=crypto:${ours?.id} ${ours?.suite} inline:${KEY}`])]).replace('RTP/AVP', 'RTP/SAVP'));
    // The caller re-offers plain RTP with no transport-protocol: the callee stays on SRTP.
    expect(m0(offer(call, PCMU).rewrite).protocol).toBe('RTP/SAVP');
    // A call that never bridged profiles passes the offerer's profile on.
    const plain = testCall(1).call;
    offer(plain, PCMU);
    answer(plain, ANSWER_PCMU);
    expect(m0(offer(plain, PCMU).rewrite).protocol).toBeUndefined();
  });

  it('a=fingerprint carried but not terminated is a warning; terminated it is not', () => {
    const { call } = testCall(1);
    expect(offer(call, DTLS_OFFER('actpass')).warnings.join()).toMatch(/a=fingerprint passed through end to end/);
    const t = testCall(1).call;
    expect(offer(t, DTLS_OFFER('actpass'), { transportProtocol: 'RTP/AVP' }).warnings.join()).not.toMatch(/a=fingerprint passed through/);
  });
});

describe('planner: peer endpoints', () => {
  it('the signalling source replaces the SDP address when asked; multicast is refused', () => {
    const { call } = testCall(1);
    offer(call, PCMU, { sipSourceAddress: true, receivedFrom: { family: 'IP4', address: '198.51.100.7' } });
    expect(call.medias[0].peer[0]?.address).toBe('198.51.100.7');
    expect(() => offer(testCall(1).call, PCMU.replace('c=IN IP4 192.0.2.10', 'c=IN IP4 224.0.0.1'))).toThrow(/multicast/);
  });
});
