import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import { LocalMedia } from '../../src/media/session/local-media.js';
import { defaultMediaOptions } from '../../src/media/api.js';
import { parseRtcp, serializeRtcp } from '../../src/media/rtp/rtcp.js';
import { encodeAlaw } from '../../src/media/codecs/g711.js';
import { OpusEncoderStream } from '../../src/media/codecs/opus.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { tone } from '../helpers/audio.js';
import { describeWithPeers, requirePeerPath } from '../helpers/peers.js';
import { readPcap, startCapture, udpOf } from '../e2e/helpers/pcap.js';

/**
 * RTCP across a PCMA ↔ Opus call, read back by Wireshark's own dissector: dumpcap captures the call
 * on loopback and tshark decodes each leg's RTCP port as RTCP. Each leg's SRs from Tandem must carry
 * the SSRC Tandem sends that leg RTP with, an RTP timestamp on that leg's clock (the SR's RTP
 * timestamp advances 8000 or 48000 per second of its NTP time, and sits where the RTP stream to the
 * leg is), and a report block on what the leg sent (its SSRC and highest sequence number); the legs'
 * own SRs do not cross. test/integration/rtcp-terminate.test.ts checks the same with our own parser.
 */
const INTERVAL_MS = 200;
const FRAMES = 60;
const CAPTURE_MS = 30_000;
let media: LocalMedia;

beforeAll(async () => {
  const portMin = 14000 + Math.floor(Math.random() * 100) * 40;
  media = new LocalMedia({
    interface: '127.0.0.1', portMin, portMax: portMin + 39, workers: 1, maxSessions: 0, mediaTimeoutMs: 0,
    logLevel: 'silent', log: pino({ level: 'silent' }), poolTuning: { rtcpIntervalMs: INTERVAL_MS },
  });
  await media.ready();
});
afterAll(async () => {
  await media.close();
});

interface Leg { rtp: RtpPeer; rtcp: RtpPeer; to: number; toRtcp: number }

async function transcodedCall(callId: string): Promise<{ a: Leg; b: Leg; opusPt: number }> {
  const [aRtp, aRtcp, bRtp, bRtcp] = await Promise.all([RtpPeer.open(), RtpPeer.open(), RtpPeer.open(), RtpPeer.open()]);
  const options = defaultMediaOptions();
  options.codec.transcode = ['opus'];
  const offer = await media.offer({
    callId, fromTag: 'a', options,
    sdp: sdpFor({ port: aRtp.port, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: [`a=rtcp:${aRtcp.port}`] }),
  });
  const opusPt = Number(/^a=rtpmap:(\d+) opus\/48000\/2\r$/m.exec(offer.sdp)?.[1]);
  const answer = await media.answer({
    callId, fromTag: 'a', toTag: 'b', options: defaultMediaOptions(),
    sdp: sdpFor({ port: bRtp.port, pts: [opusPt], rtpmaps: [`${opusPt} opus/48000/2`], extra: [`a=rtcp:${bRtcp.port}`] }),
  });
  const rtcpOf = (sdp: string): number => Number(/^a=rtcp:(\d+)/m.exec(sdp)?.[1]);
  return {
    a: { rtp: aRtp, rtcp: aRtcp, to: mediaTarget(answer.sdp).port, toRtcp: rtcpOf(answer.sdp) },
    b: { rtp: bRtp, rtcp: bRtcp, to: mediaTarget(offer.sdp).port, toRtcp: rtcpOf(offer.sdp) },
    opusPt,
  };
}

/** One row of tshark's output: a captured datagram toward one of the legs' ports. */
interface Row {
  atSec: number;
  dstPort: number;
  rtcpTypes: number[];
  senderSsrc?: number;
  ntpSec?: number;
  srRtpTs?: number;
  packetCount?: number;
  /** The report blocks' SSRCs (tshark's rtcp.ssrc.identifier names the SDES chunk's too: it comes after). */
  blockSsrcs: number[];
  blockHighSeq: number[];
  sdesSsrcs: number[];
  blockLsr: number[];
  rtpSsrc?: number;
  rtpTs?: number;
  rtpPt?: number;
}

const FIELDS = [
  'frame.time_epoch', 'udp.dstport', 'rtcp.pt', 'rtcp.senderssrc', 'rtcp.timestamp.ntp.msw', 'rtcp.timestamp.ntp.lsw',
  'rtcp.timestamp.rtp', 'rtcp.sender.packetcount', 'rtcp.ssrc.identifier', 'rtcp.ssrc.high_seq', 'rtcp.ssrc.lsr', 'rtp.ssrc', 'rtp.timestamp', 'rtp.p_type',
];

