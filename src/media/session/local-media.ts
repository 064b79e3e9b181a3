import type { Logger } from '../../common/log.js';
import { callLogger } from '../../common/log.js';
import { TandemError } from '../../common/errors.js';
import type {
  AnswerRequest, CallEnd, CallStats, DeleteRequest, GlobalStatistics, MediaControl, MediaControlRequest, MediaControlResult, OfferRequest, QueryRequest,
  RecordingRequest, RecordingResult, SdpResult,
} from '../api.js';
import { WorkerPool } from '../pool/pool.js';
import type { WorkerMessage } from '../pool/protocol.js';
import { parseSdp } from '../../sdp/sdp.js';
import type { CodecCapabilities } from '../../sdp/negotiate.js';
import { rewriteSdp } from '../../sdp/rewrite.js';
import { LOCAL_CODEC_CAPABILITIES } from '../codecs/codec.js';
import type { DtlsCertificate } from '../rtp/dtls.js';
import { PortAllocator } from './ports.js';
import { MediaInterfaces, sdpAddress } from './interfaces.js';
import { BridgeBinder, type BridgeWorker } from './bridge.js';
import { CallMedia, MediaCall, otherSide, type Side } from './call.js';
import { CallRegistry } from './registry.js';
import { noteAnswer, noteOffer, offerSideOf, planAnswer, planOffer, type PlannerContext } from './planner.js';
import { bridgeConfig } from './worker-config.js';
import { RateSampler } from './rates.js';
import { callStatsFrom, emptyBridgeStats } from './stats.js';
import type { LocalMediaOptions } from './local-media-options.js';
import { controlMedia, syncControl } from './media-control.js';
import { encodeSnapshot, snapshotOf } from './snapshot.js';
import { processCertificate, restoreCalls } from './takeover.js';
import { CallRecordings } from './recording.js';
import { Admission } from './admission.js';
import { TrafficTotals } from './traffic.js';
import { collectOpsSnapshot, type OpsSnapshot } from './ops-snapshot.js';

export type { LocalMediaOptions };

/**
 * Audio, video, a screen share, BFCP and a data channel fit many times over; each m= line costs a
 * bridge and 4 ports, so 16 caps one call at 64 ports (one 499-line offer once took the whole range).
 */
const DEFAULT_MAX_MEDIA_PER_CALL = 16;

/**
 * The in-process media plane: call state, port allocation and SDP on the main thread, packets on
 * worker threads. Implements MediaControl for the ng server and the B2BUA. Each request runs the
 * same sequence: find the call (registry.ts), bind bridges for new m= lines (bridge.ts), plan the
 * offer/answer (planner.ts), send every bridge its configuration (worker-config.ts). Ending a call
 * is `MediaCall.close()`: the call closes its medias, each media its bridge and ports.
 */
export class LocalMedia implements MediaControl {
  readonly codecs: CodecCapabilities = LOCAL_CODEC_CAPABILITIES;
  readonly pool: WorkerPool;
  private readonly ports: PortAllocator;
  private readonly binder: BridgeBinder;
  private readonly interfaces: MediaInterfaces;
  private readonly registry = new CallRegistry();
  private readonly rates = new RateSampler();
  private readonly recordings: CallRecordings;
  private totalSessions = 0;
  private endedByTimeout = 0;
  private endedByWorkerFailure = 0;
  private rejectedMediaLimit = 0;
  /** session and transcoding limits, draining (ops: `tandem ctl maxsessions`/`drain` change them). */
  readonly admission: Admission;
  private readonly traffic = new TrafficTotals();
  private readonly startedMs = Date.now();
  private readonly log: Logger;
  /** The process's DTLS certificate (RFC 5763: one per process is enough), made at start-up. */
  private dtlsCert: DtlsCertificate | undefined;
  /** Set by close(): the calls torn down then stay in the store for whoever takes over. */
  private closing = false;

  constructor(private readonly opts: LocalMediaOptions) {
    this.log = opts.log;
    this.ports = new PortAllocator(opts.portMin, opts.portMax);
    this.binder = new BridgeBinder(this.ports);
    this.recordings = new CallRecordings(opts.recording);
    this.admission = new Admission(opts.maxSessions, opts.maxTranscodes ?? 0);
    this.interfaces = new MediaInterfaces(opts.interfaces ?? [{ name: 'default', address: opts.interface, ...(opts.advertise !== undefined ? { advertise: opts.advertise } : {}) }]);
    this.pool = new WorkerPool({
      size: opts.workers,
      logLevel: opts.logLevel,
      mediaTimeoutMs: opts.mediaTimeoutMs,
      ...(opts.io !== undefined ? { io: opts.io } : {}),
      log: opts.log,
      ...(opts.dtmfNoSuppress === true ? { dtmfNoSuppress: true } : {}),
      ...opts.poolTuning,
    });
    this.pool.on('worker-exit', (index: number, code: number, why: string) => this.onWorkerExit(index, code, why));
    this.pool.on('worker-event', (_index: number, msg: Extract<WorkerMessage, { kind: 'event' }>) => this.onWorkerEvent(msg));
  }

