import type { Logger } from '../common/log.js';
import { TandemError, errorMessage } from '../common/errors.js';
import { isLoopback } from '../common/cidr.js';
import type { LocalMedia } from '../media/session/local-media.js';
import type { CallStats, MediaControl } from '../media/api.js';
import type { B2bua } from '../b2bua/b2bua.js';
import type { B2buaCall } from '../b2bua/call.js';
import type { Authenticator } from '../edge/auth.js';
import type { Pike } from '../edge/pike.js';
import type { SipMessage } from '../sip/message.js';
import type { TransportStats } from '../sip/transport/transport-stats.js';
import type { TransactionCounters } from '../sip/transaction/layer.js';
import type { NgServerStats } from '../control/ng-server.js';
import { AdminHttpServer, type AdminHttpLimits } from './admin-http.js';
import { adminRoutes, type AdminTarget } from './admin-api.js';
import type { ReloadResult, Reloader } from './reload.js';
import { CdrWriter } from './cdr.js';
import { DRAIN_RETRY_AFTER_S, Drain } from './drain.js';
import { Metrics, type MetricsTarget } from './metrics.js';

export interface OpsOptions {
  version: string;
  listenHttp?: { address: string; port: number };
  drainTimeoutS: number;
  cdr?: string;
  cdrUrl?: string;
  media: LocalMedia;
  log: Logger;
  httpLimits?: Partial<AdminHttpLimits>;
  /** --redis's counters (a live object, read when scraped). */
  redis?: MetricsTarget['redis'];
}

/** The SIP side, once it runs: what the metrics, the API and the call records read of it. */
export interface OpsSip {
  b2bua: B2bua;
  transportStats: () => TransportStats;
  transactionStats: () => TransactionCounters;
  sipMedia: MediaControl;
  auth?: Authenticator;
  pike?: Pike;
  /** the files a reload reads again (undefined: none was given). */
  reloader?: Reloader;
}

/**
 * Operations, assembled: metrics (when the admin listener is on), the admin HTTP listener, the
 * drain and the call records. The rest of Tandem reaches it through the hooks below, which cost a
 * counter increment each; main.ts wires them.
 */
export class Ops {
  readonly metrics: Metrics | undefined;
  readonly drain: Drain;
  readonly cdr: CdrWriter | undefined;
  private http: AdminHttpServer | undefined;
  private readonly metricsTarget: MetricsTarget;
  private readonly adminTarget: AdminTarget;
  /** what happens when a drain is over (the CLI exits); until set, it is logged only. */
  onDrained: (why: 'idle' | 'timeout') => void = () => undefined;
  address: { address: string; port: number } | undefined;
  /** shutdown has begun (SIGINT, or a drain that is over): new calls are refused as in a drain. */
  private closing = false;

  constructor(private readonly opts: OpsOptions) {
    const media = opts.media;
    this.drain = new Drain({
      timeoutMs: opts.drainTimeoutS * 1000,
      liveCalls: () => (this.adminTarget.b2bua?.activeCalls() ?? 0) + media.sessionCount,
      refuseNew: () => {
        media.admission.draining = true;
      },
      onDrained: (why) => this.onDrained(why),
      log: opts.log.child({ component: 'drain' }),
    });
    this.metricsTarget = { version: opts.version, media, draining: () => this.drain.active, ...(opts.redis !== undefined ? { redis: opts.redis } : {}) };
    this.metrics = opts.listenHttp !== undefined ? new Metrics(this.metricsTarget) : undefined;
    this.cdr = opts.cdr !== undefined || opts.cdrUrl !== undefined ? new CdrWriter({ ...(opts.cdr !== undefined ? { file: opts.cdr } : {}), ...(opts.cdrUrl !== undefined ? { url: opts.cdrUrl } : {}), log: opts.log.child({ component: 'cdr' }) }) : undefined;
    this.adminTarget = { version: opts.version, media, drain: this.drain, ...(this.metrics !== undefined ? { metrics: this.metrics } : {}) };
  }

