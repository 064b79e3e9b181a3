import { describe, it, expect } from 'vitest';
import { RtcpTerminator, sdesCname } from '../../../../src/media/worker/rtcp-terminator.js';
import { parseRtcp, serializeRtcp, validateRtcpReducedSize, type RtcpSenderReport } from '../../../../src/media/rtp/rtcp.js';
import { RtpReceiveStats } from '../../../../src/media/rtp/stats.js';

const rtp = (ssrc: number, ts: number, payload = 160): Buffer => {
  const b = Buffer.alloc(12 + payload);
  b[0] = 0x80;
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
};

describe('RtcpTerminator', () => {
  it('says nothing before any stream, then an RR while it only receives', () => {
    const t = new RtcpTerminator('x@tandem');
    const rx = new RtpReceiveStats();
    expect(t.report(1000, rx, 0, 8000)).toBeUndefined();
    rx.update(10, 0, 0, 172);
    rx.update(12, 320, 320, 172); // seq 11 lost
    const pkts = parseRtcp(t.report(2000, rx, 0x1234, 8000)!);
    expect(pkts[0]).toMatchObject({ type: 'RR', reports: [{ ssrc: 0x1234, extendedHighestSeq: 12, cumulativeLost: 1, fractionLost: 85, lastSr: 0, delaySinceLastSr: 0 }] });
    expect(pkts[1]).toMatchObject({ type: 'other', packetType: 202 });
    expect(t.reports).toBe(1);
  });

  it('an SR names the SSRC it sends with, extrapolates its RTP clock from the last packet, and counts payload octets', () => {
    const t = new RtcpTerminator('x@tandem');
    const rx = new RtpReceiveStats();
    t.sent(rtp(0xabcdef01, 0xfffffff0), 172, 10_000);
    t.sent(rtp(0xabcdef01, 0xfffffff0 + 960, 80), 92, 10_020);
    const sr = parseRtcp(t.report(10_520, rx, 0, 48000)!)[0] as RtcpSenderReport;
    expect(sr).toMatchObject({ type: 'SR', ssrc: 0xabcdef01, packetCount: 2, octetCount: 160 + 80, reports: [] });
    expect(sr.rtpTimestamp).toBe((0xfffffff0 + 960 + 500 * 48) >>> 0);
    expect(sr.ntpSec).toBe(10 + 2_208_988_800);
    expect(sr.ntpFrac).toBe(Math.floor(0.52 * 0x100000000));
  });

  it('takes LSR from the leg’s SR (also inside a compound) and reports DLSR in 1/65536 s', () => {
    const t = new RtcpTerminator('x@tandem');
    const rx = new RtpReceiveStats();
    rx.update(1, 0, 0, 172);
    const legSr = serializeRtcp([
      { type: 'SR', ssrc: 9, ntpSec: 0xaaaa1234, ntpFrac: 0x5678bbbb, rtpTimestamp: 0, packetCount: 0, octetCount: 0, reports: [] },
    ]);
    t.received(Buffer.concat([legSr, sdesCname(9, 'leg')]), 5000);
    const rr = parseRtcp(t.report(5500, rx, 9, 8000)!)[0];
    expect(rr).toMatchObject({ type: 'RR', reports: [{ lastSr: 0x12345678, delaySinceLastSr: 32768 }] });
    // A short or lone feedback packet leaves LSR as it was.
    t.received(Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0, 1]), 6000);
    expect(parseRtcp(t.report(6000, rx, 9, 8000)!)[0]).toMatchObject({ reports: [{ lastSr: 0x12345678 }] });
  });

  it('SDES CNAME chunks are padded to 32 bits and parse back', () => {
    for (const name of ['', 'a', 'ab', 'abc', 'abcd', 'x'.repeat(300)]) {
      const b = sdesCname(7, name);
      expect(b.length % 4).toBe(0);
      expect(b.readUInt16BE(2)).toBe(b.length / 4 - 1);
      expect(b[9]).toBe(Math.min(255, name.length));
    }
  });
});

describe('reduced-size RTCP (RFC 5506)', () => {
  it('takes a lone feedback packet or any compound whose lengths add up; malformed ones are refused', () => {
    const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0, 1]);
    expect(validateRtcpReducedSize(pli, pli.length)).toBe(true);
    expect(validateRtcpReducedSize(Buffer.concat([pli, sdesCname(9, 'x')]), pli.length + 12)).toBe(true);
    const bad: Buffer[] = [
      Buffer.alloc(0),
      pli.subarray(0, 8), // length field says 12
      Buffer.from([0x41, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0, 1]), // version 1
      Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0]), // not a multiple of 4
      Buffer.from([0xa1, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0]), // padding count 0
      Buffer.from([0xa1, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0, 12]), // padding beyond the packet
      Buffer.concat([Buffer.from([0xa1, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0, 4]), pli]), // padding not on the last
    ];
    for (const b of bad) expect(validateRtcpReducedSize(b, b.length)).toBe(false);
  });
});
