import { describe, it, expect } from 'vitest';
import {
  rtpHeaderLength, rtpHeaderSize, rtpPaddingLength, parseRtp, serializeRtp, rtpSeq, rtpTimestamp, rtpSsrc, rtpPayloadType, rtpMarker,
  setRtpPayloadType, setRtpMarker, setRtpSeq, setRtpTimestamp, setRtpSsrc, isRtcpPacketType, RtpFormatError, type RtpPacket,
} from '../../../../src/media/rtp/packet.js';

const full: RtpPacket = {
  marker: true, payloadType: 8, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef,
  csrcs: [1, 2], extension: { profile: 0xbede, data: Buffer.from([1, 2, 3, 4]) },
  payload: Buffer.from('payload'), paddingLength: 3,
};
const plain: RtpPacket = { marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 0x12345678, csrcs: [], payload: Buffer.alloc(160, 0xff), paddingLength: 0 };

describe('RTP header size without the padding check (what SRTP reads)', () => {
  it('accepts an unreadable padding count that rtpHeaderLength refuses, and refuses what it refuses otherwise', () => {
    const p = Buffer.from([0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9, 9, 0]); // P set, last byte 0
    expect(rtpHeaderLength(p, p.length)).toBe(-1);
    expect(rtpHeaderSize(p, p.length)).toBe(12);
    expect(rtpHeaderSize(Buffer.from([0x40, ...p.subarray(1)]), p.length)).toBe(-1); // version 1
    expect(rtpHeaderSize(p, 11)).toBe(-1);
    const ext = Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 2, 1, 2, 3, 4]); // extension of 2 words, 1 present
    expect(rtpHeaderSize(ext, ext.length)).toBe(-1);
  });
});

