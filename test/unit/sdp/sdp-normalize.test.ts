import { describe, it, expect } from 'vitest';
import { parseSdp, mediaCodecs, serializeSdp } from '../../../src/sdp/sdp.js';
import { TandemError } from '../../../src/common/errors.js';

/** Issue 10, defect 2: sdp-transform turns digit-only text fields into numbers; parseSdp hands out strings. */
const hostile = [
  'v=0',
  'o=1234 1 2 IN IP4 127.0.0.1',
  's=42',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=audio 4000 RTP/AVP 8 101 96',
  'a=rtpmap:8 1234/8000',
  'a=rtpmap:101 telephone-event/8000/2',
  'a=rtpmap:96 7/16000',
  'a=fmtp:101 15',
  'a=mid:0',
  'a=setup:1',
  'a=ice-ufrag:1234',
  'a=ice-pwd:12345678901234567890123',
  'a=fingerprint:sha-256 12',
  'a=crypto:1 77 inline:123',
  'a=ssrc:5 cname:777',
  'a=ptime:20',
  '',
].join('\r\n');

describe('SDP parse boundary: text fields are strings, numeric fields numbers', () => {
  it('an all-digit codec name, fmtp, mid, setup, ICE credentials, fingerprint, crypto and ssrc value come out as strings', () => {
    const p = parseSdp(hostile);
    const m = p.session.media[0];
    expect(mediaCodecs(m)).toEqual([
      { pt: 8, name: '1234', clockRate: 8000, channels: 1 },
      { pt: 101, name: 'telephone-event', clockRate: 8000, channels: 2, fmtp: '15' },
      { pt: 96, name: '7', clockRate: 16000, channels: 1 },
    ]);
    expect(m.mid).toBe('0');
    expect(m.setup).toBe('1');
    expect(m.iceUfrag).toBe('1234');
    expect(m.icePwd).toBe('12345678901234567890123');
    expect(m.fingerprint?.hash).toBe('12');
    expect(m.crypto?.[0]).toMatchObject({ id: 1, suite: '77', config: 'inline:123' });
    expect(m.ssrcs?.[0]).toEqual({ id: 5, attribute: 'cname', value: '777' });
    expect(m.payloads).toBe('8 101 96');
    expect(m.ptime).toBe(20);
    expect(m.port).toBe(4000);
    expect(p.session.name).toBe('42');
    expect(p.session.origin?.username).toBe('1234');
    expect(p.session.groups?.[0].mids).toBe('0');
    expect(typeof m.rtp[0].payload).toBe('number');
  });

  it('writes back what it read', () => {
    const out = serializeSdp(parseSdp(hostile));
    expect(out).toContain('a=rtpmap:8 1234/8000\r\n');
    expect(out).toContain('a=fmtp:101 15\r\n');
    expect(out).toContain('a=mid:0\r\n');
  });

  it('a digit-only c= address is a BAD_SDP error naming it, not a crash', () => {
    const bad = hostile.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 1');
    expect(() => parseSdp(bad)).toThrow(TandemError);
    expect(() => parseSdp(bad)).toThrow(/c= address "1" is not an IP address/);
  });
});

describe('rtpmap numbers that make no codec', () => {
  const sdp = (map: string): string => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 96', map, ''].join('\r\n');
  it('clock rate 0 and channels 0, -1 or text are BAD_SDP errors naming the line; sane ones parse (positive control)', () => {
    expect(() => parseSdp(sdp('a=rtpmap:96 opus/0/2'))).toThrow(/a=rtpmap:96 has clock rate 0/);
    expect(() => parseSdp(sdp('a=rtpmap:96 opus/48000/0'))).toThrow(/a=rtpmap:96 has encoding parameters "0"/);
    expect(() => parseSdp(sdp('a=rtpmap:96 opus/48000/-1'))).toThrow(/encoding parameters "-1"/);
    expect(() => parseSdp(sdp('a=rtpmap:96 opus/48000/two'))).toThrow(/encoding parameters "two"/);
    expect(mediaCodecs(parseSdp(sdp('a=rtpmap:96 opus/48000/2')).session.media[0])).toEqual([{ pt: 96, name: 'opus', clockRate: 48000, channels: 2 }]);
    expect(mediaCodecs(parseSdp(sdp('a=rtpmap:96 H264/90000')).session.media[0])[0].clockRate).toBe(90000);
  });
});

describe('an empty rtpmap clock rate (a truncated line)', () => {
  it('is read as absent: the static codec keeps its rate', () => {
    const sdp = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 8', 'a=rtpmap:8 PCMA/'].join('\r\n');
    expect(mediaCodecs(parseSdp(sdp).session.media[0])).toEqual([{ pt: 8, name: 'PCMA', clockRate: 8000, channels: 1 }]);
  });
});
