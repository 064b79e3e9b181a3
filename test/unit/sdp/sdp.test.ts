import { describe, it, expect } from 'vitest';
import { parseSdp, mediaCodecs, serializeSdp, setMediaCodecs } from '../../../src/sdp/sdp.js';
import { rewriteSdp } from '../../../src/sdp/rewrite.js';

const good = ['v=0', 'o=- 18446744073709551615 9007199254740993 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0 8 101', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', ''].join('\r\n');

describe('SDP parsing', () => {
  it('reads codecs, naming static payload types that have no rtpmap (RFC 3551)', () => {
    const p = parseSdp(good);
    expect(mediaCodecs(p.session.media[0]).map((c) => `${c.pt} ${c.name}/${c.clockRate}${c.fmtp ? ` ${c.fmtp}` : ''}`)).toEqual([
      '0 PCMU/8000',
      '8 PCMA/8000',
      '101 telephone-event/8000 0-15',
    ]);
  });

  it('keeps 64-bit o= session ids and versions exactly', () => {
    const out = serializeSdp(parseSdp(good));
    expect(out).toContain('o=- 18446744073709551615 9007199254740993 IN IP4 127.0.0.1\r\n');
  });

  it('keeps payloads, rtpmap and fmtp in step when the codec list changes', () => {
    const p = parseSdp(good);
    setMediaCodecs(p.session.media[0], [{ pt: 101, name: 'telephone-event', clockRate: 8000, channels: 1, fmtp: '0-15' }]);
    const out = serializeSdp(p);
    expect(out).toMatch(/^m=audio 4000 RTP\/AVP 101\r$/m);
    expect(out).not.toMatch(/rtpmap:(0|8) /);
  });

  it('rewrites address, port and a=rtcp, and drops ICE when asked', () => {
    const withIce = good.replace('a=fmtp:101 0-15\r\n', 'a=fmtp:101 0-15\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef0123456789\r\na=candidate:1 1 udp 2130706431 10.0.0.1 4000 typ host\r\n');
    const out = rewriteSdp(parseSdp(withIce), { address: '127.0.0.9', family: 'IP4', replaceOrigin: true, media: [{ port: 30000, rtcpPort: 30001, rtcpMux: false, removeIce: true }] });
    expect(out).toMatch(/^c=IN IP4 127\.0\.0\.9\r$/m);
    expect(out).toMatch(/^o=- \d+ \d+ IN IP4 127\.0\.0\.9\r$/m);
    expect(out).toMatch(/^m=audio 30000 /m);
    expect(out).toMatch(/^a=rtcp:30001\r$/m);
    expect(out).not.toMatch(/candidate|ice-/);
  });

  const malformed: [string, string, RegExp][] = [
    ['empty', '', /empty/],
    ['not SDP', 'hello world', /v=0/],
    ['no o= line', 'v=0\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n', /o= line/],
    ['no m= line', 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n', /no m= line/],
    ['no c= anywhere', 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n', /no c= address/],
    ['host name in c=', good.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 media.example.com'), /not an IP address/],
    ['payload type above 127', good.replace('RTP/AVP 0 8 101', 'RTP/AVP 0 300'), /payload types/],
    ['payload type not a number', good.replace('RTP/AVP 0 8 101', 'RTP/AVP 0 x'), /payload types/],
    ['port out of range', good.replace('m=audio 4000', 'm=audio 70000'), /port/],
  ];
  for (const [what, sdp, reason] of malformed) {
    it(`rejects ${what} with a BAD_SDP error`, () => {
      expect(() => parseSdp(sdp)).toThrow(reason);
      try {
        parseSdp(sdp);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('BAD_SDP');
      }
    });
  }
});