describe('RTP packet (RFC 3550 §5.1)', () => {
  it('serializes a plain PCMU packet to the expected bytes and back', () => {
    const bytes = serializeRtp(plain);
    expect(bytes.subarray(0, 12).toString('hex')).toBe('80000001000000a012345678');
    expect(bytes.length).toBe(172);
    expect(rtpHeaderLength(bytes, bytes.length)).toBe(12);
    expect(parseRtp(bytes)).toEqual(plain);
  });

  it('round-trips every header field byte for byte (CSRCs, extension, padding)', () => {
    const bytes = serializeRtp(full);
    expect(bytes.toString('hex')).toBe(
      'b2' + '88' + 'ffff' + 'fffffff0' + 'deadbeef' + '00000001' + '00000002' + 'bede0001' + '01020304' +
        Buffer.from('payload').toString('hex') + '000003',
    );
    expect(parseRtp(bytes)).toEqual(full);
    expect(serializeRtp(parseRtp(bytes)).equals(bytes)).toBe(true);
    expect(rtpHeaderLength(bytes, bytes.length)).toBe(12 + 8 + 8);
    expect(rtpPaddingLength(bytes, bytes.length)).toBe(3);
  });

  it('round-trips an empty payload, an empty extension, 15 CSRCs and padding-only packets', () => {
    const samples: RtpPacket[] = [
      { ...plain, payload: Buffer.alloc(0) },
      { ...plain, extension: { profile: 0x1000, data: Buffer.alloc(0) } },
      { ...plain, csrcs: Array.from({ length: 15 }, (_v, i) => 0xffffff00 + i) },
      { ...plain, payload: Buffer.alloc(0), paddingLength: 255 },
    ];
    for (const p of samples) {
      const bytes = serializeRtp(p);
      expect(parseRtp(bytes)).toEqual(p);
      expect(serializeRtp(parseRtp(bytes)).equals(bytes)).toBe(true);
    }
  });

  it('reads and writes header fields in place; setting the PT keeps the marker', () => {
    const p = serializeRtp({ ...plain, marker: true, payloadType: 8, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef });
    expect([rtpPayloadType(p), rtpMarker(p), rtpSeq(p), rtpTimestamp(p), rtpSsrc(p)]).toEqual([8, true, 65535, 0xfffffff0, 0xdeadbeef]);
    setRtpPayloadType(p, 0);
    setRtpSeq(p, 7);
    setRtpTimestamp(p, 0x80000001);
    setRtpSsrc(p, 42);
    expect([rtpPayloadType(p), rtpMarker(p), rtpSeq(p), rtpTimestamp(p), rtpSsrc(p)]).toEqual([0, true, 7, 0x80000001, 42]);
    setRtpMarker(p, false);
    expect([rtpPayloadType(p), rtpMarker(p)]).toEqual([0, false]);
    setRtpPayloadType(p, 101);
    setRtpMarker(p, true);
    expect([rtpPayloadType(p), rtpMarker(p)]).toEqual([101, true]);
    expect(p[0]).toBe(0x80); // first byte untouched
  });

  it('accepts a packet whose `len` is shorter than its (reused, larger) buffer', () => {
    const big = Buffer.alloc(1500, 0xaa);
    const pkt = serializeRtp(plain);
    pkt.copy(big);
    expect(rtpHeaderLength(big, pkt.length)).toBe(12);
    expect(rtpHeaderLength(big, 1501)).toBe(-1); // len beyond the buffer
  });

  it('rejects every truncation of a valid packet that cuts the header or padding', () => {
    const good = serializeRtp(full);
    for (let len = 0; len < good.length; len++) {
      // Reading only buf[0..len): make that explicit by copying the prefix.
      const prefix = Buffer.from(good.subarray(0, len));
      // With P set, the last byte of a prefix is payload taken as a count; most are invalid,
      // a prefix is accepted only if that byte happens to fit. Ours are ASCII > the room left.
      expect(rtpHeaderLength(prefix, len)).toBe(-1);
      expect(() => parseRtp(prefix)).toThrow(RtpFormatError);
    }
  });

  const malformed: [string, (b: Buffer) => void, RegExp][] = [
    ['version 1', (b) => { b[0] = (b[0] & 0x3f) | 0x40; }, /version 1/],
    ['version 0', (b) => { b[0] &= 0x3f; }, /version 0/],
    ['version 3', (b) => { b[0] |= 0xc0; }, /version 3/],
    ['padding count past the header', (b) => { b[b.length - 1] = 200; }, /padding bytes do not fit/],
    ['padding count 0', (b) => { b[b.length - 1] = 0; }, /padding count 0/],
    ['extension length past the end', (b) => { b.writeUInt16BE(0xffff, 12 + 8 + 2); }, /extension ends at/],
    ['CSRC count past the end', (b) => { b[0] = (b[0] & 0xf0) | 0x0f; }, /15 CSRCs need/],
  ];
  for (const [what, mutate, re] of malformed) {
    it(`rejects ${what}`, () => {
      const b = serializeRtp(full);
      mutate(b);
      expect(rtpHeaderLength(b, b.length)).toBe(-1);
      expect(() => parseRtp(b)).toThrow(re);
    });
  }

  it('rejects a 12-byte packet announcing an extension it does not have', () => {
    const b = serializeRtp({ ...plain, payload: Buffer.alloc(0) });
    b[0] |= 0x10;
    expect(rtpHeaderLength(b, 12)).toBe(-1);
    expect(() => parseRtp(b)).toThrow(/header extension starts at 12/);
    expect(() => parseRtp(Buffer.from([0x80, 0, 0]))).toThrow(/shorter than the 12-byte/);
  });

  it('never reads at or past `len` (every byte beyond it is poisoned)', () => {
    // A Proxy over a Uint8Array throws on any index ≥ len, so an out-of-range read fails loudly.
    const good = serializeRtp(full);
    for (let len = 0; len <= good.length; len++) {
      const guarded = new Proxy(good, {
        get(target, prop) {
          if (typeof prop === 'string' && /^\d+$/.test(prop) && Number(prop) >= len) throw new Error(`read at ${prop} ≥ len ${len}`);
          return Reflect.get(target, prop) as unknown;
        },
      });
      expect(() => rtpHeaderLength(guarded, len)).not.toThrow();
    }
  });

  it('refuses to serialize out-of-range fields instead of truncating them', () => {
    const bad: Partial<RtpPacket>[] = [
      { payloadType: 128 }, { payloadType: -1 }, { sequenceNumber: 65536 }, { timestamp: 2 ** 32 }, { ssrc: -1 },
      { csrcs: Array.from({ length: 16 }, () => 1) }, { paddingLength: 256 }, { extension: { profile: 1, data: Buffer.alloc(3) } },
    ];
    for (const b of bad) expect(() => serializeRtp({ ...plain, ...b })).toThrow(RtpFormatError);
  });

  it('tells RTCP from RTP on a muxed port (RFC 5761 §4)', () => {
    for (const pt of [192, 200, 201, 202, 203, 204, 205, 206, 207, 223]) expect(isRtcpPacketType(pt)).toBe(true);
    for (const b1 of [0, 8, 96, 101, 127, 0x80 | 0, 0x80 | 8, 0x80 | 96, 0x80 | 127, 191, 224]) expect(isRtcpPacketType(b1)).toBe(false);
  });
});
