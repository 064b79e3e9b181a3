import { randomBytes } from 'node:crypto';
import type { Logger } from '../../common/log.js';
import { callLogger } from '../../common/log.js';
import { TandemError, errorMessage } from '../../common/errors.js';
import type {
  AnswerRequest, CallEnd, CallEndCause, CallStats, DeleteRequest, GlobalStatistics, MediaControl, MediaOptions,
  OfferRequest, QueryRequest, SdpResult,
} from '../api.js';
import { WorkerPool, type WorkerPoolOptions } from '../pool/pool.js';
import { SAMPLE_CONVERSIONS, type BridgeConfig, type BridgePorts, type BridgeStats, type DirectionConfig, type PayloadRule, type SampleConversion, type SideConfig, type WorkerMessage } from '../pool/protocol.js';
import { PortAllocator } from './ports.js';
import { checkAddress, checkPorts } from './endpoint.js';
import { CallMedia, MediaCall, type PeerMedia, type Side } from './call.js';
import { parseSdp, mediaCodecs, mediaConnection, isRtpMedia, type ParsedSdp, type SdpCodec } from '../../sdp/sdp.js';
import { planOfferCodecs, planAnswerCodecs, isG711, isSupplemental, isTelephoneEvent, type CodecCapabilities, type CodecMapping } from '../../sdp/negotiate.js';
import { LOCAL_CODEC_CAPABILITIES, localAudioCodec } from '../codecs/codec.js';
import { rewriteSdp, type MediaRewrite } from '../../sdp/rewrite.js';
import { callStatsFrom, emptyBridgeStats } from './stats.js';
import { sdesAnswer, sdesOffer } from './sdes.js';
import { createDtlsCertificate, type DtlsCertificate } from '../rtp/dtls.js';

export interface LocalMediaOptions {
  /** Address media sockets bind to and SDP advertises. */
  interface: string;
  portMin: number;
  portMax: number;
  workers: number;
  /** 0 = no limit. */
  maxSessions: number;
  /** m= lines per call (default 16): one offer must not take every port. */
  maxMediaPerCall?: number;
  mediaTimeoutMs: number;
  logLevel: string;
  log: Logger;
  /** Respawn backoff and watchdog timings (tests shorten them). */
  poolTuning?: Partial<Pick<WorkerPoolOptions, 'respawnBaseMs' | 'respawnMaxMs' | 'respawnStableMs' | 'watchdogIntervalMs' | 'watchdogTimeoutMs' | 'testOps'>>;
}

const BIND_RETRIES = 8;
/**
 * Audio, video, a screen share, BFCP and a data channel fit many times over; each m= line costs a
 * bridge and 4 ports, so 16 caps one call at 64 ports (one 499-line offer once took the whole range).
 */
const DEFAULT_MAX_MEDIA_PER_CALL = 16;
const TOMBSTONE_MS = 10 * 60_000;

/**
 * The in-process media plane: call state, port allocation and SDP on the main thread,
 * packets on worker threads. Implements MediaControl for the ng server and the B2BUA.
 */
export class LocalMedia implements MediaControl {
  readonly codecs: CodecCapabilities = LOCAL_CODEC_CAPABILITIES;
  readonly pool: WorkerPool;
  private readonly ports: PortAllocator;
  private readonly calls = new Map<string, MediaCall>();
  private readonly callByBridge = new Map<number, MediaCall>();
  /** Calls that ended on their own (timeout, worker failure), so query can say why. */
  private readonly tombstones = new Map<string, { reason: string; cause: CallEndCause; atMs: number }>();
  private nextBridgeId = 1;
  private totalSessions = 0;
  private endedByTimeout = 0;
  private endedByWorkerFailure = 0;
  private rejectedMediaLimit = 0;
  private readonly startedMs = Date.now();
  /** Packets the workers dropped because handling them threw (worker/guard.ts), at the last sample. */
  private guarded = 0;
  private rate = { packets: 0, bytes: 0, errors: 0, atMs: Date.now(), pps: 0, bps: 0, eps: 0 };
  private readonly log: Logger;

  constructor(private readonly opts: LocalMediaOptions) {
    this.log = opts.log;
    this.ports = new PortAllocator(opts.portMin, opts.portMax);
    this.pool = new WorkerPool({
      size: opts.workers,
      logLevel: opts.logLevel,
      mediaTimeoutMs: opts.mediaTimeoutMs,
      log: opts.log,
      ...opts.poolTuning,
    });
    this.pool.on('worker-exit', (index: number, code: number, why: string) => this.onWorkerExit(index, code, why));
    this.pool.on('worker-event', (_index: number, msg: Extract<WorkerMessage, { kind: 'event' }>) => this.onWorkerEvent(msg));
  }

  /** The process's DTLS certificate (RFC 5763: one per process is enough), made at start-up. */
  private dtlsCert: DtlsCertificate | undefined;