  async ready(): Promise<void> {
    // The certificate (werift loaded on main, a key pair made) is made while the workers warm up,
    // not after: both are start-up work the first call must not wait for, and neither needs the other.
    const cert = processCertificate(this.opts.certificates).then(
      (made) => ({ made }),
      (err: unknown) => ({ err }),
    );
    await this.pool.ready();
    const fallback = this.pool.ioFallback();
    if (fallback !== undefined) {
      if (this.opts.ioRequired === true) {
        await this.pool.close();
        throw new TandemError('CONFIG', `--io=batch: the native addon did not load (${fallback})`);
      }
      // Once for all workers: a machine without a compiler runs on dgram (README, --io).
      this.log.warn({ reason: fallback }, 'batched UDP addon not loaded: media runs on node:dgram; build it with npm run build:native');
    }
    const got = await cert;
    if ('made' in got) this.dtlsCert = got.made;
    // Plain RTP and SDES do not need it: say so and go on without DTLS-SRTP.
    else this.log.warn({ err: got.err }, 'no DTLS certificate: DTLS-SRTP offers will be refused');
  }

  /** The planner's view for an SDP going to side `to`: that side's interface's (advertised) address. */
  private planner(call: MediaCall, to: Side): PlannerContext {
    const iface = call.interfaces?.[to];
    return { interface: iface !== undefined ? sdpAddress(iface) : this.opts.interface, ourFingerprint: this.dtlsCert?.fingerprint };
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
    let call = this.registry.get(req.callId);
    const isNew = call === undefined;
    // Chosen (and an unknown name refused) before a new call exists, so a refusal leaves nothing behind.
    const chosen = call?.interfaces === undefined ? this.interfaces.select(req.options.direction, req.callId) : undefined;
    // Refusals come before anything is held: a new call is checked against the session limit and
    // draining first, then a place among the transcoding calls is reserved.
    if (call === undefined) this.admission.checkNewCall(req.callId, this.registry.size);
    this.admission.checkTranscode(call, req.callId, req.options, this.registry.all());
    if (call === undefined) call = this.newCall(req.callId, req.fromTag);
    const offerSide = offerSideOf(call, req.fromTag);
    noteOffer(call, sdp, req.options, offerSide);
    if (chosen !== undefined) call.interfaces = MediaInterfaces.bySide(chosen, offerSide);

    try {
      await this.ensureMedias(call, sdp.session.media.length);
    } catch (err) {
      if (isNew) await this.teardown(call);
      throw err;
    }

    const plan = planOffer(call, sdp, req, offerSide, this.planner(call, otherSide(offerSide)));
    await this.configureAll(call);
    this.save(call);
    call.log.info({ fromTag: req.fromTag, offerSide, medias: call.medias.length, worker: call.workerIndex }, 'offer');
    return { sdp: rewriteSdp(sdp, plan.rewrite), warnings: plan.warnings };
  }

  async answer(req: AnswerRequest): Promise<SdpResult> {
    const call = this.registry.require(req.callId);
    const sdp = parseSdp(req.sdp);
    const { offerSide, replacedToTag } = noteAnswer(call, sdp, req);
    if (replacedToTag !== undefined) call.log.warn({ toTag: req.toTag, known: replacedToTag }, 'answer from a different to-tag replaces the previous one');
    const plan = planAnswer(call, sdp, req, offerSide, this.planner(call, offerSide));
    for (const note of plan.notes) call.log.warn({ toTag: req.toTag }, note);
    await this.configureAll(call);
    this.save(call);
    this.admission.settle(call);
    call.log.info(
      { toTag: req.toTag, transcoding: call.medias.some((m) => m.transcoding), framesTo: call.medias[0]?.framesTo },
      'answer',
    );
    return { sdp: rewriteSdp(sdp, plan.rewrite), warnings: plan.warnings };
  }

  private newCall(callId: string, fromTag: string): MediaCall {
    this.admission.checkNewCall(callId, this.registry.size);
    const index = this.pool.place();
    const call = new MediaCall(callId, { index, release: () => this.pool.release(index) }, callLogger(this.log, callId));
    call.tags[0] = fromTag;
    this.registry.add(call);
    this.totalSessions++;
    return call;
  }

