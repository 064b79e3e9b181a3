import { LOCAL_CODEC_CAPABILITIES } from '../../../src/media/codecs/codec.js';
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
    const p = planOfferCodecs([PCMU, PCMA, TE], opts(), LOCAL_CODEC_CAPABILITIES);
    expect(p.answererOffer).toEqual([PCMU, PCMA, TE]);
    expect(p.added).toEqual([]);
  });

  it('strips, and strip all with except keeps only the exception', () => {
    expect(planOfferCodecs([PCMU, PCMA, TE], opts({ strip: ['PCMU'] }), LOCAL_CODEC_CAPABILITIES).answererOffer).toEqual([PCMA, TE]);
    const p = planOfferCodecs([PCMU, PCMA, G722, TE], opts({ strip: ['all'], except: ['PCMA', 'telephone-event'] }), LOCAL_CODEC_CAPABILITIES);
    expect(p.answererOffer).toEqual([PCMA, TE]);
    expect(p.offererCodecs).toEqual([PCMA, TE]);
  });

  it('a stripped static codec added back by transcode keeps its static payload type', () => {
    const OPUS: SdpCodec = { pt: 111, name: 'opus', clockRate: 48000, channels: 2 };
    // A browser offers Opus, PCMU and PCMA; the phone must get PCMA made from Opus, not the browser's PCMA.
    const p = planOfferCodecs([OPUS, PCMU, PCMA, TE], opts({ strip: ['PCMU', 'PCMA'], mask: ['opus'], transcode: ['PCMA'] }), LOCAL_CODEC_CAPABILITIES);
    expect(p.answererOffer.map((c) => `${c.pt} ${c.name}`)).toEqual(['8 PCMA', '101 telephone-event']);
    expect(p.offererCodecs.map((c) => c.name)).toEqual(['opus', 'telephone-event']);
  });

  it('mask + transcode: the masked codec stays acceptable from the offerer, the added one goes before telephone-event', () => {
    const p = planOfferCodecs([PCMA, TE], opts({ mask: ['PCMA'], transcode: ['PCMU'] }), LOCAL_CODEC_CAPABILITIES);
    expect(p.answererOffer.map((c) => `${c.pt} ${c.name}`)).toEqual(['0 PCMU', '101 telephone-event']);
    expect(p.offererCodecs).toEqual([PCMA, TE]);
  });

  it('does not add a codec nothing transcodes to, and says so', () => {
    const G729: SdpCodec = { pt: 18, name: 'G729', clockRate: 8000, channels: 1 };
    const p = planOfferCodecs([G729], opts({ transcode: ['PCMU'] }), LOCAL_CODEC_CAPABILITIES);
    expect(p.answererOffer).toEqual([G729]);
    expect(p.warnings.join()).toMatch(/PCMU/);
  });

  it('picks a dynamic payload type when the static one is taken', () => {
    const odd: SdpCodec = { pt: 0, name: 'G726-32', clockRate: 8000, channels: 1 };
    const p = planOfferCodecs([PCMA, odd], opts({ transcode: ['PCMU'] }), LOCAL_CODEC_CAPABILITIES);
    expect(p.added[0].pt).toBe(96);
  });

  it('answer with an added codec engages transcoding and keeps telephone-event only if both have it', () => {
    const offer = planOfferCodecs([PCMA, TE], opts({ mask: ['PCMA'], transcode: ['PCMU'] }), LOCAL_CODEC_CAPABILITIES);
    const noTe = planAnswerCodecs(offer, [PCMU], { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES);
    expect(noTe.transcoding).toBe(true);
    expect(noTe.offererAnswer).toEqual([PCMA]);
    expect(noTe.inbandDtmf).toBeUndefined();
    // With transcode telephone-event the offerer keeps its events; the G.711 answerer gets them as tones.
    const asked = planOfferCodecs([PCMA, TE], opts({ mask: ['PCMA'], transcode: ['PCMU', 'telephone-event'] }), LOCAL_CODEC_CAPABILITIES);
    const tones = planAnswerCodecs(asked, [PCMU], { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES);
    expect(tones.offererAnswer).toEqual([PCMA, TE]);
    expect(tones.inbandDtmf).toEqual({ eventSide: 'offerer', pt: TE.pt, clockRate: 8000 });
    expect(tones.mappings.map((m) => m.offererPt)).toEqual([8]);
    const withTe = planAnswerCodecs(offer, [PCMU, { ...TE, pt: 100 }], { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES);
    expect(withTe.offererAnswer).toEqual([PCMA, TE]);
    expect(withTe.mappings.map((m) => [m.offererPt, m.answererPt, m.transcode])).toEqual([[8, 0, true], [101, 100, false]]);
    expect(withTe.inbandDtmf).toBeUndefined();
  });

  it('transcode telephone-event offers events to the answerer of an offerer without them, at each audio clock', () => {
    const OPUS: SdpCodec = { pt: 96, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' };
    const offer = planOfferCodecs([PCMA], opts({ transcode: ['opus', 'telephone-event'] }), LOCAL_CODEC_CAPABILITIES);
    expect(offer.warnings).toEqual([]);
    expect(offer.answererOffer.map((c) => `${c.pt} ${c.name}/${c.clockRate}`)).toEqual(['8 PCMA/8000', '96 opus/48000', '97 telephone-event/8000', '98 telephone-event/48000']);
    const ans = planAnswerCodecs(offer, [OPUS, { pt: 98, name: 'telephone-event', clockRate: 48000, channels: 1 }], { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES);
    expect(ans.offererAnswer).toEqual([PCMA]);
    expect(ans.inbandDtmf).toEqual({ eventSide: 'answerer', pt: 98, clockRate: 48000 });
    // An offerer with events of its own is not given more.
    expect(planOfferCodecs([PCMA, TE], opts({ transcode: ['telephone-event'] }), LOCAL_CODEC_CAPABILITIES).answererOffer).toEqual([PCMA, TE]);
  });

  describe('telephone-event across clock rates (Opus 48 kHz ↔ G.711 8 kHz)', () => {
    const OPUS: SdpCodec = { pt: 111, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' };
    const TE48: SdpCodec = { pt: 110, name: 'telephone-event', clockRate: 48000, channels: 1 };
    const TE8: SdpCodec = { pt: 126, name: 'telephone-event', clockRate: 8000, channels: 1 };
    const label = (cs: SdpCodec[]): string[] => cs.map((c) => `${c.pt} ${c.name}/${c.clockRate}`);

    it('a browser offer masked to PCMA offers telephone-event/8000 and drops the 48 kHz one', () => {
      const p = planOfferCodecs([OPUS, TE48], opts({ mask: ['opus'], transcode: ['PCMA'] }), LOCAL_CODEC_CAPABILITIES);
      expect(label(p.answererOffer)).toEqual(['8 PCMA/8000', '96 telephone-event/8000']);
      expect(p.answererOffer[1].fmtp).toBe('0-15');
      expect(p.offererCodecs).toEqual([OPUS, TE48]);
    });

    it('keeps the offerer’s own telephone-event/8000 when it has one', () => {
      const p = planOfferCodecs([OPUS, TE48, TE8], opts({ mask: ['opus'], transcode: ['PCMU'] }), LOCAL_CODEC_CAPABILITIES);
      expect(label(p.answererOffer)).toEqual(['0 PCMU/8000', '126 telephone-event/8000']);
    });

    it('Opus added next to PCMA brings telephone-event/48000 along (like rtpengine), with the offerer’s event list', () => {
      const p = planOfferCodecs([PCMA, TE], opts({ transcode: ['opus'] }), LOCAL_CODEC_CAPABILITIES);
      expect(label(p.answererOffer)).toEqual(['8 PCMA/8000', '96 opus/48000', '97 telephone-event/48000', '101 telephone-event/8000']);
      expect(p.answererOffer[2].fmtp).toBe('0-16');
      const masked = planOfferCodecs([PCMA, TE], opts({ mask: ['PCMA'], transcode: ['opus'] }), LOCAL_CODEC_CAPABILITIES);
      expect(label(masked.answererOffer)).toEqual(['96 opus/48000', '97 telephone-event/48000']);
    });

    it('adds no telephone-event when the offerer has none, or it was stripped', () => {
      expect(label(planOfferCodecs([OPUS], opts({ mask: ['opus'], transcode: ['PCMA'] }), LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual(['8 PCMA/8000']);
      expect(label(planOfferCodecs([OPUS, TE48], opts({ strip: ['telephone-event'], mask: ['opus'], transcode: ['PCMA'] }), LOCAL_CODEC_CAPABILITIES).answererOffer)).toEqual(['8 PCMA/8000']);
    });

    it('the answer maps each side’s telephone-event at its own audio clock and keeps the offerer’s PT', () => {
      const offer = planOfferCodecs([OPUS, TE48, TE8], opts({ mask: ['opus'], transcode: ['PCMA'] }), LOCAL_CODEC_CAPABILITIES);
      const a = planAnswerCodecs(offer, [PCMA, { ...TE, pt: 126 }], { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES);
      expect(label(a.offererAnswer)).toEqual(['111 opus/48000', '110 telephone-event/48000']);
      expect(a.mappings.map((m) => [m.offererPt, m.answererPt, m.offererCodec.clockRate, m.answererCodec.clockRate])).toEqual([
        [111, 8, 48000, 8000],
        [110, 126, 48000, 8000],
      ]);
      const back = planOfferCodecs([PCMA, TE], opts({ mask: ['PCMA'], transcode: ['opus'] }), LOCAL_CODEC_CAPABILITIES);
      const b = planAnswerCodecs(back, [{ ...OPUS, pt: 96 }, { ...TE48, pt: 97 }], { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES);
      expect(label(b.offererAnswer)).toEqual(['8 PCMA/8000', '101 telephone-event/8000']);
      expect(b.mappings[1]).toMatchObject({ offererPt: 101, answererPt: 97 });
    });

    it('falls back to the same rate on both sides when the offerer has no event at its audio clock', () => {
      const offer = planOfferCodecs([OPUS, TE8], opts({ mask: ['opus'], transcode: ['PCMA'] }), LOCAL_CODEC_CAPABILITIES);
      const a = planAnswerCodecs(offer, [PCMA, TE8], { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES);
      expect(label(a.offererAnswer)).toEqual(['111 opus/48000', '126 telephone-event/8000']);
    });
  });

  it('answer with a codec the offerer has is plain pass-through', () => {
    const offer = planOfferCodecs([PCMU, PCMA], opts({ transcode: ['PCMA'] }), LOCAL_CODEC_CAPABILITIES);
    const a = planAnswerCodecs(offer, [PCMA], { alwaysTranscode: false }, LOCAL_CODEC_CAPABILITIES);
    expect(a.transcoding).toBe(false);
    expect(a.mappings).toEqual([]);
    expect(a.offererAnswer).toEqual([PCMA]);
  });

  it('always-transcode converts to the offerer’s first codec even when a common one exists', () => {
    const offer = planOfferCodecs([PCMA, PCMU], opts(), LOCAL_CODEC_CAPABILITIES);
    const a = planAnswerCodecs(offer, [PCMU], { alwaysTranscode: true }, LOCAL_CODEC_CAPABILITIES);
    expect(a.transcoding).toBe(true);
    expect(a.offererAnswer).toEqual([PCMA]);
  });
});