  async ready(): Promise<void> {
    await this.pool.ready();
    try {
      this.dtlsCert = await createDtlsCertificate();
    } catch (err) {
      // Plain RTP and SDES do not need it: say so and go on without DTLS-SRTP.
      this.log.warn({ err: errorMessage(err) }, 'no DTLS certificate: DTLS-SRTP offers will be refused');
    }
  }

  // ---- offer / answer ---------------------------------------------------------------------

  async offer(req: OfferRequest): Promise<SdpResult> {
    const sdp = parseSdp(req.sdp);
    const maxMedia = this.opts.maxMediaPerCall ?? DEFAULT_MAX_MEDIA_PER_CALL;
    if (sdp.session.media.length > maxMedia) {
      this.rejectedMediaLimit++;
      this.log.warn({ callId: req.callId, medias: sdp.session.media.length, maxMedia }, 'offer refused: too many m= lines');
      throw new TandemError('BAD_SDP', `offer has ${sdp.session.media.length} m= lines; the limit is ${maxMedia} (max-media-per-call)`, { 'call-id': req.callId });
    }
    let call = this.calls.get(req.callId);
    const isNew = call === undefined;
    if (call === undefined) {
      if (this.opts.maxSessions > 0 && this.calls.size >= this.opts.maxSessions)
        throw new TandemError('LOAD_LIMIT', 'Parallel session limit reached', { 'call-id': req.callId });
      call = new MediaCall(req.callId, this.pool.place(), callLogger(this.log, req.callId));
      call.tags[0] = req.fromTag;
      this.calls.set(req.callId, call);
      this.tombstones.delete(req.callId);
      this.totalSessions++;
    }
    const warnings: string[] = [];
    let offerSide: Side;
    const known = call.sideOfTag(req.fromTag);
    if (known !== undefined) offerSide = known;
    else if (call.tags[1] === undefined && call.medias.every((m) => m.peer[1] === undefined)) {
      // A new from-tag before any answer: the offerer changed its tag (e.g. a fresh INVITE).
      call.tags[0] = req.fromTag;
      offerSide = 0;
    } else {
      throw new TandemError('BAD_REQUEST', 'from-tag belongs to neither leg of this call (forking is not supported)', { 'call-id': req.callId });
    }
    const answerSide: Side = offerSide === 0 ? 1 : 0;
    call.lastSignalMs = Date.now();
    call.offerGroups = sdp.session.groups?.map((g) => ({ type: g.type, mids: String(g.mids) }));
    if (req.options.label !== undefined) call.labels[offerSide] = req.options.label;
    if (req.options.mediaEcho !== undefined) call.echo = { mode: req.options.mediaEcho, requestedBy: offerSide };

    try {
      await this.ensureMedias(call, sdp.session.media.length);
    } catch (err) {
      if (isNew) await this.teardown(call);
      throw err;
    }

    const rewrites: (MediaRewrite | null)[] = [];
    const family = req.options.addressFamily ?? (this.opts.interface.includes(':') ? 'IP6' : 'IP4');
    const usedMids = new Set(sdp.session.media.flatMap((m) => (m.mid !== undefined ? [String(m.mid)] : [])));
    sdp.session.media.forEach((m, i) => {
      const media = call.medias[i];
      // The profile the receiving side gets: as asked, else (a re-offer of a call whose profiles we
      // bridged, e.g. a re-INVITE from the other leg) the one that side negotiated before.
      const known = media.peer[answerSide]?.protocol;
      const target = req.options.transportProtocol ?? (media.bridgedProfiles ? known : undefined);
      const peer = this.peerMedia(sdp, i, req.options, req.callId, warnings);
      media.peer[offerSide] = peer;
      media.offerSide = offerSide;
      media.offerOptions = req.options;
      media.answerPlan = undefined;
      if (m.port === 0) {
        rewrites.push(null);
        return;
      }
      const audio = m.type === 'audio' && isRtpMedia(m);
      const plan = audio
        ? planOfferCodecs(peer.codecs, req.options.codec, LOCAL_CODEC_CAPABILITIES)
        : { offererCodecs: peer.codecs, answererOffer: peer.codecs, added: [], warnings: [] };
      media.offerPlan = plan;
      warnings.push(...plan.warnings);
      const muxKept = peer.rtcpMux && !req.options.rtcpMux.includes('demux') && !req.options.rtcpMux.includes('reject');
      // rtcp-mux-offer/require (RFC 5761 §5.1.3): offered to the answerer even if the offerer does
      // not multiplex; with `offer` alone a=rtcp still names the separate port in case it declines.
      const muxRequired = req.options.rtcpMux.includes('require');
      const muxOffered = muxRequired || req.options.rtcpMux.includes('offer');
      const srtp = sdesOffer({
        m, media, options: req.options, offerSide, answerSide, target,
        sessionFp: sdp.session.fingerprint, ourFingerprint: this.dtlsCert?.fingerprint,
      });
      media.bridgedProfiles = srtp.protocol !== undefined;
      const mid = m.mid === undefined && req.options.generateMid ? freshMid(usedMids, i) : undefined;
      rewrites.push({
        port: media.localRtpPort(answerSide),
        rtcpPort: media.localRtcpPort(answerSide),
        rtcpMux: muxKept || muxOffered,
        ...(!muxKept && muxOffered && !muxRequired ? { rtcpFallback: true } : {}),
        ...(req.options.noRtcpAttribute ? { noRtcpAttribute: true } : {}),
        codecs: isRtpMedia(m) ? plan.answererOffer : undefined,
        ...(req.options.ptime !== undefined && audio ? { ptime: req.options.ptime } : {}),
        removeIce: true,
        ...srtp,
        ...(mid !== undefined ? { mid } : {}),
        ...iceOffer(sdp, m, media, offerSide, answerSide, req.options),
      });
    });
    warnings.push(...sdpWarnings(sdp, req.options, call.medias.some((x) => x.sdes?.offererDtls === true)));
    if (req.options.transportProtocol !== undefined && /TLS/.test(req.options.transportProtocol) && req.options.ice !== 'force' && req.options.ice !== 'lite')
      warnings.push('UDP/TLS offered without ICE=force: a WebRTC answerer needs ICE (the WebRTC flag sets it)');
    const groups = bundleGroup(sdp, rewrites, req.options.generateMid);

    await this.configureAll(call);
    call.log.info({ fromTag: req.fromTag, offerSide, medias: call.medias.length, worker: call.workerIndex }, 'offer');
    return {
      sdp: rewriteSdp(sdp, {
        address: req.options.mediaAddress ?? this.opts.interface,
        family,
        replaceOrigin: req.options.replaceOrigin,
        media: rewrites,
        ...(groups !== undefined ? { groups } : {}),
      }),
      warnings,
    };
  }