  /** The ng listener, once it exists (its fault counters). */
  attachNg(ng: { stats(): NgServerStats }): void {
    this.metricsTarget.ngStats = () => ng.stats();
  }

  /** The SIP side's parts, once it has started. */
  attachSip(sip: OpsSip): void {
    const reloader = sip.reloader;
    Object.assign(this.metricsTarget, { b2bua: sip.b2bua, sipMedia: sip.sipMedia, transportStats: sip.transportStats, transactionStats: sip.transactionStats, ...(sip.auth !== undefined ? { auth: sip.auth } : {}), ...(sip.pike !== undefined ? { pike: sip.pike } : {}), ...(sip.reloader !== undefined ? { reloads: sip.reloader.counters } : {}) });
    // The B2BUA's media sessions are in its own records; scanning its live calls costs once per ended session, never per packet.
    if (this.cdr !== undefined) this.cdr.isB2buaCall = (id) => sip.b2bua.calls().some((c) => c.mediaCallId === id);
    Object.assign(this.adminTarget, { b2bua: sip.b2bua, sipMedia: sip.sipMedia, ...(sip.pike !== undefined ? { pike: sip.pike } : {}), ...(reloader !== undefined ? { reload: () => reloader.reload() } : {}) });
  }

  async listen(): Promise<void> {
    const at = this.opts.listenHttp;
    if (at === undefined) return;
    this.http = new AdminHttpServer(adminRoutes(this.adminTarget), this.opts.log.child({ component: 'admin-http' }), this.opts.httpLimits);
    try {
      this.address = await this.http.listen(at.address, at.port);
    } catch (err) {
      // A port in use reads like a bad option: the operator fixes --listen-http.
      throw new TandemError('CONFIG', `--listen-http: cannot listen on ${at.address}:${at.port}: ${errorMessage(err)}`, {}, { cause: err });
    }
    this.opts.log.info({ listen: `${this.address.address}:${this.address.port}` }, 'admin HTTP ready (/metrics, /healthz, /readyz, /api)');
    // Whoever reaches it can end calls and drain the box: say so whenever it is not loopback only.
    if (!isLoopback(at.address)) this.opts.log.warn({ listen: `${at.address}:${this.address.port}` }, 'the admin HTTP listener (no authentication) listens beyond loopback: keep it on a management network or behind a firewall');
  }

  /** SIGHUP: the files again (undefined without SIP or without a file to reload). */
  reload(): ReloadResult | undefined {
    return this.adminTarget.reload?.();
  }

  get httpCounters(): AdminHttpServer['counters'] | undefined {
    return this.http?.counters;
  }

  // ---- hooks --------------------------------------------------------------------------------

  /** A 503 for new INVITEs (and REGISTERs) while draining, and while shutdown waits for its BYEs; the B2BUA asks before the overload control. */
  drainRefusal(): { status: 503; reason: string; retryAfter: number } | undefined {
    return this.drain.active || this.closing ? { status: 503, reason: 'Service Unavailable', retryAfter: DRAIN_RETRY_AFTER_S } : undefined;
  }

  sipMessage(direction: 'in' | 'out', msg: SipMessage): void {
    this.metrics?.sipMessage(direction, msg);
  }

  ngCommand(command: string, result: string): void {
    this.metrics?.ngCommand(command, result);
  }

  mediaClosed(stats: CallStats, reason: string): void {
    this.metrics?.mediaSessionEnded(stats, reason);
    this.cdr?.mediaClosed(stats, reason);
  }

  callEnded(call: B2buaCall, reason: string): void {
    this.cdr?.callEnded(call, reason);
  }

  /** First at shutdown: no more admin requests while the rest closes. */
  async closeListener(): Promise<void> {
    this.closing = true;
    this.drain.stop();
    const http = this.http;
    this.http = undefined;
    await http?.close();
  }

  /** Last at shutdown, once calls and media are closed: their call records are written, then the file is closed. */
  async close(): Promise<void> {
    await this.closeListener();
    await this.cdr?.close();
  }
}
