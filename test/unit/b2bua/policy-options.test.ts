import { LOCAL_CODEC_CAPABILITIES } from '../../../src/media/codecs/codec.js';
import { describe, it, expect } from 'vitest';
import { offerMediaOptions, answerMediaOptions, checkOffer, defaultLegPolicy, type CallPolicy, type LegPolicy } from '../../../src/b2bua/policy.js';
import { planOfferCodecs, planAnswerCodecs } from '../../../src/sdp/negotiate.js';
import type { SdpCodec } from '../../../src/sdp/sdp.js';

/**
 * Policy → media options, judged by what the media plane's planner then puts in the SDP each leg
 * receives (the observable result), not by the option lists themselves.
 */
const PCMA: SdpCodec = { pt: 8, name: 'PCMA', clockRate: 8000, channels: 1 };
const PCMU: SdpCodec = { pt: 0, name: 'PCMU', clockRate: 8000, channels: 1 };
const G729: SdpCodec = { pt: 18, name: 'G729', clockRate: 8000, channels: 1 };
const DTMF: SdpCodec = { pt: 101, name: 'telephone-event', clockRate: 8000, channels: 1 };

function policy(b: Partial<LegPolicy>, a: Partial<LegPolicy> = {}): CallPolicy {
  return { a: { ...defaultLegPolicy(), ...a }, b: { ...defaultLegPolicy(), ...b } };
}

const names = (cs: SdpCodec[]) => cs.map((c) => c.name);

describe('codec policy → what each leg is offered', () => {
  it('"leg B gets PCMU; transcode whatever A brings": PCMA caller → B sees PCMU (+DTMF), A is answered PCMA, transcoding on', () => {
    const o = offerMediaOptions(policy({ codecs: ['PCMU'] }), 'a-to-b');
    const plan = planOfferCodecs([PCMA, DTMF], o.codec, LOCAL_CODEC_CAPABILITIES);
    expect(names(plan.answererOffer)).toEqual(['PCMU', 'telephone-event']);
    const answer = planAnswerCodecs(plan, [PCMU, DTMF], { alwaysTranscode: o.alwaysTranscode }, LOCAL_CODEC_CAPABILITIES);
    expect(answer.transcoding).toBe(true);
    expect(names(answer.offererAnswer)).toEqual(['PCMA', 'telephone-event']);
  });

  it('without transcoding, only the allowed codecs the caller has are offered', () => {
    const o = offerMediaOptions(policy({ codecs: ['PCMA'], transcode: false }), 'a-to-b');
    expect(o.codec.transcode).toEqual([]);
    expect(names(planOfferCodecs([PCMU, PCMA, G729], o.codec, LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual(['PCMA']);
  });

  it('a codec the caller already has is not transcoded: PCMU caller, B [PCMU] → pass-through', () => {
    const o = offerMediaOptions(policy({ codecs: ['PCMU'] }), 'a-to-b');
    const plan = planOfferCodecs([G729, PCMU], o.codec, LOCAL_CODEC_CAPABILITIES);
    expect(names(plan.answererOffer)).toEqual(['PCMU']);
    expect(planAnswerCodecs(plan, [PCMU], { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES).transcoding).toBe(false);
  });

  it('strip and keep work by name and by payload type', () => {
    const strip = offerMediaOptions(policy({ strip: ['G729', '0'] }), 'a-to-b');
    expect(names(planOfferCodecs([G729, PCMU, PCMA, DTMF], strip.codec, LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual(['PCMA', 'telephone-event']);
    const keep = offerMediaOptions(policy({ keep: ['8'] }), 'a-to-b');
    expect(names(planOfferCodecs([G729, PCMU, PCMA, DTMF], keep.codec, LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual(['PCMA', 'telephone-event']);
    const noDtmf = offerMediaOptions(policy({ codecs: ['PCMA'], strip: ['telephone-event'] }), 'a-to-b');
    expect(names(planOfferCodecs([PCMA, DTMF], noDtmf.codec, LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual(['PCMA']);
  });

  it("the offerer's own strip list removes codecs it may not use at all", () => {
    const o = offerMediaOptions(policy({}, { strip: ['G729'] }), 'a-to-b');
    const plan = planOfferCodecs([G729, PCMA], o.codec, LOCAL_CODEC_CAPABILITIES);
    expect(names(plan.offererCodecs)).toEqual(['PCMA']);
    expect(names(plan.answererOffer)).toEqual(['PCMA']);
  });

  it('mirrors for offers from leg B: A\'s policy decides what A is offered', () => {
    const p = policy({ codecs: ['PCMU'] }, { codecs: ['PCMA'] });
    const o = offerMediaOptions(p, 'b-to-a');
    expect(names(planOfferCodecs([PCMU, DTMF], o.codec, LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual(['PCMA', 'telephone-event']);
  });

  it('ptime: the receiving leg gets ptime, the offering leg ptime-reverse; answers carry none', () => {
    const p = policy({ ptime: 20 }, { ptime: 30 });
    expect([offerMediaOptions(p, 'a-to-b').ptime, offerMediaOptions(p, 'a-to-b').ptimeReverse]).toEqual([20, 30]);
    expect([offerMediaOptions(p, 'b-to-a').ptime, offerMediaOptions(p, 'b-to-a').ptimeReverse]).toEqual([30, 20]);
    const ans = answerMediaOptions(p, 'a-to-b');
    expect([ans.ptime, ans.ptimeReverse]).toEqual([undefined, undefined]);
    expect(ans.replaceOrigin && ans.replaceSessionConnection).toBe(true);
  });

  it('srtp per leg becomes the transport-protocol of offers to that leg', () => {
    const p = policy({ srtp: 'sdes' }, { srtp: 'none' });
    expect(offerMediaOptions(p, 'a-to-b').transportProtocol).toBe('RTP/SAVP');
    expect(offerMediaOptions(p, 'b-to-a').transportProtocol).toBe('RTP/AVP');
    expect(offerMediaOptions(policy({}), 'a-to-b').transportProtocol).toBeUndefined();
  });

  it('checkOffer says why an offer cannot satisfy the receiving leg', () => {
    expect(checkOffer(policy({ codecs: ['PCMA'] }), 'a-to-b', ['PCMU', 'telephone-event'], LOCAL_CODEC_CAPABILITIES)).toBeNull();
    expect(checkOffer(policy({ codecs: ['PCMA'] }), 'a-to-b', ['G729'], LOCAL_CODEC_CAPABILITIES)).toMatch(/G729 can be transcoded to PCMA|none of G729/);
    expect(checkOffer(policy({ codecs: ['PCMA'], transcode: false }), 'a-to-b', ['PCMU'], LOCAL_CODEC_CAPABILITIES)).toMatch(/transcoding is off/);
    expect(checkOffer(policy({}, { codecs: ['PCMA'] }), 'a-to-b', ['PCMU'], LOCAL_CODEC_CAPABILITIES)).toMatch(/none of PCMA/);
    expect(checkOffer(policy({}), 'a-to-b', ['telephone-event'], LOCAL_CODEC_CAPABILITIES)).toMatch(/no usable audio codec/);
  });
});