  async answer(req: AnswerRequest): Promise<SdpResult> {
    const call = this.calls.get(req.callId);
    if (call === undefined) throw this.unknownCall(req.callId);
    const sdp = parseSdp(req.sdp);
    const offerSide = call.sideOfTag(req.fromTag);
    if (offerSide === undefined) throw new TandemError('UNKNOWN_CALL', 'Unknown from-tag', { 'call-id': req.callId });
    const answerSide: Side = offerSide === 0 ? 1 : 0;
    if (call.tags[answerSide] !== undefined && call.tags[answerSide] !== req.toTag)
      call.log.warn({ toTag: req.toTag, known: call.tags[answerSide] }, 'answer from a different to-tag replaces the previous one');
    call.tags[answerSide] = req.toTag;
    call.lastSignalMs = Date.now();
    if (req.options.label !== undefined) call.labels[answerSide] = req.options.label;
    if (req.options.mediaEcho !== undefined) call.echo = { mode: req.options.mediaEcho, requestedBy: answerSide };
    if (sdp.session.media.length > call.medias.length)
      throw new TandemError('BAD_SDP', 'answer has more m= lines than the offer', { 'call-id': req.callId });

    const warnings: string[] = [];
    const notes: string[] = [];
    const rewrites: (MediaRewrite | null)[] = [];
    sdp.session.media.forEach((m, i) => {
      const media = call.medias[i];
      const peer = this.peerMedia(sdp, i, req.options, req.callId, warnings);
      media.peer[answerSide] = peer;
      const offerer = media.peer[offerSide];
      if (m.port === 0 || offerer === undefined || media.offerPlan === undefined) {
        rewrites.push(null);
        return;
      }
      const audio = m.type === 'audio' && isRtpMedia(m);
      const offerOpts = media.offerOptions ?? req.options;
      // ICE in the answer speaks for the offerer's side, the one the answer goes to: Kamailio's
      // WebRTC configs remove ICE toward the phone on the offer and force it toward the browser
      // on the reply.
      if (req.options.ice === 'force' || req.options.ice === 'lite') media.ice[offerSide] ??= iceCredentials();
      else if (req.options.ice === 'remove') media.ice[offerSide] = undefined;
      // rtcp-mux-require: the answerer is taken to multiplex whatever its answer says (rtpengine).
      if (offerOpts.rtcpMux.includes('require')) peer.rtcpMux = true;
      const plan = audio
        ? planAnswerCodecs(media.offerPlan, peer.codecs, { alwaysTranscode: offerOpts.alwaysTranscode || req.options.alwaysTranscode }, LOCAL_CODEC_CAPABILITIES)
        : { offererAnswer: peer.codecs, mappings: [], transcoding: false, warnings: [] };
      media.answerPlan = plan;
      warnings.push(...plan.warnings);

      // Repacketize only where a ptime was asked for (rtpengine reads ptime keys in offers only):
      // `ptime` towards the answerer, `ptime-reverse` towards the offerer, which otherwise gets
      // its own ptime back if the answerer was moved to another one.
      const toAnswerer = offerOpts.ptime ?? 0;
      let toOfferer = offerOpts.ptimeReverse ?? (toAnswerer > 0 ? offerer.ptime ?? 20 : 0);
      if (toOfferer > 0 && toOfferer === (toAnswerer || peer.ptime)) toOfferer = 0;
      // Frames are cut where G.711 goes out, whatever came in (G.711 of another ptime, or Opus
      // decoded): Opus 20 ms ↔ G.711 20/30 ms. Opus itself always goes out in 20 ms frames.
      const framed = (ms: number, c: SdpCodec | undefined, who: string): number => {
        if (ms === 0 || (c !== undefined && isG711(c))) return ms;
        if (!(ms === 20 && c?.name.toLowerCase() === 'opus')) warnings.push(`ptime ${ms} toward the ${who} needs G.711 there (${c?.name ?? 'no codec'}); media keeps its framing`);
        return 0;
      };
      media.framesTo[answerSide] = framed(toAnswerer, plan.answererMain, 'answerer');
      media.framesTo[offerSide] = framed(toOfferer, plan.offererMain, 'offerer');
      // rtcp-mux goes back to an offerer that offered it when the answerer muxes too, or when the
      // offer said `accept` or `demux` (rtpengine: demux = not offered onward, accepted back).
      const acceptMux = (o: MediaOptions): boolean => o.rtcpMux.includes('accept') || o.rtcpMux.includes('demux');
      const mux = offerer.rtcpMux && (peer.rtcpMux || acceptMux(req.options) || acceptMux(offerOpts));
      const ptimeOut = toOfferer > 0 ? toOfferer : toAnswerer > 0 ? offerer.ptime ?? 20 : undefined;
      rewrites.push({
        port: media.localRtpPort(offerSide),
        rtcpPort: media.localRtcpPort(offerSide),
        rtcpMux: mux,
        // A multiplexing DTLS (WebRTC) offerer needs no a=rtcp, and some stacks (werift) reject its short form.
        ...(req.options.noRtcpAttribute || (mux && /TLS/i.test(offerer.protocol)) ? { noRtcpAttribute: true } : {}),
        codecs: isRtpMedia(m) ? plan.offererAnswer : undefined,
        ...(ptimeOut !== undefined && audio ? { ptime: ptimeOut } : {}),
        removeIce: true,
        ...sdesAnswer({
          m, media, offerSide, answerSide, sessionFp: sdp.session.fingerprint, sessionSetup: sdp.session.setup,
          ourFingerprint: this.dtlsCert?.fingerprint, notes,
        }),
        ...(offerer.mid !== undefined ? { mid: offerer.mid } : {}),
        ...(media.ice[offerSide] !== undefined ? { ice: media.ice[offerSide] } : {}),
      });
      offerer.rtcpMux = mux;
    });
    warnings.push(...sdpWarnings(sdp, req.options, call.medias.some((x) => x.sdes?.dtlsOffered !== undefined)));
    if (req.options.ptime !== undefined || req.options.ptimeReverse !== undefined)
      warnings.push('ptime and ptime-reverse are read in offers only; ignored in this answer');
    if (req.options.dtls === 'passive' || req.options.dtls === 'active') warnings.push(`DTLS=${req.options.dtls} is read in offers only; ignored in this answer`);
    for (const note of notes) call.log.warn({ toTag: req.toTag }, note);
    await this.configureAll(call);
    call.log.info(
      { toTag: req.toTag, transcoding: call.medias.some((m) => m.transcoding), framesTo: call.medias[0]?.framesTo },
      'answer',
    );
    return {
      sdp: rewriteSdp(sdp, {
        address: req.options.mediaAddress ?? this.opts.interface,
        family: req.options.addressFamily ?? (this.opts.interface.includes(':') ? 'IP6' : 'IP4'),
        replaceOrigin: req.options.replaceOrigin,
        media: rewrites,
        // JSEP/BUNDLE (RFC 9143): the offerer's groups come back in its answer, with its mids.
        ...(call.offerGroups !== undefined && call.offerGroups.length > 0 ? { groups: call.offerGroups } : {}),
      }),
      warnings,
    };
  }

