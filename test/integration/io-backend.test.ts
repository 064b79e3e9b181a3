import { describe, it, expect, afterEach } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startTandem } from '../../src/main.js';
import { defaultConfig, type TandemConfig } from '../../src/config/config.js';
import type { BDict } from '../../src/control/bencode.js';
import { RawNg } from '../helpers/ng.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { describeWithPeers } from '../helpers/peers.js';

/** A Tandem whose log lines are kept, to count warnings. */
async function start(over: Partial<TandemConfig>): Promise<{ t: Awaited<ReturnType<typeof startTandem>>; ng: RawNg; lines: { level: number; msg: string; reason?: string }[] }> {
  const lines: { level: number; msg: string; reason?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as { level: number; msg: string });
      done();
    },
  });
  const base = 10000 + Math.floor(Math.random() * 45) * 400;
  const t = await startTandem(
    { ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, listenSip: [], portMin: base, portMax: base + 399, numThreads: 2, logLevel: 'info', ...over },
    pino({ level: 'info' }, sink),
  );
  return { t, ng: await new RawNg(t.ngAddress.port).open(), lines };
}

/** One relayed call: three packets each way arrive unchanged. */
async function relays(ng: RawNg, tag: string): Promise<void> {
  const caller = await RtpPeer.open();
  const callee = await RtpPeer.open();
  try {
    const callId = `io-${tag}-${process.pid}`;
    const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdpFor({ port: caller.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const answer = await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const toCallee = mediaTarget(answer.sdp as string);
    const toCaller = mediaTarget(offer.sdp as string);
    for (let i = 0; i < 3; i++) {
      await caller.send(rtpPacket({ pt: 0, seq: i, ts: i * 160, ssrc: 1, payload: Buffer.alloc(160, i) }), toCallee.port, toCallee.address);
      await callee.send(rtpPacket({ pt: 0, seq: i, ts: i * 160, ssrc: 2, payload: Buffer.alloc(160, 0x80 + i) }), toCaller.port, toCaller.address);
    }
    expect((await callee.waitFor(3)).map((p) => p[12])).toEqual([0, 1, 2]);
    expect((await caller.waitFor(3)).map((p) => p[12])).toEqual([0x80, 0x81, 0x82]);
    await ng.request({ command: 'delete', 'call-id': callId, 'from-tag': 'a' });
  } finally {
    caller.close();
    callee.close();
  }
}

const WARNING = /batched UDP addon not loaded/;

describe('--io: the media socket layer', () => {
  const saved = process.env.TANDEM_NATIVE_ADDON;
  afterEach(() => {
    if (saved === undefined) delete process.env.TANDEM_NATIVE_ADDON;
    else process.env.TANDEM_NATIVE_ADDON = saved;
  });

  it('without the addon (it cannot load), Tandem says so once for all its workers and relays on dgram', async () => {
    process.env.TANDEM_NATIVE_ADDON = '/nonexistent/udp_batch.node';
    const { t, ng, lines } = await start({});
    try {
      expect(t.media.pool.ioBackends()).toEqual(['dgram', 'dgram']);
      const warnings = lines.filter((l) => WARNING.test(l.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0].level).toBe(40);
      expect(warnings[0].reason).toContain('/nonexistent/udp_batch.node');
      await relays(ng, 'fallback');
    } finally {
      ng.close();
      await t.close();
    }
  });

  it('--io=batch that cannot load the addon refuses to start, naming the option and why', async () => {
    process.env.TANDEM_NATIVE_ADDON = '/nonexistent/udp_batch.node';
    await expect(start({ io: 'batch' })).rejects.toThrow(/--io=batch: the native addon did not load \(.*nonexistent/);
  });

  it('--io=dgram never loads the addon and logs nothing about it', async () => {
    process.env.TANDEM_NATIVE_ADDON = '/nonexistent/udp_batch.node';
    const { t, ng, lines } = await start({ io: 'dgram' });
    try {
      expect(t.media.pool.ioBackends()).toEqual(['dgram', 'dgram']);
      expect(lines.filter((l) => WARNING.test(l.msg))).toEqual([]);
      await relays(ng, 'dgram');
    } finally {
      ng.close();
      await t.close();
    }
  });
});

describeWithPeers('--io default with the addon built', ['addon'], () => {
  it('runs every worker on batch without a warning, and relays (positive control for the fallback above)', async () => {
    const { t, ng, lines } = await start({});
    try {
      expect(t.media.pool.ioBackends()).toEqual(['batch', 'batch']);
      expect(lines.filter((l) => WARNING.test(l.msg))).toEqual([]);
      await relays(ng, 'batch');
      const totals = await t.media.pool.channel(0).request({ op: 'totals' });
      const other = await t.media.pool.channel(1).request({ op: 'totals' });
      const io = [totals, other].map((r) => (r.op === 'totals' ? r.totals.io : undefined));
      expect(io.every((c) => c?.io === 'batch')).toBe(true);
      // Six packets in, six out, on whichever worker carried the call.
      expect(io.reduce((s, c) => s + (c?.received ?? 0), 0)).toBe(6);
      expect(io.reduce((s, c) => s + (c?.sent ?? 0), 0)).toBe(6);
      const stats = await ng.request({ command: 'statistics' });
      expect((stats.statistics as BDict).totalstatistics).toMatchObject({ packetsiodropped: 0 });
    } finally {
      ng.close();
      await t.close();
    }
  });
});
