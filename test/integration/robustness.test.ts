import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { encode } from '../../src/control/bencode.js';
import { NgClient } from '../../src/control/ng-client.js';
import { startTestTandem } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function garbage(rand: () => number, max: number): Buffer {
  const len = rand() % max;
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = rand() & 0xff;
  return b;
}

/** Valid-looking ng messages with one byte flipped or cut short: the parser's hard cases. */
function mangled(rand: () => number): Buffer {
  const good = Buffer.concat([Buffer.from(`c${rand() % 1000} `), encode({ command: 'offer', 'call-id': 'fuzz', 'from-tag': 'x', sdp: 'v=0\r\n', flags: ['trust-address'], codec: { strip: ['PCMA'] } })]);
  const out = Buffer.from(good.subarray(0, 1 + (rand() % good.length)));
  if (out.length > 0) out[rand() % out.length] = rand() & 0xff;
  return out;
}

describe('robustness against garbage', () => {
  let env: Awaited<ReturnType<typeof startTestTandem>>;
  beforeAll(async () => {
    env = await startTestTandem({ numThreads: 1 });
  });
  afterAll(() => env.close());

  it('survives 3000 malformed ng datagrams and RTP garbage while a call keeps relaying', async () => {
    const { ng } = env;
    const caller = await RtpPeer.open();
    const callee = await RtpPeer.open();
    const offer = await ng.request({ command: 'offer', 'call-id': 'live', 'from-tag': 'a', sdp: sdpFor({ port: caller.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    const answer = await ng.request({ command: 'answer', 'call-id': 'live', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    const toCallee = mediaTarget(answer.sdp as string);
    const toCaller = mediaTarget(offer.sdp as string);
    // Both peers speak first: latched (and connected) sides do not follow a stranger's packets.
    // (Before that, symmetric latching learns from whoever sends first, as rtpengine does.)
    await caller.send(rtpPacket({ pt: 0, seq: 1, ts: 160, ssrc: 1, payload: Buffer.alloc(160, 0xff) }), toCallee.port);
    await callee.send(rtpPacket({ pt: 0, seq: 1, ts: 160, ssrc: 2, payload: Buffer.alloc(160, 0x7f) }), toCaller.port);
    await callee.waitFor(1);
    await caller.waitFor(1);
    const rand = prng(20261123);
    const blaster = await RtpPeer.open();
    for (let i = 0; i < 3000; i++) {
      const d = i % 2 === 0 ? garbage(rand, 300) : mangled(rand);
      blaster.socket.send(d, env.t.ngAddress.port, '127.0.0.1');
      if (i % 3 === 0) blaster.socket.send(garbage(rand, 200), i % 2 ? toCaller.port : toCallee.port, '127.0.0.1');
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    // Still serving: ping, and the live call relays. The flood may still fill the socket's
    // receive queue, so ask as Kamailio would: retransmitting.
    const client = new NgClient({ host: '127.0.0.1', port: env.t.ngAddress.port, timeoutMs: 500, retries: 10 });
    expect((await client.request({ command: 'ping' })).result).toBe('pong');
    await client.close();
    await caller.send(rtpPacket({ pt: 0, seq: 2, ts: 320, ssrc: 1, payload: Buffer.alloc(160, 0xfe) }), toCallee.port);
    await callee.send(rtpPacket({ pt: 0, seq: 2, ts: 320, ssrc: 2, payload: Buffer.alloc(160, 0x7e) }), toCaller.port);
    const atCallee = await callee.waitFor(2);
    const atCaller = await caller.waitFor(2);
    expect(atCallee[1][12]).toBe(0xfe);
    expect(atCaller[1][12]).toBe(0x7e);
    expect(env.t.ng.counters.malformed).toBeGreaterThan(0);
    const list = await ng.request({ command: 'list' });
    expect(list.calls).toContain('live');
    await ng.request({ command: 'delete', 'call-id': 'live' });
    for (const p of [caller, callee, blaster]) p.close();
  });
});
