import { describe, it, expect } from 'vitest';
import { TandemError } from '../../../../src/common/errors.js';
import type { RequestBody } from '../../../../src/media/pool/channel.js';
import type { BridgeStats, WorkerReplyResult } from '../../../../src/media/pool/protocol.js';
import { BridgeBinder, type BridgeWorker } from '../../../../src/media/session/bridge.js';
import { CallMedia, MediaCall } from '../../../../src/media/session/call.js';
import { PortAllocator } from '../../../../src/media/session/ports.js';
import { emptyBridgeStats } from '../../../../src/media/session/stats.js';
import { FakeLease, silent, testCall } from './fixtures.js';

/** Both sides of a bridge on loopback. */
const LO: [string, string] = ['127.0.0.1', '127.0.0.1'];

/** A worker that answers create/destroy as told and records every request. */
class FakeWorker implements BridgeWorker {
  requests: RequestBody[] = [];
  createFailures: (Error & { osCode?: string })[] = [];
  destroyFails = false;
  async request(body: RequestBody): Promise<WorkerReplyResult> {
    this.requests.push(body);
    if (body.op === 'create') {
      const err = this.createFailures.shift();
      if (err !== undefined) throw err;
      return { op: 'create' } as WorkerReplyResult;
    }
    if (body.op === 'destroy') {
      if (this.destroyFails) throw new Error('worker went away');
      return { op: 'destroy', stats: emptyBridgeStats(body.bridgeId) } as WorkerReplyResult;
    }
    throw new Error(`unexpected ${body.op}`);
  }
  ops(): string[] {
    return this.requests.map((r) => (r.op === 'create' || r.op === 'destroy' ? `${r.op} ${r.bridgeId}` : r.op));
  }
}

function busy(code: string): Error & { osCode?: string } {
  return Object.assign(new TandemError('WORKER', `bind: ${code}`), { osCode: code });
}

describe('ownership: a call closes its medias, each media its bridge', () => {
  it('close() closes every media once and gives the worker slot back once', async () => {
    const stats: BridgeStats = emptyBridgeStats(1);
    let released = 0;
    const call = new MediaCall('c', { index: 2, release: () => { released++; } }, silent);
    const leases = [new FakeLease(1, 40000, stats), new FakeLease(2)];
    call.medias = leases.map((l, i) => new CallMedia(i + 1, l));
    const collected = await call.close();
    await call.close();
    expect(leases.map((l) => l.closes)).toEqual([[false], [false]]);
    expect(released).toBe(1);
    expect(collected.get(1)).toBe(stats);
    expect(collected.has(2)).toBe(false);
    expect(call.closed).toBe(true);
    expect(call.workerIndex).toBe(2);
  });

  it('a call whose worker died closes its medias without asking the worker and keeps no slot to release', async () => {
    const { call, leases, released } = testCall(2);
    const collected = await call.close(true);
    expect(leases.map((l) => l.closes)).toEqual([[true], [true]]);
    expect(released()).toBe(0);
    expect(collected.size).toBe(0);
  });

  it('a media names its bridge and ports: side s advertises ports[2s] and ports[2s+1]', () => {
    const media = new CallMedia(1, new FakeLease(7, 30000));
    expect(media.bridgeId).toBe(7);
    expect([media.localRtpPort(0), media.localRtcpPort(0), media.localRtpPort(1), media.localRtcpPort(1)]).toEqual([30000, 30001, 30002, 30003]);
  });
});

describe('ownership: binding bridges to ports', () => {
  it('binds two port pairs on the worker and closing destroys the bridge there and frees both pairs', async () => {
    const ports = new PortAllocator(30000, 30099);
    const worker = new FakeWorker();
    const binder = new BridgeBinder(ports);
    const bridge = await binder.bind('c', worker, silent, LO);
    expect(ports.free).toBe(ports.capacity - 2);
    expect(bridge.ports[1]).toBe(bridge.ports[0] + 1);
    expect(bridge.ports[3]).toBe(bridge.ports[2] + 1);
    expect(worker.requests[0]).toEqual({ op: 'create', bridgeId: bridge.id, callId: 'c', addresses: ['127.0.0.1', '127.0.0.1'], ports: bridge.ports });
    const stats = await bridge.close(false);
    expect(stats?.bridgeId).toBe(bridge.id);
    expect(ports.free).toBe(ports.capacity);
    expect(await bridge.close(false)).toBeUndefined();
    expect(worker.ops()).toEqual([`create ${bridge.id}`, `destroy ${bridge.id}`]);
  });

  it('closing after the worker died, or when destroy fails, still frees the ports', async () => {
    const ports = new PortAllocator(30000, 30099);
    const worker = new FakeWorker();
    const binder = new BridgeBinder(ports);
    const gone = await binder.bind('c', worker, silent, LO);
    await gone.close(true);
    expect(worker.ops()).toEqual([`create ${gone.id}`]);
    worker.destroyFails = true;
    const failing = await binder.bind('c', worker, silent, LO);
    expect(await failing.close(false)).toBeUndefined();
    expect(ports.free).toBe(ports.capacity);
  });

  it('a busy port moves on to other pairs; each bridge gets a new id', async () => {
    const ports = new PortAllocator(30000, 30099);
    const worker = new FakeWorker();
    worker.createFailures.push(busy('EADDRINUSE'), busy('EACCES'));
    const bridge = await new BridgeBinder(ports).bind('c', worker, silent, LO);
    expect(worker.ops()).toEqual(['create 1', 'create 2', 'create 3']);
    expect(bridge.id).toBe(3);
    expect(ports.free).toBe(ports.capacity - 2);
  });

  it('any other bind error is thrown at once with the ports given back; eight busy pairs end in NO_PORTS', async () => {
    const ports = new PortAllocator(30000, 30099);
    const worker = new FakeWorker();
    worker.createFailures.push(new Error('boom'));
    await expect(new BridgeBinder(ports).bind('c', worker, silent, LO)).rejects.toThrow('boom');
    expect(ports.free).toBe(ports.capacity);
    const always = new FakeWorker();
    always.createFailures.push(...Array.from({ length: 8 }, () => busy('EADDRINUSE')));
    await expect(new BridgeBinder(ports).bind('c', always, silent, LO)).rejects.toMatchObject({ code: 'NO_PORTS' });
    expect(always.requests).toHaveLength(8);
    expect(ports.free).toBe(ports.capacity);
  });

  it('a range with one pair left: the first pair goes back when the second cannot be had', async () => {
    const ports = new PortAllocator(30000, 30001);
    await expect(new BridgeBinder(ports).bind('c', new FakeWorker(), silent, LO)).rejects.toMatchObject({ code: 'NO_PORTS' });
    expect(ports.free).toBe(1);
  });
});