  private peerMedia(sdp: ParsedSdp, i: number, options: MediaOptions, callId: string, warnings: string[]): PeerMedia {
    const m = sdp.session.media[i];
    const conn = mediaConnection(sdp, m);
    // rtpengine trusts the SDP address unless told to use the signalling source instead.
    const address = options.sipSourceAddress && options.receivedFrom !== undefined ? options.receivedFrom.address : conn?.address;
    const ports = checkPorts(m.port, m.rtcp?.port, i, callId);
    warnings.push(...ports.ignored);
    if (m.port !== 0 && address !== undefined) checkAddress(address, 'connection address', i, callId);
    if (m.port !== 0 && m.rtcp?.address !== undefined) checkAddress(m.rtcp.address, 'a=rtcp address', i, callId);
    return {
      type: m.type,
      protocol: m.protocol,
      codecs: isRtpMedia(m) ? mediaCodecs(m) : [],
      address,
      family: conn?.family ?? 'IP4',
      port: m.port,
      rtcpPort: ports.rtcpPort,
      rtcpAddress: m.rtcp?.address,
      rtcpMux: m.rtcpMux !== undefined,
      ptime: m.ptime,
      ...(m.mid !== undefined ? { mid: String(m.mid) } : {}),
      options,
    };
  }

  /** Creates the bridges (two port pairs each) for m= lines the call does not have yet. */
  private async ensureMedias(call: MediaCall, count: number): Promise<void> {
    while (call.medias.length < count) {
      const media = await this.openBridge(call, call.medias.length + 1);
      call.medias.push(media);
      this.callByBridge.set(media.bridgeId, call);
    }
  }

