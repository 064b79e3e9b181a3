import type { CallStats, MediaStats, StreamStats } from '../media/api.js';
import { callQuality } from './mos.js';

/** How an ng-only media session ended, in its record (the media plane's teardown reason, renamed). */
export type NgEndReason = 'delete' | 'timeout' | 'worker-failure' | 'terminated' | 'closed';

const REASONS: Readonly<Record<string, NgEndReason>> = {
  deleted: 'delete',
  'media-timeout': 'timeout',
  'worker-failure': 'worker-failure',
  terminated: 'terminated',
};

/** One m= line of one side: what arrived from the side's peer (`in`) and what Tandem sent it (`out`). */
export interface NgStreamRecord {
  index: number;
  type: string;
  protocol: string;
  /** the codec this side speaks (both ways), once the answer settled it. */
  codec?: string;
  transcoded: boolean;
  /** Tandem's RTP socket for this side, `address:port`. */
  local: string;
  /** where Tandem sends this side's RTP (latched, else from its SDP), `address:port`. */
  peer?: string;
  packetsIn: number;
  bytesIn: number;
  errorsIn: number;
  packetsOut: number;
  lost: number;
  /** lost / (received + lost), 0–1. */
  loss: number;
  jitterMs: number;
  /** MOS of what arrived: the ng query's `MOS`, `MOS min`, `MOS max`, on the record's 1–5 scale (ng's are ×10); absent without samples. */
  mos?: { avg: number; min: number; max: number };
  rtcp: { packetsIn: number; bytesIn: number; errorsIn: number };
}

export interface NgSideRecord {
  tag: string;
  label?: string;
  /** the named media interface, when the session has named interfaces. */
  interface?: string;
  medias: NgStreamRecord[];
}

/** One ended ng-only media session, one JSON line of --cdr (the B2BUA's records have `kind: "b2bua"`). */
export interface NgCallRecord {
  kind: 'ng';
  callId: string;
  fromTag?: string;
  toTags: string[];
  /** the first offer. */
  setupTime: string;
  endTime: string;
  /** seconds from the first offer to the end. */
  durationS: number;
  reason: NgEndReason;
  transcoded: boolean;
  /** the whole session, as in the B2BUA's records (RTP received on every side). */
  packets: number;
  lost: number;
  loss: number;
  jitterMs: number;
  mos?: number;
  sides: NgSideRecord[];
}

/** Built once at teardown from the statistics the media plane already collected: no per-packet cost. */
export function ngCallRecord(stats: CallStats, teardownReason: string, endedMs: number): NgCallRecord {
  const q = callQuality(stats);
  const setupMs = stats.createdMs ?? stats.created * 1000;
  return {
    kind: 'ng',
    callId: stats.callId,
    ...(stats.legs[0] !== undefined ? { fromTag: stats.legs[0].tag } : {}),
    toTags: stats.legs.slice(1).map((l) => l.tag),
    setupTime: new Date(setupMs).toISOString(),
    endTime: new Date(endedMs).toISOString(),
    durationS: Math.max(0, Math.round((endedMs - setupMs) / 100) / 10),
    reason: REASONS[teardownReason] ?? 'closed',
    transcoded: stats.legs.some((l) => l.medias.some((m) => m.transcoding)),
    packets: q.packets,
    lost: q.lost,
    loss: round(q.loss, 4),
    jitterMs: round(q.jitterMs, 2),
    ...(q.mos !== undefined ? { mos: q.mos } : {}),
    sides: stats.legs.map((l) => ({
      tag: l.tag,
      ...(l.label !== undefined ? { label: l.label } : {}),
      ...(l.interface !== undefined ? { interface: l.interface } : {}),
      medias: l.medias.flatMap((m) => streamRecord(m)),
    })),
  };
}

function streamRecord(m: MediaStats): NgStreamRecord[] {
  const rtp = m.streams.find((s) => !s.rtcp);
  if (rtp === undefined) return [];
  const rtcp = m.streams.find((s) => s.rtcp);
  const received = rtp.stats.packets;
  const q = rtp.quality;
  return [
    {
      index: m.index,
      type: m.type,
      protocol: m.protocol,
      ...(m.codec !== undefined ? { codec: m.codec } : {}),
      transcoded: m.transcoding,
      local: hostPort(rtp.localAddress, rtp.localPort),
      ...(peerOf(rtp) !== undefined ? { peer: peerOf(rtp) } : {}),
      packetsIn: received,
      bytesIn: rtp.stats.bytes,
      errorsIn: rtp.stats.errors,
      packetsOut: rtp.sent ?? 0,
      lost: rtp.lost,
      loss: received + rtp.lost === 0 ? 0 : round(rtp.lost / (received + rtp.lost), 4),
      jitterMs: round(rtp.jitterMs, 2),
      ...(q !== undefined ? { mos: { avg: q.average.mos / 10, min: q.lowest.mos / 10, max: q.highest.mos / 10 } } : {}),
      rtcp: { packetsIn: rtcp?.stats.packets ?? 0, bytesIn: rtcp?.stats.bytes ?? 0, errorsIn: rtcp?.stats.errors ?? 0 },
    },
  ];
}

function peerOf(s: StreamStats): string | undefined {
  const e = s.endpoint ?? s.advertisedEndpoint;
  return e === undefined ? undefined : hostPort(e.address, e.port ?? 0);
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
