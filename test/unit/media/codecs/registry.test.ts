import { describe, expect, it } from 'vitest';
import { LOCAL_CODEC_CAPABILITIES, LOCAL_TRANSCODING } from '../../../../src/media/codecs/codec.js';
import { conversion } from '../../../../src/media/session/worker-config.js';
import { SAMPLE_CONVERSIONS } from '../../../../src/media/pool/protocol.js';
import { RTPENGINE_CODEC_CAPABILITIES } from '../../../../src/control/rtpengine-codecs.js';
import { checkOffer, defaultLegPolicy, type CallPolicy } from '../../../../src/b2bua/policy.js';
import { planOfferCodecs } from '../../../../src/sdp/negotiate.js';
import { defaultCodecOptions } from '../../../../src/media/api.js';

describe('the codec registry (one table for planning, policy and the worker)', () => {
  it('the local plane converts G.711 both ways, G.711 ↔ Opus and G.722 ↔ each of them, in any case, and nothing else', () => {
    const c = LOCAL_CODEC_CAPABILITIES;
    for (const [f, t] of [['PCMA', 'PCMU'], ['pcmu', 'pcma'], ['PCMA', 'opus'], ['OPUS', 'pcmu'], ['opus', 'PCMA'], ['PCMA', 'G722'], ['g722', 'pcmu'], ['G722', 'opus'], ['opus', 'g722']]) expect(c.canTranscode(f, t), `${f}>${t}`).toBe(true);
    for (const [f, t] of [['PCMU', 'PCMU'], ['opus', 'opus'], ['G729', 'PCMA'], ['G722', 'G722'], ['PCMA', 'G729'], ['speex', 'opus']]) expect(c.canTranscode(f, t), `${f}>${t}`).toBe(false);
  });

  it('every pair the registry names is a conversion the worker knows, and no other pair is', () => {
    const names = LOCAL_TRANSCODING.map(([f, t]) => conversion(f, t));
    expect(new Set(names).size).toBe(LOCAL_TRANSCODING.length);
    for (const n of names) expect(SAMPLE_CONVERSIONS).toContain(n);
    expect(SAMPLE_CONVERSIONS.filter((n) => n !== 'none').sort()).toEqual([...names].sort());
    expect(() => conversion('G729', 'PCMA')).toThrow(/no conversion from G729 to PCMA/);
    expect(() => conversion('PCMA', 'PCMA')).toThrow(/no conversion/);
  });

  it('adds only what it can produce, in its SDP form (Opus as opus/48000/2 with FEC)', () => {
    expect(LOCAL_CODEC_CAPABILITIES.addable('OPUS')).toMatchObject({ name: 'opus', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' });
    expect(LOCAL_CODEC_CAPABILITIES.addable('pcma')).toMatchObject({ name: 'PCMA', staticPt: 8 });
    expect(LOCAL_CODEC_CAPABILITIES.addable('g722')).toMatchObject({ name: 'G722', clockRate: 8000, staticPt: 9 });
    expect(LOCAL_CODEC_CAPABILITIES.addable('G729')).toBeUndefined();
    expect(LOCAL_CODEC_CAPABILITIES.addable('telephone-event')).toBeUndefined();
  });

  it('an ng node is judged by rtpengine\'s table: G.729 can be added there, not locally', () => {
    const pcma = [{ pt: 8, name: 'PCMA', clockRate: 8000, channels: 1 }];
    const opts = { ...defaultCodecOptions(), transcode: ['G729'] };
    expect(planOfferCodecs(pcma, opts, RTPENGINE_CODEC_CAPABILITIES).added.map((c) => `${c.name}/${c.pt}`)).toEqual(['G729/18']);
    const local = planOfferCodecs(pcma, opts, LOCAL_CODEC_CAPABILITIES);
    expect(local.added).toEqual([]);
    expect(local.warnings.join()).toMatch(/G729 cannot be transcoded/);
    expect(RTPENGINE_CODEC_CAPABILITIES.canTranscode('G722', 'opus')).toBe(true);
    expect(RTPENGINE_CODEC_CAPABILITIES.canTranscode('G722', 'g722')).toBe(false);
    expect(RTPENGINE_CODEC_CAPABILITIES.canTranscode('VP8', 'PCMA')).toBe(false);
  });

  it('the B2BUA policy check asks the plane in use', () => {
    const policy: CallPolicy = { a: defaultLegPolicy(), b: { ...defaultLegPolicy(), codecs: ['G729'], transcode: true } };
    expect(checkOffer(policy, 'a-to-b', ['PCMA'], LOCAL_CODEC_CAPABILITIES)).toMatch(/none of PCMA can be transcoded to G729/);
    expect(checkOffer(policy, 'a-to-b', ['PCMA'], RTPENGINE_CODEC_CAPABILITIES)).toBeNull();
  });
});
