import { LOCAL_CODEC_CAPABILITIES } from '../../../src/media/codecs/codec.js';
import { describe, it, expect } from 'vitest';
import { answerMediaOptions, checkOffer, defaultLegPolicy, offerMediaOptions, type CallPolicy, type Direction, type LegPolicy } from '../../../src/b2bua/policy.js';
import { planAnswerCodecs, planOfferCodecs, type OfferCodecPlan } from '../../../src/sdp/negotiate.js';
import { mediaCodecs, parseSdp, type SdpCodec } from '../../../src/sdp/sdp.js';

/**
 * The policy is judged by its observable result: SDP offers are parsed, run through the media
 * plane's planner with the options the policy produced, and the codec lists each leg would see
 * are compared. Option lists themselves are asserted only where the report promises them.
 */

const RTPMAP: Record<string, string> = {
  PCMU: '0', PCMA: '8', G729: '18', CN: '13', 'telephone-event': '101', opus: '96',
};
const MAPLINE: Record<string, string> = {
  PCMU: 'PCMU/8000', PCMA: 'PCMA/8000', G729: 'G729/8000', CN: 'CN/8000', 'telephone-event': 'telephone-event/8000', opus: 'opus/48000/2',
};

/** An audio offer with these codecs (by name), parsed the way the media plane parses it. */
function offer(...names: string[]): SdpCodec[] {
  const pts = names.map((n) => RTPMAP[n]);
  const text = [
    'v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0',
    `m=audio 4000 RTP/AVP ${pts.join(' ')}`,
    ...names.map((n) => `a=rtpmap:${RTPMAP[n]} ${MAPLINE[n]}`),
    '',
  ].join('\r\n');
  return mediaCodecs(parseSdp(text).session.media[0]);
}

function policy(b: Partial<LegPolicy>, a: Partial<LegPolicy> = {}): CallPolicy {
  return { a: { ...defaultLegPolicy(), ...a }, b: { ...defaultLegPolicy(), ...b } };
}

const names = (cs: SdpCodec[]): string[] => cs.map((c) => c.name);

/** What the receiving leg is offered when `offered` goes out in direction `dir`. */
function sent(p: CallPolicy, dir: Direction, offered: SdpCodec[]): OfferCodecPlan {
  return planOfferCodecs(offered, offerMediaOptions(p, dir).codec, LOCAL_CODEC_CAPABILITIES);
}

