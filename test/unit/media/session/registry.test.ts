import { describe, it, expect } from 'vitest';
import type { WorkerReplyResult } from '../../../../src/media/pool/protocol.js';
import { CallRegistry } from '../../../../src/media/session/registry.js';
import { RateSampler } from '../../../../src/media/session/rates.js';
import { testCall } from './fixtures.js';

describe('call registry', () => {
  it('finds calls by call-id and by bridge id, and forgets both on remove', () => {
    const reg = new CallRegistry();
    const { call } = testCall(2);
    reg.add(call);
    for (const m of call.medias) reg.addMedia(call, m);
    expect(reg.require('call-1')).toBe(call);
    expect(reg.byBridge(call.medias[1].bridgeId)).toBe(call);
    expect(reg.ids()).toEqual(['call-1']);
    reg.remove(call);
    expect(reg.size).toBe(0);
    expect(reg.byBridge(call.medias[0].bridgeId)).toBeUndefined();
  });

  it('an unknown call-id is UNKNOWN_CALL; a remembered one says why it ended', () => {
    const reg = new CallRegistry();
    expect(() => reg.require('x')).toThrow('Unknown call-id');
    reg.remember('x', 'media timeout (no media for 30 s)', 'media-timeout');
    expect(() => reg.require('x')).toThrow('Call ended: media timeout (no media for 30 s)');
    expect(reg.ended('x')).toEqual({ cause: 'media-timeout', reason: 'media timeout (no media for 30 s)' });
  });

  it('a new call with a remembered call-id clears the tombstone', () => {
    const reg = new CallRegistry();
    reg.remember('call-1', 'media worker failed: worker 0 exited', 'worker-failure');
    reg.add(testCall(1).call);
    expect(reg.ended('call-1')).toBeUndefined();
  });

  it('tombstones older than ten minutes are dropped when the next one is remembered', () => {
    const reg = new CallRegistry();
    reg.remember('old', 'r', 'media-timeout', 0);
    reg.remember('new', 'r', 'media-timeout', 10 * 60_000);
    expect(reg.ended('old')).toBeUndefined();
    expect(reg.ended('new')).toBeDefined();
    reg.remember('newer', 'r', 'media-timeout', 10 * 60_000 + 1);
    expect(reg.ended('new')).toBeDefined();
  });

  it('removing a call that was replaced under its call-id leaves the new one alone', () => {
    const reg = new CallRegistry();
    const old = testCall(1).call;
    const fresh = testCall(1).call;
    reg.add(old);
    reg.add(fresh);
    reg.remove(old);
    expect(reg.get('call-1')).toBe(fresh);
  });
});

function totals(packets: number, bytes: number, errors: number, guarded = 0, recordingDropped = 0): PromiseSettledResult<WorkerReplyResult> {
  return { status: 'fulfilled', value: { op: 'totals', totals: { packets, bytes, errors, guarded, bridges: 0, recordingDropped, recordingErrors: 0, srtp: { authFailures: 0, replays: 0, malformed: 0 } } } };
}

describe('rate sampling', () => {
  it('sums what the workers\' batched socket layers dropped, leaving out refused sends (the guard counted those)', () => {
    const io = (truncated: number, sendErrors: number, sendRefused: number, unclaimed: number): PromiseSettledResult<WorkerReplyResult> => ({
      status: 'fulfilled',
      value: { op: 'totals', totals: { packets: 0, bytes: 0, errors: 0, guarded: sendRefused, bridges: 0, recordingDropped: 0, recordingErrors: 0, srtp: { authFailures: 0, replays: 0, malformed: 0 }, io: { io: 'batch', received: 0, sent: 0, truncated, recvErrors: 0, sendErrors, sendRefused, unclaimed } } },
    });
    const s = new RateSampler(0);
    expect(s.sample([io(1, 2, 7, 3), io(4, 0, 0, 0), totals(0, 0, 0)], 1000)).toMatchObject({ ioDropped: 10, guarded: 7 });
  });

  it('sums the workers\' recording drops', () => {
    expect(new RateSampler(0).sample([totals(0, 0, 0, 0, 7), totals(0, 0, 0, 0, 2)], 1000)).toMatchObject({ recordingDropped: 9, recordingErrors: 0 });
  });

  it('rates are the difference of the workers\' summed counters over the interval', () => {
    const s = new RateSampler(0);
    expect(s.sample([totals(100, 1000, 1), totals(100, 1000, 1)], 1000)).toEqual({ packetsPerSecond: 200, bytesPerSecond: 2000, errorsPerSecond: 2, guarded: 0, ioDropped: 0, recordingDropped: 0, recordingErrors: 0 });
    expect(s.sample([totals(300, 4000, 3, 5), totals(100, 1000, 1)], 3000)).toEqual({ packetsPerSecond: 100, bytesPerSecond: 1500, errorsPerSecond: 1, guarded: 5, ioDropped: 0, recordingDropped: 0, recordingErrors: 0 });
  });

  it('samples closer than 50 ms keep the last rates but report the guarded count', () => {
    const s = new RateSampler(0);
    s.sample([totals(100, 0, 0)], 1000);
    expect(s.sample([totals(5000, 0, 0, 3)], 1010)).toEqual({ packetsPerSecond: 100, bytesPerSecond: 0, errorsPerSecond: 0, guarded: 3, ioDropped: 0, recordingDropped: 0, recordingErrors: 0 });
  });

  it('a worker that does not answer is left out, and rates never go negative', () => {
    const s = new RateSampler(0);
    s.sample([totals(100, 100, 0), totals(100, 100, 0)], 1000);
    const failed: PromiseSettledResult<WorkerReplyResult> = { status: 'rejected', reason: new Error('timeout') };
    expect(s.sample([totals(150, 150, 0), failed], 2000)).toMatchObject({ packetsPerSecond: 0, bytesPerSecond: 0 });
  });
});
