import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCRelay, C_RELAY_VARIANTS, cRelayConnects, cRelayUsesUring, startCRelay, type CRelayHandle } from '../../bench/lib/c-relay.js';
import { itWithPeers, type PeerName } from '../helpers/peers.js';

/**
 * The yardstick of `bench --scenario relay-limit`: bench/relay-limit.c, compiled by the bench, relays
 * datagrams between the two sockets of a call on loopback, counts what it could not pair, and refuses
 * malformed arguments with a message and exit code 2.
 */
const dirs: string[] = [];
const relays: CRelayHandle[] = [];
const sockets: dgram.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const r of relays.splice(0)) await r.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function cacheDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bench-c-relay-test-'));
  dirs.push(d);
  return d;
}

async function socket(): Promise<{ s: dgram.Socket; got: Buffer[] }> {
  const s = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  sockets.push(s);
  return { s, got };
}

/** Starts the relay for `calls` calls on a random base port (again on another one if that is taken). */
async function startRelay(binary: string, calls: number, connect = false): Promise<CRelayHandle> {
  let last: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const basePort = 42000 + 2 * Math.floor(Math.random() * 3000);
    try {
      const r = await startCRelay({ binary, basePort, calls, connect });
      relays.push(r);
      return r;
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const send = (s: dgram.Socket, port: number, n: number, tag: string): Promise<void> =>
  new Promise((resolve, reject) => {
    let left = n;
    for (let i = 0; i < n; i++) s.send(Buffer.from(`${tag}-${i}`), port, '127.0.0.1', (e) => (e ? reject(e) : --left === 0 && resolve()));
  });

describe('bench relay-limit: the C relay', () => {
  for (const variant of C_RELAY_VARIANTS) {
    const peers: PeerName[] = cRelayUsesUring(variant) ? ['cc', 'liburing'] : ['cc'];
    itWithPeers(`${variant}: builds with cc -O2 and relays N packets each way between a call's two sides`, peers, async () => {
      const dir = cacheDir();
      const built = buildCRelay({ cacheDir: dir, variant });
      if (!built.ok) throw new Error(built.reason);
      expect(built.cached).toBe(false);
      const again = buildCRelay({ cacheDir: dir, variant });
      expect(again).toMatchObject({ ok: true, cached: true, binary: built.binary });

      const relay = await startRelay(built.binary, 2, cRelayConnects(variant));
      const sig = await relay.signalling?.({});
      if (sig === undefined) throw new Error('the C relay hands out no signalling');
      const caller = await socket();
      const callee = await socket();
      const idle = await socket(); // call 1's caller: never sends, so nothing may reach it
      const call0 = await sig.establish('c0', `v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio ${caller.s.address().port} RTP/AVP 0\r\na=ptime:20\r\n`, () => `v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio ${callee.s.address().port} RTP/AVP 0\r\n`);
      const portA = Number(/m=audio (\d+)/.exec(call0.toCaller)?.[1]);
      const portB = Number(/m=audio (\d+)/.exec(call0.toCallee)?.[1]);
      expect(portB).toBe(portA + 1);
      const call1 = await sig.establish('c1', `v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio ${idle.s.address().port} RTP/AVP 0\r\n`, () => `v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 9 RTP/AVP 0\r\n`);
      const idlePortA = Number(/m=audio (\d+)/.exec(call1.toCaller)?.[1]);
      expect(new Set([portA, portB, idlePortA]).size).toBe(3);

      // Side B learns the callee from its first packet, which cannot be forwarded yet (side A has no peer).
      await send(callee.s, portB, 1, 'hello');
      await send(caller.s, portA, 50, 'a');
      await until(() => callee.got.length === 50);
      await send(callee.s, portB, 50, 'b');
      await until(() => caller.got.length === 50);
      await send(idle.s, idlePortA, 3, 'lonely'); // no peer on that call's side B: counted, not forwarded
      await new Promise((r) => setTimeout(r, 100));

      expect(callee.got.map(String)).toEqual(Array.from({ length: 50 }, (_, i) => `a-${i}`));
      expect(caller.got.map(String)).toEqual(Array.from({ length: 50 }, (_, i) => `b-${i}`));
      expect(idle.got).toHaveLength(0); // beside the 100 that did arrive above
      await relay.stop();
      expect(relay.counters()).toEqual({ received: 104, sent: 100, unpaired: 4, sendErrors: 0 });
    }, 30_000);
  }

  for (const variant of C_RELAY_VARIANTS.filter(cRelayConnects)) {
    const peers: PeerName[] = cRelayUsesUring(variant) ? ['cc', 'liburing'] : ['cc'];
    itWithPeers(`${variant}: a connected side ignores a new source until the relay forgets its peers (between steps)`, peers, async () => {
      const built = buildCRelay({ cacheDir: cacheDir(), variant });
      if (!built.ok) throw new Error(built.reason);
      const relay = await startRelay(built.binary, 1, true);
      const sig = await relay.signalling?.({});
      if (sig === undefined) throw new Error('the C relay hands out no signalling');
      const pair = async (): Promise<{ caller: Awaited<ReturnType<typeof socket>>; callee: Awaited<ReturnType<typeof socket>>; portA: number; portB: number; release: () => Promise<void> }> => {
        const caller = await socket();
        const callee = await socket();
        const e = await sig.establish('c', `v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio ${caller.s.address().port} RTP/AVP 0\r\n`, () => `v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio ${callee.s.address().port} RTP/AVP 0\r\n`);
        return { caller, callee, portA: Number(/m=audio (\d+)/.exec(e.toCaller)?.[1]), portB: Number(/m=audio (\d+)/.exec(e.toCallee)?.[1]), release: e.release };
      };
      const first = await pair();
      await send(first.callee.s, first.portB, 1, 'hello');
      await send(first.caller.s, first.portA, 5, 'one');
      await until(() => first.callee.got.length === 5);
      // Still connected to the first call's sockets: a new caller on the same port is filtered out.
      const stranger = await socket();
      await send(stranger.s, first.portA, 3, 'stranger');
      await send(first.caller.s, first.portA, 1, 'control'); // positive control: after the stranger's, and it arrives
      await until(() => first.callee.got.length === 6);
      expect(first.callee.got.map(String)).not.toContain('stranger-0');
      await first.release(); // the last call of the "step": the relay forgets its peers
      await new Promise((r) => setTimeout(r, 100));
      const second = await pair();
      expect([second.portA, second.portB]).toEqual([first.portA, first.portB]);
      await send(second.callee.s, second.portB, 1, 'hello');
      await send(second.caller.s, second.portA, 5, 'two');
      await until(() => second.callee.got.length === 5);
      expect(second.callee.got.map(String)).toEqual(['two-0', 'two-1', 'two-2', 'two-3', 'two-4']);
    }, 30_000);
  }

  itWithPeers('refuses malformed arguments with a message and exit code 2', ['cc'], () => {
    const built = buildCRelay({ cacheDir: cacheDir() });
    if (!built.ok) throw new Error(built.reason);
    const run = (...args: string[]): { status: number | null; stderr: string } => {
      const r = spawnSync(built.binary, args, { encoding: 'utf8', timeout: 5000 });
      return { status: r.status, stderr: r.stderr };
    };
    expect(run()).toMatchObject({ status: 2, stderr: expect.stringMatching(/usage: relay-limit ADDR BASE_PORT CALLS \[connect\]/) });
    expect(run('127.0.0.1', '42000', '2', 'connected')).toMatchObject({ status: 2, stderr: expect.stringMatching(/usage:/) });
    expect(run('127.0.0.1', 'x', '2')).toMatchObject({ status: 2, stderr: expect.stringMatching(/BASE_PORT 'x'/) });
    expect(run('127.0.0.1', '42000', '0')).toMatchObject({ status: 2, stderr: expect.stringMatching(/CALLS '0'/) });
    expect(run('127.0.0.1', '65535', '2')).toMatchObject({ status: 2, stderr: expect.stringMatching(/BASE_PORT '65535'/) });
    expect(run('localhost', '42000', '2')).toMatchObject({ status: 2, stderr: expect.stringMatching(/ADDR 'localhost'/) });
  });

  it('says why it cannot build without a compiler, instead of throwing', () => {
    expect(buildCRelay({ cacheDir: cacheDir(), path: '/nonexistent' })).toEqual({ ok: false, reason: expect.stringMatching(/no C compiler \(cc\).*apt-get install gcc/) });
  });
});
