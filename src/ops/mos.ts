import { mosFromR } from '../common/e-model.js';
import type { CallStats } from '../media/api.js';

/** What a call's media was like, from the media plane's last statistics of it. */
export interface CallQuality {
  packets: number;
  lost: number;
  /** lost / (received + lost), 0–1. */
  loss: number;
  /** the worse of the RTP streams' RFC 3550 interarrival jitter, ms. */
  jitterMs: number;
  /** MOS-CQE estimate (1–4.5); undefined when no RTP arrived (nothing to judge). */
  mos?: number;
}

/**
 * A MOS estimate from loss and jitter through a reduced ITU-T G.107 E-model, the way media relays
 * commonly estimate it when they do not know the one-way delay: the effective latency is taken as
 * twice the jitter plus 10 ms of codec delay, the delay impairment is one slope below 160 ms and a
 * steeper one above, each percent of loss costs 2.5 R points, and R becomes MOS by G.107's Annex B
 * mapping. It ranks calls (a histogram of ended calls); it is not a listening test.
 */
export function mosFrom(lossFraction: number, jitterMs: number): number {
  const latency = jitterMs * 2 + 10;
  let r = latency < 160 ? 93.2 - latency / 40 : 93.2 - (latency - 120) / 10;
  r -= lossFraction * 100 * 2.5;
  return Math.round(Math.min(4.5, Math.max(1, mosFromR(r))) * 100) / 100;
}

export function callQuality(stats: CallStats): CallQuality {
  let packets = 0;
  let lost = 0;
  let jitterMs = 0;
  for (const leg of stats.legs)
    for (const m of leg.medias)
      for (const s of m.streams) {
        if (s.rtcp) continue;
        packets += s.stats.packets;
        lost += s.lost;
        jitterMs = Math.max(jitterMs, s.jitterMs);
      }
  const loss = packets + lost === 0 ? 0 : lost / (packets + lost);
  return { packets, lost, loss, jitterMs, ...(packets > 0 ? { mos: mosFrom(loss, jitterMs) } : {}) };
}