/** The capture as tshark decodes it, each leg's RTP port as RTP and its RTCP port as RTCP. */
function tshark(file: string, legs: Leg[]): Row[] {
  const decodeAs = legs.flatMap((l) => ['-d', `udp.port==${l.rtp.port},rtp`, '-d', `udp.port==${l.rtcp.port},rtcp`]);
  const out = execFileSync(requirePeerPath('tshark'), [
    '-r', file, ...decodeAs, '-Y', 'rtp || rtcp', '-T', 'fields', '-E', 'separator=,', '-E', 'aggregator=;',
    ...FIELDS.flatMap((f) => ['-e', f]),
  ], { encoding: 'utf8', timeout: 20_000 });
  const nums = (v: string): number[] => (v === '' ? [] : v.split(';').map((x) => Number(x)));
  const one = (v: string): number | undefined => nums(v)[0];
  return out.split('\n').filter((l) => l !== '').map((l) => {
    const f = l.split(',');
    const msw = one(f[4]);
    const ids = nums(f[8]);
    const highSeq = nums(f[9]);
    const lsw = one(f[5]);
    return {
      atSec: Number(f[0]), dstPort: Number(f[1]), rtcpTypes: nums(f[2]), senderSsrc: one(f[3]),
      ntpSec: msw === undefined || lsw === undefined ? undefined : msw - 2_208_988_800 + lsw / 2 ** 32,
      srRtpTs: one(f[6]), packetCount: one(f[7]), blockSsrcs: ids.slice(0, highSeq.length), blockHighSeq: highSeq, sdesSsrcs: ids.slice(highSeq.length),
      blockLsr: nums(f[10]), rtpSsrc: one(f[11]), rtpTs: one(f[12]), rtpPt: one(f[13]),
    };
  });
}

/** A leg's own SR: a packet count no report of Tandem's would carry, to tell it apart if it crossed. */
const legSr = (ssrc: number, packetCount: number): Buffer =>
  serializeRtcp([{ type: 'SR', ssrc, ntpSec: 0xe0000000, ntpFrac: 0x12345678, rtpTimestamp: 1, packetCount, octetCount: 1, reports: [] }]);

