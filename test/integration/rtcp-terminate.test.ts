import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { LocalMedia } from '../../src/media/session/local-media.js';
import { defaultMediaOptions, type MediaOptions } from '../../src/media/api.js';
import { parseRtcp, serializeRtcp, type RtcpPacket, type RtcpSenderReport } from '../../src/media/rtp/rtcp.js';
import { encodeAlaw } from '../../src/media/codecs/g711.js';
import { OpusEncoderStream } from '../../src/media/codecs/opus.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { tone } from '../helpers/audio.js';

/**
 * RTCP across a PCMA ↔ Opus call (RFC 3550 §6, RFC 5506): Tandem terminates each leg's RTCP and
 * sends each leg its own SR on that leg's clock, with a report block on what the leg sent it; the
 * legs' own SRs do not cross. A plain relay forwards RTCP untouched. Real sockets on loopback; the
 * reports are parsed here.
 */
const INTERVAL_MS = 150;
const FRAMES = 25;
let media: LocalMedia;

beforeAll(async () => {
  const portMin = 12000 + Math.floor(Math.random() * 100) * 40;
  media = new LocalMedia({
    interface: '127.0.0.1', portMin, portMax: portMin + 39, workers: 1, maxSessions: 0, mediaTimeoutMs: 0,
    logLevel: 'silent', log: pino({ level: 'silent' }), poolTuning: { rtcpIntervalMs: INTERVAL_MS },
  });
  await media.ready();
});
afterAll(async () => {
  await media.close();
});

const options = (transcode: string[]): MediaOptions => {
  const o = defaultMediaOptions();
  o.codec.transcode = transcode;
  return o;
};

interface Leg {
  rtp: RtpPeer;
  rtcp: RtpPeer;
  /** Tandem's RTP and RTCP ports this leg sends to. */
  to: number;
  toRtcp: number;
}

async function legs(callId: string, transcode: boolean): Promise<{ a: Leg; b: Leg; opusPt: number }> {
  const [aRtp, aRtcp, bRtp, bRtcp] = await Promise.all([RtpPeer.open(), RtpPeer.open(), RtpPeer.open(), RtpPeer.open()]);
  const offer = await media.offer({
    callId, fromTag: 'a', options: options(transcode ? ['opus'] : []),
    sdp: sdpFor({ port: aRtp.port, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: [`a=rtcp:${aRtcp.port}`] }),
  });
  const opusPt = transcode ? Number(/^a=rtpmap:(\d+) opus\/48000\/2\r$/m.exec(offer.sdp)?.[1]) : 8;
  const answer = await media.answer({
    callId, fromTag: 'a', toTag: 'b', options: defaultMediaOptions(),
    sdp: transcode
      ? sdpFor({ port: bRtp.port, pts: [opusPt], rtpmaps: [`${opusPt} opus/48000/2`], extra: [`a=rtcp:${bRtcp.port}`] })
      : sdpFor({ port: bRtp.port, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: [`a=rtcp:${bRtcp.port}`] }),
  });
  const rtcpOf = (sdp: string): number => Number(/^a=rtcp:(\d+)/m.exec(sdp)?.[1]);
  return {
    a: { rtp: aRtp, rtcp: aRtcp, to: mediaTarget(answer.sdp).port, toRtcp: rtcpOf(answer.sdp) },
    b: { rtp: bRtp, rtcp: bRtcp, to: mediaTarget(offer.sdp).port, toRtcp: rtcpOf(offer.sdp) },
    opusPt,
  };
}

/** A leg's own SR: NTP time and a packet count no report of Tandem's would carry. */
const legSr = (ssrc: number, ntpSec: number, ntpFrac: number, packetCount: number): Buffer =>
  serializeRtcp([{ type: 'SR', ssrc, ntpSec, ntpFrac, rtpTimestamp: 1, packetCount, octetCount: 1, reports: [] }]);

/** RFC 4585 PLI alone: reduced-size RTCP (RFC 5506), no SR/RR first. */
const pli = (sender: number, mediaSsrc: number): Buffer => {
  const b = Buffer.alloc(12);
  b[0] = 0x81;
  b[1] = 206;
  b.writeUInt16BE(2, 2);
  b.writeUInt32BE(sender, 4);
  b.writeUInt32BE(mediaSsrc, 8);
  return b;
};

