import type { WorkerPool } from '../pool/pool.js';
import type { MediaCall } from './call.js';
import { callTranscodes } from './admission.js';
import { callStatsFrom, emptyBridgeStats } from './stats.js';
import type { Traffic, TrafficTotals } from './traffic.js';

/** What /metrics reads of the media plane, built on demand (local-media.ts `opsSnapshot`). */
export interface OpsSnapshot {
  traffic: Traffic;
  /** live transcoding calls by `offerer codec|answerer codec`. */
  transcodes: Map<string, number>;
  sessions: number;
  totalSessions: number;
  endedByTimeout: number;
  endedByWorkerFailure: number;
  workerFailures: number;
  /** packets the live workers dropped because handling them threw (worker/guard.ts), since each started. */
  guarded: number;
  /** media packets dropped, by the reason a worker already counts them under (SRTP, the batched socket layer), summed over the live workers. */
  errorsByReason: Record<MediaErrorReason, number>;
}

export type MediaErrorReason = 'srtp_auth' | 'srtp_replay' | 'srtp_malformed' | 'io_truncated' | 'io_recv_error' | 'io_send_error' | 'io_unclaimed';

export interface OpsSources {
  calls: Iterable<MediaCall>;
  pool: WorkerPool;
  traffic: TrafficTotals;
  interface: string;
}

/** Session counters the media plane keeps itself; the rest is asked of the workers here. */
export type SessionCounters = Pick<OpsSnapshot, 'sessions' | 'totalSessions' | 'endedByTimeout' | 'endedByWorkerFailure' | 'workerFailures'>;

export async function collectOpsSnapshot(src: OpsSources, counters: SessionCounters): Promise<OpsSnapshot> {
  const byWorker = new Map<number, MediaCall[]>();
  const transcodes = new Map<string, number>();
  for (const c of src.calls) {
    const list = byWorker.get(c.workerIndex);
    if (list === undefined) byWorker.set(c.workerIndex, [c]);
    else list.push(c);
    if (!callTranscodes(c)) continue;
    const m = c.medias.find((x) => x.transcoding);
    const pair = `${m?.answerPlan?.offererMain?.name ?? 'unknown'}|${m?.answerPlan?.answererMain?.name ?? 'unknown'}`;
    transcodes.set(pair, (transcodes.get(pair) ?? 0) + 1);
  }
  // One stats request per worker; a worker that does not answer leaves its calls out (the totals hold their highest value).
  const live = await Promise.all([...byWorker].map(async ([index, calls]) => {
    const reply = await src.pool.channel(index).request({ op: 'stats', bridgeIds: calls.flatMap((c) => c.medias.map((m) => m.bridgeId)) }).catch(() => undefined);
    const byId = new Map((reply?.op === 'stats' ? reply.stats : []).map((s) => [s.bridgeId, s]));
    return calls.map((c) => callStatsFrom(c, src.interface, (m) => byId.get(m.bridgeId) ?? emptyBridgeStats(m.bridgeId)));
  }));
  const totals = await Promise.allSettled(Array.from({ length: src.pool.size }, (_v, i) => src.pool.channel(i).request({ op: 'totals' }, 1000)));
  const errorsByReason: Record<MediaErrorReason, number> = { srtp_auth: 0, srtp_replay: 0, srtp_malformed: 0, io_truncated: 0, io_recv_error: 0, io_send_error: 0, io_unclaimed: 0 };
  for (const r of totals) {
    if (r.status !== 'fulfilled' || r.value.op !== 'totals') continue;
    const { srtp, io } = r.value.totals;
    errorsByReason.srtp_auth += srtp.authFailures;
    errorsByReason.srtp_replay += srtp.replays;
    errorsByReason.srtp_malformed += srtp.malformed;
    // Sends refused before the kernel are not here: the guard counted them when the send threw (tandem_media_packets_guarded_total).
    if (io === undefined) continue;
    errorsByReason.io_truncated += io.truncated;
    errorsByReason.io_recv_error += io.recvErrors;
    errorsByReason.io_send_error += io.sendErrors;
    errorsByReason.io_unclaimed += io.unclaimed;
  }
  return {
    errorsByReason,
    guarded: totals.reduce((n, r) => n + (r.status === 'fulfilled' && r.value.op === 'totals' ? r.value.totals.guarded : 0), 0),
    traffic: src.traffic.snapshot(live.flat()),
    transcodes,
    ...counters,
  };
}
