import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LocalMedia } from '../media/session/local-media.js';
import type { B2bua } from '../b2bua/b2bua.js';
import type { Authenticator } from '../edge/auth.js';
import type { Pike } from '../edge/pike.js';
import type { CallStats } from '../media/api.js';
import type { NgServerStats } from '../control/ng-server.js';
import { MediaNodeSet } from '../control/media-nodes.js';
import type { MediaControl } from '../media/api.js';
import type { TransportStats } from '../sip/transport/transport-stats.js';
import type { TransactionCounters } from '../sip/transaction/layer.js';
import { callQuality } from './mos.js';
import type { ReloadCounters } from './reload.js';

/** What the metrics read, when scraped. */
export interface MetricsTarget {
  version: string;
  media: LocalMedia;
  b2bua?: B2bua;
  /** the B2BUA's media plane: with several --media nodes, a MediaNodeSet whose nodes are reported. */
  sipMedia?: MediaControl;
  auth?: Authenticator;
  pike?: Pike;
  ngStats?: () => NgServerStats;
  /** --redis: the state writes sent, deletes sent, and commands that failed (state/redis-state.ts keeps them). */
  redis?: { writes: number; deletes: number; errors: number };
  transportStats?: () => TransportStats;
  /** reloads (SIGHUP, tandem ctl reload): done, and refused by the file that was refused (ops/reload.ts). */
  reloads?: ReloadCounters;
  transactionStats?: () => TransactionCounters;
  draining(): boolean;
}

/** Why the ng listener dropped or refused a datagram: its counters, by the reason label they get. */
const NG_FAULTS: readonly [string, Exclude<keyof NgServerStats, 'tcp'>][] = [['malformed', 'malformed'], ['denied', 'denied'], ['request_too_large', 'requestTooLarge'], ['reply_too_large', 'replyTooLarge'], ['resends_refused', 'resendsRefused'], ['send_error', 'sendErrors']];

const NG_TCP_FAULTS: readonly [string, 'refused' | 'denied' | 'unframeable' | 'tooLarge' | 'idleTimeouts' | 'messageTimeouts' | 'slowReaders' | 'socketErrors'][] = [['connection_cap', 'refused'], ['denied', 'denied'], ['unframeable', 'unframeable'], ['too_large', 'tooLarge'], ['idle_timeout', 'idleTimeouts'], ['message_timeout', 'messageTimeouts'], ['slow_reader', 'slowReaders'], ['socket_error', 'socketErrors']];

/** What the SIP transport dropped, refused or closed, by reason. */
const SIP_FAULTS: readonly [string, keyof TransportStats][] = [
  // A malformed message is either answered (400, 513…) or, without the headers an answer needs, dropped: one reason each, so the series add up.
  ['malformed_answered', 'rejected'], ['malformed_dropped', 'dropped'], ['not_admitted', 'notAdmitted'],
  ['idle_timeout', 'idleTimeouts'], ['message_timeout', 'messageTimeouts'], ['tls_handshake_timeout', 'tlsHandshakeTimeouts'], ['write_backlog', 'writeBacklogCloses'],
  ['tls_verify_failure', 'tlsVerifyFailures'], ['connection_cap', 'refusedConnections'], ['connection_cap_per_source', 'refusedConnectionsPerSource'], ['ws_ping_timeout', 'wsPingTimeouts'],
  ['connection_lost', 'transactionsLost'],
];

/** SIP methods counted by name; anything else (a fuzzer's invention) is `other`, so labels stay bounded. */
const SIP_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'UPDATE', 'INFO', 'MESSAGE', 'NOTIFY', 'SUBSCRIBE', 'REFER', 'PRACK', 'PUBLISH']);

type Direction = 'in' | 'out';

/** Sets a counter to an externally kept total (prom-client counters only go up through inc). */
function setTotal<T extends string>(c: Counter<T>, value: number, labels?: Partial<Record<T, string>>): void {
  if (labels === undefined) c.inc(value);
  else c.inc(labels, value);
}

