import { LOCAL_CODEC_CAPABILITIES } from '../../../src/media/codecs/codec.js';
import { describe, it, expect } from 'vitest';
import { checkOffer, defaultLegPolicy, type CallPolicy } from '../../../src/b2bua/policy.js';
import { mediaCodecs, parseSdp } from '../../../src/sdp/sdp.js';

/** Issue 10, defect 2 (sibling): codec names from an SDP are names, even when they are digits. */
const pcmaOnly: CallPolicy = { a: defaultLegPolicy(), b: { ...defaultLegPolicy(), codecs: ['PCMA'], transcode: false } };

function names(rtpmaps: string[], pts: string): string[] {
  const sdp = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio 4000 RTP/AVP ${pts}`, ...rtpmaps, ''].join('\r\n');
  return mediaCodecs(parseSdp(sdp).session.media[0]).map((c) => c.name);
}

describe('policy against all-digit codec names', () => {
  it('a codec called "8" at a dynamic PT is not PCMA: refused, where real PCMA passes (positive control)', () => {
    expect(checkOffer(pcmaOnly, 'a-to-b', names(['a=rtpmap:96 8/8000'], '96'), LOCAL_CODEC_CAPABILITIES)).toMatch(/none of PCMA/);
    expect(checkOffer(pcmaOnly, 'a-to-b', names(['a=rtpmap:8 PCMA/8000'], '8'), LOCAL_CODEC_CAPABILITIES)).toBeNull();
    expect(checkOffer(pcmaOnly, 'a-to-b', names([], '8'), LOCAL_CODEC_CAPABILITIES)).toBeNull(); // static PT 8 without rtpmap is PCMA
  });

  it('the attack name (a=rtpmap:8 1234/8000) gets a reason, not an exception', () => {
    expect(() => checkOffer(pcmaOnly, 'a-to-b', names(['a=rtpmap:8 1234/8000'], '8'), LOCAL_CODEC_CAPABILITIES)).not.toThrow();
    expect(checkOffer(pcmaOnly, 'a-to-b', names(['a=rtpmap:8 1234/8000'], '8'), LOCAL_CODEC_CAPABILITIES)).toMatch(/1234/);
  });

  it('a policy entry given as a payload type still matches the static codec by name', () => {
    const byPt: CallPolicy = { a: defaultLegPolicy(), b: { ...defaultLegPolicy(), codecs: ['8'], transcode: false } };
    expect(checkOffer(byPt, 'a-to-b', ['PCMA'], LOCAL_CODEC_CAPABILITIES)).toBeNull();
    expect(checkOffer(byPt, 'a-to-b', ['PCMU'], LOCAL_CODEC_CAPABILITIES)).not.toBeNull();
  });
});
