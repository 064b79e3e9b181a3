import { describe, it, expect } from 'vitest';
import { rtpHeaderLength, parseRtp, serializeRtp, rtpSeq, rtpTimestamp, rtpSsrc, rtpPayloadType, rtpMarker, setRtpPayloadType, setRtpSeq, setRtpTimestamp, setRtpSsrc, isRtcpPacketType, type RtpPacket } from '../../../../src/media/rtp/packet.js';
import { validateRtcpCompound, parseRtcp } from '../../../../src/media/rtp/rtcp.js';

const full: RtpPacket = {
  marker: true, payloadType: 8, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef,
  csrcs: [1, 2], extension: { profile: 0xbede, data: Buffer.from([1, 2, 3, 4]) },
  payload: Buffer.from('payload'), paddingLength: 3,
};

describe('RTP packet', () => {
  it('round-trips every header field byte for byte', () => {
    const bytes = serializeRtp(full);
    expect(parseRtp(bytes)).toEqual(full);
    expect(serializeRtp(parseRtp(bytes)).equals(bytes)).toBe(true);
    expect(rtpHeaderLength(bytes, bytes.length)).toBe(12 + 8 + 8);
  });

  it('reads and writes header fields in place', () => {
    const p = serializeRtp({ ...full, csrcs: [], extension: undefined, paddingLength: 0 });
    expect([rtpPayloadType(p), rtpMarker(p), rtpSeq(p), rtpTimestamp(p), rtpSsrc(p)]).toEqual([8, true, 65535, 0xfffffff0, 0xdeadbeef]);
    setRtpPayloadType(p, 0);
    setRtpSeq(p, 7);
    setRtpTimestamp(p, 0x80000001);
    setRtpSsrc(p, 42);
    expect([rtpPayloadType(p), rtpMarker(p), rtpSeq(p), rtpTimestamp(p), rtpSsrc(p)]).toEqual([0, true, 7, 0x80000001, 42]);
  });

  it('rejects truncated and malformed packets without reading past the end', () => {
    const good = serializeRtp(full);
    for (let len = 0; len < 28; len++) expect(rtpHeaderLength(good, len)).toBe(-1);
    const v1 = Buffer.from(good);
    v1[0] = (v1[0] & 0x3f) | 0x40;
    expect(rtpHeaderLength(v1, v1.length)).toBe(-1);
    const badPad = Buffer.from(good);
    badPad[badPad.length - 1] = 200;
    expect(rtpHeaderLength(badPad, badPad.length)).toBe(-1);
    const zeroPad = Buffer.from(good);
    zeroPad[zeroPad.length - 1] = 0;
    expect(rtpHeaderLength(zeroPad, zeroPad.length)).toBe(-1);
    const hugeExt = Buffer.from(good);
    hugeExt.writeUInt16BE(0xffff, 12 + 8 + 2);
    expect(rtpHeaderLength(hugeExt, hugeExt.length)).toBe(-1);
    expect(() => parseRtp(Buffer.from([0x80, 0, 0]))).toThrow(/not a valid RTP/);
  });

  it('tells RTCP from RTP on a muxed port (RFC 5761 §4)', () => {
    expect(isRtcpPacketType(200)).toBe(true);
    expect(isRtcpPacketType(201)).toBe(true);
    expect(isRtcpPacketType(0)).toBe(false);
    expect(isRtcpPacketType(0x80 | 8)).toBe(false);
  });
});

function rr(reports: number): Buffer {
  const b = Buffer.alloc(8 + 24 * reports);
  b[0] = 0x80 | reports;
  b[1] = 201;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(0x1111, 4);
  for (let i = 0; i < reports; i++) {
    const at = 8 + i * 24;
    b.writeUInt32BE(0x2222 + i, at);
    b[at + 4] = 25;
    b[at + 5] = 0xff; b[at + 6] = 0xff; b[at + 7] = 0xfe; // cumulative lost −2
    b.writeUInt32BE(70000, at + 8);
    b.writeUInt32BE(33, at + 12);
  }
  return b;
}

function sdes(): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x81; b[1] = 202; b.writeUInt16BE(2, 2); b.writeUInt32BE(0x1111, 4);
  b[8] = 1; b[9] = 1; b[10] = 0x41; // CNAME "A", then end
  return b;
}

function sr(): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80; b[1] = 200; b.writeUInt16BE(6, 2);
  b.writeUInt32BE(7, 4); b.writeUInt32BE(3900000000, 8); b.writeUInt32BE(5, 12);
  b.writeUInt32BE(160, 16); b.writeUInt32BE(10, 20); b.writeUInt32BE(1600, 24);
  return b;
}

describe('RTCP compound', () => {
  it('validates and parses SR, RR with report blocks, and skips SDES', () => {
    const compound = Buffer.concat([sr(), rr(1), sdes()]);
    expect(validateRtcpCompound(compound, compound.length)).toBe(true);
    const parsed = parseRtcp(compound);
    expect(parsed[0]).toMatchObject({ type: 'SR', ssrc: 7, rtpTimestamp: 160, packetCount: 10, octetCount: 1600 });
    expect(parsed[1]).toMatchObject({ type: 'RR', ssrc: 0x1111, reports: [{ ssrc: 0x2222, fractionLost: 25, cumulativeLost: -2, extendedHighestSeq: 70000, jitter: 33 }] });
    expect(parsed[2]).toEqual({ type: 'other', packetType: 202, length: 12 });
  });

  it('rejects truncated, mis-versioned, non-SR/RR-first and mis-sized packets', () => {
    const good = Buffer.concat([rr(2), sdes()]);
    const firstEnd = rr(2).length; // cutting exactly after the first packet leaves a valid compound
    for (let len = 0; len < good.length; len++) if (len !== firstEnd) expect(validateRtcpCompound(good.subarray(0, len), len)).toBe(false);
    const sdesFirst = Buffer.concat([sdes(), rr(0)]);
    expect(validateRtcpCompound(sdesFirst, sdesFirst.length)).toBe(false);
    const v1 = Buffer.from(good);
    v1[0] = 0x41;
    expect(validateRtcpCompound(v1, v1.length)).toBe(false);
    const longer = Buffer.from(good);
    longer.writeUInt16BE(100, 2);
    expect(validateRtcpCompound(longer, longer.length)).toBe(false);
    const padFirst = Buffer.from(good);
    padFirst[0] |= 0x20;
    expect(validateRtcpCompound(padFirst, padFirst.length)).toBe(false);
    expect(() => parseRtcp(Buffer.from([0x80, 201]))).toThrow(/invalid RTCP/);
  });
});
