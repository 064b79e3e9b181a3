import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { Admission } from '../../../../src/media/session/admission.js';
import { CallMedia, MediaCall } from '../../../../src/media/session/call.js';
import { defaultMediaOptions, type MediaOptions } from '../../../../src/media/api.js';
import type { AnswerCodecPlan } from '../../../../src/sdp/negotiate.js';

const log = pino({ level: 'silent' });

function call(id: string, transcoding = false): MediaCall {
  const c = new MediaCall(id, { index: 0, release: () => undefined }, log);
  const m = new CallMedia(1, { id: 1, ports: [1000, 1001, 1002, 1003], close: async () => undefined });
  if (transcoding) m.answerPlan = { transcoding: true } as AnswerCodecPlan;
  c.medias.push(m);
  return c;
}

const transcodeOffer = (): MediaOptions => ({ ...defaultMediaOptions(), codec: { ...defaultMediaOptions().codec, transcode: ['PCMU'] } });

describe('media admission', () => {
  it('--max-transcodes: an offer that may transcode reserves a place until its answer; a racing second offer is refused', () => {
    const a = new Admission(0, 1);
    const calls: MediaCall[] = [];
    a.checkTranscode(undefined, 'x', transcodeOffer(), calls);
    const x = call('x');
    calls.push(x);
    // y's offer comes before x's answer: x holds the only place.
    expect(() => a.checkTranscode(undefined, 'y', transcodeOffer(), calls)).toThrow(/Transcoding session limit reached/);
    // A plain offer (nothing to transcode) is not counted, and x's own re-offer keeps its place.
    expect(() => a.checkTranscode(undefined, 'z', defaultMediaOptions(), calls)).not.toThrow();
    expect(() => a.checkTranscode(x, 'x', transcodeOffer(), calls)).not.toThrow();
    // x's answer did not transcode: the place is free again.
    a.settle(x);
    expect(() => a.checkTranscode(undefined, 'y', transcodeOffer(), calls)).not.toThrow();
    expect(a.counters.transcodeLimit).toBe(1);
  });

  it('a call that transcodes keeps its place until it ends; 0 means no limit', () => {
    const a = new Admission(0, 1);
    const t = call('t', true);
    const calls = [t];
    a.checkTranscode(t, 't', transcodeOffer(), calls);
    a.settle(t);
    expect(a.transcodingCalls(calls)).toBe(1);
    expect(() => a.checkTranscode(undefined, 'u', transcodeOffer(), calls)).toThrow(/Transcoding/);
    a.settle(t, true);
    calls.pop();
    expect(() => a.checkTranscode(undefined, 'u', transcodeOffer(), calls)).not.toThrow();
    const unlimited = new Admission(0, 0);
    for (let i = 0; i < 5; i++) unlimited.checkTranscode(undefined, `c${i}`, transcodeOffer(), [call('o', true)]);
  });

  it('the session limit (changed at run time) and draining refuse new calls as LOAD_LIMIT, each counted', () => {
    const a = new Admission(2, 0);
    expect(() => a.checkNewCall('c', 1)).not.toThrow();
    expect(() => a.checkNewCall('c', 2)).toThrow(expect.objectContaining({ code: 'LOAD_LIMIT', message: expect.stringMatching(/Parallel session limit reached/) }));
    a.maxSessions = 0;
    expect(() => a.checkNewCall('c', 1000)).not.toThrow();
    a.draining = true;
    expect(() => a.checkNewCall('c', 0)).toThrow(expect.objectContaining({ code: 'LOAD_LIMIT' }));
    expect(a.counters).toEqual({ sessionLimit: 1, transcodeLimit: 0, draining: 1 });
  });
});
