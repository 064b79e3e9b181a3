import { afterEach, describe, expect, it } from 'vitest';
import { MediaBridge } from '../../../../src/media/worker/bridge.js';
import { WorkerClock } from '../../../../src/media/worker/clock.js';
import type { MediaMessageHandler, MediaSocket } from '../../../../src/media/worker/media-socket.js';
import { RTCP_COMPENSATION, RtcpSchedule, rtcpInterval, rtcpTickMs, rtcpTiming, seededRandom } from '../../../../src/media/worker/rtcp-schedule.js';
import type { BridgeConfig, SideConfig } from '../../../../src/media/pool/protocol.js';
import { rtpPacket } from '../../../helpers/rtp-peer.js';

/**
 * RFC 3550 §6.3.1 intervals for Tandem's own RTCP, on a fake clock: each interval is the minimum
 * times [0.5, 1.5] / 1.21828, the first half the minimum times the same, and they vary.
 */
const MIN = 5000;
const TICK = rtcpTickMs(MIN);
const LOW = (0.5 * MIN) / RTCP_COMPENSATION;
const HIGH = (1.5 * MIN) / RTCP_COMPENSATION;

/** The times a side's reports fall due, ticking a fake clock every `tick` ms for `spanMs`. */
function dueTimes(s: RtcpSchedule, side: 0 | 1, start: number, spanMs: number, tick = TICK): number[] {
  const out: number[] = [];
  for (let t = start; t <= start + spanMs; t += tick) if (s.due(side, t)) out.push(t);
  return out;
}

const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - times[i]);

describe('rtcpInterval / seededRandom', () => {
  it('scales the deterministic interval by [0.5, 1.5] and divides by e − 3/2', () => {
    expect(RTCP_COMPENSATION).toBeCloseTo(1.21828, 5);
    expect(rtcpInterval(MIN, 0)).toBeCloseTo(LOW, 6);
    expect(rtcpInterval(MIN, 0.5)).toBeCloseTo(MIN / RTCP_COMPENSATION, 6);
    expect(rtcpInterval(MIN, 0.999999)).toBeCloseTo(HIGH, 2);
  });

  it('the PRNG is uniform in [0, 1) and replays from its seed', () => {
    const a = seededRandom(42);
    const xs = Array.from({ length: 10000 }, () => a());
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    const b = seededRandom(42);
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs.slice(0, 5));
    expect(seededRandom(43)()).not.toBe(xs[0]);
  });
});

describe('RtcpSchedule', () => {
  it('first report after half the minimum (randomised), then intervals within bounds that vary', () => {
    const s = new RtcpSchedule(MIN, 7);
    s.start(0, 1_000_000);
    const times = dueTimes(s, 0, 1_000_000, 20 * 60_000);
    const first = times[0] - 1_000_000;
    expect(first).toBeGreaterThanOrEqual(LOW / 2);
    expect(first).toBeLessThanOrEqual(HIGH / 2 + TICK);
    const g = gaps(times);
    expect(g.length).toBeGreaterThan(250);
    for (const x of g) {
      expect(x).toBeGreaterThanOrEqual(LOW);
      expect(x).toBeLessThanOrEqual(HIGH + TICK);
    }
    // They vary: many distinct values, both halves of the range used, the mean near T / 1.21828.
    expect(new Set(g).size).toBeGreaterThan(30);
    expect(g.some((x) => x < MIN / RTCP_COMPENSATION - 1000)).toBe(true);
    expect(g.some((x) => x > MIN / RTCP_COMPENSATION + 1000)).toBe(true);
    const mean = g.reduce((a, x) => a + x, 0) / g.length;
    expect(Math.abs(mean - MIN / RTCP_COMPENSATION)).toBeLessThan(250);
  });

  it('the same seed gives the same schedule; another seed another; each side has its own; stop ends it', () => {
    const run = (seed: number): number[] => {
      const s = new RtcpSchedule(MIN, seed);
      s.start(0, 0);
      return dueTimes(s, 0, 0, 60_000);
    };
    expect(run(99)).toEqual(run(99));
    expect(run(99)).not.toEqual(run(100));

    const s = new RtcpSchedule(MIN, 5);
    expect(s.due(0, 1e9)).toBe(false); // never started
    s.start(0, 0);
    s.start(1, 0);
    s.start(0, 4000); // already running: a re-configuration does not restart it
    const both = [dueTimes(s, 0, 0, 30_000), dueTimes(s, 1, 0, 30_000)];
    expect(both[0]).not.toEqual(both[1]);
    s.stop(0);
    expect(dueTimes(s, 0, 30_000, 30_000)).toEqual([]);
    // Positive control: the other side, ticked over the same span, still reports.
    expect(dueTimes(s, 1, 30_000, 30_000).length).toBeGreaterThan(3);
  });
});

