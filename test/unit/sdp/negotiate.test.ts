import { describe, it, expect } from 'vitest';
import { planOfferCodecs, planAnswerCodecs, codecMatches, type CodecOptions } from '../../../src/sdp/negotiate.js';
import type { SdpCodec } from '../../../src/sdp/sdp.js';

const PCMU: SdpCodec = { pt: 0, name: 'PCMU', clockRate: 8000, channels: 1 };
const PCMA: SdpCodec = { pt: 8, name: 'PCMA', clockRate: 8000, channels: 1 };
const G722: SdpCodec = { pt: 9, name: 'G722', clockRate: 8000, channels: 1 };
const TE: SdpCodec = { pt: 101, name: 'telephone-event', clockRate: 8000, channels: 1, fmtp: '0-16' };

function opts(o: Partial<CodecOptions> = {}): CodecOptions {
  return { strip: [], except: [], mask: [], transcode: [], offer: [], accept: [], consume: [], ...o };
}

describe('codec planning', () => {
  it('matches by name, name/rate, payload type and all', () => {
    expect(codecMatches(PCMA, 'pcma')).toBe(true);
    expect(codecMatches(PCMA, 'PCMA/8000')).toBe(true);
    expect(codecMatches(PCMA, 'PCMA/16000')).toBe(false);
    expect(codecMatches(PCMA, '8')).toBe(true);
    expect(codecMatches(PCMA, 'all')).toBe(true);
  });

  it('passes the offer through untouched without options', () => {
    const p = planOfferCodecs([PCMU, PCMA, TE], opts());
    expect(p.answererOffer).toEqual([PCMU, PCMA, TE]);
    expect(p.added).toEqual([]);
  });

  it('strips, and strip all with except keeps only the exception', () => {
    expect(planOfferCodecs([PCMU, PCMA, TE], opts({ strip: ['PCMU'] })).answererOffer).toEqual([PCMA, TE]);
    const p = planOfferCodecs([PCMU, PCMA, G722, TE], opts({ strip: ['all'], except: ['PCMA', 'telephone-event'] }));
    expect(p.answererOffer).toEqual([PCMA, TE]);
    expect(p.offererCodecs).toEqual([PCMA, TE]);
  });

  it('a stripped static codec added back by transcode keeps its static payload type', () => {
    const OPUS: SdpCodec = { pt: 111, name: 'opus', clockRate: 48000, channels: 2 };
    // A browser offers Opus, PCMU and PCMA; the phone must get PCMA made from Opus, not the browser's PCMA.
    const p = planOfferCodecs([OPUS, PCMU, PCMA, TE], opts({ strip: ['PCMU', 'PCMA'], mask: ['opus'], transcode: ['PCMA'] }));
    expect(p.answererOffer.map((c) => `${c.pt} ${c.name}`)).toEqual(['8 PCMA', '101 telephone-event']);
    expect(p.offererCodecs.map((c) => c.name)).toEqual(['opus', 'telephone-event']);
  });

  it('mask + transcode: the masked codec stays acceptable from the offerer, the added one goes before telephone-event', () => {
    const p = planOfferCodecs([PCMA, TE], opts({ mask: ['PCMA'], transcode: ['PCMU'] }));
    expect(p.answererOffer.map((c) => `${c.pt} ${c.name}`)).toEqual(['0 PCMU', '101 telephone-event']);
    expect(p.offererCodecs).toEqual([PCMA, TE]);
  });

  it('does not add a codec nothing transcodes to, and says so', () => {
    const p = planOfferCodecs([G722], opts({ transcode: ['PCMU'] }));
    expect(p.answererOffer).toEqual([G722]);
    expect(p.warnings.join()).toMatch(/PCMU/);
  });

  it('picks a dynamic payload type when the static one is taken', () => {
    const odd: SdpCodec = { pt: 0, name: 'G726-32', clockRate: 8000, channels: 1 };
    const p = planOfferCodecs([PCMA, odd], opts({ transcode: ['PCMU'] }));
    expect(p.added[0].pt).toBe(96);
  });

  it('answer with an added codec engages transcoding and keeps telephone-event only if both have it', () => {
    const offer = planOfferCodecs([PCMA, TE], opts({ mask: ['PCMA'], transcode: ['PCMU'] }));
    const noTe = planAnswerCodecs(offer, [PCMU], { alwaysTranscode: false });
    expect(noTe.transcoding).toBe(true);
    expect(noTe.offererAnswer).toEqual([PCMA]);
    const withTe = planAnswerCodecs(offer, [PCMU, { ...TE, pt: 100 }], { alwaysTranscode: false });
    expect(withTe.offererAnswer).toEqual([PCMA, TE]);
    expect(withTe.mappings.map((m) => [m.offererPt, m.answererPt, m.transcode])).toEqual([[8, 0, true], [101, 100, false]]);
  });

  it('answer with a codec the offerer has is plain pass-through', () => {
    const offer = planOfferCodecs([PCMU, PCMA], opts({ transcode: ['PCMA'] }));
    const a = planAnswerCodecs(offer, [PCMA], { alwaysTranscode: false });
    expect(a.transcoding).toBe(false);
    expect(a.mappings).toEqual([]);
    expect(a.offererAnswer).toEqual([PCMA]);
  });

  it('always-transcode converts to the offerer’s first codec even when a common one exists', () => {
    const offer = planOfferCodecs([PCMA, PCMU], opts());
    const a = planAnswerCodecs(offer, [PCMU], { alwaysTranscode: true });
    expect(a.transcoding).toBe(true);
    expect(a.offererAnswer).toEqual([PCMA]);
  });
});
