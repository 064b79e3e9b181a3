import type { BDict, BValue } from './bencode.js';
import { NgClient, type NgClientOptions } from './ng-client.js';
import { TandemError, errorMessage } from '../common/errors.js';
import { errorFromNgReply } from './ng-errors.js';
import { RTPENGINE_CODEC_CAPABILITIES } from './rtpengine-codecs.js';
import type {
  AnswerRequest, CallEnd, CallStats, DeleteRequest, EndpointAddress, GlobalStatistics, LegStats, MediaControl, MediaOptions,
  MediaStats, OfferRequest, PacketCounters, QueryRequest, SdpResult, StreamStats,
} from '../media/api.js';

/**
 * MediaControl over ng: the same door as LocalMedia, to a media node elsewhere (another Tandem,
 * or rtpengine). Options become the ng keys rtpengine documents; replies become typed results.
 */
export class NgMediaClient implements MediaControl {
  /** The node's abilities from rtpengine's documented table (ng cannot ask). */
  readonly codecs = RTPENGINE_CODEC_CAPABILITIES;
  private readonly ng: NgClient;

  constructor(opts: NgClientOptions) {
    this.ng = new NgClient(opts);
  }

  async offer(req: OfferRequest): Promise<SdpResult> {
    return sdpResult(await this.call({ command: 'offer', ...tags(req), sdp: req.sdp, ...optionsDict(req.options) }));
  }

  async answer(req: AnswerRequest): Promise<SdpResult> {
    return sdpResult(await this.call({ command: 'answer', ...tags(req), 'to-tag': req.toTag, sdp: req.sdp, ...optionsDict(req.options) }));
  }

  async delete(req: DeleteRequest): Promise<CallStats> {
    const reply = await this.call({ command: 'delete', 'call-id': req.callId, ...(req.fromTag !== undefined ? { 'from-tag': req.fromTag } : {}), flags: ['fatal'] });
    return callStats(req.callId, reply);
  }

  async query(req: QueryRequest): Promise<CallStats> {
    return callStats(req.callId, await this.call({ command: 'query', 'call-id': req.callId }));
  }

  async list(limit?: number): Promise<string[]> {
    const reply = await this.call({ command: 'list', ...(limit !== undefined ? { limit } : {}) });
    return Array.isArray(reply.calls) ? reply.calls.filter((c): c is string => typeof c === 'string') : [];
  }

  /** A Tandem media node says why in `query`'s error ("Call ended: …"); rtpengine does not. */
  async ended(callId: string): Promise<CallEnd | undefined> {
    try {
      await this.call({ command: 'query', 'call-id': callId });
      return undefined;
    } catch (err) {
      const m = /Call ended: (.*)$/.exec(err instanceof Error ? err.message : '');
      if (m === null) return undefined;
      return { cause: /^media worker failed/.test(m[1]) ? 'worker-failure' : 'media-timeout', reason: m[1] };
    }
  }

  async statistics(): Promise<GlobalStatistics> {
    const reply = await this.call({ command: 'statistics' });
    const st = dict(reply.statistics);
    const cur = dict(st.currentstatistics);
    const tot = dict(st.totalstatistics);
    return {
      sessions: num(cur.sessionsown) + num(cur.sessionsforeign),
      transcodedStreams: num(cur.transcodedmedia),
      totalSessions: num(tot.managedsessions),
      packetsPerSecond: num(cur.packetrate),
      bytesPerSecond: num(cur.byterate),
      errorsPerSecond: num(cur.errorrate),
      workers: num(st.workers),
      uptimeSeconds: num(tot.uptime),
      endedByTimeout: num(tot.timeoutsessions),
      endedByWorkerFailure: num(tot.failedsessions),
    };
  }

  /** ng `ping`: resolves on `pong`, rejects (REMOTE, caused by the ng client's error) on anything else. */
  async ping(): Promise<void> {
    await this.call({ command: 'ping' });
  }

  close(): Promise<void> {
    return this.ng.close();
  }

  /** Sends one command; an ng error or a timeout becomes a TandemError the caller can map. */
  private async call(msg: BDict): Promise<BDict> {
    let reply: BDict;
    try {
      reply = await this.ng.request(msg);
    } catch (err) {
      throw new TandemError('REMOTE', `media server did not answer ${String(msg.command)}: ${errorMessage(err)}`, {}, { cause: err });
    }
    if (reply.result === 'ok' || reply.result === 'pong') return reply;
    const full =
      typeof reply['error-reason'] === 'string' ? reply['error-reason']
      : typeof reply.message === 'string' ? reply.message
      : typeof reply.result === 'string' ? `result "${reply.result}"`
      : 'a reply without a result';
    // The reason ends up in logs and SIP Warning headers: a server's text must not be large there.
    const reason = full.length <= 300 ? full : `${full.slice(0, 300)}…`;
    throw errorFromNgReply(reply, reason, { cmd: String(msg.command) });
  }
}

function tags(req: OfferRequest): BDict {
  return { 'call-id': req.callId, 'from-tag': req.fromTag, ...(req.viaBranch !== undefined ? { 'via-branch': req.viaBranch } : {}) };
}