async function until(ok: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ntpMs = (sr: RtcpSenderReport): number => (sr.ntpSec - 2_208_988_800) * 1000 + (sr.ntpFrac / 0x100000000) * 1000;
const srs = (peer: RtpPeer): { sr: RtcpSenderReport; all: RtcpPacket[] }[] =>
  peer.received.map((m) => parseRtcp(m)).filter((p) => p[0].type === 'SR').map((p) => ({ sr: p[0] as RtcpSenderReport, all: p }));

describe('RTCP terminated across PCMA ↔ Opus', () => {
  it('each leg gets SRs on its own clock about what it was sent, with RRs on what it sent; the legs’ own SRs stay', async () => {
    const { a, b, opusPt } = await legs('rtcp-1', true);
    const arrivals: [number[], number[]] = [[], []];
    a.rtp.socket.on('message', () => arrivals[0].push(Date.now()));
    b.rtp.socket.on('message', () => arrivals[1].push(Date.now()));
    const enc = new OpusEncoderStream();
    for (let k = 0; k < FRAMES; k++) {
      const codes = Buffer.alloc(160);
      encodeAlaw(tone(440, 8000, 160, 8000, k * 160), codes);
      await a.rtp.send(rtpPacket({ pt: 8, seq: 100 + k, ts: 1000 + k * 160, ssrc: 0xaaaa, payload: codes }), a.to);
      await b.rtp.send(rtpPacket({ pt: opusPt, seq: 500 + k, ts: 90_000 + k * 960, ssrc: 0xbbbb, payload: enc.encode(tone(1000, 48000, 960, 8000, k * 960)) }), b.to);
      if (k === 10) {
        await a.rtcp.send(legSr(0xaaaa, 0x11112222, 0x33334444, 4242), a.toRtcp);
        await b.rtcp.send(legSr(0xbbbb, 0x55556666, 0x77778888, 4343), b.toRtcp);
        await b.rtcp.send(pli(0xbbbb, 0xaaaa), b.toRtcp);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => a.rtp.received.length >= FRAMES - 1 && b.rtp.received.length >= FRAMES - 1, 'media both ways');
    const lastA = Math.max(...arrivals[0]);
    const lastB = Math.max(...arrivals[1]);
    // A report sent ≥ 600 ms after the last packet: a wrong clock would be off by far more than the tolerance.
    await until(() => srs(a.rtcp).some((x) => ntpMs(x.sr) > lastA + 600) && srs(b.rtcp).some((x) => ntpMs(x.sr) > lastB + 600), 'late reports');

    for (const [leg, rate, last, sentSsrc, recvSsrc, seqHigh, lsr, foreignCount] of [
      [a, 8000, lastA, 0xbbbb, 0xaaaa, 100 + FRAMES - 1, 0x22223333, 4343],
      [b, 48000, lastB, 0xaaaa, 0xbbbb, 500 + FRAMES - 1, 0x66667777, 4242],
    ] as const) {
      const rtp = leg.rtp.received;
      // Tandem's SR names the SSRC it sends this leg RTP with.
      expect(rtp.every((p) => p.readUInt32BE(8) === sentSsrc)).toBe(true);
      const reports = srs(leg.rtcp);
      // Nothing but Tandem's own reports arrives: its SRs, or an RR from before it had sent this leg
      // anything (RFC 3550 §6.4.2; the first report's time is randomised and media may start late).
      const compounds = leg.rtcp.received.map((m) => parseRtcp(m));
      expect(compounds.every((p) => (p[0].type === 'SR' || p[0].type === 'RR') && p[0].ssrc === sentSsrc)).toBe(true);
      expect(reports.length).toBeGreaterThan(0);
      expect(reports.every((x) => x.sr.ssrc === sentSsrc && x.sr.packetCount !== foreignCount)).toBe(true);
      const late = reports.filter((x) => ntpMs(x.sr) > last + 600).at(-1)!;
      // RTP timestamp of "now" on this leg's clock: the last packet's, plus the time since on that clock.
      const lastTs = rtp.at(-1)!.readUInt32BE(4);
      const expected = lastTs + ((ntpMs(late.sr) - last) * rate) / 1000;
      expect(Math.abs(((late.sr.rtpTimestamp - lastTs) >>> 0) - (expected - lastTs))).toBeLessThan(rate * 0.15);
      expect(late.sr.packetCount).toBe(rtp.length);
      expect(late.sr.octetCount).toBe(rtp.reduce((n, p) => n + p.length - 12, 0));
      // The report block is about what this leg sent Tandem, with its own SR's time as LSR.
      expect(late.sr.reports).toHaveLength(1);
      expect(late.sr.reports[0]).toMatchObject({ ssrc: recvSsrc, extendedHighestSeq: seqHigh, cumulativeLost: 0, lastSr: lsr });
      expect(late.sr.reports[0].delaySinceLastSr).toBeGreaterThan(0);
      const sdes = late.all.find((p) => p.type === 'other' && p.packetType === 202);
      expect(sdes?.type === 'other' && sdes.raw.readUInt32BE(4)).toBe(sentSsrc);
    }
    const q = await media.query({ callId: 'rtcp-1' });
    // Leg A's SR, leg B's SR and its reduced-size PLI were taken; none was an error.
    expect(q.totals.rtcp).toMatchObject({ packets: 3, errors: 0 });
    await media.delete({ callId: 'rtcp-1' });
    for (const l of [a, b]) {
      l.rtp.close();
      l.rtcp.close();
    }
  });
});

describe('RTCP on a plain relay', () => {
  it('is forwarded untouched, and Tandem adds no report of its own', async () => {
    const { a, b } = await legs('rtcp-2', false);
    for (let k = 0; k < 5; k++) {
      await a.rtp.send(rtpPacket({ pt: 8, seq: 100 + k, ts: 1000 + k * 160, ssrc: 0xaaaa, payload: Buffer.alloc(160, 0xd5) }), a.to);
      await b.rtp.send(rtpPacket({ pt: 8, seq: 500 + k, ts: 9000 + k * 160, ssrc: 0xbbbb, payload: Buffer.alloc(160, 0xd5) }), b.to);
    }
    const sr = legSr(0xaaaa, 0x11112222, 0x33334444, 4242);
    await a.rtcp.send(sr, a.toRtcp);
    await until(() => b.rtcp.received.length >= 1, 'the relayed SR');
    expect(b.rtcp.received[0].equals(sr)).toBe(true);
    // Three report intervals later, still only the relayed SR (it is the positive control).
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 3));
    expect(b.rtcp.received.length).toBe(1);
    expect(a.rtcp.received.length).toBe(0);
    await media.delete({ callId: 'rtcp-2' });
    for (const l of [a, b]) {
      l.rtp.close();
      l.rtcp.close();
    }
  });
});
