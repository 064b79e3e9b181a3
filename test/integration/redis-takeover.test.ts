import { expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NgClient } from '../../src/control/ng-client.js';
import type { BDict } from '../../src/control/bencode.js';
import { sdpOffer } from '../helpers/sip-peer.js';
import { RtpPeer, rtpPacket, patternPayload } from '../helpers/rtp-peer.js';
import { startRedis, redisCommand, type RedisServer } from '../helpers/redis.js';
import { describeWithPeers, itWithPeers } from '../helpers/peers.js';
import { describe, it } from 'vitest';
import { pino } from 'pino';
import { RedisState } from '../../src/state/redis-state.js';

/**
 * Takeover through Redis: the built CLI as a media node with --redis carries relayed and transcoded
 * calls between RTP peers that stream all along; it is killed with SIGKILL, another starts with the
 * same --redis and interface, and every call's packets flow again both ways; then ng delete ends each.
 */
const CLI = join(import.meta.dirname, '../../dist/cli/tandem.js');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

interface Node {
  proc: ChildProcess;
  readyAtMs: number;
  log(): string;
}

/** Starts `tandem` and resolves once it logged `tandem ready` (bounded: 15 s). */
function startNode(args: string[]): Promise<Node> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`tandem did not start: ${out.slice(-2000)}`));
    }, 15_000);
    const onData = (d: Buffer): void => {
      out = (out + d.toString()).slice(-200_000);
      if (out.includes('"tandem ready"')) {
        clearTimeout(timer);
        resolve({ proc, readyAtMs: Date.now(), log: () => out });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tandem exited (${code}) before it was ready: ${out.slice(-2000)}`));
    });
  });
}

function killNode(n: Node): Promise<void> {
  return new Promise((r) => {
    if (n.proc.exitCode !== null || n.proc.signalCode !== null) return r();
    n.proc.once('exit', () => r());
    n.proc.kill('SIGKILL');
  });
}

const port = (sdp: BValueLike): number => Number(/m=audio (\d+)/.exec(String(sdp))?.[1]);
type BValueLike = BDict[string];

describeWithPeers('--redis takeover after kill -9', ['redis'], () => {
  itWithPeers('media resumes on every call within 2 s of the new Tandem being ready, and ng delete ends each', ['redis'], async () => {
    expect(existsSync(CLI), `${CLI}: run npm run build first`).toBe(true);
    const redis: RedisServer = await startRedis();
    cleanups.push(() => redis.stop());
    const ngPort = 20000 + Math.floor(Math.random() * 10000);
    const base = 32000 + Math.floor(Math.random() * 20) * 400;
    const args = [`--listen-ng=127.0.0.1:${ngPort}`, '--listen-sip=none', '--interface=127.0.0.1', `--port-min=${base}`, `--port-max=${base + 399}`, '--num-threads=1', `--redis=${redis.url}`, '--log-level=info'];
    let node = await startNode(args);
    cleanups.push(() => killNode(node));
    const ng = new NgClient({ host: '127.0.0.1', port: ngPort, timeoutMs: 300, retries: 3 });
    cleanups.push(() => ng.close());

    // 20 calls: 15 relayed PCMU, 5 transcoded PCMA → PCMU. Each has two RTP peers.
    const calls: { id: string; a: RtpPeer; b: RtpPeer; toA: number; toB: number; pt: [number, number] }[] = [];
    for (let i = 0; i < 20; i++) {
      const a = await RtpPeer.open();
      const b = await RtpPeer.open();
      cleanups.push(() => { a.close(); b.close(); });
      const transcoded = i >= 15;
      const id = `takeover-${i}`;
      const offer = await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: sdpOffer(a.port, transcoded ? [{ pt: 8, name: 'PCMA' }] : [{ pt: 0, name: 'PCMU' }]), ...(transcoded ? { codec: { transcode: ['PCMU'] } } : {}) });
      expect(offer.result, JSON.stringify(offer)).toBe('ok');
      const answer = await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b', sdp: sdpOffer(b.port, [{ pt: 0, name: 'PCMU' }]) });
      expect(answer.result, JSON.stringify(answer)).toBe('ok');
      if (transcoded) expect(String(answer.sdp)).toMatch(/m=audio \d+ RTP\/AVP 8/);
      calls.push({ id, a, b, toB: port(offer.sdp), toA: port(answer.sdp), pt: [transcoded ? 8 : 0, 0] });
    }
    const keys = (await redisCommand(redis.port, 'KEYS', 'tandem:127.0.0.1:media:*')).split('\r\n')[0];
    expect(keys).toBe('*20');

    // Both ends of every call stream 20 ms packets for the whole test.
    let seq = 0;
    const sender = setInterval(() => {
      seq++;
      for (const c of calls) {
        void c.a.send(rtpPacket({ pt: c.pt[0], seq, ts: seq * 160, ssrc: 0x1000, payload: patternPayload(160, seq) }), c.toA).catch(() => undefined);
        void c.b.send(rtpPacket({ pt: c.pt[1], seq, ts: seq * 160, ssrc: 0x2000, payload: patternPayload(160, seq) }), c.toB).catch(() => undefined);
      }
    }, 20);
    cleanups.push(() => clearInterval(sender));
    const flowing = async (since: Map<RtpPeer, number>, bound: number): Promise<boolean> => {
      const end = Date.now() + bound;
      while (Date.now() < end) {
        if (calls.every((c) => c.a.received.length >= (since.get(c.a) ?? 0) + 5 && c.b.received.length >= (since.get(c.b) ?? 0) + 5)) return true;
        await new Promise((r) => setTimeout(r, 10));
      }
      return false;
    };
    expect(await flowing(new Map(), 3000)).toBe(true);

    await killNode(node);
    // Positive control for "it stopped": nothing arrives while no Tandem runs.
    await new Promise((r) => setTimeout(r, 200));
    const atKill = new Map(calls.flatMap((c) => [[c.a, c.a.received.length], [c.b, c.b.received.length]] as [RtpPeer, number][]));
    await new Promise((r) => setTimeout(r, 200));
    expect(calls.every((c) => c.a.received.length === atKill.get(c.a) && c.b.received.length === atKill.get(c.b))).toBe(true);

    // A damaged entry beside them is dropped with a reason, and does not stop the others.
    expect(await redisCommand(redis.port, 'SET', 'tandem:127.0.0.1:media:damaged', '{"v":1,"callId":"damaged"')).toMatch(/^\+OK/);
    node = await startNode(args);
    const atReady = new Map(calls.flatMap((c) => [[c.a, c.a.received.length], [c.b, c.b.received.length]] as [RtpPeer, number][]));
    const resumed = await flowing(atReady, 2000);
    const resumedInMs = Date.now() - node.readyAtMs;
    expect(resumed, `media resumed on every call (${resumedInMs} ms after ready); log: ${node.log().slice(-1500)}`).toBe(true);
    expect(node.log()).toMatch(/"stored":21,"restored":20,"failed":1/);
    expect(node.log()).toMatch(/stored media session is not JSON.*media session could not be taken over; dropped/);
    // The transcoding plan came back too: after the takeover A still gets PCMA (PT 8), B PCMU.
    for (const c of calls) {
      expect(c.a.received[c.a.received.length - 1][1] & 0x7f).toBe(c.pt[0]);
      expect(c.b.received[c.b.received.length - 1][1] & 0x7f).toBe(0);
    }
    process.stdout.write(`redis takeover: every call's packets resumed ${resumedInMs} ms after the new Tandem was ready\n`);

    // Each call ends cleanly through the new Tandem, and leaves nothing in Redis.
    for (const c of calls) {
      const del = await ng.request({ command: 'delete', 'call-id': c.id });
      expect(del.result, JSON.stringify(del)).toBe('ok');
    }
    const list = await ng.request({ command: 'list' });
    expect(list.calls).toEqual([]);
    await expect.poll(async () => (await redisCommand(redis.port, 'KEYS', 'tandem:127.0.0.1:media:*')).split('\r\n')[0], { timeout: 2000 }).toBe('*0');
  }, 40_000);
});

describe('--redis that cannot be reached', () => {
  it('is a CONFIG error naming --redis and the address, not a hang', async () => {
    // Port 1 on loopback: nothing listens (a refused connection is the positive case of "unreachable").
    const err = await RedisState.connect('redis://:secret@127.0.0.1:1', pino({ level: 'silent' }), 1000).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG' });
    expect(String(err)).toMatch(/--redis: cannot reach redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    expect(String(err)).not.toMatch(/secret/);
  });
});