describeWithPeers('RTCP across PCMA ↔ Opus, as tshark decodes it', ['dumpcap', 'tshark'], () => {
  it('each leg’s SRs carry the SSRC it is sent, a timestamp on its own clock (8 vs 48 kHz) and a report on the SSRC it sent', async () => {
    const { a, b, opusPt } = await transcodedCall('rtcp-tshark-1');
    const capture = await startCapture({ ports: [a.rtp.port, a.rtcp.port, b.rtp.port, b.rtcp.port], timeoutMs: CAPTURE_MS });
    const enc = new OpusEncoderStream();
    const start = Date.now();
    for (let k = 0; k < FRAMES; k++) {
      const codes = Buffer.alloc(160);
      encodeAlaw(tone(440, 8000, 160, 8000, k * 160), codes);
      await a.rtp.send(rtpPacket({ pt: 8, seq: 100 + k, ts: 1000 + k * 160, ssrc: 0xaaaa, payload: codes }), a.to);
      await b.rtp.send(rtpPacket({ pt: opusPt, seq: 500 + k, ts: 90_000 + k * 960, ssrc: 0xbbbb, payload: enc.encode(tone(1000, 48000, 960, 8000, k * 960)) }), b.to);
      if (k === 10) {
        await a.rtcp.send(legSr(0xaaaa, 4242), a.toRtcp);
        await b.rtcp.send(legSr(0xbbbb, 4343), b.toRtcp);
      }
      // Paced by the schedule, not by 20 ms after each send: the streams' timestamps keep up with the wall clock.
      await new Promise((r) => setTimeout(r, Math.max(0, start + (k + 1) * 20 - Date.now())));
    }
    // Until each leg got a report on its whole stream, then one more interval (bounded: the loop ends
    // by condition or time). The report times are randomised, and a loaded box may lag the worker.
    const reportedAll = (l: Leg, highSeq: number): boolean =>
      l.rtcp.received.some((m) => parseRtcp(m).some((p) => (p.type === 'SR' || p.type === 'RR') && p.reports.some((r) => (r.extendedHighestSeq & 0xffff) === highSeq)));
    for (const end = Date.now() + 10_000; Date.now() < end && !(reportedAll(a, 100 + FRAMES - 1) && reportedAll(b, 500 + FRAMES - 1)); ) await new Promise((r) => setTimeout(r, 20));
    const need = [a.rtcp.received.length + 1, b.rtcp.received.length + 1];
    for (const end = Date.now() + 3000; Date.now() < end && !(a.rtcp.received.length >= need[0] && b.rtcp.received.length >= need[1]); ) await new Promise((r) => setTimeout(r, 20));
    // libpcap hands dumpcap packets in blocks retired by a timeout, and a SIGINT can lose the last block
    // (seen in CI: the capture ended with the report before the last one). So the capture goes on until
    // its file holds every report the legs received (bounded; past the bound a block timeout has passed).
    const inFile = (port: number): number => {
      try {
        const p = readPcap(capture.file);
        return p.records.filter((r) => udpOf(r.frame, p.linkType)?.dstPort === port).length;
      } catch {
        return 0; // not written yet
      }
    };
    const got = [a.rtcp.received.length, b.rtcp.received.length];
    for (const end = Date.now() + 3000; Date.now() < end && !(inFile(a.rtcp.port) >= got[0] && inFile(b.rtcp.port) >= got[1]); ) await new Promise((r) => setTimeout(r, 50));
    await capture.stop();
    const rows = tshark(capture.file, [a, b]);
    await media.delete({ callId: 'rtcp-tshark-1' });

    for (const [name, leg, rate, sentSsrc, recvSsrc, seqHigh, foreignCount] of [
      ['A (PCMA)', a, 8000, 0xbbbb, 0xaaaa, 100 + FRAMES - 1, 4343],
      ['B (Opus)', b, 48000, 0xaaaa, 0xbbbb, 500 + FRAMES - 1, 4242],
    ] as const) {
      const rtp = rows.filter((r) => r.dstPort === leg.rtp.port && r.rtpSsrc !== undefined);
      const srs = rows.filter((r) => r.dstPort === leg.rtcp.port && r.rtcpTypes.includes(200));
      const rtcpAll = rows.filter((r) => r.dstPort === leg.rtcp.port);
      // Positive control: tshark decoded the RTP Tandem sent this leg, in this leg's codec.
      expect(rtp.length, `${name}: RTP decoded`).toBeGreaterThan(FRAMES / 2);
      expect(new Set(rtp.map((r) => r.rtpPt))).toEqual(new Set([leg === a ? 8 : opusPt]));
      expect(new Set(rtp.map((r) => r.rtpSsrc))).toEqual(new Set([sentSsrc]));
      // Every RTCP packet this leg got is Tandem's SR (with SDES), none the other leg's own SR.
      expect(rtcpAll.length).toBe(srs.length);
      expect(srs.every((r) => r.rtcpTypes.includes(202) && r.packetCount !== foreignCount)).toBe(true);
      // The SR and its SDES chunk name the SSRC Tandem sends this leg RTP with.
      expect(srs.every((r) => r.senderSsrc === sentSsrc && r.sdesSsrcs.length === 1 && r.sdesSsrcs[0] === sentSsrc)).toBe(true);

      // On the leg's clock: between SRs sent while RTP flowed to the leg, the RTP timestamp advances
      // `rate` per second of NTP time (8000 vs 48000: a wrong clock is 6× off).
      const firstRtpAt = rtp[0].atSec;
      const live = srs.filter((r) => r.atSec > firstRtpAt);
      expect(live.length, `${name}: SRs while media flowed`).toBeGreaterThanOrEqual(3);
      const first = live[0];
      const last = live.at(-1)!;
      const dNtp = last.ntpSec! - first.ntpSec!;
      const dTs = (last.srRtpTs! - first.srRtpTs!) >>> 0;
      const ticksPerSec = dTs / dNtp;
      // And where the leg's RTP stream is: the last packet sent before each SR, plus the time since.
      const offsets = live.map((sr) => {
        const before = rtp.filter((p) => p.atSec <= sr.atSec).at(-1)!;
        return ((((sr.srRtpTs! - before.rtpTs!) | 0) - (sr.ntpSec! - before.atSec) * rate) / rate) * 1000;
      });
      console.log(`[rtcp-tshark] leg ${name}: ${srs.length} SRs (${live.length} after the first RTP to it), SR RTP ts ${ticksPerSec.toFixed(0)} ticks/s over ${(dNtp * 1000).toFixed(0)} ms NTP; SR ts vs RTP stream, ms: ${offsets.map((o) => o.toFixed(1)).join(' ')}`);
      expect(Math.abs(ticksPerSec - rate)).toBeLessThan(rate * 0.1);
      // Sub-millisecond when right; the coarse worker clock Tandem once used here put it 0–50 ms ahead.
      for (const o of offsets) expect(Math.abs(o)).toBeLessThan(20);

      // The report block is about what this leg sent Tandem: its SSRC, up to its last sequence number.
      expect(srs.every((r) => r.blockSsrcs.length === 0 || (r.blockSsrcs.length === 1 && r.blockSsrcs[0] === recvSsrc))).toBe(true);
      const final = srs.at(-1)!;
      expect(final.blockSsrcs).toEqual([recvSsrc]);
      expect(final.blockHighSeq).toEqual([seqHigh]);
      // LSR: the middle 32 bits of the NTP time in the leg's own SR (0xe0000000.12345678).
      expect(final.blockLsr).toEqual([0x00001234]);
    }
    for (const l of [a, b]) {
      l.rtp.close();
      l.rtcp.close();
    }
  });
});
