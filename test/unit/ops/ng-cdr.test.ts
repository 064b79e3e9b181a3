import { describe, it, expect } from 'vitest';
import type { CallStats, StreamStats } from '../../../src/media/api.js';
import { ngCallRecord } from '../../../src/ops/ng-cdr.js';

const stream = (rtcp: boolean, over: Partial<StreamStats> = {}): StreamStats => ({
  localAddress: '127.0.0.1', localPort: rtcp ? 30001 : 30000, family: 'IP4', rtcp, lastPacket: 0,
  stats: { packets: 0, bytes: 0, errors: 0 }, lost: 0, jitterMs: 0, latched: false, ...over,
});

const stats = (over: Partial<CallStats> = {}): CallStats => ({
  callId: 'c1', created: 1_700_000_000, createdUs: 0, createdMs: 1_700_000_000_250, lastSignal: 1_700_000_000,
  legs: [], totals: { rtp: { packets: 0, bytes: 0, errors: 0 }, rtcp: { packets: 0, bytes: 0, errors: 0 } }, ...over,
});

describe('ngCallRecord', () => {
  it('names the media plane\'s teardown reasons as the record does; anything else is "closed"', () => {
    const reasonOf = (r: string): string => ngCallRecord(stats(), r, 1_700_000_001_000).reason;
    expect(['deleted', 'media-timeout', 'worker-failure', 'terminated', 'closed', 'something new'].map(reasonOf)).toEqual(['delete', 'timeout', 'worker-failure', 'terminated', 'closed', 'closed']);
  });

  it('a session without sides (an offer that failed) is a record with no tags and zero counts, not an error', () => {
    const r = ngCallRecord(stats(), 'closed', 1_700_000_001_000);
    expect(r).toEqual({ kind: 'ng', callId: 'c1', toTags: [], setupTime: '2023-11-14T22:13:20.250Z', endTime: '2023-11-14T22:13:21.000Z', durationS: 0.8, reason: 'closed', transcoded: false, packets: 0, lost: 0, loss: 0, jitterMs: 0, sides: [] });
  });

  it('per side: loss and MOS of what arrived, IPv6 addresses bracketed, the interface name; an end before the setup is 0 s, not negative', () => {
    const rtp = stream(false, {
      localAddress: '::1', family: 'IP6', endpoint: { family: 'IP6', address: '::1', port: 5004 }, stats: { packets: 90, bytes: 15480, errors: 1 }, sent: 88, lost: 10, jitterMs: 3.456,
      quality: { ssrc: 7, source: 'receive', samples: 3, average: qp(40), lowest: qp(35), highest: qp(43) },
    });
    const r = ngCallRecord(stats({ createdMs: undefined, legs: [{ tag: 'a', interface: 'pub', created: 0, medias: [{ index: 1, type: 'audio', protocol: 'RTP/AVP', codec: 'opus/48000', transcoding: true, streams: [rtp, stream(true)] }] }] }), 'deleted', 1_699_999_999_000);
    expect(r.durationS).toBe(0);
    expect(r.sides).toEqual([{ tag: 'a', interface: 'pub', medias: [{ index: 1, type: 'audio', protocol: 'RTP/AVP', codec: 'opus/48000', transcoded: true, local: '[::1]:30000', peer: '[::1]:5004', packetsIn: 90, bytesIn: 15480, errorsIn: 1, packetsOut: 88, lost: 10, loss: 0.1, jitterMs: 3.46, mos: { avg: 4, min: 3.5, max: 4.3 }, rtcp: { packetsIn: 0, bytesIn: 0, errorsIn: 0 } }] }]);
    expect(r).toMatchObject({ fromTag: 'a', toTags: [], transcoded: true, packets: 90, lost: 10, loss: 0.1 });
  });
});

function qp(mos: number): { mos: number; reportedAt: number; rttUs: number; rttLegUs: number; jitterMs: number; packetLossPercent: number } {
  return { mos, reportedAt: 0, rttUs: 0, rttLegUs: 0, jitterMs: 0, packetLossPercent: 0 };
}
