import { describe, it, expect, afterEach } from 'vitest';
import { pino } from 'pino';
import { MediaNodeSet, type MediaNode } from '../../../src/control/media-nodes.js';
import { NgClientError } from '../../../src/control/ng-client.js';
import { TandemError, errorCode } from '../../../src/common/errors.js';
import { defaultMediaOptions, type CallStats, type MediaControl } from '../../../src/media/api.js';
import { LOCAL_CODEC_CAPABILITIES } from '../../../src/media/codecs/codec.js';

/** A node that records the calls it was offered and fails the way it is told to. */
function fakeNode(name: string, weight: number, remote = true): MediaNode & { calls: string[]; fail: 'none' | 'timeout' | 'refuse'; up: boolean } {
  const stats = (callId: string): CallStats => ({ callId, created: 0, createdUs: 0, lastSignal: 0, legs: [], totals: { rtp: { packets: 0, bytes: 0, errors: 0 }, rtcp: { packets: 0, bytes: 0, errors: 0 } } });
  const n = {
    name, weight, remote, calls: [] as string[], fail: 'none' as 'none' | 'timeout' | 'refuse', up: true,
    ping: async () => { if (!n.up) throw timeout(); },
    media: {} as MediaControl,
  };
  const failing = (): void => {
    if (n.fail === 'timeout') throw timeout();
    if (n.fail === 'refuse') throw new TandemError('REMOTE', 'Unknown call-id'); // the node answered: an ng error reply
  };
  n.media = {
    codecs: LOCAL_CODEC_CAPABILITIES,
    offer: async (r) => { failing(); if (!n.calls.includes(r.callId)) n.calls.push(r.callId); return { sdp: 'v=0', warnings: [] }; },
    answer: async () => { failing(); return { sdp: 'v=0', warnings: [] }; },
    delete: async (r) => { failing(); n.calls = n.calls.filter((c) => c !== r.callId); return stats(r.callId); },
    query: async (r) => { failing(); return stats(r.callId); },
    list: async () => { failing(); return [...n.calls]; },
    statistics: async () => { failing(); return { sessions: n.calls.length, transcodedStreams: 0, totalSessions: 0, packetsPerSecond: 1, bytesPerSecond: 0, errorsPerSecond: 0, workers: 1, uptimeSeconds: 5, endedByTimeout: 0, endedByWorkerFailure: 0 }; },
    close: async () => undefined,
  };
  return n;
}

function timeout(): TandemError {
  return new TandemError('REMOTE', 'media server did not answer', {}, { cause: new NgClientError('NG_TIMEOUT', 'no reply', 'c') });
}

const sets: MediaNodeSet[] = [];
afterEach(async () => {
  for (const s of sets.splice(0)) await s.close();
});

function setOf(...nodes: MediaNode[]): MediaNodeSet {
  const s = new MediaNodeSet({ nodes, retryMs: 60_000, log: pino({ level: 'silent' }) });
  sets.push(s);
  return s;
}

const offer = (s: MediaNodeSet, callId: string): Promise<unknown> => s.offer({ callId, fromTag: 'a', sdp: 'v=0', options: defaultMediaOptions() });