  private async openBridge(call: MediaCall, index: number): Promise<CallMedia> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < BIND_RETRIES; attempt++) {
      const a = this.ports.allocate();
      let b: number;
      try {
        b = this.ports.allocate();
      } catch (err) {
        this.ports.release(a);
        throw err;
      }
      const ports: BridgePorts = [a, a + 1, b, b + 1];
      const bridgeId = this.nextBridgeId++;
      try {
        await this.pool.channel(call.workerIndex).request({
          op: 'create', bridgeId, callId: call.callId, address: this.opts.interface, ports,
        });
        return new CallMedia(index, bridgeId, ports);
      } catch (err) {
        lastErr = err;
        // The allocator moves on past these pairs, so a port held by another program is not retried at once.
        this.ports.release(a);
        this.ports.release(b);
        const os = (err as { osCode?: string }).osCode;
        if (os !== 'EADDRINUSE' && os !== 'EACCES') throw err;
        call.log.warn({ ports, err: errorMessage(err) }, 'media port busy, trying another pair');
      }
    }
    throw new TandemError('NO_PORTS', `could not bind media ports: ${errorMessage(lastErr)}`, { 'call-id': call.callId });
  }

  /** Sends every bridge of the call its current configuration. */
  private async configureAll(call: MediaCall): Promise<void> {
    const ch = this.pool.channel(call.workerIndex);
    await Promise.all(call.medias.map((m) => ch.request({ op: 'configure', bridgeId: m.bridgeId, config: this.bridgeConfig(call, m) })));
  }

  private bridgeConfig(call: MediaCall, media: CallMedia): BridgeConfig {
    const offerSide = media.offerSide;
    const answerSide: Side = offerSide === 0 ? 1 : 0;
    const mappings = media.answerPlan?.mappings ?? [];
    const rules: [PayloadRule[], PayloadRule[]] = [[], []];
    for (const mp of mappings) {
      rules[offerSide].push(rule(mp, 'forward'));
      rules[answerSide].push(rule(mp, 'reverse'));
    }
    // Repacketizing without a codec change still needs the audio payload type marked as audio.
    const plan = media.answerPlan;
    if (plan?.offererMain !== undefined && plan.answererMain !== undefined && mappings.every((mp) => !mp.transcode)) {
      const a = plan.offererMain;
      const b = plan.answererMain;
      if (!rules[offerSide].some((r) => r.inPt === a.pt)) rules[offerSide].push({ inPt: a.pt, outPt: b.pt, convert: 'none', audio: isG711(a) });
      if (!rules[answerSide].some((r) => r.inPt === b.pt)) rules[answerSide].push({ inPt: b.pt, outPt: a.pt, convert: 'none', audio: isG711(b) });
    }
    const directions: [DirectionConfig, DirectionConfig] = [
      { action: 'relay', rules: rules[0], outFrameMs: media.framesTo[1] },
      { action: 'relay', rules: rules[1], outFrameMs: media.framesTo[0] },
    ];
    if (call.echo !== undefined) applyEcho(directions, call.echo.mode, call.echo.requestedBy);
    return { sides: [this.sideConfig(media, 0), this.sideConfig(media, 1)], directions };
  }

  private sideConfig(media: CallMedia, s: Side): SideConfig {
    const peer = media.peer[s];
    const clockRate = peer?.codecs.find((c) => !isSupplemental(c))?.clockRate ?? 8000;
    // We offered DTLS toward this side and wait for its answer to fix the roles.
    const awaitingDtls = media.sdes?.dtlsOffered !== undefined && s !== media.offerSide && media.dtls?.side !== s;
    if (peer === undefined || peer.address === undefined || peer.port === 0) {
      // No answer yet, but a browser answering our offer checks (and nominates) and starts DTLS as
      // soon as it has the offer, before its answer reaches us: its checks are answered from now
      // on, and its first DTLS records are kept for the association the answer creates.
      return {
        rtcpMux: false, latch: 'symmetric', strictSource: false, clockRate,
        ...(media.ice[s] !== undefined ? { ice: media.ice[s] } : {}),
        ...(awaitingDtls ? { awaitingDtls } : {}),
      };
    }
    const o = peer.options;
    return {
      peerRtp: { address: peer.address, port: peer.port },
      ...(peer.rtcpPort !== undefined ? { peerRtcp: { address: peer.rtcpAddress ?? peer.address, port: peer.rtcpPort } } : {}),
      rtcpMux: peer.rtcpMux,
      latch: o.asymmetric ? 'asymmetric' : o.portLatching ? 'port' : 'symmetric',
      strictSource: o.strictSource,
      ...(o.mediaHandover ? { mediaHandover: true } : {}),
      clockRate,
      ...(media.srtp[s] !== undefined ? { srtp: media.srtp[s] } : {}),
      ...(media.ice[s] !== undefined ? { ice: media.ice[s] } : {}),
      ...(media.dtls?.side === s && this.dtlsCert !== undefined
        ? { dtls: { role: media.dtls.role, certPem: this.dtlsCert.certPem, keyPem: this.dtlsCert.keyPem, peerFingerprint: media.dtls.peerFingerprint } }
        : {}),
    };
  }

  // ---- delete / query / list / statistics ------------------------------------------------

  async delete(req: DeleteRequest): Promise<CallStats> {
    const call = this.calls.get(req.callId);
    if (call === undefined) throw this.unknownCall(req.callId);
    const stats = await this.teardown(call);
    call.log.info({ packets: stats.totals.rtp.packets }, 'call deleted');
    return stats;
  }

  async query(req: QueryRequest): Promise<CallStats> {
    const call = this.calls.get(req.callId);
    if (call === undefined) throw this.unknownCall(req.callId);
    const reply = await this.pool.channel(call.workerIndex).request({ op: 'stats', bridgeIds: call.medias.map((m) => m.bridgeId) });
    const byId = new Map((reply.op === 'stats' ? reply.stats : []).map((s) => [s.bridgeId, s]));
    return callStatsFrom(call, this.opts.interface, (m) => byId.get(m.bridgeId) ?? emptyBridgeStats(m.bridgeId));
  }

  /** Why a call this media plane ended by itself, while its tombstone lasts. */
  async ended(callId: string): Promise<CallEnd | undefined> {
    const e = this.tombstones.get(callId);
    return e === undefined ? undefined : { cause: e.cause, reason: e.reason };
  }

  async list(limit?: number): Promise<string[]> {
    const ids = [...this.calls.keys()];
    return limit !== undefined && limit >= 0 ? ids.slice(0, limit) : ids;
  }

  async statistics(): Promise<GlobalStatistics> {
    await this.sampleRates();
    let transcoded = 0;
    for (const c of this.calls.values()) for (const m of c.medias) if (m.transcoding) transcoded++;
    return {
      sessions: this.calls.size,
      transcodedStreams: transcoded,
      totalSessions: this.totalSessions,
      packetsPerSecond: this.rate.pps,
      bytesPerSecond: this.rate.bps,
      errorsPerSecond: this.rate.eps,
      workers: this.pool.size,
      uptimeSeconds: Math.round((Date.now() - this.startedMs) / 1000),
      endedByTimeout: this.endedByTimeout,
      endedByWorkerFailure: this.endedByWorkerFailure,
      rejectedMediaLimit: this.rejectedMediaLimit,
      workerFailures: this.pool.counters.failures,
      workerRespawns: this.pool.counters.respawns,
      watchdogKills: this.pool.counters.watchdogKills,
      packetsGuarded: this.guarded,
    };
  }

  /** Packet rates between two statistics requests, from the workers' cumulative counters. */
  private async sampleRates(): Promise<void> {
    let packets = 0;
    let bytes = 0;
    let errors = 0;
    const replies = await Promise.allSettled(
      Array.from({ length: this.pool.size }, (_v, i) => this.pool.channel(i).request({ op: 'totals' })),
    );
    let guarded = 0;
    for (const r of replies) {
      if (r.status === 'fulfilled' && r.value.op === 'totals') {
        guarded += r.value.totals.guarded;
        packets += r.value.totals.packets;
        bytes += r.value.totals.bytes;
        errors += r.value.totals.errors;
      }
    }
    this.guarded = guarded;
    const now = Date.now();
    const dt = (now - this.rate.atMs) / 1000;
    if (dt > 0.05) {
      this.rate = {
        packets, bytes, errors, atMs: now,
        pps: Math.max(0, Math.round((packets - this.rate.packets) / dt)),
        bps: Math.max(0, Math.round((bytes - this.rate.bytes) / dt)),
        eps: Math.max(0, Math.round((errors - this.rate.errors) / dt)),
      };
    }
  }

  private unknownCall(callId: string): TandemError {
    const ended = this.tombstones.get(callId);
    if (ended !== undefined) return new TandemError('UNKNOWN_CALL', `Call ended: ${ended.reason}`, { 'call-id': callId });
    return new TandemError('UNKNOWN_CALL', 'Unknown call-id', { 'call-id': callId });
  }

  /** Ends a call: closes its bridges on the worker, frees its ports, forgets it. */
  private async teardown(call: MediaCall, workerGone = false): Promise<CallStats> {
    this.calls.delete(call.callId);
    const collected = new Map<number, BridgeStats>();
    if (!workerGone) {
      const ch = this.pool.channel(call.workerIndex);
      const results = await Promise.allSettled(call.medias.map((m) => ch.request({ op: 'destroy', bridgeId: m.bridgeId })));
      results.forEach((r) => {
        if (r.status === 'fulfilled' && r.value.op === 'destroy' && r.value.stats !== undefined) collected.set(r.value.stats.bridgeId, r.value.stats);
      });
    }
    for (const m of call.medias) {
      this.ports.release(m.ports[0]);
      this.ports.release(m.ports[2]);
      this.callByBridge.delete(m.bridgeId);
    }
    if (!workerGone) this.pool.release(call.workerIndex);
    return callStatsFrom(call, this.opts.interface, (m) => collected.get(m.bridgeId) ?? emptyBridgeStats(m.bridgeId));
  }

  private remember(callId: string, reason: string, cause: CallEndCause): void {
    const now = Date.now();
    this.tombstones.set(callId, { reason, cause, atMs: now });
    for (const [id, e] of this.tombstones) {
      if (now - e.atMs < TOMBSTONE_MS && this.tombstones.size <= 10_000) break;
      this.tombstones.delete(id);
    }
  }

  private onWorkerExit(index: number, code: number, why: string): void {
    for (const call of [...this.calls.values()]) {
      if (call.workerIndex !== index) continue;
      const reason = `media worker failed: worker ${index} ${why}`;
      call.log.error({ worker: index, code }, `call ended: ${reason}`);
      this.endedByWorkerFailure++;
      this.remember(call.callId, reason, 'worker-failure');
      void this.teardown(call, true);
    }
  }

  private onWorkerEvent(msg: Extract<WorkerMessage, { kind: 'event' }>): void {
    const call = this.callByBridge.get(msg.bridgeId);
    if (call === undefined) return;
    const media = call.medias.find((m) => m.bridgeId === msg.bridgeId);
    if (media !== undefined) media.timedOut = true;
    if (!call.medias.every((m) => m.timedOut)) return;
    const reason = `media timeout (no media for ${Math.round(msg.idleMs / 1000)} s)`;
    call.log.warn({ idleMs: msg.idleMs }, `call ended: ${reason}`);
    this.endedByTimeout++;
    this.remember(call.callId, reason, 'media-timeout');
    void this.teardown(call).catch((err: unknown) => call.log.error({ err: errorMessage(err) }, 'teardown after timeout failed'));
  }

  async close(): Promise<void> {
    for (const call of [...this.calls.values()]) await this.teardown(call).catch(() => undefined);
    await this.pool.close();
  }

  /** For tests and operations: which worker carries a call. */
  workerOf(callId: string): number | undefined {
    return this.calls.get(callId)?.workerIndex;
  }

  get freePorts(): number {
    return this.ports.free;
  }
}