describe('offer a-to-b: leg B gets its allowed codecs that A has or that transcoding reaches', () => {
  it('A offers PCMA + telephone-event, B [PCMU] with transcoding → B sees PCMU + telephone-event; A is answered PCMA, transcoded', () => {
    const p = policy({ codecs: ['PCMU'], transcode: true });
    const plan = sent(p, 'a-to-b', offer('PCMA', 'telephone-event'));
    expect(names(plan.answererOffer)).toEqual(['PCMU', 'telephone-event']);
    expect(plan.answererOffer[0].pt).toBe(0); // static PT, free in A's offer
    const answer = planAnswerCodecs(plan, offer('PCMU', 'telephone-event'), { alwaysTranscode: offerMediaOptions(p, 'a-to-b').alwaysTranscode }, LOCAL_CODEC_CAPABILITIES);
    expect(answer.transcoding).toBe(true);
    expect(names(answer.offererAnswer)).toEqual(['PCMA', 'telephone-event']);
  });

  it('A offers PCMU, PCMA; B [PCMA] without transcoding → B sees PCMA only, nothing is added', () => {
    const o = offerMediaOptions(policy({ codecs: ['PCMA'], transcode: false }), 'a-to-b');
    expect(o.codec).toMatchObject({ mask: ['all'], except: ['PCMA', 'telephone-event'], transcode: [], strip: [] });
    const plan = planOfferCodecs(offer('PCMU', 'PCMA'), o.codec, LOCAL_CODEC_CAPABILITIES);
    expect(names(plan.answererOffer)).toEqual(['PCMA']);
    expect(plan.added).toEqual([]);
    expect(planAnswerCodecs(plan, offer('PCMA'), { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES).transcoding).toBe(false);
  });

  it('a codec A already has is passed through, not transcoded', () => {
    const plan = sent(policy({ codecs: ['PCMU'] }), 'a-to-b', offer('G729', 'PCMU'));
    expect(names(plan.answererOffer)).toEqual(['PCMU']);
    expect(plan.added).toEqual([]);
    expect(planAnswerCodecs(plan, offer('PCMU'), { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES).transcoding).toBe(false);
  });

  it('A offers G729 only, B [PCMA] with transcoding → checkOffer refuses (G729 cannot be transcoded), B would get no audio', () => {
    const p = policy({ codecs: ['PCMA'], transcode: true });
    expect(checkOffer(p, 'a-to-b', ['G729'], LOCAL_CODEC_CAPABILITIES)).toMatch(/none of G729 can be transcoded to PCMA/);
    expect(names(sent(p, 'a-to-b', offer('G729')).answererOffer)).toEqual([]);
  });

  it('CN is not in the exact list unless B allows it; B open passes everything as offered', () => {
    expect(names(sent(policy({ codecs: ['PCMA'] }), 'a-to-b', offer('PCMA', 'CN', 'telephone-event')).answererOffer)).toEqual(['PCMA', 'telephone-event']);
    const open = sent(policy({}), 'a-to-b', offer('G729', 'PCMA', 'CN', 'telephone-event'));
    expect(names(open.answererOffer)).toEqual(['G729', 'PCMA', 'CN', 'telephone-event']);
    expect(offerMediaOptions(policy({}), 'a-to-b').codec).toMatchObject({ mask: [], except: [], transcode: [] });
  });

  it('several allowed codecs: those A has pass, the others are added by transcoding where possible', () => {
    const plan = sent(policy({ codecs: ['PCMU', 'PCMA', 'G729'] }), 'a-to-b', offer('PCMA', 'opus'));
    expect(names(plan.answererOffer).sort()).toEqual(['PCMA', 'PCMU']);
    expect(plan.offererCodecs.map((c) => c.name)).toEqual(['PCMA', 'opus']); // masked opus stays a source
  });

  it("B sees its allowed codecs in B's preference order, telephone-event last", () => {
    const plan = sent(policy({ codecs: ['PCMU', 'PCMA'] }), 'a-to-b', offer('PCMA', 'PCMU', 'telephone-event'));
    expect(names(plan.answererOffer)).toEqual(['PCMU', 'PCMA', 'telephone-event']);
    const added = sent(policy({ codecs: ['PCMU', 'PCMA'] }), 'a-to-b', offer('PCMA'));
    expect(names(added.answererOffer)).toEqual(['PCMU', 'PCMA']);
  });
});

describe('strip and keep, by name and by payload type', () => {
  const all = (): SdpCodec[] => offer('G729', 'PCMU', 'PCMA', 'telephone-event');

  it('strip on an open leg masks by name and by PT', () => {
    expect(names(sent(policy({ strip: ['G729', '0'] }), 'a-to-b', all()).answererOffer)).toEqual(['PCMA', 'telephone-event']);
    expect(names(sent(policy({ strip: ['telephone-event'] }), 'a-to-b', all()).answererOffer)).toEqual(['G729', 'PCMU', 'PCMA']);
  });

  it('keep by PT or name keeps only those, plus telephone-event unless stripped', () => {
    expect(names(sent(policy({ keep: ['8'] }), 'a-to-b', all()).answererOffer)).toEqual(['PCMA', 'telephone-event']);
    expect(names(sent(policy({ keep: ['pcmu', 'G729'] }), 'a-to-b', all()).answererOffer)).toEqual(['G729', 'PCMU', 'telephone-event']);
    expect(names(sent(policy({ keep: ['PCMA'], strip: ['telephone-event'] }), 'a-to-b', all()).answererOffer)).toEqual(['PCMA']);
  });

  it('keep alone filters and never transcodes', () => {
    const o = offerMediaOptions(policy({ keep: ['PCMU'], transcode: true }), 'a-to-b');
    expect(o.codec.transcode).toEqual([]);
    expect(names(planOfferCodecs(offer('PCMA'), o.codec, LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual([]);
    expect(checkOffer(policy({ keep: ['PCMU'] }), 'a-to-b', ['PCMA'], LOCAL_CODEC_CAPABILITIES)).toMatch(/keep filters/);
  });

  it('codecs ∩ keep, minus strip, with static PTs equal to their names', () => {
    expect(names(sent(policy({ codecs: ['PCMU', 'PCMA'], keep: ['8'] }), 'a-to-b', all()).answererOffer)).toEqual(['PCMA', 'telephone-event']);
    const o = offerMediaOptions(policy({ codecs: ['PCMA', 'PCMU'], strip: ['8'] }), 'a-to-b');
    expect(o.codec.except).toEqual(['PCMU', 'telephone-event']);
    expect(names(planOfferCodecs(all(), o.codec, LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual(['PCMU', 'telephone-event']);
  });

  it('codecs by payload type become named transcoding targets', () => {
    const o = offerMediaOptions(policy({ codecs: ['0'] }), 'a-to-b');
    expect(o.codec.except).toEqual(['0', 'telephone-event']);
    expect(o.codec.transcode).toEqual(['PCMU']);
    expect(names(planOfferCodecs(offer('PCMA'), o.codec, LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual(['PCMU']);
  });

  it("the offering leg's strip list removes what it may not send, even a codec the receiver allows", () => {
    const p = policy({ codecs: ['PCMA'] }, { strip: ['PCMA', 'G729'] });
    const o = offerMediaOptions(p, 'a-to-b');
    expect(o.codec.strip).toEqual(['PCMA', 'G729']);
    expect(o.codec.except).toEqual(['telephone-event']); // except would override strip in the planner
    const plan = planOfferCodecs(offer('G729', 'PCMA', 'PCMU'), o.codec, LOCAL_CODEC_CAPABILITIES);
    expect(names(plan.offererCodecs)).toEqual(['PCMU']);
    expect(names(plan.answererOffer)).toEqual(['PCMA']); // reached from PCMU by transcoding
    expect(plan.added.map((c) => c.name)).toEqual(['PCMA']);
    expect(checkOffer(policy({ codecs: ['PCMA'], transcode: false }, { strip: ['PCMA'] }), 'a-to-b', ['PCMA', 'PCMU'], LOCAL_CODEC_CAPABILITIES)).toMatch(/transcoding is off/);
  });
});

describe('offer b-to-a: the mirror, with leg A\'s policy deciding what A sees', () => {
  it('B offers PCMU + telephone-event, A [PCMA] → A sees PCMA + telephone-event, B is answered PCMU', () => {
    const p = policy({ codecs: ['PCMU'] }, { codecs: ['PCMA'] });
    const plan = sent(p, 'b-to-a', offer('PCMU', 'telephone-event'));
    expect(names(plan.answererOffer)).toEqual(['PCMA', 'telephone-event']);
    const answer = planAnswerCodecs(plan, offer('PCMA', 'telephone-event'), { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES);
    expect(names(answer.offererAnswer)).toEqual(['PCMU', 'telephone-event']);
    expect(answer.transcoding).toBe(true);
  });

  it('B\'s strip list applies to what B sends; A open sees the rest', () => {
    const plan = sent(policy({ strip: ['G729'] }), 'b-to-a', offer('G729', 'PCMA'));
    expect(names(plan.offererCodecs)).toEqual(['PCMA']);
    expect(names(plan.answererOffer)).toEqual(['PCMA']);
  });

  it('re-INVITEs from either side keep each leg within its policy (same functions, every offer)', () => {
    const p = policy({ codecs: ['PCMA'], transcode: true }, { codecs: ['PCMU'], transcode: true });
    // initial INVITE, then B's re-INVITE bringing G729 and PCMA, then A's re-INVITE with opus
    expect(names(sent(p, 'a-to-b', offer('PCMU', 'telephone-event')).answererOffer)).toEqual(['PCMA', 'telephone-event']);
    expect(names(sent(p, 'b-to-a', offer('G729', 'PCMA', 'telephone-event')).answererOffer)).toEqual(['PCMU', 'telephone-event']);
    expect(names(sent(p, 'a-to-b', offer('opus', 'PCMU')).answererOffer)).toEqual(['PCMA']);
    expect(offerMediaOptions(p, 'a-to-b')).toEqual(offerMediaOptions(p, 'a-to-b'));
  });
});

describe('ptime and SDP ownership', () => {
  it('ptime = what the receiving leg gets, ptimeReverse = what the offering leg gets; answers carry neither', () => {
    const p = policy({ ptime: 20 }, { ptime: 30 });
    const ab = offerMediaOptions(p, 'a-to-b');
    const ba = offerMediaOptions(p, 'b-to-a');
    expect([ab.ptime, ab.ptimeReverse]).toEqual([20, 30]);
    expect([ba.ptime, ba.ptimeReverse]).toEqual([30, 20]);
    for (const dir of ['a-to-b', 'b-to-a'] as const) {
      const ans = answerMediaOptions(p, dir);
      expect([ans.ptime, ans.ptimeReverse]).toEqual([undefined, undefined]);
    }
    const onlyB = offerMediaOptions(policy({ ptime: 20 }), 'a-to-b');
    expect([onlyB.ptime, onlyB.ptimeReverse]).toEqual([20, undefined]);
  });

  it('origin and session connection are always replaced, in offers and answers', () => {
    for (const dir of ['a-to-b', 'b-to-a'] as const) {
      for (const o of [offerMediaOptions(policy({}), dir), answerMediaOptions(policy({}), dir)]) {
        expect([o.replaceOrigin, o.replaceSessionConnection, o.alwaysTranscode]).toEqual([true, true, false]);
      }
    }
  });

  it('srtp (extension) becomes the transport protocol of offers to that leg', () => {
    const p = policy({ srtp: 'sdes' }, { srtp: 'none' });
    expect(offerMediaOptions(p, 'a-to-b').transportProtocol).toBe('RTP/SAVP');
    expect(offerMediaOptions(p, 'b-to-a').transportProtocol).toBe('RTP/AVP');
    expect(offerMediaOptions(policy({}), 'a-to-b').transportProtocol).toBeUndefined();
  });
});

describe('checkOffer', () => {
  it('accepts what the receiver has or can be transcoded to', () => {
    expect(checkOffer(policy({ codecs: ['PCMA'] }), 'a-to-b', ['PCMA'], LOCAL_CODEC_CAPABILITIES)).toBeNull();
    expect(checkOffer(policy({ codecs: ['PCMA'] }), 'a-to-b', ['PCMU', 'telephone-event'], LOCAL_CODEC_CAPABILITIES)).toBeNull();
    expect(checkOffer(policy({ codecs: ['8'] }), 'a-to-b', ['PCMA'], LOCAL_CODEC_CAPABILITIES)).toBeNull();
    expect(checkOffer(policy({}), 'a-to-b', ['G729'], LOCAL_CODEC_CAPABILITIES)).toBeNull();
    expect(checkOffer(policy({}, { codecs: ['PCMA'] }), 'b-to-a', ['opus'], LOCAL_CODEC_CAPABILITIES)).toBeNull();
  });

  it('gives a reason naming the fault otherwise', () => {
    expect(checkOffer(policy({ codecs: ['PCMU'], transcode: false }), 'a-to-b', ['PCMA'], LOCAL_CODEC_CAPABILITIES)).toMatch(/offer \(PCMA\) has none of PCMU and transcoding is off \(leg b\)/);
    expect(checkOffer(policy({}), 'a-to-b', ['telephone-event', 'CN'], LOCAL_CODEC_CAPABILITIES)).toMatch(/no usable audio codec/);
    expect(checkOffer(policy({}, { strip: ['G729'] }), 'a-to-b', ['G729'], LOCAL_CODEC_CAPABILITIES)).toMatch(/no usable audio codec \(leg a\)/);
    expect(checkOffer(policy({ strip: ['G729'] }), 'a-to-b', ['G729'], LOCAL_CODEC_CAPABILITIES)).toMatch(/stripped for leg b/);
    expect(checkOffer(policy({ codecs: ['PCMA'], strip: ['PCMA'] }), 'a-to-b', ['PCMA'], LOCAL_CODEC_CAPABILITIES)).toMatch(/no allowed codec left/);
    // the offering leg's answer is a subset of its offer (RFC 3264 §6.1)
    expect(checkOffer(policy({}, { codecs: ['PCMA'] }), 'a-to-b', ['PCMU'], LOCAL_CODEC_CAPABILITIES)).toMatch(/none of PCMA, the codecs leg a may use/);
    // mirror: B re-offers G729 only, A takes PCMA
    expect(checkOffer(policy({}, { codecs: ['PCMA'] }), 'b-to-a', ['G729'], LOCAL_CODEC_CAPABILITIES)).toMatch(/can be transcoded to PCMA for leg a/);
  });

  it('cannot judge dynamic payload types by name, so lets them through', () => {
    expect(checkOffer(policy({ codecs: ['96'], transcode: false }), 'a-to-b', ['opus'], LOCAL_CODEC_CAPABILITIES)).toBeNull();
  });
});
