import { describe, it, expect } from 'vitest';
import { Histogram } from '../../../bench/lib/metrics.js';
import { DirectionStats } from '../../../bench/lib/rtp-leg.js';
import { histogramData, mergeDirections, mergeHistograms, summarizeDirection, type DirectionSummary } from '../../../bench/lib/summary.js';

/** What generator workers hand back is merged into one direction as if one thread had measured it all. */
function part(sent: number, received: number, lat: number[], jitterMaxMs: number): DirectionSummary {
  const d = new DirectionStats('a→b');
  d.sent = sent;
  d.received = received;
  for (const v of lat) d.latency.add(v);
  return { ...summarizeDirection(d, []), expected: received + 1, lost: 1, jitterMaxMs };
}

describe('bench summaries', () => {
  it('merges counters by sum, maxima by max and histograms bin by bin', () => {
    const m = mergeDirections([part(10, 9, [0.5, 1.5], 2), part(20, 18, [3], 7)]);
    expect(m).toMatchObject({ sent: 30, received: 27, expected: 29, lost: 2, jitterMaxMs: 7 });
    const h = mergeHistograms([m.latency], m.latency.binWidth, m.latency.bins.length);
    expect(h.count).toBe(3);
    expect(h.max).toBe(3);
    expect(h.quantile(0.5)).toBeCloseTo(1.51, 5); // the upper edge of the 10 µs bin holding 1.5
  });

  it('refuses histograms of different shapes', () => {
    expect(() => mergeHistograms([histogramData(new Histogram(1, 10))], 0.5, 10)).toThrow(/histogram shapes differ/);
    expect(() => mergeDirections([])).toThrow(/no direction summaries/);
  });
});