const WORKER_CODEC = { PCMA: 'alaw', PCMU: 'ulaw', opus: 'opus' } as const;

/** The worker's name for a conversion the registry (media/codecs/codec.ts) says the plane can do. */
export function conversion(from: string, to: string): SampleConversion {
  const f = localAudioCodec(from);
  const t = localAudioCodec(to);
  const name = f !== undefined && t !== undefined && LOCAL_CODEC_CAPABILITIES.canTranscode(f, t) ? `${WORKER_CODEC[f]}-${WORKER_CODEC[t]}` : '';
  const known = SAMPLE_CONVERSIONS.find((c) => c === name);
  if (known === undefined) throw new TandemError('CODEC', `no conversion from ${from} to ${to}`);
  return known;
}

function rule(mp: CodecMapping, way: 'forward' | 'reverse'): PayloadRule {
  const from = way === 'forward' ? mp.offererCodec : mp.answererCodec;
  const to = way === 'forward' ? mp.answererCodec : mp.offererCodec;
  const convert = !mp.transcode ? 'none' : conversion(from.name, to.name);
  return {
    inPt: way === 'forward' ? mp.offererPt : mp.answererPt,
    outPt: way === 'forward' ? mp.answererPt : mp.offererPt,
    convert,
    audio: isG711(from) && isG711(to),
    ...(isTelephoneEvent(from) && isTelephoneEvent(to) ? { event: { inRate: from.clockRate, outRate: to.clockRate } } : {}),
  };
}

