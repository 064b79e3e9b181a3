import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import type { BDict } from '../../src/control/bencode.js';
import { defaultMediaOptions } from '../../src/media/api.js';
import { LocalMedia } from '../../src/media/session/local-media.js';
import { startTestTandem } from '../helpers/tandem.js';
import type { RawNg } from '../helpers/ng.js';
import { RtpPeer, rtpPacket, patternPayload, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';

/** Issue 10, "Hostile peers": what a caller's SDP and packets must not be able to do to a media worker. */

let seq = 0;
const ids = (): { callId: string; fromTag: string; toTag: string } => {
  seq++;
  return { callId: `hostile-${process.pid}-${seq}`, fromTag: `hf${seq}`, toTag: `ht${seq}` };
};

function rr(ssrc: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x80; b[1] = 201; b.writeUInt16BE(1, 2); b.writeUInt32BE(ssrc, 4);
  return b;
}

async function call(ng: RawNg, callerSdp: string, callee: RtpPeer): Promise<{ callId: string; offer: BDict; answer: BDict }> {
  const i = ids();
  const offer = await ng.request({ command: 'offer', 'call-id': i.callId, 'from-tag': i.fromTag, sdp: callerSdp });
  expect(offer.result, String(offer['error-reason'])).toBe('ok');
  const answer = await ng.request({
    command: 'answer', 'call-id': i.callId, 'from-tag': i.fromTag, 'to-tag': i.toTag,
    sdp: sdpFor({ port: callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }),
  });
  expect(answer.result, String(answer['error-reason'])).toBe('ok');
  return { callId: i.callId, offer, answer };
}

describe('a caller cannot kill a media worker through SDP ports', () => {
  it.each([
    ['m=audio 65535 (RTCP would go to 65536)', 65535, []],
    ['a=rtcp:0', 0, ['a=rtcp:0']],
    ['a=rtcp:70000', 0, ['a=rtcp:70000']],
  ] as const)('%s, then RTCP toward that caller: the worker stays up and another call keeps flowing', async (_name, mPort, extra) => {
    const env = await startTestTandem({ numThreads: 1 });
    const peers: RtpPeer[] = [];
    const open = async (): Promise<RtpPeer> => {
      const p = await RtpPeer.open();
      peers.push(p);
      return p;
    };
    try {
      // The positive control: an ordinary call on the same (only) worker.
      const goodCaller = await open();
      const goodCallee = await open();
      const good = await call(env.ng, sdpFor({ port: goodCaller.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }), goodCallee);
      // The attack.
      const attackerCallee = await open();
      const bad = await call(env.ng, sdpFor({ port: mPort === 0 ? 40000 : mPort, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: [...extra] }), attackerCallee);
      if (extra.length > 0) expect(String(bad.offer.warning ?? '') + JSON.stringify(bad.offer)).toMatch(/a=rtcp port \d+ is outside 1\.\.65535 and was ignored/);
      const towardCaller = mediaTarget(bad.offer.sdp as string);
      await attackerCallee.send(rr(0xbad), towardCaller.port + 1);
      // The worker still relays the good call, after the attack packet was handled.
      const payload = patternPayload(160, 7);
      await goodCaller.send(rtpPacket({ pt: 0, seq: 1, ts: 160, ssrc: 1, payload }), mediaTarget(good.answer.sdp as string).port);
      const [got] = await goodCallee.waitFor(1);
      expect(got.subarray(12).equals(payload)).toBe(true);
      expect(env.t.media.pool.counters.failures).toBe(0);
      const q = await env.ng.request({ command: 'query', 'call-id': bad.callId });
      expect(q.result).toBe('ok');
      const rtcp = (q.totals as BDict).RTCP as BDict;
      if (mPort === 65535) {
        // No RTCP port to send to: the packet is counted as received and as an error (not relayed).
        expect(rtcp.packets).toBe(1);
        expect(rtcp.errors).toBe(1);
      } else {
        expect(rtcp.packets).toBe(1);
        expect(rtcp.errors).toBe(0);
      }
    } finally {
      for (const p of peers) p.close();
      await env.close();
    }
  });

  it('refuses an offer whose connection address is multicast or broadcast, with an ng error naming it', async () => {
    const env = await startTestTandem({ numThreads: 1 });
    try {
      for (const addr of ['224.0.0.1', '255.255.255.255']) {
        const sdp = sdpFor({ port: 40000, pts: [0], rtpmaps: ['0 PCMU/8000'] }).replace('c=IN IP4 127.0.0.1', `c=IN IP4 ${addr}`);
        const r = await env.ng.request({ command: 'offer', 'call-id': `mc-${addr}`, 'from-tag': 'a', sdp });
        expect(r.result).toBe('error');
        expect(String(r['error-reason'])).toContain(`"${addr}"`);
      }
      expect((await env.ng.request({ command: 'ping' })).result).toBe('pong');
    } finally {
      await env.close();
    }
  });
});

describe('worker failures: backoff, watchdog, the true reason', () => {
  const make = (tuning: ConstructorParameters<typeof LocalMedia>[0]['poolTuning']): LocalMedia => {
    const portMin = 20000 + Math.floor(Math.random() * 100) * 40;
    return new LocalMedia({
      interface: '127.0.0.1', portMin, portMax: portMin + 39, workers: 1, maxSessions: 0,
      mediaTimeoutMs: 0, logLevel: 'silent', log: pino({ level: 'silent' }), poolTuning: tuning,
    });
  };

  it('respawns a worker killed again and again with a growing delay, and counts it', async () => {
    const media = make({ respawnBaseMs: 20, watchdogIntervalMs: 0 });
    try {
      await media.ready();
      const delays: number[] = [];
      media.pool.on('worker-respawn', (_i: number, d: number) => delays.push(d));
      for (let k = 0; k < 4; k++) {
        await media.pool.ready();
        await media.pool.kill(0);
        await expect.poll(() => delays.length).toBe(k + 1);
      }
      expect(delays).toEqual([20, 40, 80, 160]);
      await media.pool.ready();
      expect(media.pool.counters).toMatchObject({ failures: 4, respawns: 4 });
      expect((await media.pool.channel(0).request({ op: 'ping' })).op).toBe('ping');
    } finally {
      await media.close();
    }
  });

  it('replaces a worker that stops answering and ends its calls saying the media worker failed', async () => {
    const media = make({ watchdogIntervalMs: 100, watchdogTimeoutMs: 400, testOps: true });
    try {
      await media.ready();
      await media.offer({ callId: 'hung-1', fromTag: 'a', sdp: sdpFor({ port: 40000, pts: [0], rtpmaps: ['0 PCMU/8000'] }), options: defaultMediaOptions() });
      const exited = new Promise<string>((r) => media.pool.once('worker-exit', (_i: number, _c: number, why: string) => r(why)));
      void media.pool.channel(0).request({ op: 'block', ms: 60_000 }, 120_000).catch(() => undefined);
      expect(await exited).toMatch(/stopped answering/);
      expect(media.pool.counters.watchdogKills).toBe(1);
      expect(await media.list()).toEqual([]);
      expect(await media.ended('hung-1')).toEqual({ cause: 'worker-failure', reason: expect.stringMatching(/^media worker failed: worker 0 stopped answering/) });
      // The replacement takes calls.
      await media.pool.ready();
      expect((await media.offer({ callId: 'hung-2', fromTag: 'a', sdp: sdpFor({ port: 40002, pts: [0], rtpmaps: ['0 PCMU/8000'] }), options: defaultMediaOptions() })).sdp).toMatch(/m=audio/);
    } finally {
      await media.close();
    }
  }, 15_000);
});
