import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import type { BDict } from '../../src/control/bencode.js';
import { defaultMediaOptions } from '../../src/media/api.js';
import { LocalMedia } from '../../src/media/session/local-media.js';
import { NgMediaClient } from '../../src/control/ng-media-client.js';
import { ioFromEnv, startTestTandem } from '../helpers/tandem.js';
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
      mediaTimeoutMs: 0, logLevel: 'silent', log: pino({ level: 'silent' }), poolTuning: tuning, io: ioFromEnv().io ?? 'batch',
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

describe('the first packet to a media port does not win the call', () => {
  const frame = (seed: number, ssrc: number): Buffer => rtpPacket({ pt: 0, seq: seed, ts: seed * 160, ssrc, payload: patternPayload(160, seed) });
  const payloadSeeds = (pkts: Buffer[]): number[] => pkts.map((p) => p.readUInt16BE(2));

  /** A call whose caller announces `callerSdp` (RTP port, a=rtcp port); the callee is a plain endpoint with its own RTCP socket. */
  async function setup(ng: RawNg, callerRtpPort: number, callerRtcpPort: number, flags: string[] = []) {
    const callee = await RtpPeer.open();
    const calleeRtcp = await RtpPeer.open();
    const i = ids();
    const offer = await ng.request({
      command: 'offer', 'call-id': i.callId, 'from-tag': i.fromTag, flags,
      sdp: sdpFor({ port: callerRtpPort, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: [`a=rtcp:${callerRtcpPort}`] }),
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const answer = await ng.request({
      command: 'answer', 'call-id': i.callId, 'from-tag': i.fromTag, 'to-tag': i.toTag,
      sdp: sdpFor({ port: callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: [`a=rtcp:${calleeRtcp.port}`] }),
    });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    return { callId: i.callId, callee, calleeRtcp, towardCallee: mediaTarget(answer.sdp as string).port, towardCaller: mediaTarget(offer.sdp as string).port };
  }

  it('an attacker who sends first loses the call to the SDP address, receives nothing after it was heard, and its RTCP is dropped', async () => {
    const env = await startTestTandem({ numThreads: 1 });
    const caller = await RtpPeer.open();
    const callerRtcp = await RtpPeer.open();
    const attacker = await RtpPeer.open();
    const c = await setup(env.ng, caller.port, callerRtcp.port);
    try {
      // The attack: the attacker's packet reaches the caller-facing port first and latches it.
      await attacker.send(frame(1, 0xbad), c.towardCallee);
      await c.callee.waitFor(1);
      await c.callee.send(frame(2, 0xca11ee), c.towardCaller);
      await attacker.waitFor(1);
      // The real caller speaks from its SDP address: the peer moves back to it.
      await caller.send(frame(3, 0xca11e5), c.towardCallee);
      await c.callee.waitFor(2);
      // The attacker keeps sending: dropped. The caller's next packet (positive control) arrives after.
      await attacker.send(frame(4, 0xbad), c.towardCallee);
      await caller.send(frame(5, 0xca11e5), c.towardCallee);
      await c.callee.waitFor(3);
      expect(payloadSeeds(c.callee.received)).toEqual([1, 3, 5]);
      // The callee's media goes to the caller only.
      for (const s of [6, 7, 8]) await c.callee.send(frame(s, 0xca11ee), c.towardCaller);
      await caller.waitFor(3);
      expect(payloadSeeds(caller.received)).toEqual([6, 7, 8]);
      expect(payloadSeeds(attacker.received)).toEqual([2]);
      // RTCP: the attacker's is dropped, the caller's (from its a=rtcp port) is relayed after it.
      await attacker.send(rr(0xbad), c.towardCallee + 1);
      await callerRtcp.send(rr(0xca11e5), c.towardCallee + 1);
      const [gotRtcp] = await c.calleeRtcp.waitFor(1);
      expect(gotRtcp.readUInt32BE(4)).toBe(0xca11e5);
      expect(c.calleeRtcp.received.length).toBe(1);
      const q = await env.ng.request({ command: 'query', 'call-id': c.callId });
      const totals = q.totals as BDict;
      // Once the RTP socket is connect()ed to the confirmed caller the kernel drops the attacker's
      // datagram before Tandem sees it (not counted); before that, Tandem drops and counts it.
      expect((totals.RTP as BDict).errors).toBeLessThanOrEqual(1);
      expect((totals.RTCP as BDict).errors).toBe(1);
    } finally {
      for (const p of [caller, callerRtcp, attacker, c.callee, c.calleeRtcp]) p.close();
      await env.close();
    }
  });

  it('a caller behind NAT (another source than its SDP, which never speaks) still latches', async () => {
    const env = await startTestTandem({ numThreads: 1 });
    const sdpAddr = await RtpPeer.open(); // what the SDP announces; it never sends
    const natted = await RtpPeer.open();
    const c = await setup(env.ng, sdpAddr.port, sdpAddr.port + 1);
    try {
      await natted.send(frame(1, 0x4a7), c.towardCallee);
      await c.callee.waitFor(1);
      await c.callee.send(frame(2, 0xca11ee), c.towardCaller);
      const [got] = await natted.waitFor(1);
      expect(got.readUInt16BE(2)).toBe(2);
      expect(sdpAddr.received.length).toBe(0);
    } finally {
      for (const p of [sdpAddr, natted, c.callee, c.calleeRtcp]) p.close();
      await env.close();
    }
  });

  it('with strict-source the NAT source is refused and only the SDP address is heard', async () => {
    const env = await startTestTandem({ numThreads: 1 });
    const sdpAddr = await RtpPeer.open();
    const natted = await RtpPeer.open();
    const c = await setup(env.ng, sdpAddr.port, sdpAddr.port + 1, ['strict-source']);
    try {
      await natted.send(frame(1, 0x4a7), c.towardCallee);
      await sdpAddr.send(frame(2, 0xca11e5), c.towardCallee);
      await c.callee.waitFor(1);
      expect(payloadSeeds(c.callee.received)).toEqual([2]);
      await c.callee.send(frame(3, 0xca11ee), c.towardCaller);
      await sdpAddr.waitFor(1);
      expect(natted.received.length).toBe(0);
    } finally {
      for (const p of [sdpAddr, natted, c.callee, c.calleeRtcp]) p.close();
      await env.close();
    }
  });

  it('with media-handover a new source takes the call over even after the SDP address was heard', async () => {
    const env = await startTestTandem({ numThreads: 1 });
    const caller = await RtpPeer.open();
    const moved = await RtpPeer.open();
    const c = await setup(env.ng, caller.port, caller.port + 1, ['media-handover']);
    try {
      await caller.send(frame(1, 1), c.towardCallee);
      await c.callee.waitFor(1);
      await moved.send(frame(2, 1), c.towardCallee);
      await c.callee.waitFor(2);
      await c.callee.send(frame(3, 2), c.towardCaller);
      await moved.waitFor(1);
      expect(caller.received.length).toBe(0);
    } finally {
      for (const p of [caller, moved, c.callee, c.calleeRtcp]) p.close();
      await env.close();
    }
  });
});

describe('one offer cannot take every port', () => {
  it('refuses an offer with more m= lines than max-media-per-call, names the limit, counts it and takes no port', async () => {
    const env = await startTestTandem({ numThreads: 1, maxMediaPerCall: 4 });
    try {
      const lines = (n: number): string => {
        const one = sdpFor({ port: 40000, pts: [0], rtpmaps: ['0 PCMU/8000'] });
        const [head, media] = [one.slice(0, one.indexOf('m=audio')), one.slice(one.indexOf('m=audio'))];
        return head + Array.from({ length: n }, (_v, i) => media.replace('m=audio 40000', `m=audio ${40000 + 2 * i}`)).join('');
      };
      const free = env.t.media.freePorts;
      const big = await env.ng.request({ command: 'offer', 'call-id': 'many-m', 'from-tag': 'a', sdp: lines(499) });
      expect(big.result).toBe('error');
      expect(String(big['error-reason'])).toMatch(/499 m= lines; the limit is 4 \(max-media-per-call\)/);
      expect(env.t.media.freePorts).toBe(free);
      expect((await env.ng.request({ command: 'list' })).calls).toEqual([]);
      // Positive control: at the limit the offer goes through.
      const ok = await env.ng.request({ command: 'offer', 'call-id': 'four-m', 'from-tag': 'a', sdp: lines(4) });
      expect(ok.result, String(ok['error-reason'])).toBe('ok');
      expect(env.t.media.freePorts).toBe(free - 8);
      const st = await env.ng.request({ command: 'statistics' });
      expect(((st.statistics as BDict).totalstatistics as BDict).rejectedmedialimit).toBe(1);
    } finally {
      await env.close();
    }
  });
});

describe('the true reason over ng', () => {
  it('NgMediaClient.ended() reports a worker failure of a remote Tandem', async () => {
    const env = await startTestTandem({ numThreads: 1 });
    const client = new NgMediaClient({ host: '127.0.0.1', port: env.t.ngAddress.port });
    try {
      await client.offer({ callId: 'remote-1', fromTag: 'a', sdp: sdpFor({ port: 40000, pts: [0], rtpmaps: ['0 PCMU/8000'] }), options: defaultMediaOptions() });
      expect(await client.ended('remote-1')).toBeUndefined(); // still up
      const exited = new Promise<void>((r) => env.t.media.pool.once('worker-exit', () => r()));
      await env.t.media.pool.kill(0);
      await exited;
      expect(await client.ended('remote-1')).toEqual({ cause: 'worker-failure', reason: expect.stringMatching(/^media worker failed: worker 0 exited/) });
    } finally {
      await client.close();
      await env.close();
    }
  });
});
