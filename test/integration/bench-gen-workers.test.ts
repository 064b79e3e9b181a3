import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { CallSet, type LoadSet } from '../../bench/lib/calls.js';
import { WorkerCallSet } from '../../bench/lib/gen-pool.js';
import { buildGenIo } from '../../bench/lib/gen-native.js';
import { itWithPeers } from '../helpers/peers.js';
import { scenario } from '../../bench/lib/scenario.js';
import { buildSdp, parseSdp } from '../../bench/lib/sdp.js';
import type { CallSignalling, Established } from '../../bench/lib/signalling.js';

/**
 * The bench's generator, on worker threads and on the main thread, against a plain loopback relay that
 * counts every datagram it receives and forwards: what the generator says it sent and received must be
 * exactly what the relay saw, and the merged summaries must carry the whole window (loss 0, every
 * packet's payload and latency checked).
 */
class CountingRelay implements CallSignalling {
  readonly kind = 'ng';
  fromCaller = 0;
  fromCallee = 0;
  toCaller = 0;
  toCallee = 0;
  private readonly sockets: dgram.Socket[] = [];

  private async bind(): Promise<dgram.Socket> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    this.sockets.push(s);
    return s;
  }

  async establish(_id: string, callerSdp: string, answer: (toCallee: string) => string): Promise<Established> {
    const a = await this.bind();
    const b = await this.bind();
    const peers: { a?: dgram.RemoteInfo; b?: dgram.RemoteInfo } = {};
    a.on('message', (m, from) => {
      this.fromCaller++;
      peers.a = from;
      if (peers.b) b.send(m, peers.b.port, peers.b.address, () => this.toCallee++);
    });
    b.on('message', (m, from) => {
      this.fromCallee++;
      peers.b = from;
      if (peers.a) a.send(m, peers.a.port, peers.a.address, () => this.toCaller++);
    });
    const ptime = parseSdp(callerSdp).ptime ?? 20;
    const toCallee = buildSdp({ sessionId: 1, port: b.address().port, codec: 'PCMU', ptime });
    answer(toCallee);
    return { toCallee, toCaller: buildSdp({ sessionId: 2, port: a.address().port, codec: 'PCMU', ptime }), release: async () => undefined };
  }

  async close(): Promise<void> {
    for (const s of this.sockets.splice(0)) s.close();
  }
}

const relays: CountingRelay[] = [];
const sets: LoadSet[] = [];
afterEach(async () => {
  for (const s of sets.splice(0)) await s.teardown();
  for (const r of relays.splice(0)) await r.close();
});

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Streams `calls` relayed calls for ~0.4 s, stops, waits for the relay to go quiet, and compares. */
async function streamAndCompare(make: (signalling: CountingRelay) => LoadSet, calls: number): Promise<void> {
  const relay = new CountingRelay();
  relays.push(relay);
  const set = make(relay);
  sets.push(set);
  await set.setup();
  expect(set.setupErrors).toEqual([]);
  expect(set.callsUp).toBe(calls);
  await set.startWindow();
  set.start();
  // 20 ms packets: 2·calls legs, about 20 packets each.
  await until(() => relay.toCallee >= 20 * calls && relay.toCaller >= 20 * calls, 10_000);
  await set.stop();
  let last = -1;
  await until(() => {
    const now = relay.fromCaller + relay.fromCallee + relay.toCaller + relay.toCallee;
    const quiet = now === last;
    last = now;
    return quiet;
  }, 5000);
  await new Promise((r) => setTimeout(r, 100)); // the forwarded datagrams' last hop back to the generator
  const load = await set.collect();

  expect(load.ab.sent).toBe(relay.fromCaller);
  expect(load.ba.sent).toBe(relay.fromCallee);
  expect(load.ab.received).toBe(relay.toCallee);
  expect(load.ba.received).toBe(relay.toCaller);
  for (const d of [load.ab, load.ba]) {
    expect(d.lost).toBe(0);
    expect(d.expected).toBe(d.received);
    expect(d.latency.count).toBe(d.received); // every packet located and timed
    expect(d.payloadBytes).toBe(160 * d.received);
    expect(d.exactBytes).toBe(d.payloadBytes); // a relay: identity
  }
  expect(load.timerLag.count).toBe(relay.fromCaller + relay.fromCallee); // one lag sample per packet sent
  expect(load.sendErrors).toBe(0);
}

describe('bench generator: worker threads count what a loopback relay saw', () => {
  it('on 2 worker threads (calls shared out, summaries merged)', async () => {
    await streamAndCompare((signalling) => new WorkerCallSet({ signalling, scenario: scenario('relay'), calls: 5, runId: 'gw', workers: 2 }), 5);
    const w = sets[0] as WorkerCallSet;
    expect((await w.collect()).workerElu).toHaveLength(2);
  }, 30_000);

  itWithPeers('on 2 worker threads through the native gen-io addon (built with cc)', ['cc'], async () => {
    const built = buildGenIo();
    if (!built.ok) throw new Error(built.reason);
    await streamAndCompare((signalling) => new WorkerCallSet({ signalling, scenario: scenario('relay'), calls: 5, runId: 'gn', workers: 2, nativeIo: built.binary }), 5);
  }, 30_000);

  it('on the main thread (the same summary, in-process)', async () => {
    await streamAndCompare((signalling) => new CallSet({ signalling, scenario: scenario('relay'), calls: 3, runId: 'gm' }), 3);
  }, 30_000);

  it('refuses the Opus scenario on workers (its receivers stay on the main thread)', () => {
    const relay = new CountingRelay();
    expect(() => new WorkerCallSet({ signalling: relay, scenario: scenario('opus'), calls: 1, runId: 'go', workers: 1 })).toThrow(/Opus.*--gen-workers 0/);
  });
});