/** MediaOptions → ng keys, spelled as rtpengine documents them (the inverse of control/ng-options). */
export function optionsDict(o: MediaOptions): BDict {
  const d: BDict = {};
  const codec: BDict = {};
  // `order` is Tandem's own planner hint, not an ng key: a remote rtpengine would not know it.
  for (const [op, list] of Object.entries(o.codec) as [string, string[] | undefined][]) if (op !== 'order' && list !== undefined && list.length > 0) codec[op] = list;
  if (Object.keys(codec).length > 0) d.codec = codec;
  const flags: string[] = [];
  if (o.alwaysTranscode) flags.push('always-transcode');
  if (o.trustAddress) flags.push('trust-address');
  if (o.sipSourceAddress) flags.push('SIP-source-address');
  if (o.asymmetric) flags.push('asymmetric');
  if (o.strictSource) flags.push('strict-source');
  if (o.mediaHandover) flags.push('media-handover');
  if (o.portLatching) flags.push('port-latching');
  if (o.generateMid) flags.push('generate-mid');
  if (o.noRtcpAttribute) flags.push('no-rtcp-attribute');
  if (o.rejectIce === true) flags.push('reject-ICE');
  if (flags.length > 0) d.flags = flags;
  const replace: string[] = [];
  if (o.replaceOrigin) replace.push('origin');
  if (o.replaceSessionConnection) replace.push('session-connection');
  if (replace.length > 0) d.replace = replace;
  if (o.ptime !== undefined) d.ptime = o.ptime;
  if (o.ptimeReverse !== undefined) d['ptime-reverse'] = o.ptimeReverse;
  if (o.mediaEcho !== undefined) d['media echo'] = o.mediaEcho;
  if (o.ice !== undefined && o.ice !== 'default') d.ICE = o.ice;
  if (o.rtcpMux.length > 0) d['rtcp-mux'] = [...o.rtcpMux];
  if (o.receivedFrom !== undefined) d['received-from'] = [o.receivedFrom.family, o.receivedFrom.address];
  if (o.mediaAddress !== undefined) d['media address'] = o.mediaAddress;
  if (o.addressFamily !== undefined) d['address family'] = o.addressFamily;
  if (o.label !== undefined) d.label = o.label;
  if (o.direction !== undefined) d.direction = [...o.direction];
  if (o.transportProtocol !== undefined) d['transport-protocol'] = o.transportProtocol;
  const sdes = [...(o.sdes.off ? ['off'] : []), ...o.sdes.no.map((x) => `no-${x}`), ...o.sdes.only.map((x) => `only-${x}`)];
  if (sdes.length > 0) d.SDES = sdes;
  if (o.dtls !== undefined) d.DTLS = o.dtls;
  return d;
}

function sdpResult(reply: BDict): SdpResult {
  if (typeof reply.sdp !== 'string') throw new TandemError('REMOTE', 'media server replied ok without SDP');
  return { sdp: reply.sdp, warnings: typeof reply.warning === 'string' ? [reply.warning] : [] };
}

function dict(v: BValue | undefined): BDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
}

function num(v: BValue | undefined): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : 0;
}

function counters(v: BValue | undefined): PacketCounters {
  const d = dict(v);
  return { packets: num(d.packets), bytes: num(d.bytes), errors: num(d.errors) };
}

function endpoint(v: BValue | undefined): EndpointAddress | undefined {
  const d = dict(v);
  if (typeof d.address !== 'string') return undefined;
  return { family: d.family === 'IPv6' ? 'IP6' : 'IP4', address: d.address, port: num(d.port) };
}

/** rtpengine's per-call stats shape (delete/query) → CallStats. Unknown keys are ignored. */
export function callStats(callId: string, reply: BDict): CallStats {
  const legs: LegStats[] = Object.values(dict(reply.tags)).map((t): LegStats => {
    const tag = dict(t);
    const subs = Array.isArray(tag.subscriptions) ? tag.subscriptions.map(dict) : [];
    const peer = subs.find((s) => typeof s.tag === 'string')?.tag;
    const medias = (Array.isArray(tag.medias) ? tag.medias : []).map(dict).map((m): MediaStats => {
      const flags = Array.isArray(m.flags) ? m.flags : [];
      return {
        index: num(m.index),
        type: typeof m.type === 'string' ? m.type : 'audio',
        protocol: typeof m.protocol === 'string' ? m.protocol : 'RTP/AVP',
        ...(typeof m.codec === 'string' ? { codec: m.codec } : {}),
        transcoding: flags.includes('transcoding'),
        streams: (Array.isArray(m.streams) ? m.streams : []).map(dict).map((s): StreamStats => {
          const sf = Array.isArray(s.flags) ? s.flags : [];
          return {
            localAddress: typeof s['local address'] === 'string' ? s['local address'] : '',
            localPort: num(s['local port']),
            family: s.family === 'IPv6' ? 'IP6' : 'IP4',
            endpoint: endpoint(s.endpoint),
            advertisedEndpoint: endpoint(s['advertised endpoint']),
            rtcp: sf.includes('RTCP'),
            lastPacket: num(s['last packet']),
            ...(typeof s.SSRC === 'number' ? { ssrc: s.SSRC } : {}),
            stats: counters(s.stats),
            lost: num(s['packets lost']),
            jitterMs: num(s.jitter),
            latched: sf.includes('confirmed'),
          };
        }),
      };
    });
    return {
      tag: typeof tag.tag === 'string' ? tag.tag : '',
      ...(typeof tag.label === 'string' ? { label: tag.label } : {}),
      created: num(tag.created),
      ...(typeof peer === 'string' ? { peerTag: peer } : {}),
      medias,
    };
  });
  const totals = dict(reply.totals);
  return {
    callId,
    created: num(reply.created),
    createdUs: num(reply.created_us),
    lastSignal: num(reply['last signal']),
    legs,
    totals: { rtp: counters(totals.RTP), rtcp: counters(totals.RTCP) },
  };
}