/**
 * Tandem's metrics in Prometheus' text format (prom-client). Names follow Prometheus conventions:
 * a `tandem_` prefix, units in names, `_total` on counters. Counters kept elsewhere (the B2BUA's,
 * the media plane's, the edge's) are read when scraped; nothing is done per packet. SIP messages, ng
 * commands and ended calls' MOS are counted as they happen, through hooks main.ts wires.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly sipRequests: Counter<'direction' | 'method'>;
  private readonly sipResponses: Counter<'direction' | 'code'>;
  private readonly ngCommands: Counter<'command' | 'result'>;
  private readonly mos: Histogram;
  private readonly endedCalls: Counter<'reason'>;

  constructor(private readonly target: MetricsTarget) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'tandem_build_info', help: 'Tandem version and the Node.js it runs on (always 1)', labelNames: ['version', 'nodejs'], registers }).set({ version: target.version, nodejs: process.version }, 1);
    new Gauge({ name: 'tandem_draining', help: '1 while new calls are refused for a drain (SIGTERM, tandem ctl drain)', registers, collect() { this.set(target.draining() ? 1 : 0); } });
    this.sipRequests = new Counter({ name: 'tandem_sip_requests_total', help: 'SIP requests received (in) and sent (out), by method', labelNames: ['direction', 'method'], registers });
    this.sipResponses = new Counter({ name: 'tandem_sip_responses_total', help: 'SIP responses received (in) and sent (out), by status code', labelNames: ['direction', 'code'], registers });
    this.ngCommands = new Counter({ name: 'tandem_ng_commands_total', help: 'ng commands executed, by command and reply result (ok, error, load limit)', labelNames: ['command', 'result'], registers });
    this.mos = new Histogram({ name: 'tandem_call_mos', help: 'estimated MOS (E-model from loss and jitter) of media sessions that ended with RTP', buckets: [1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4], registers });
    this.endedCalls = new Counter({ name: 'tandem_media_sessions_ended_total', help: 'media sessions that ended, by how (deleted, terminated, media-timeout, worker-failure, closed)', labelNames: ['reason'], registers });
    this.sipCollectors(registers);
    this.mediaCollectors(registers);
  }

  private sipCollectors(registers: Registry[]): void {
    const t = this.target;
    new Gauge({ name: 'tandem_calls', help: 'B2BUA calls now, by state', labelNames: ['state'], registers, collect() {
      this.reset();
      for (const s of ['trying', 'early', 'confirmed', 'cancel-pending', 'cancelling']) this.set({ state: s }, 0);
      for (const c of t.b2bua?.calls() ?? []) this.inc({ state: c.state });
    } });
    new Counter({ name: 'tandem_calls_started_total', help: 'B2BUA calls started (routed INVITEs)', registers, collect() { this.reset(); setTotal(this, t.b2bua?.counters.calls ?? 0); } });
    new Counter({ name: 'tandem_sip_requests_rejected_total', help: 'requests the B2BUA refused with a final response of its own (sanity, routing, authentication, overload, drain)', registers, collect() { this.reset(); setTotal(this, t.b2bua?.counters.rejected ?? 0); } });
    new Counter({ name: 'tandem_leg_b_failovers_total', help: 'leg B INVITEs sent to the next route target or X-Outbound-Proxy address after a 408/5xx, timeout or transport error', registers, collect() { this.reset(); setTotal(this, t.b2bua?.counters.legBFailovers ?? 0); } });
    new Counter({ name: 'tandem_leg_b_exhausted_total', help: 'calls whose every route target and X-Outbound-Proxy address failed over (the caller got a Warning saying so)', registers, collect() { this.reset(); setTotal(this, t.b2bua?.counters.legBExhausted ?? 0); } });
    new Counter({ name: 'tandem_sip_auth_challenges_total', help: 'digest challenges sent', registers, collect() { this.reset(); setTotal(this, t.auth?.stats().challenges ?? 0); } });
    new Counter({ name: 'tandem_sip_auth_failures_total', help: 'digest authentications that failed (wrong password, unknown user, replay, malformed)', registers, collect() { this.reset(); setTotal(this, t.auth?.stats().failures ?? 0); } });
    new Counter({ name: 'tandem_reloads_total', help: 'reloads of the routes, users and access-list files (SIGHUP, tandem ctl reload): ok, or failed by the file that was refused (nothing changed)', labelNames: ['result', 'file'], registers, collect() {
      this.reset();
      if (t.reloads === undefined) return;
      setTotal(this, t.reloads.ok, { result: 'ok', file: 'all' });
      for (const [file, n] of Object.entries(t.reloads.failed)) setTotal(this, n, { result: 'failed', file });
    } });
    new Counter({ name: 'tandem_pike_bans_total', help: 'sources banned by the flood defence', registers, collect() { this.reset(); setTotal(this, t.pike?.counters.bans ?? 0); } });
    new Counter({ name: 'tandem_pike_dropped_total', help: 'packets and connections dropped because their source is banned', registers, collect() { this.reset(); setTotal(this, t.pike?.counters.dropped ?? 0); } });
    new Gauge({ name: 'tandem_pike_banned_sources', help: 'sources banned now', registers, collect() { this.set(t.pike?.bans().length ?? 0); } });
    new Counter({ name: 'tandem_sip_transport_faults_total', help: 'what the SIP transport dropped, refused or closed, by reason', labelNames: ['reason'], registers, collect() {
      this.reset();
      const st = t.transportStats?.();
      if (st !== undefined) for (const [reason, key] of SIP_FAULTS) setTotal(this, st[key], { reason });
    } });
    new Counter({ name: 'tandem_sip_transactions_abandoned_total', help: 'client transactions still without a final response when the shutdown grace (--shutdown-grace) ended: BYEs, CANCELs, CANCELled INVITEs still waiting for their 487', registers, collect() { this.reset(); setTotal(this, t.transactionStats?.().abandoned ?? 0); } });
    // --media with several nodes (control/media-nodes.ts): each node's state and what it was given.
    const nodes = (): MediaNodeSet | undefined => (t.sipMedia instanceof MediaNodeSet ? t.sipMedia : undefined);
    new Gauge({ name: 'tandem_media_node_up', help: 'with several --media nodes: 1 while a node takes new calls, 0 while it is disabled (--media-node-retry)', labelNames: ['node'], registers, collect() { this.reset(); for (const n of nodes()?.nodes() ?? []) this.set({ node: n.name }, n.enabled ? 1 : 0); } });
    new Counter({ name: 'tandem_media_node_calls_total', help: 'with several --media nodes: new calls placed on each node', labelNames: ['node'], registers, collect() { this.reset(); for (const [node, n] of Object.entries(nodes()?.counters.placed ?? {})) setTotal(this, n, { node }); } });
    new Counter({ name: 'tandem_media_node_failures_total', help: 'with several --media nodes: nodes disabled after a timeout or send error', registers, collect() { this.reset(); setTotal(this, nodes()?.counters.disabled ?? 0); } });
    new Gauge({ name: 'tandem_sip_connections', help: 'SIP stream connections (TCP, TLS, WebSocket) open now', registers, collect() { this.set(t.transportStats?.().openConnections ?? 0); } });
    new Counter({ name: 'tandem_ng_faults_total', help: 'ng datagrams dropped or refused, by reason', labelNames: ['reason'], registers, collect() {
      this.reset();
      const st = t.ngStats?.();
      if (st !== undefined) for (const [reason, key] of NG_FAULTS) setTotal(this, st[key], { reason });
      // ng over TCP (--listen-tcp-ng): its own ways to end, under the same metric with a tcp_ prefix.
      if (st?.tcp !== undefined) for (const [reason, key] of NG_TCP_FAULTS) setTotal(this, st.tcp[key], { reason: `tcp_${reason}` });
    } });
    new Counter({ name: 'tandem_ng_retransmissions_total', help: 'ng requests answered again from the reply cache', registers, collect() { this.reset(); setTotal(this, t.ngStats?.().retransmissions ?? 0); } });
  }

  private mediaCollectors(registers: Registry[]): void {
    const t = this.target;
    // One snapshot serves every media metric of a scrape: collect() of the first one asks for it.
    let pending: ReturnType<LocalMedia['opsSnapshot']> | undefined;
    const snapshot = (): ReturnType<LocalMedia['opsSnapshot']> => (pending ??= t.media.opsSnapshot().finally(() => setImmediate(() => (pending = undefined))));
    const redis = t.redis;
    if (redis !== undefined) {
      new Counter({ name: 'tandem_redis_writes_total', help: '--redis: state values written (media sessions, B2BUA calls, the DTLS certificate)', registers, collect() { this.reset(); setTotal(this, redis.writes); } });
      new Counter({ name: 'tandem_redis_deletes_total', help: '--redis: state keys deleted (ended sessions and calls, entries that could not be taken over)', registers, collect() { this.reset(); setTotal(this, redis.deletes); } });
      new Counter({ name: 'tandem_redis_errors_total', help: '--redis: writes and deletes Redis refused or that failed in transit (the state is written whole again at its next change)', registers, collect() { this.reset(); setTotal(this, redis.errors); } });
    }
    new Gauge({ name: 'tandem_media_sessions', help: 'media sessions (calls in the local media plane) now', registers, async collect() { this.set((await snapshot()).sessions); } });
    new Counter({ name: 'tandem_media_sessions_total', help: 'media sessions created', registers, async collect() { this.reset(); setTotal(this, (await snapshot()).totalSessions); } });
    new Gauge({ name: 'tandem_media_transcoded_sessions', help: 'media sessions transcoding (or repacketizing) now, by the codec each side speaks', labelNames: ['offerer_codec', 'answerer_codec'], registers, async collect() {
      this.reset();
      for (const [pair, n] of (await snapshot()).transcodes) {
        const [offerer, answerer] = pair.split('|');
        this.set({ offerer_codec: offerer, answerer_codec: answerer }, n);
      }
    } });
    new Gauge({ name: 'tandem_media_max_transcodes', help: 'the transcoding limit (--max-transcodes; 0 = none)', registers, collect() { this.set(t.media.admission.maxTranscodes); } });
    new Gauge({ name: 'tandem_media_max_sessions', help: 'the session limit (--max-sessions, tandem ctl maxsessions; 0 = none)', registers, collect() { this.set(t.media.admission.maxSessions); } });
    new Counter({ name: 'tandem_media_refused_total', help: 'offers refused with load limit, by reason', labelNames: ['reason'], registers, collect() {
      this.reset();
      const c = t.media.admission.counters;
      setTotal(this, c.sessionLimit, { reason: 'session_limit' });
      setTotal(this, c.transcodeLimit, { reason: 'transcode_limit' });
      setTotal(this, c.draining, { reason: 'draining' });
    } });
    const traffic = (name: string, help: string, field: 'packets' | 'bytes' | 'errors'): void => {
      new Counter({ name, help, labelNames: ['direction', 'kind'], registers, async collect() {
        this.reset();
        const tr = (await snapshot()).traffic;
        for (const direction of ['from_offerer', 'from_answerer'] as const) for (const kind of ['rtp', 'rtcp'] as const) setTotal(this, tr[direction][kind][field], { direction, kind });
      } });
    };
    traffic('tandem_media_packets_total', 'media packets received, by the side that sent them (the offerer or the answerer) and kind', 'packets');
    traffic('tandem_media_bytes_total', 'media bytes received, by sending side and kind', 'bytes');
    traffic('tandem_media_errors_total', 'media packets dropped as errors (malformed, SRTP authentication, refused source), by sending side and kind', 'errors');
    // A separate name, not a reason label on tandem_media_errors_total: these overlap its per-stream errors (an SRTP failure is one of them) and the socket layer's drops belong to no stream, so a sum over both would count twice.
    new Counter({ name: 'tandem_media_errors_by_reason_total', help: 'media packets dropped, by the reason the workers count them under: SRTP/SRTCP authentication, replay or malformed; the batched socket layer\'s truncated datagrams, receive and send errors, packets for a closed socket', labelNames: ['reason'], registers, async collect() {
      this.reset();
      for (const [reason, n] of Object.entries((await snapshot()).errorsByReason)) setTotal(this, n, { reason });
    } });
    new Counter({ name: 'tandem_media_packets_guarded_total', help: 'media packets dropped because handling them threw (counted per worker since it started)', registers, async collect() { this.reset(); setTotal(this, (await snapshot()).guarded); } });
    new Counter({ name: 'tandem_media_worker_failures_total', help: 'media workers that died or were replaced by the watchdog', registers, async collect() { this.reset(); setTotal(this, (await snapshot()).workerFailures); } });
    let health: ReturnType<LocalMedia['workerHealth']> | undefined;
    const workers = (): ReturnType<LocalMedia['workerHealth']> => (health ??= t.media.workerHealth().finally(() => setImmediate(() => (health = undefined))));
    new Gauge({ name: 'tandem_media_worker_up', help: '1 if the media worker answered a ping during this scrape', labelNames: ['worker'], registers, async collect() {
      this.reset();
      for (const w of await workers()) this.set({ worker: String(w.index) }, w.up ? 1 : 0);
    } });
    new Gauge({ name: 'tandem_media_worker_ping_seconds', help: 'round trip of a ping to the media worker: its event-loop lag plus a message each way', labelNames: ['worker'], registers, async collect() {
      this.reset();
      for (const w of await workers()) if (w.pingMs !== undefined) this.set({ worker: String(w.index) }, w.pingMs / 1000);
    } });
    new Gauge({ name: 'tandem_media_worker_event_loop_utilization_ratio', help: 'share of time the media worker\'s event loop was busy since the previous scrape', labelNames: ['worker'], registers, async collect() {
      this.reset();
      for (const w of await workers()) this.set({ worker: String(w.index) }, w.utilization);
    } });
    new Counter({ name: 'tandem_media_worker_busy_seconds_total', help: 'time the media worker\'s event loop was busy (its CPU time, near enough) since it started', labelNames: ['worker'], registers, async collect() {
      this.reset();
      for (const w of await workers()) setTotal(this, w.activeMs / 1000, { worker: String(w.index) });
    } });
  }

  /** One SIP message seen by the transport (in) or handed to it (out). */
  sipMessage(direction: Direction, msg: { kind: 'request'; method: string } | { kind: 'response'; status: number }): void {
    if (msg.kind === 'request') this.sipRequests.inc({ direction, method: SIP_METHODS.has(msg.method) ? msg.method : 'other' });
    else this.sipResponses.inc({ direction, code: String(msg.status) });
  }

  ngCommand(command: string, result: string): void {
    this.ngCommands.inc({ command, result: result === 'ok' || result === 'error' || result === 'load limit' || result === 'pong' ? result : 'other' });
  }

  /** A media session ended: its MOS goes into the histogram (when it had RTP to judge). */
  mediaSessionEnded(stats: CallStats, reason: string): void {
    this.endedCalls.inc({ reason });
    const q = callQuality(stats);
    if (q.mos !== undefined) this.mos.observe(q.mos);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
