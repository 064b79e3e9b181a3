/**
 * What a step's legs measured, as plain data: the same whether the legs ran on the main thread or were
 * shared out among generator worker threads (whose summaries are merged). step.ts turns a merged
 * summary into the report's DirectionResult.
 */
import { Histogram } from './metrics.js';
import type { DirectionStats, LegReceiver } from './rtp-leg.js';

export interface HistogramData {
  binWidth: number;
  bins: Uint32Array;
  count: number;
  sum: number;
  max: number;
}

export function histogramData(h: Histogram): HistogramData {
  return { binWidth: h.binWidth, bins: Uint32Array.from(h.bins), count: h.count, sum: h.sum, max: h.max };
}

/** One histogram holding every sample of `parts` (all of the same bin width and length). */
export function mergeHistograms(parts: readonly HistogramData[], binWidth: number, nbins: number): Histogram {
  const h = new Histogram(binWidth, nbins);
  for (const p of parts) {
    if (p.binWidth !== binWidth || p.bins.length !== nbins) throw new Error(`histogram shapes differ: ${p.binWidth}×${p.bins.length} vs ${binWidth}×${nbins}`);
    for (let i = 0; i < nbins; i++) h.bins[i] += p.bins[i];
    h.count += p.count;
    h.sum += p.sum;
    if (p.max > h.max) h.max = p.max;
  }
  return h;
}

/** Counters that add up across legs and workers. */
const ADDITIVE = [
  'sent', 'received', 'rtcp', 'payloadBytes', 'exactBytes', 'nearBytes', 'payloadLenSum', 'unlocated', 'resyncs',
  'unmatched', 'jitterSum', 'jitterN', 'audioChecked', 'audioOk', 'expected', 'lost', 'duplicates', 'reordered', 'decodedStreams',
] as const;
type Additive = (typeof ADDITIVE)[number];

export type DirectionSummary = Record<Additive, number> & {
  jitterMaxMs: number;
  latency: HistogramData;
  snrDb: HistogramData;
};

/** One receiving leg of a direction and how many packets its peer had sent when the window opened. */
export interface WindowLeg {
  receiver: LegReceiver;
  peerSentAtWindow: number;
  /** the leg decodes what it receives (transcoded audio) */
  decodes: boolean;
}

/** A direction's counters and the per-stream loss (RFC 3550 A.3) summed over its receiving legs. */
export function summarizeDirection(d: DirectionStats, legs: readonly WindowLeg[]): DirectionSummary {
  let expected = 0;
  let lost = 0;
  let duplicates = 0;
  let reordered = 0;
  let jitterMaxMs = 0;
  let decodedStreams = 0;
  for (const { receiver, peerSentAtWindow, decodes } of legs) {
    const t = receiver.seq;
    if (t.received === 0) {
      // Nothing arrived in the window: everything the peer sent is lost (in the peer's packet units).
      const sent = receiver.peer.packets - peerSentAtWindow;
      expected += sent;
      lost += sent;
    } else {
      expected += t.expected;
      lost += Math.max(0, t.lost);
    }
    duplicates += t.duplicates;
    reordered += t.reordered;
    jitterMaxMs = Math.max(jitterMaxMs, receiver.jitterMs());
    if (decodes) decodedStreams++;
  }
  return {
    sent: d.sent,
    received: d.received,
    rtcp: d.rtcp,
    payloadBytes: d.payloadBytes,
    exactBytes: d.exactBytes,
    nearBytes: d.nearBytes,
    payloadLenSum: d.payloadLenSum,
    unlocated: d.unlocated,
    resyncs: d.resyncs,
    unmatched: d.unmatched,
    jitterSum: d.jitterSum,
    jitterN: d.jitterN,
    audioChecked: d.audioChecked,
    audioOk: d.audioOk,
    expected,
    lost,
    duplicates,
    reordered,
    decodedStreams,
    jitterMaxMs,
    latency: histogramData(d.latency),
    snrDb: histogramData(d.snrDb),
  };
}

export function mergeDirections(parts: readonly DirectionSummary[]): DirectionSummary {
  if (parts.length === 0) throw new Error('no direction summaries to merge');
  const first = parts[0];
  const out = { ...first } as DirectionSummary;
  for (const k of ADDITIVE) out[k] = parts.reduce((a, p) => a + p[k], 0);
  out.jitterMaxMs = Math.max(...parts.map((p) => p.jitterMaxMs));
  out.latency = histogramData(mergeHistograms(parts.map((p) => p.latency), first.latency.binWidth, first.latency.bins.length));
  out.snrDb = histogramData(mergeHistograms(parts.map((p) => p.snrDb), first.snrDb.binWidth, first.snrDb.bins.length));
  return out;
}

/** Everything a set of legs measured in a window. */
export interface LoadSummary {
  ab: DirectionSummary;
  ba: DirectionSummary;
  timerLag: HistogramData;
  /** Generator worker threads: each one's event-loop utilisation over the window (0..1); [] in-process. */
  workerElu: number[];
  /** packets the generator's native I/O could not hand to the kernel in the window (dgram: not seen, 0) */
  sendErrors: number;
}

export function mergeLoads(parts: readonly LoadSummary[]): LoadSummary {
  const lag = parts[0].timerLag;
  return {
    ab: mergeDirections(parts.map((p) => p.ab)),
    ba: mergeDirections(parts.map((p) => p.ba)),
    timerLag: histogramData(mergeHistograms(parts.map((p) => p.timerLag), lag.binWidth, lag.bins.length)),
    workerElu: parts.flatMap((p) => p.workerElu),
    sendErrors: parts.reduce((a, p) => a + p.sendErrors, 0),
  };
}