  /** Binds a bridge (two port pairs) for each m= line the call does not have yet. */
  private async ensureMedias(call: MediaCall, count: number): Promise<void> {
    const index = call.workerIndex;
    const worker: BridgeWorker = { request: (body) => this.pool.channel(index).request(body) };
    while (call.medias.length < count) {
      const ifs = call.interfaces ?? this.interfaces.select(undefined, call.callId);
      const bridge = await this.binder.bind(call.callId, worker, call.log, [ifs[0].address, ifs[1].address]);
      const media = new CallMedia(call.medias.length + 1, bridge);
      call.medias.push(media);
      this.registry.addMedia(call, media);
    }
  }

  /** Sends every bridge of the call its current configuration. */
  private async configureAll(call: MediaCall): Promise<void> {
    const ch = this.pool.channel(call.workerIndex);
    await Promise.all(call.medias.map((m) => ch.request({ op: 'configure', bridgeId: m.bridgeId, config: bridgeConfig(call, m, this.dtlsCert) })));
    await syncControl(call, { request: (body) => ch.request(body) });
  }

  // ---- delete / query / list / statistics ------------------------------------------------

  async delete(req: DeleteRequest): Promise<CallStats> {
    const call = this.registry.require(req.callId);
    const stats = await this.teardown(call, false, req.reason ?? 'deleted');
    call.log.info({ packets: stats.totals.rtp.packets }, 'call deleted');
    return stats;
  }

  async query(req: QueryRequest): Promise<CallStats> {
    const call = this.registry.require(req.callId);
    const reply = await this.pool.channel(call.workerIndex).request({ op: 'stats', bridgeIds: call.medias.map((m) => m.bridgeId) });
    const byId = new Map((reply.op === 'stats' ? reply.stats : []).map((s) => [s.bridgeId, s]));
    return callStatsFrom(call, this.opts.interface, (m) => byId.get(m.bridgeId) ?? emptyBridgeStats(m.bridgeId));
  }

  /** ng media control (block/silence/play media, play DTMF) on a live call. */
  async control(req: MediaControlRequest): Promise<MediaControlResult> {
    const call = this.registry.require(req.callId);
    const ch = this.pool.channel(call.workerIndex);
    const result = await controlMedia(call, req, { request: (body) => ch.request(body) });
    // Blocking and silencing are call state a takeover restores (snapshot.ts).
    if ('on' in req.action) this.save(call);
    return result;
  }

  async record(req: RecordingRequest): Promise<RecordingResult> {
    const call = this.registry.require(req.callId);
    const ch = this.pool.channel(call.workerIndex);
    return this.recordings.record(call, req.action, req.metadata, (body) => ch.request(body));
  }

  /** Why a call this media plane ended by itself, while its tombstone lasts. */
  async ended(callId: string): Promise<CallEnd | undefined> {
    return this.registry.ended(callId);
  }

  async list(limit?: number): Promise<string[]> {
    const ids = this.registry.ids();
    return limit !== undefined && limit >= 0 ? ids.slice(0, limit) : ids;
  }

  async statistics(): Promise<GlobalStatistics> {
    const replies = await Promise.allSettled(
      Array.from({ length: this.pool.size }, (_v, i) => this.pool.channel(i).request({ op: 'totals' })),
    );
    const rates = this.rates.sample(replies);
    let transcoded = 0;
    for (const c of this.registry.all()) for (const m of c.medias) if (m.transcoding) transcoded++;
    return {
      sessions: this.registry.size,
      transcodedStreams: transcoded,
      totalSessions: this.totalSessions,
      packetsPerSecond: rates.packetsPerSecond,
      bytesPerSecond: rates.bytesPerSecond,
      errorsPerSecond: rates.errorsPerSecond,
      workers: this.pool.size,
      uptimeSeconds: Math.round((Date.now() - this.startedMs) / 1000),
      endedByTimeout: this.endedByTimeout,
      endedByWorkerFailure: this.endedByWorkerFailure,
      rejectedMediaLimit: this.rejectedMediaLimit,
      workerFailures: this.pool.counters.failures,
      workerRespawns: this.pool.counters.respawns,
      watchdogKills: this.pool.counters.watchdogKills,
      packetsGuarded: rates.guarded,
      recordingDropped: rates.recordingDropped,
      recordingErrors: rates.recordingErrors,
      packetsIoDropped: rates.ioDropped,
    };
  }

  // ---- ending calls -----------------------------------------------------------------------