/**
 * rtpengine's `media echo`: `forward` echoes towards the receiver of the message that asked
 * (its media comes back to it, the requester's media is dropped), `backwards` towards the
 * requester, `both` echoes each side to itself, `blackhole` drops everything.
 */
function applyEcho(dirs: [DirectionConfig, DirectionConfig], mode: string, requester: Side): void {
  const other: Side = requester === 0 ? 1 : 0;
  const set = (s: Side, action: DirectionConfig['action']): void => {
    dirs[s] = { action, rules: [], outFrameMs: 0 };
  };
  if (mode === 'forward') {
    set(other, 'echo');
    set(requester, 'drop');
  } else if (mode === 'backwards') {
    set(requester, 'echo');
    set(other, 'drop');
  } else if (mode === 'both') {
    set(0, 'echo');
    set(1, 'echo');
  } else if (mode === 'blackhole') {
    set(0, 'drop');
    set(1, 'drop');
  }
}

function iceCredentials(): { ufrag: string; pwd: string } {
  // ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.4): ufrag ≥ 4, pwd ≥ 22 characters.
  const chars = (n: number): string => randomBytes(n).toString('base64').replace(/[^A-Za-z0-9+/]/g, 'x').slice(0, n);
  return { ufrag: chars(8), pwd: chars(24) };
}

