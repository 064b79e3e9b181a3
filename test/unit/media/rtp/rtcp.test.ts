import { describe, it, expect } from 'vitest';
import { validateRtcpCompound, parseRtcp, serializeRtcp, type RtcpPacket, type ReportBlock } from '../../../../src/media/rtp/rtcp.js';
import { RtpFormatError } from '../../../../src/media/rtp/packet.js';

const block = (i: number): ReportBlock => ({
  ssrc: 0x2222 + i, fractionLost: 25, cumulativeLost: -2, extendedHighestSeq: 70000, jitter: 33, lastSr: 0x12345678, delaySinceLastSr: 65536,
});
const sr: RtcpPacket = { type: 'SR', ssrc: 7, ntpSec: 3900000000, ntpFrac: 5, rtpTimestamp: 160, packetCount: 10, octetCount: 1600, reports: [] };
const rr = (n: number): RtcpPacket => ({ type: 'RR', ssrc: 0x1111, reports: Array.from({ length: n }, (_v, i) => block(i)) });

/** SDES with one CNAME "A" chunk (RFC 3550 §6.5), built by hand. */
function sdesBytes(): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x81; b[1] = 202; b.writeUInt16BE(2, 2); b.writeUInt32BE(0x1111, 4);
  b[8] = 1; b[9] = 1; b[10] = 0x41; // CNAME, length 1, "A", then the end item (0)
  return b;
}
const sdes: RtcpPacket = { type: 'other', packetType: 202, count: 1, raw: sdesBytes() };

describe('RTCP SR/RR (RFC 3550 §6.4)', () => {
  it('serializes an RR with a report block to the expected bytes', () => {
    const bytes = serializeRtcp([rr(1)]);
    expect(bytes.toString('hex')).toBe(
      '81c90007' + '00001111' + // V=2 RC=1 PT=201 length=7, sender SSRC
        '00002222' + '19' + 'fffffe' + '00011170' + '00000021' + '12345678' + '00010000',
    );
  });

  it('round-trips SR + RR with report blocks + SDES byte for byte', () => {
    const packets = [{ ...sr, reports: [block(0), block(1)] }, rr(1), sdes];
    const bytes = serializeRtcp(packets);
    expect(validateRtcpCompound(bytes, bytes.length)).toBe(true);
    expect(parseRtcp(bytes)).toEqual(packets);
    expect(serializeRtcp(parseRtcp(bytes)).equals(bytes)).toBe(true);
  });

  it('keeps a profile-specific extension after the report blocks', () => {
    const packets: RtcpPacket[] = [{ type: 'RR', ssrc: 1, reports: [block(0)], extension: Buffer.from('abcdefgh') }];
    const bytes = serializeRtcp(packets);
    expect(parseRtcp(bytes)).toEqual(packets);
  });

  it('decodes the signed 24-bit cumulative loss at its limits', () => {
    for (const lost of [-0x800000, -1, 0, 1, 0x7fffff]) {
      const bytes = serializeRtcp([{ type: 'RR', ssrc: 1, reports: [{ ...block(0), cumulativeLost: lost }] }]);
      expect((parseRtcp(bytes)[0] as { reports: ReportBlock[] }).reports[0].cumulativeLost).toBe(lost);
    }
    expect(() => serializeRtcp([{ type: 'RR', ssrc: 1, reports: [{ ...block(0), cumulativeLost: 0x800000 }] }])).toThrow(RtpFormatError);
  });

  it('skips BYE, APP and XR as raw packets', () => {
    const bye = Buffer.from('81cb0001' + '00001111', 'hex');
    const app = Buffer.from('80cc0002' + '00001111' + '6e616d65', 'hex'); // name "name"
    const xr = Buffer.from('80cf0001' + '00001111', 'hex');
    const bytes = Buffer.concat([serializeRtcp([rr(0)]), bye, app, xr]);
    const parsed = parseRtcp(bytes);
    expect(parsed.slice(1).map((p) => (p.type === 'other' ? [p.packetType, p.count, p.raw.length] : p.type))).toEqual([[203, 1, 8], [204, 0, 12], [207, 0, 8]]);
    expect(serializeRtcp(parsed).equals(bytes)).toBe(true);
  });

  it('accepts padding on the last packet and strips it from a final RR', () => {
    const padded = Buffer.concat([serializeRtcp([rr(1)]), Buffer.from([0, 0, 0, 4])]);
    padded[0] |= 0x20;
    padded.writeUInt16BE(padded.length / 4 - 1, 2);
    expect(validateRtcpCompound(padded, padded.length)).toBe(true);
    expect(parseRtcp(padded)).toEqual([rr(1)]);
  });
});