/** A socket that records what is sent and lets the test deliver datagrams. */
class FakeSocket implements MediaSocket {
  readonly copiesOnSend = true;
  readonly sent: { port: number | undefined; buf: Buffer }[] = [];
  handler: MediaMessageHandler | undefined;
  send(buf: Buffer, len: number, port?: number): void {
    this.sent.push({ port, buf: Buffer.from(buf.subarray(0, len)) });
  }
  connect(_port: number, _address: string, done: () => void): void {
    done();
  }
  disconnect(): void {}
  onMessage(handler: MediaMessageHandler): void {
    this.handler = handler;
  }
  close(): void {}
}

describe('MediaBridge: Tandem\'s own SRs on a terminated bridge', () => {
  const saved = { ...rtcpTiming };
  afterEach(() => Object.assign(rtcpTiming, saved));

  it('leave each leg at randomised, bounded intervals from the bridge\'s seeded schedule (fake clock)', async () => {
    rtcpTiming.minIntervalMs = MIN;
    rtcpTiming.seed = () => 1234;
    const sockets: FakeSocket[] = [];
    const clock = new WorkerClock();
    const bridge = await MediaBridge.open(1, 'rtcp-sched', ['127.0.0.1', '127.0.0.1'], [40000, 40001, 40002, 40003], clock, async () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    });
    const side = (rtp: number): SideConfig => ({ peerRtp: { address: '127.0.0.1', port: rtp }, peerRtcp: { address: '127.0.0.1', port: rtp + 1 }, rtcpMux: false, latch: 'asymmetric', strictSource: false, clockRate: 8000 });
    const cfg: BridgeConfig = {
      sides: [side(50000), side(50010)],
      directions: [{ action: 'relay', rules: [], outFrameMs: 0 }, { action: 'relay', rules: [], outFrameMs: 0 }],
      terminateRtcp: true,
    };
    const t0 = 1_700_000_000_000;
    bridge.configure(cfg, t0);
    // One RTP packet from leg 0 is relayed to leg 1: leg 1 gets SRs, leg 0 RRs about it.
    sockets[0].handler?.(rtpPacket({ pt: 8, seq: 1, ts: 160, ssrc: 0xabc, payload: Buffer.alloc(160, 0xd5) }), { address: '127.0.0.1', port: 50000, family: 'IPv4', size: 172 });
    expect(sockets[2].sent.length).toBe(1);

    const reportTimes: number[] = [];
    for (let t = t0; t <= t0 + 10 * 60_000; t += TICK) {
      const before = sockets[3].sent.length;
      bridge.sendRtcpReports(t);
      if (sockets[3].sent.length > before) reportTimes.push(t);
    }
    const srs = sockets[3].sent.filter((x) => x.port === 50011);
    expect(srs.length).toBe(reportTimes.length);
    expect(srs.every((x) => x.buf[1] === 200)).toBe(true); // SR
    const rrs = sockets[1].sent.filter((x) => x.port === 50001);
    expect(rrs.length).toBeGreaterThan(100);
    expect(rrs.every((x) => x.buf[1] === 201)).toBe(true); // RR toward leg 0

    // The bridge's schedule is the one its seed gives (both sides draw from it, side 0 first).
    const replay = new RtcpSchedule(MIN, 1234);
    replay.start(0, t0);
    replay.start(1, t0);
    const replayed: number[] = [];
    for (let t = t0; t <= t0 + 10 * 60_000; t += TICK) {
      replay.due(0, t);
      if (replay.due(1, t)) replayed.push(t);
    }
    expect(reportTimes).toEqual(replayed);

    expect(reportTimes[0] - t0).toBeGreaterThanOrEqual(LOW / 2);
    expect(reportTimes[0] - t0).toBeLessThanOrEqual(HIGH / 2 + TICK);
    const g = gaps(reportTimes);
    expect(g.length).toBeGreaterThan(100);
    for (const x of g) {
      expect(x).toBeGreaterThanOrEqual(LOW);
      expect(x).toBeLessThanOrEqual(HIGH + TICK);
    }
    expect(new Set(g).size).toBeGreaterThan(20);
    bridge.close();
  });
});