/**
 * ICE-lite per side: an offerer that does ICE is answered as a lite agent (its checks reach our
 * port and get answered), and ICE=force/lite makes us a lite agent toward the recipient as well.
 * Credentials are made once per side and kept, so a re-offer does not restart ICE.
 */
function iceOffer(sdp: ParsedSdp, m: ParsedSdp['session']['media'][number], media: CallMedia, offerSide: Side, answerSide: Side, o: MediaOptions): { ice?: { ufrag: string; pwd: string } } {
  const offererDoesIce = m.iceUfrag !== undefined || sdp.session.iceUfrag !== undefined;
  // ICE=remove strips ICE from the offer going on; the offerer, if it does ICE, is still answered as
  // a lite agent unless the offer says `reject ICE` (rtpengine's split between the two).
  media.ice[offerSide] = offererDoesIce && o.rejectIce !== true ? (media.ice[offerSide] ?? iceCredentials()) : undefined;
  media.ice[answerSide] = o.ice === 'force' || o.ice === 'lite' ? (media.ice[answerSide] ?? iceCredentials()) : undefined;
  return media.ice[answerSide] !== undefined ? { ice: media.ice[answerSide] } : {};
}

/** A mid for an m= line that has none (`generate-mid`): its index, unless another line uses it. */
function freshMid(used: Set<string>, index: number): string {
  let n = index;
  while (used.has(String(n))) n++;
  used.add(String(n));
  return String(n);
}

/**
 * `generate-mid` toward a WebRTC peer: a=group:BUNDLE naming the one m= line. Each m= line here
 * has its own ports, so with several lines no group is offered: a peer that bundled them would
 * send everything to the first line's port.
 */
function bundleGroup(sdp: ParsedSdp, rewrites: (MediaRewrite | null)[], generateMid: boolean): { type: string; mids: string }[] | undefined {
  if (!generateMid || (sdp.session.groups?.length ?? 0) > 0) return undefined;
  const live = sdp.session.media.map((m, i) => ({ m, r: rewrites[i] })).filter((x) => x.r !== null && x.r !== undefined);
  if (live.length !== 1 || sdp.session.media.length !== 1) return undefined;
  const mid = live[0].r?.mid ?? live[0].m.mid;
  return mid === undefined ? undefined : [{ type: 'BUNDLE', mids: String(mid) }];
}

/** Things in an SDP we carry but do not terminate: say so instead of ignoring them. */
function sdpWarnings(sdp: ParsedSdp, options: MediaOptions, dtlsTerminated: boolean): string[] {
  const w: string[] = [];
  const ms = sdp.session.media;
  if (options.transportProtocol === undefined && ms.some((m) => m.crypto !== undefined && m.crypto.length > 0))
    w.push('a=crypto passed through end to end (no transport-protocol given: SRTP is not terminated, no transcoding possible)');
  if (!dtlsTerminated && (ms.some((m) => m.fingerprint !== undefined) || sdp.session.fingerprint !== undefined))
    w.push('a=fingerprint passed through end to end (no transport-protocol given: DTLS-SRTP is not terminated)');
  if (options.ice === 'remove' && (ms.some((m) => m.candidates !== undefined || m.iceUfrag !== undefined) || sdp.session.iceUfrag !== undefined))
    w.push('ICE removed (ICE=remove): the peer must not need connectivity checks');
  return w;
}
