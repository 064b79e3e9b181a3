import type { CallStats, LegStats, MediaStats, PacketCounters, QualityPoint, StreamQuality, StreamStats } from '../api.js';
import type { BridgeStats, QualitySample, QualitySummary, SideStats } from '../pool/protocol.js';
import type { CallMedia, MediaCall, Side } from './call.js';

export function emptyBridgeStats(bridgeId: number): BridgeStats {
  const side = (): SideStats => ({
    rtp: { packets: 0, bytes: 0, errors: 0 },
    rtcp: { packets: 0, bytes: 0, errors: 0 },
    sent: 0, lost: 0, jitterMs: 0, ssrc: 0, lastPacketMs: 0, latched: false,
  });
  return { bridgeId, sides: [side(), side()] };
}

/** Builds the per-call statistics (rtpengine's `tags` → `medias` → `streams` shape, typed). */
export function callStatsFrom(call: MediaCall, localAddress: string, bridgeStats: (m: CallMedia) => BridgeStats): CallStats {
  const family = localAddress.includes(':') ? 'IP6' : 'IP4';
  const rtp: PacketCounters = { packets: 0, bytes: 0, errors: 0 };
  const rtcp: PacketCounters = { packets: 0, bytes: 0, errors: 0 };
  const perMedia = call.medias.map((m) => ({ m, s: bridgeStats(m) }));
  for (const { s } of perMedia) {
    for (const side of s.sides) {
      add(rtp, side.rtp);
      add(rtcp, side.rtcp);
    }
  }
  const leg = (side: Side): LegStats | undefined => {
    const tag = call.tags[side];
    if (tag === undefined) return undefined;
    const peerTag = call.tags[side === 0 ? 1 : 0];
    const medias: MediaStats[] = perMedia.map(({ m, s }) => {
      const peer = m.peer[side];
      const st = s.sides[side];
      const codec = side === m.offerSide ? m.answerPlan?.offererMain : m.answerPlan?.answererMain;
      const stream = (rtcpStream: boolean): StreamStats => ({
        localAddress,
        localPort: rtcpStream ? m.localRtcpPort(side) : m.localRtpPort(side),
        family,
        endpoint: endpointOf(rtcpStream ? st.peerRtcp : st.peerRtp, peer?.family),
        advertisedEndpoint:
          // The RTCP port is known (a=rtcp or m= port + 1) unless the m= port was 65535: then there is none.
          peer?.address !== undefined && (!rtcpStream || peer.rtcpPort !== undefined)
            ? { family: peer.family, address: peer.address, port: rtcpStream ? peer.rtcpPort ?? 0 : peer.port }
            : undefined,
        rtcp: rtcpStream,
        lastPacket: Math.floor(st.lastPacketMs / 1000),
        ssrc: rtcpStream ? undefined : st.ssrc || undefined,
        stats: rtcpStream ? st.rtcp : st.rtp,
        ...(!rtcpStream ? { sent: st.sent } : {}),
        lost: rtcpStream ? 0 : st.lost,
        jitterMs: rtcpStream ? 0 : st.jitterMs,
        latched: st.latched,
        ...(!rtcpStream ? streamQuality(st, s.sides[side === 0 ? 1 : 0]) : {}),
        ...(!rtcpStream && st.control !== undefined ? { control: st.control } : {}),
      });
      return {
        index: m.index,
        type: peer?.type ?? 'audio',
        protocol: peer?.protocol ?? 'RTP/AVP',
        ...(codec !== undefined ? { codec: `${codec.name}/${codec.clockRate}` } : {}),
        transcoding: m.transcoding,
        streams: [stream(false), stream(true)],
      };
    });
    return {
      tag,
      ...(call.labels[side] !== undefined ? { label: call.labels[side] } : {}),
      ...(call.interfaces !== undefined ? { interface: call.interfaces[side].name } : {}),
      created: Math.floor(call.createdMs / 1000),
      ...(peerTag !== undefined ? { peerTag } : {}),
      medias,
    };
  };
  return {
    callId: call.callId,
    created: Math.floor(call.createdMs / 1000),
    createdUs: call.createdUs,
    createdMs: call.createdMs,
    lastSignal: Math.floor(call.lastSignalMs / 1000),
    legs: [leg(0), leg(1)].filter((l): l is LegStats => l !== undefined),
    totals: { rtp, rtcp },
  };
}

function add(to: PacketCounters, from: PacketCounters): void {
  to.packets += from.packets;
  to.bytes += from.bytes;
  to.errors += from.errors;
}

function endpointOf(
  a: { address: string; port: number } | undefined,
  family: 'IP4' | 'IP6' | undefined,
): StreamStats['endpoint'] {
  if (a === undefined) return undefined;
  return { family: family ?? (a.address.includes(':') ? 'IP6' : 'IP4'), address: a.address, port: a.port };
}

/**
 * The quality of the stream arriving on a side: what its final receiver reported over RTCP (the
 * other side's peer, about what we relayed to it) when it did, else Tandem's own receive statistics.
 */
function streamQuality(here: SideStats, there: SideStats): { quality?: StreamQuality } {
  const q: QualitySummary | undefined = there.reported ?? here.received;
  if (q === undefined) return {};
  // End to end: the receiving leg's round trip plus this leg's, when RTCP told both.
  const otherLeg = here.reported?.average.rttUs ?? 0;
  const point = (p: QualitySample): QualityPoint => ({
    mos: p.mos,
    reportedAt: Math.floor(p.atMs / 1000),
    packetLossPercent: p.lossPercent,
    jitterMs: p.jitterMs,
    rttUs: p.rttUs > 0 ? p.rttUs + otherLeg : 0,
    rttLegUs: p.rttUs,
  });
  return { quality: { ssrc: q.ssrc, source: q.source, samples: q.samples, average: point(q.average), lowest: point(q.lowest), highest: point(q.highest) } };
}
