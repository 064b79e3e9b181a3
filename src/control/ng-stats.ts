import type { BDict, BValue } from './bencode.js';
import type { CallStats, EndpointAddress, GlobalStatistics, QualityPoint, StreamQuality, StreamStats } from '../media/api.js';

/**
 * Per-call statistics in rtpengine's shape (`created`, `last signal`, `tags` → `medias` →
 * `streams`, `totals`), so Kamailio's $rtpstat and tools written for rtpengine read them.
 */
export function callStatsDict(s: CallStats): BDict {
  const tags: BDict = {};
  const ssrcs: BDict = {};
  for (const leg of s.legs) {
    const tag: BDict = {
      tag: leg.tag,
      created: leg.created,
      medias: leg.medias.map((m): BDict => ({
        index: m.index,
        type: m.type,
        protocol: m.protocol,
        ...(m.codec !== undefined ? { codec: m.codec } : {}),
        streams: m.streams.map(streamDict),
        'ingress SSRCs': m.streams.flatMap((st) => (st.quality !== undefined ? [{ SSRC: st.quality.ssrc, ...qualityDict(st.quality) }] : [])),
        flags: ['initialized', 'send', 'recv', ...(m.transcoding ? ['transcoding'] : [])],
      })),
    };
    for (const m of leg.medias) for (const st of m.streams) if (st.quality !== undefined) ssrcs[String(st.quality.ssrc)] = qualityDict(st.quality);
    if (leg.label !== undefined) tag.label = leg.label;
    if (leg.peerTag !== undefined) {
      tag.subscriptions = [{ tag: leg.peerTag, type: 'offer/answer' }];
      tag.subscribers = [{ tag: leg.peerTag, type: 'offer/answer' }];
    }
    tags[leg.tag] = tag;
  }
  const out: BDict = {
    created: s.created,
    created_us: s.createdUs,
    'last signal': s.lastSignal,
    SSRC: ssrcs,
    tags,
    totals: {
      RTP: { packets: s.totals.rtp.packets, bytes: s.totals.rtp.bytes, errors: s.totals.rtp.errors },
      RTCP: { packets: s.totals.rtcp.packets, bytes: s.totals.rtcp.bytes, errors: s.totals.rtcp.errors },
    },
  };
  if (s.ended !== undefined) out.ended = s.ended;
  return out;
}

/**
 * rtpengine's per-SSRC quality (call_interfaces.c ng_stats_ssrc: what Kamailio's mos_*_pv read):
 * MOS × 10, jitter in ms, packet loss in percent, round-trip times in µs, `reported at` in Unix seconds.
 */
function qualityDict(q: StreamQuality): BDict {
  const point = (p: QualityPoint, avg: boolean): BDict => ({
    MOS: p.mos,
    'round-trip time': p.rttUs,
    'round-trip time leg': p.rttLegUs,
    jitter: p.jitterMs,
    'packet loss': p.packetLossPercent,
    ...(avg ? { samples: q.samples } : { 'reported at': p.reportedAt }),
  });
  return {
    'average MOS': point(q.average, true),
    'lowest MOS': point(q.lowest, false),
    'highest MOS': point(q.highest, false),
    // Tandem's own: whether the receiver's RTCP or our receive statistics gave the samples.
    'MOS source': q.source === 'rtcp' ? 'RTCP' : 'receive statistics',
  };
}

function endpointDict(e: EndpointAddress): BDict {
  return { family: e.family === 'IP6' ? 'IPv6' : 'IPv4', address: e.address, port: e.port ?? 0 };
}

function streamDict(st: StreamStats): BDict {
  const flags: BValue[] = [st.rtcp ? 'RTCP' : 'RTP'];
  if (st.endpoint !== undefined) flags.push('filled');
  if (st.latched) flags.push('confirmed');
  const d: BDict = {
    'local port': st.localPort,
    'local address': st.localAddress,
    family: st.family === 'IP6' ? 'IPv6' : 'IPv4',
    'last packet': st.lastPacket,
    flags,
    stats: { packets: st.stats.packets, bytes: st.stats.bytes, errors: st.stats.errors },
  };
  if (st.endpoint !== undefined) d.endpoint = endpointDict(st.endpoint);
  if (st.advertisedEndpoint !== undefined) d['advertised endpoint'] = endpointDict(st.advertisedEndpoint);
  if (st.ssrc !== undefined) d.SSRC = st.ssrc;
  if (!st.rtcp) {
    d['packets lost'] = st.lost;
    d.jitter = Math.round(st.jitterMs * 100) / 100 === 0 ? 0 : Math.round(st.jitterMs);
    if (st.quality !== undefined) {
      d.MOS = st.quality.average.mos;
      d['MOS min'] = st.quality.lowest.mos;
      d['MOS max'] = st.quality.highest.mos;
    }
    if (st.control !== undefined) {
      const c = st.control;
      d['media control'] = { 'DTMF blocked': c.dtmfBlocked, 'media blocked': c.mediaBlocked, silenced: c.silenced, replaced: c.replaced, generated: c.generated, failed: c.failed };
    }
  }
  return d;
}

/** `statistics` reply body, after rtpengine's `currentstatistics`/`totalstatistics`. */
export function statisticsDict(g: GlobalStatistics): BDict {
  return {
    statistics: {
      currentstatistics: {
        sessionsown: g.sessions,
        sessionsforeign: 0,
        sessionstotal: g.sessions,
        transcodedmedia: g.transcodedStreams,
        packetrate: g.packetsPerSecond,
        byterate: g.bytesPerSecond,
        errorrate: g.errorsPerSecond,
      },
      totalstatistics: {
        uptime: String(g.uptimeSeconds),
        managedsessions: g.totalSessions,
        timeoutsessions: g.endedByTimeout,
        failedsessions: g.endedByWorkerFailure,
        // Tandem's own (ng clients ignore keys they do not know).
        ...(g.rejectedMediaLimit !== undefined ? { rejectedmedialimit: g.rejectedMediaLimit } : {}),
        ...(g.workerFailures !== undefined ? { workerfailures: g.workerFailures } : {}),
        ...(g.workerRespawns !== undefined ? { workerrespawns: g.workerRespawns } : {}),
        ...(g.watchdogKills !== undefined ? { watchdogkills: g.watchdogKills } : {}),
        ...(g.packetsGuarded !== undefined ? { packetsguarded: g.packetsGuarded } : {}),
        ...(g.recordingDropped !== undefined ? { recordingdropped: g.recordingDropped } : {}),
        ...(g.recordingErrors !== undefined ? { recordingerrors: g.recordingErrors } : {}),
        ...(g.packetsIoDropped !== undefined ? { packetsiodropped: g.packetsIoDropped } : {}),
      },
      workers: g.workers,
    },
  };
}
