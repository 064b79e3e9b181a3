import { describe, it, expect, vi } from 'vitest';
import { pino } from 'pino';
import { mosFrom, callQuality } from '../../../src/ops/mos.js';
import { TrafficTotals } from '../../../src/media/session/traffic.js';
import { Drain } from '../../../src/ops/drain.js';
import { Ops } from '../../../src/ops/start.js';
import type { LocalMedia } from '../../../src/media/session/local-media.js';
import type { CallStats, StreamStats } from '../../../src/media/api.js';

function stream(rtcp: boolean, packets: number, lost = 0, jitterMs = 0): StreamStats {
  return { localAddress: '127.0.0.1', localPort: 1, family: 'IP4', rtcp, lastPacket: 0, stats: { packets, bytes: packets * 172, errors: rtcp ? 0 : 1 }, lost, jitterMs, latched: true };
}

function call(id: string, a: number, b: number, lost = 0, jitterMs = 0): CallStats {
  const leg = (tag: string, n: number) => ({ tag, created: 0, medias: [{ index: 1, type: 'audio', protocol: 'RTP/AVP', transcoding: false, streams: [stream(false, n, lost, jitterMs), stream(true, 1)] }] });
  return { callId: id, created: 0, createdUs: 0, lastSignal: 0, legs: [leg('a', a), leg('b', b)], totals: { rtp: { packets: a + b, bytes: 0, errors: 0 }, rtcp: { packets: 2, bytes: 0, errors: 0 } } };
}

describe('MOS estimate', () => {
  it('is near 4.4 for a clean call and falls with loss and jitter, within 1–4.5', () => {
    expect(mosFrom(0, 0)).toBeCloseTo(4.41, 1);
    expect(mosFrom(0.01, 5)).toBeLessThan(mosFrom(0, 5));
    expect(mosFrom(0.05, 5)).toBeLessThan(mosFrom(0.01, 5));
    expect(mosFrom(0, 200)).toBeLessThan(mosFrom(0, 20));
    expect(mosFrom(1, 0)).toBe(1);
    expect(mosFrom(0, 10_000)).toBe(1);
  });

  it('a call without RTP has no MOS; loss is lost / (received + lost)', () => {
    expect(callQuality(call('c', 0, 0)).mos).toBeUndefined();
    const q = callQuality(call('c', 90, 90, 10, 3));
    expect(q).toMatchObject({ packets: 180, lost: 20, loss: 0.1, jitterMs: 3 });
    expect(q.mos).toBeLessThan(4);
  });
});

describe('traffic totals for /metrics', () => {
  it('adds ended calls to live ones by direction and never goes down, even when a live call vanishes unreported', () => {
    const t = new TrafficTotals();
    const s1 = t.snapshot([call('x', 5, 3)]);
    expect(s1.from_offerer.rtp).toEqual({ packets: 5, bytes: 5 * 172, errors: 1 });
    expect(s1.from_answerer.rtp.packets).toBe(3);
    expect(s1.from_offerer.rtcp.packets).toBe(1);
    // x left the registry and its last counters never came (its worker died): totals hold.
    expect(t.snapshot([]).from_offerer.rtp.packets).toBe(5);
    t.retire(call('y', 7, 7));
    expect(t.snapshot([call('z', 1, 0)]).from_offerer.rtp.packets).toBe(8);
  });
});

describe('drain', () => {
  it('refuses new calls once, ends when the last call ends, and only once', async () => {
    let live = 2;
    const refuse = vi.fn();
    const drained = vi.fn();
    const d = new Drain({ timeoutMs: 60_000, liveCalls: () => live, refuseNew: refuse, onDrained: drained, log: pino({ level: 'silent' }), pollMs: 10 });
    expect(d.start('test')).toBe(true);
    expect(d.start('again')).toBe(false);
    expect(refuse).toHaveBeenCalledTimes(1);
    expect(d.status()).toMatchObject({ draining: true, liveCalls: 2, timeoutS: 60 });
    await new Promise((r) => setTimeout(r, 50));
    expect(drained).not.toHaveBeenCalled();
    live = 0;
    await vi.waitFor(() => expect(drained).toHaveBeenCalledWith('idle'));
    await new Promise((r) => setTimeout(r, 50));
    expect(drained).toHaveBeenCalledTimes(1);
  });

  it('hangs up at the timeout when calls are still up', async () => {
    const drained = vi.fn();
    const d = new Drain({ timeoutMs: 30, liveCalls: () => 1, refuseNew: () => undefined, onDrained: drained, log: pino({ level: 'silent' }), pollMs: 10 });
    d.start('test');
    await vi.waitFor(() => expect(drained).toHaveBeenCalledWith('timeout'));
    d.stop();
  });
});

describe('shutdown refuses new calls', () => {
  it('once closing (SIGINT: no drain), a new INVITE gets the drain\'s 503 while the last BYEs are waited for', async () => {
    // Only what the Ops reads of the media plane without an admin listener.
    const media = { admission: { draining: false }, sessionCount: 0 } as unknown as LocalMedia;
    const ops = new Ops({ version: 'test', drainTimeoutS: 60, media, log: pino({ level: 'silent' }) });
    expect(ops.drainRefusal()).toBeUndefined();
    await ops.closeListener();
    expect(ops.drainRefusal()).toEqual({ status: 503, reason: 'Service Unavailable', retryAfter: 60 });
    expect(ops.drain.active).toBe(false);
    await ops.close();
  });
});