describe('RTCP compound validity (RFC 3550 A.2)', () => {
  const good = serializeRtcp([rr(2), sdes]);
  const firstEnd = serializeRtcp([rr(2)]).length;

  it('rejects every truncation except the one at a packet boundary', () => {
    for (let len = 0; len < good.length; len++) {
      const prefix = Buffer.from(good.subarray(0, len));
      expect(validateRtcpCompound(prefix, len)).toBe(len === firstEnd);
      if (len !== firstEnd) expect(() => parseRtcp(prefix)).toThrow(/invalid RTCP/);
    }
  });

  it('honours `len` within a larger reused buffer, and refuses `len` past it', () => {
    const big = Buffer.alloc(1500, 0xee);
    good.copy(big);
    expect(validateRtcpCompound(big, good.length)).toBe(true);
    expect(validateRtcpCompound(good, good.length + 4)).toBe(false);
  });

  const bad: [string, () => Buffer][] = [
    ['SDES first', () => serializeRtcp([sdes, rr(0)])],
    ['BYE alone', () => Buffer.from('81cb000100001111', 'hex')],
    ['version 1 first', () => { const b = Buffer.from(good); b[0] = (b[0] & 0x3f) | 0x40; return b; }],
    ['version 0 later', () => { const b = Buffer.from(good); b[firstEnd] &= 0x3f; return b; }],
    ['first length too long', () => { const b = Buffer.from(good); b.writeUInt16BE(100, 2); return b; }],
    ['first length too short', () => { const b = Buffer.from(good); b.writeUInt16BE(b.readUInt16BE(2) - 1, 2); return b; }],
    ['RR shorter than its SSRC', () => Buffer.from('80c90000' + '81ca000100001111', 'hex')],
    ['SR shorter than its sender info', () => { const b = serializeRtcp([rr(0)]); b[1] = 200; return b; }],
    ['padding on the first of two', () => { const b = Buffer.from(good); b[0] |= 0x20; return b; }],
    ['padding count 0 on the last', () => { const b = Buffer.from(good); b[firstEnd] |= 0x20; b[b.length - 1] = 0; return b; }],
    ['padding count beyond the last packet', () => { const b = Buffer.from(good); b[firstEnd] |= 0x20; b[b.length - 1] = 40; return b; }],
    ['length not a multiple of 4', () => Buffer.concat([good, Buffer.from([0, 0])])],
    ['trailing bytes after the last packet', () => Buffer.concat([good, Buffer.alloc(4)])],
  ];
  for (const [what, make] of bad) {
    it(`rejects ${what}`, () => {
      const b = make();
      expect(validateRtcpCompound(b, b.length)).toBe(false);
      expect(() => parseRtcp(b)).toThrow(RtpFormatError);
    });
  }

  it('parseRtcp rejects a report count that does not fit its packet', () => {
    const b = serializeRtcp([rr(1)]);
    b[0] = (b[0] & 0xe0) | 2; // claims 2 blocks, has room for 1
    expect(validateRtcpCompound(b, b.length)).toBe(true); // A.2 does not look inside
    expect(() => parseRtcp(b)).toThrow(/2 report blocks needs 56 bytes, has 32/);
  });
});