  /** Forgets a call and closes it (the cascade: medias, bridges, ports, worker slot). */
  private async teardown(call: MediaCall, workerGone = false, reason = 'closed'): Promise<CallStats> {
    this.registry.remove(call);
    if (!this.closing) this.opts.persist?.remove(call.callId);
    this.admission.settle(call, true);
    const collected = await call.close(workerGone);
    await this.recordings.finish(call);
    const stats = callStatsFrom(call, this.opts.interface, (m) => collected.get(m.bridgeId) ?? emptyBridgeStats(m.bridgeId));
    this.traffic.retire(stats);
    try {
      this.opts.onCallClosed?.(stats, reason);
    } catch (err) {
      call.log.warn({ err }, 'call-closed hook failed');
    }
    return stats;
  }

  /** Cumulative packets, bytes and errors by direction, the live calls' transcoding codec pairs, session counters (for /metrics). */
  opsSnapshot(): Promise<OpsSnapshot> {
    return collectOpsSnapshot({ calls: this.registry.all(), pool: this.pool, traffic: this.traffic, interface: this.opts.interface }, {
      sessions: this.registry.size,
      totalSessions: this.totalSessions,
      endedByTimeout: this.endedByTimeout,
      endedByWorkerFailure: this.endedByWorkerFailure,
      workerFailures: this.pool.counters.failures,
    });
  }

  private onWorkerExit(index: number, code: number, why: string): void {
    for (const call of this.registry.all()) {
      if (call.workerIndex !== index) continue;
      const reason = `media worker failed: worker ${index} ${why}`;
      call.log.error({ worker: index, code }, `call ended: ${reason}`);
      this.endedByWorkerFailure++;
      this.registry.remember(call.callId, reason, 'worker-failure');
      void this.teardown(call, true, 'worker-failure');
    }
  }

  private onWorkerEvent(msg: Extract<WorkerMessage, { kind: 'event' }>): void {
    const call = this.registry.byBridge(msg.bridgeId);
    if (call === undefined) return;
    const media = call.medias.find((m) => m.bridgeId === msg.bridgeId);
    if (msg.event === 'dtls-keys') {
      if (media !== undefined) media.dtlsKeys[msg.side] = msg.srtp;
      return this.save(call);
    }
    if (media !== undefined) media.timedOut = true;
    if (!call.medias.every((m) => m.timedOut)) return;
    const reason = `media timeout (no media for ${Math.round(msg.idleMs / 1000)} s)`;
    call.log.warn({ idleMs: msg.idleMs }, `call ended: ${reason}`);
    this.endedByTimeout++;
    this.registry.remember(call.callId, reason, 'media-timeout');
    void this.teardown(call, false, 'media-timeout').catch((err: unknown) => call.log.error({ err }, 'teardown after timeout failed'));
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const call of this.registry.all()) await this.teardown(call).catch(() => undefined);
    await this.pool.close();
  }

  private save(call: MediaCall): void {
    if (this.opts.persist !== undefined && !call.closed) this.opts.persist.save(call.callId, encodeSnapshot(snapshotOf(call)));
  }

  /** Takes over sessions another process wrote (`--redis`, takeover.ts). */
  restore(snapshots: string[], dropped?: (index: number) => void): Promise<{ restored: number; failed: number }> {
    return restoreCalls({
      has: (id) => this.registry.get(id) !== undefined,
      newCall: (id, tag) => this.newCall(id, tag),
      bind: async (call, ms) => {
        const ifs = call.interfaces ?? this.interfaces.select(undefined, call.callId);
        const worker: BridgeWorker = { request: (body) => this.pool.channel(call.workerIndex).request(body) };
        const media = new CallMedia(ms.index, await this.binder.bindAt(call.callId, worker, call.log, [ifs[0].address, ifs[1].address], ms.ports));
        this.registry.addMedia(call, media);
        return media;
      },
      configure: (call) => this.configureAll(call), teardown: (call) => this.teardown(call), log: this.log,
    }, snapshots, dropped);
  }

  /** Per worker: up, event-loop utilisation since start (0–1) and a ping's round trip (its event-loop lag), for /metrics. */
  async workerHealth(): Promise<{ index: number; up: boolean; utilization: number; activeMs: number; pingMs?: number }[]> {
    return Promise.all(Array.from({ length: this.pool.size }, async (_v, index) => {
      const ch = this.pool.channel(index);
      const start = performance.now();
      const ok = ch.alive && (await ch.request({ op: 'ping' }, 1000).then(() => true, () => false));
      return { index, up: ok, ...ch.eventLoop(), ...(ok ? { pingMs: performance.now() - start } : {}) };
    }));
  }

  /** For tests and operations: which worker carries a call. */
  workerOf(callId: string): number | undefined {
    return this.registry.get(callId)?.workerIndex;
  }

  /** live media sessions (calls), for draining. */
  get sessionCount(): number {
    return this.registry.size;
  }

  get freePorts(): number {
    return this.ports.free;
  }
}