describe('MediaNodeSet', () => {
  it('places calls by smooth weighted round-robin: 1:3 is exact over every four calls', async () => {
    const a = fakeNode('a', 1);
    const b = fakeNode('b', 3);
    const s = setOf(a, b);
    for (let i = 0; i < 4; i++) await offer(s, `c${i}`);
    expect([a.calls.length, b.calls.length]).toEqual([1, 3]);
    for (let i = 4; i < 400; i++) await offer(s, `c${i}`);
    expect([a.calls.length, b.calls.length]).toEqual([100, 300]);
    // Re-offers stay where the call lives.
    for (const c of a.calls.slice(0, 10)) await offer(s, c);
    expect([a.calls.length, b.calls.length]).toEqual([100, 300]);
    expect(s.counters.placed).toEqual({ a: 100, b: 300 });
    expect((await s.statistics()).sessions).toBe(400);
  });

  it('an error reply is the call\'s failure, not the node\'s: no failover, the node stays in use', async () => {
    const a = fakeNode('a', 1);
    const b = fakeNode('b', 1);
    const s = setOf(a, b);
    a.fail = 'refuse';
    const err = await offer(s, 'x').then(() => undefined, (e: unknown) => e);
    expect(errorCode(err)).toBe('REMOTE');
    expect(s.counters).toMatchObject({ disabled: 0, failovers: 0 });
    expect(s.nodes().every((n) => n.enabled)).toBe(true);
  });

  it('a node that times out is disabled; with none left a new call is refused (REMOTE) at once', async () => {
    const a = fakeNode('a', 1);
    const b = fakeNode('b', 1);
    const s = setOf(a, b);
    await offer(s, 'on-a');
    await offer(s, 'on-b');
    a.fail = 'timeout';
    b.fail = 'timeout';
    const err = await offer(s, 'x').then(() => undefined, (e: unknown) => e);
    expect(errorCode(err)).toBe('REMOTE');
    expect(String(err)).toMatch(/no media node is available/);
    expect(s.counters).toMatchObject({ disabled: 2, failovers: 2 });
    // Their calls are gone from the list and ended names the node; requests for them are refused.
    expect(await s.list()).toEqual([]);
    expect((await s.ended('on-a'))?.reason).toMatch(/media node a failed/);
    expect(errorCode(await s.query({ callId: 'on-a' }).then(() => undefined, (e: unknown) => e))).toBe('UNKNOWN_CALL');
    // A re-offer of such a call is refused, not placed elsewhere as a new call.
    b.fail = 'none';
    expect(String(await offer(s, 'on-a').then(() => undefined, (e: unknown) => e))).toMatch(/media node a failed/);
    // The delete the B2BUA then sends forgets it.
    await s.delete({ callId: 'on-a' }).catch(() => undefined);
    expect(await s.ended('on-a')).toBeUndefined();
  });

  it('never disables the local plane, and keeps a node\'s calls when its list fails without a timeout', async () => {
    const local = fakeNode('local', 1, false);
    const b = fakeNode('b', 1);
    const s = setOf(local, b);
    await offer(s, 'l');
    await offer(s, 'r');
    local.fail = 'timeout';
    await expect(s.query({ callId: 'l' })).rejects.toThrow();
    expect(s.nodes()[0].enabled).toBe(true);
    local.fail = 'none';
    b.fail = 'refuse';
    expect((await s.list()).sort()).toEqual(['l', 'r']);
    expect(s.nodes()[1].enabled).toBe(true);
  });

  it('checkAll pings the remote nodes and disables one that does not answer', async () => {
    const a = fakeNode('a', 1);
    const b = fakeNode('b', 1);
    b.up = false;
    const s = setOf(a, b);
    await s.checkAll();
    expect(s.nodes().map((n) => n.enabled)).toEqual([true, false]);
    for (let i = 0; i < 3; i++) await offer(s, `c${i}`);
    expect(a.calls.length).toBe(3);
  });

  it('pins the calls a node already carries (a takeover), and finds one it did not place when asked for it', async () => {
    const a = fakeNode('a', 1);
    const b = fakeNode('b', 1);
    a.calls.push('old-1');
    const s = setOf(a, b);
    await s.checkAll();
    // A re-offer of old-1 goes to a, where its media is, not to the next node by weight.
    await offer(s, 'old-1');
    expect(b.calls).toEqual([]);
    // A call on b that this set never saw (started before the takeover, not listed at check time) is found on delete.
    b.calls.push('old-2');
    await s.delete({ callId: 'old-2' });
    expect(b.calls).toEqual([]);
    expect(errorCode(await s.query({ callId: 'nowhere' }).then(() => undefined, (e: unknown) => e))).toBe('UNKNOWN_CALL');
  });

  it('refuses an empty or duplicated node list', () => {
    expect(() => new MediaNodeSet({ nodes: [], retryMs: 1, log: pino({ level: 'silent' }) })).toThrow(/at least one node/);
    expect(() => new MediaNodeSet({ nodes: [fakeNode('a', 1), fakeNode('a', 2)], retryMs: 1, log: pino({ level: 'silent' }) })).toThrow(/listed twice/);
  });
});
