import type { CallStats, PacketCounters } from '../api.js';

/** Which side's packets: side 0 made the first offer, side 1 answered it. */
export type TrafficDirection = 'from_offerer' | 'from_answerer';
export type TrafficKind = 'rtp' | 'rtcp';

/** Packets, bytes and errors received, by direction and kind, since start. */
export type Traffic = Record<TrafficDirection, Record<TrafficKind, PacketCounters>>;

function zero(): Traffic {
  const c = (): PacketCounters => ({ packets: 0, bytes: 0, errors: 0 });
  return { from_offerer: { rtp: c(), rtcp: c() }, from_answerer: { rtp: c(), rtcp: c() } };
}

const DIRECTIONS: readonly TrafficDirection[] = ['from_offerer', 'from_answerer'];
const KINDS: readonly TrafficKind[] = ['rtp', 'rtcp'];
const FIELDS: readonly (keyof PacketCounters)[] = ['packets', 'bytes', 'errors'];

function addCall(to: Traffic, call: CallStats): void {
  call.legs.forEach((leg, i) => {
    const dir = DIRECTIONS[i];
    if (dir === undefined) return;
    for (const m of leg.medias) {
      for (const s of m.streams) {
        const t = to[dir][s.rtcp ? 'rtcp' : 'rtp'];
        t.packets += s.stats.packets;
        t.bytes += s.stats.bytes;
        t.errors += s.stats.errors;
      }
    }
  });
}

/**
 * Cumulative media counters for /metrics, built when scraped (nothing per packet): the last
 * counters of every call that ended plus the current ones of the live calls. A call's counters
 * can be missing for a moment (between leaving the registry and its worker's last reply) or for
 * good (its worker died), so each value is reported as the highest seen: a Prometheus counter
 * never goes down.
 */
export class TrafficTotals {
  private readonly retired = zero();
  private readonly reported = zero();

  retire(stats: CallStats): void {
    addCall(this.retired, stats);
  }

  snapshot(live: Iterable<CallStats>): Traffic {
    const sum = zero();
    for (const d of DIRECTIONS) for (const k of KINDS) for (const f of FIELDS) sum[d][k][f] = this.retired[d][k][f];
    for (const c of live) addCall(sum, c);
    for (const d of DIRECTIONS) for (const k of KINDS) for (const f of FIELDS) this.reported[d][k][f] = Math.max(this.reported[d][k][f], sum[d][k][f]);
    return structuredClone(this.reported);
  }
}
