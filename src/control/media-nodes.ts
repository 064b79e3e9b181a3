import type { Logger } from '../common/log.js';
import { TandemError, errorMessage, isTandemError } from '../common/errors.js';
import { NgClientError } from './ng-client.js';
import { NgMediaClient } from './ng-media-client.js';
import type { CodecCapabilities } from '../sdp/negotiate.js';
import type {
  AnswerRequest, CallEnd, CallStats, DeleteRequest, GlobalStatistics, MediaControl, OfferRequest, QueryRequest, SdpResult,
} from '../media/api.js';

/**
 * One media node of a set: a MediaControl (the in-process plane, or an NgMediaClient) with its
 * weight. `ping` is the health check (ng `ping`; the local plane is always up).
 */
export interface MediaNode {
  /** how the node is named in logs and errors: `local` or `ng:IP:PORT`. */
  name: string;
  weight: number;
  media: MediaControl;
  ping(): Promise<void>;
  /** whether a failed request says the node itself is gone (ng timeout, send or socket error). */
  remote: boolean;
}

export interface MediaNodeSetOptions {
  nodes: MediaNode[];
  /** how long a failed node stays out of use before it is pinged again, ms (--media-node-retry). */
  retryMs: number;
  log: Logger;
}

export interface MediaNodeCounters {
  /** new calls placed on each node, by name. */
  placed: Record<string, number>;
  /** times a node was taken out of use after a timeout or transport error. */
  disabled: number;
  /** times a disabled node answered a ping and came back. */
  restored: number;
  /** creating offers sent to another node after the first one failed. */
  failovers: number;
  /** requests for calls on a disabled node, refused without being sent. */
  refusedOnDisabled: number;
}

interface NodeState {
  readonly node: MediaNode;
  enabled: boolean;
  /** smooth weighted round-robin's running score. */
  current: number;
  retryTimer: NodeJS.Timeout | undefined;
  /** call-ids this node carries. */
  readonly calls: Set<string>;
}

/**
 * Several media nodes behind one MediaControl, as Kamailio's rtpengine sets do: a new call goes to
 * an enabled node by weight (smooth weighted round-robin, so 1:3 is exactly one call in four over
 * any four calls), and every later offer, answer, query and delete of that call-id goes to the same
 * node. A node whose ng request times out or cannot be sent is disabled: new calls go elsewhere
 * (a creating offer that failed is tried on the next node), requests for its calls are refused at
 * once, `list` leaves its calls out (so the B2BUA's media watch ends them, `ended` naming the
 * node), and it is pinged again every `retryMs` until it answers.
 */
export class MediaNodeSet implements MediaControl {
  readonly codecs: CodecCapabilities;
  readonly counters: MediaNodeCounters = { placed: {}, disabled: 0, restored: 0, failovers: 0, refusedOnDisabled: 0 };
  private readonly states: NodeState[];
  private readonly byCall = new Map<string, NodeState>();
  /** calls whose node failed under them, with the reason `ended` gives (bounded: oldest dropped). */
  private readonly lost = new Map<string, string>();
  private closed = false;

  constructor(private readonly opts: MediaNodeSetOptions) {
    if (opts.nodes.length === 0) throw new TandemError('CONFIG', 'a media node set needs at least one node');
    const names = new Set(opts.nodes.map((n) => n.name));
    if (names.size !== opts.nodes.length) throw new TandemError('CONFIG', 'a media node is listed twice');
    this.states = opts.nodes.map((node) => ({ node, enabled: true, current: 0, retryTimer: undefined, calls: new Set<string>() }));
    for (const n of opts.nodes) this.counters.placed[n.name] = 0;
    this.codecs = commonCapabilities(opts.nodes.map((n) => n.media.codecs));
  }

  /** Each node's name, weight, state and live calls. */
  nodes(): { name: string; weight: number; enabled: boolean; calls: number }[] {
    return this.states.map((s) => ({ name: s.node.name, weight: s.node.weight, enabled: s.enabled, calls: s.calls.size }));
  }

  /**
   * Pings every remote node once; one that does not answer is disabled (its retry starts). The
   * calls a node already carries are pinned to it: after a takeover (`--redis`) the B2BUA's calls
   * must go on where their media is, re-offers included.
   */
  async checkAll(): Promise<void> {
    await Promise.all(this.states.filter((s) => s.node.remote && s.enabled).map(async (s) => {
      try {
        await s.node.ping();
        for (const callId of await s.node.media.list()) {
          if (this.byCall.has(callId)) continue;
          this.byCall.set(callId, s);
          s.calls.add(callId);
        }
      } catch (err) {
        this.disable(s, err);
      }
    }));
  }

  async offer(req: OfferRequest): Promise<SdpResult> {
    const pinned = this.byCall.get(req.callId);
    if (pinned !== undefined) return this.onNode(pinned, req.callId, 'offer', (m) => m.offer(req));
    // A re-offer of a call whose node died is not a new call: half a session elsewhere would only mislead.
    const lost = this.lost.get(req.callId);
    if (lost !== undefined) throw new TandemError('REMOTE', lost, { callId: req.callId });
    // A new call: the chosen node, or the next one if it turns out to be gone.
    const tried = new Set<NodeState>();
    for (;;) {
      const s = this.pick(tried);
      if (s === undefined) throw new TandemError('REMOTE', `no media node is available (${this.states.map((x) => x.node.name).join(', ')} disabled)`);
      tried.add(s);
      try {
        const result = await s.node.media.offer(req);
        // Another offer for the same call-id may have placed it meanwhile; the first one wins.
        const raced = this.byCall.get(req.callId);
        if (raced !== undefined && raced !== s) {
          void s.node.media.delete({ callId: req.callId }).catch(() => undefined);
          return this.onNode(raced, req.callId, 'offer', (m) => m.offer(req));
        }
        this.byCall.set(req.callId, s);
        s.calls.add(req.callId);
        this.counters.placed[s.node.name]++;
        return result;
      } catch (err) {
        if (!this.isNodeFailure(s, err)) throw err;
        this.disable(s, err);
        this.counters.failovers++;
        this.opts.log.warn({ callId: req.callId, node: s.node.name, err }, 'media node failed on a new call; trying another');
      }
    }
  }

  async answer(req: AnswerRequest): Promise<SdpResult> {
    return this.onNode(await this.nodeOf(req.callId), req.callId, 'answer', (m) => m.answer(req));
  }

  async delete(req: DeleteRequest): Promise<CallStats> {
    try {
      return await this.onNode(await this.nodeOf(req.callId), req.callId, 'delete', (m) => m.delete(req));
    } finally {
      // A delete ends the call wherever it lived (a failed one too: its node is gone or refused it).
      this.forget(req.callId);
    }
  }

  async query(req: QueryRequest): Promise<CallStats> {
    return this.onNode(await this.nodeOf(req.callId), req.callId, 'query', (m) => m.query(req));
  }

  /** The calls of enabled nodes. A node that fails here is disabled and its calls are left out. */
  async list(limit?: number): Promise<string[]> {
    const lists = await Promise.all(this.states.filter((s) => s.enabled).map(async (s) => {
      try {
        return await s.node.media.list(limit);
      } catch (err) {
        if (this.isNodeFailure(s, err)) {
          this.disable(s, err);
          return [];
        }
        // The node answered, but not with a list: assume its calls are alive rather than end them.
        this.opts.log.warn({ node: s.node.name, err }, 'media node could not list its calls');
        return [...s.calls];
      }
    }));
    const all = lists.flat();
    return limit === undefined ? all : all.slice(0, limit);
  }

  async ended(callId: string): Promise<CallEnd | undefined> {
    const lost = this.lost.get(callId);
    if (lost !== undefined) return { cause: 'worker-failure', reason: lost };
    const s = this.byCall.get(callId);
    if (s === undefined || s.node.media.ended === undefined) return undefined;
    return s.node.media.ended(callId);
  }

  /** Sums over the enabled nodes (rates and counters of each as it reports them). */
  async statistics(): Promise<GlobalStatistics> {
    const all = await Promise.all(this.states.filter((s) => s.enabled).map((s) => s.node.media.statistics().catch(() => undefined)));
    const sum: GlobalStatistics = { sessions: 0, transcodedStreams: 0, totalSessions: 0, packetsPerSecond: 0, bytesPerSecond: 0, errorsPerSecond: 0, workers: 0, uptimeSeconds: 0, endedByTimeout: 0, endedByWorkerFailure: 0 };
    for (const st of all) {
      if (st === undefined) continue;
      for (const k of ['sessions', 'transcodedStreams', 'totalSessions', 'packetsPerSecond', 'bytesPerSecond', 'errorsPerSecond', 'workers', 'endedByTimeout', 'endedByWorkerFailure'] as const) sum[k] += st[k];
      sum.uptimeSeconds = Math.max(sum.uptimeSeconds, st.uptimeSeconds);
    }
    return sum;
  }

  /** Stops the retries and closes the remote nodes' clients (the local plane is its owner's to close). */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.states) clearTimeout(s.retryTimer);
    await Promise.all(this.states.filter((s) => s.node.remote).map((s) => s.node.media.close().catch(() => undefined)));
  }

  /** Smooth weighted round-robin (as nginx's upstreams) over the enabled nodes not yet tried. */
  private pick(tried: Set<NodeState>): NodeState | undefined {
    const usable = this.states.filter((s) => s.enabled && !tried.has(s) && s.node.weight > 0);
    if (usable.length === 0) return undefined;
    let total = 0;
    let best: NodeState | undefined;
    for (const s of usable) {
      s.current += s.node.weight;
      total += s.node.weight;
      if (best === undefined || s.current > best.current) best = s;
    }
    if (best !== undefined) best.current -= total;
    return best;
  }

  /**
   * The node carrying a call. One this process did not place (a B2BUA call taken over from another
   * process with `--redis`) is looked for in the enabled nodes' lists and pinned where it is found.
   */
  private async nodeOf(callId: string): Promise<NodeState> {
    const known = this.byCall.get(callId);
    if (known !== undefined) return known;
    if (!this.lost.has(callId)) {
      for (const s of this.states.filter((x) => x.enabled)) {
        const ids = await s.node.media.list().catch(() => [] as string[]);
        if (!ids.includes(callId)) continue;
        this.byCall.set(callId, s);
        s.calls.add(callId);
        return s;
      }
    }
    throw new TandemError('UNKNOWN_CALL', `no media node carries call ${callId}`, { callId });
  }

  private async onNode<T>(s: NodeState, callId: string, verb: string, run: (m: MediaControl) => Promise<T>): Promise<T> {
    if (!s.enabled) {
      this.counters.refusedOnDisabled++;
      throw new TandemError('REMOTE', `media node ${s.node.name} carrying this call is out of use`, { callId, verb });
    }
    try {
      return await run(s.node.media);
    } catch (err) {
      if (this.isNodeFailure(s, err)) this.disable(s, err);
      throw err;
    }
  }

  private forget(callId: string): void {
    this.lost.delete(callId);
    const s = this.byCall.get(callId);
    if (s === undefined) return;
    s.calls.delete(callId);
    this.byCall.delete(callId);
  }

  private isNodeFailure(s: NodeState, err: unknown): boolean {
    if (!s.node.remote) return false;
    const cause = isTandemError(err) ? err.cause : undefined;
    return cause instanceof NgClientError;
  }

  private disable(s: NodeState, err: unknown): void {
    if (!s.enabled || this.closed) return;
    s.enabled = false;
    this.counters.disabled++;
    const reason = `media node ${s.node.name} failed: ${errorMessage(err)}`;
    // Its calls are lost to us: the media watch ends them with this reason.
    for (const callId of s.calls) {
      this.lost.set(callId, reason);
      this.byCall.delete(callId);
    }
    while (this.lost.size > 100_000) this.lost.delete(this.lost.keys().next().value as string);
    this.opts.log.warn({ node: s.node.name, calls: s.calls.size, retryInMs: this.opts.retryMs, err }, 'media node disabled');
    s.calls.clear();
    this.scheduleRetry(s);
  }

  private scheduleRetry(s: NodeState): void {
    if (this.closed) return;
    s.retryTimer = setTimeout(() => {
      s.retryTimer = undefined;
      s.node.ping().then(
        () => {
          if (this.closed) return;
          s.enabled = true;
          s.current = 0;
          this.counters.restored++;
          this.opts.log.info({ node: s.node.name }, 'media node answers again; back in use');
        },
        (err: unknown) => {
          this.opts.log.debug({ node: s.node.name, err }, 'media node still not answering');
          this.scheduleRetry(s);
        },
      );
    }, this.opts.retryMs);
    s.retryTimer.unref();
  }
}

/** What every node can do: a codec is added or converted only if any node the call lands on can. */
function commonCapabilities(all: CodecCapabilities[]): CodecCapabilities {
  return {
    canTranscode: (from, to) => all.every((c) => c.canTranscode(from, to)),
    addable: (name) => (all.every((c) => c.addable(name) !== undefined) ? all[0].addable(name) : undefined),
  };
}

/** A node as `--media` lists it (config/media-options.ts's MediaNodeSpec, restated so control/ needs no config/). */
export type MediaNodeAddress = { kind: 'local'; weight: number } | { kind: 'ng'; address: string; port: number; weight: number };

/** The set, with each ng node pinged now: a node down at start is found before the first call is sent to it. */
export function startMediaNodeSet(nodes: MediaNodeAddress[], local: MediaControl | undefined, opts: { retryMs: number; log: Logger }): MediaNodeSet {
  const set = mediaNodeSet(nodes, local, opts);
  void set.checkAll();
  return set;
}

/** The set of `--media=local=1,ng:…=3`: `local` is the in-process plane, each ng node a client of its own. */
export function mediaNodeSet(nodes: MediaNodeAddress[], local: MediaControl | undefined, opts: { retryMs: number; log: Logger; ngTimeoutMs?: number; ngRetries?: number }): MediaNodeSet {
  return new MediaNodeSet({
    retryMs: opts.retryMs,
    log: opts.log,
    nodes: nodes.map((n): MediaNode => {
      if (n.kind === 'local') {
        if (local === undefined) throw new TandemError('CONFIG', '--media: local is listed but there is no local media plane');
        return { name: 'local', weight: n.weight, media: local, remote: false, ping: () => Promise.resolve() };
      }
      const client = new NgMediaClient({ host: n.address, port: n.port, ...(opts.ngTimeoutMs !== undefined ? { timeoutMs: opts.ngTimeoutMs } : {}), ...(opts.ngRetries !== undefined ? { retries: opts.ngRetries } : {}) });
      return { name: `ng:${n.address}:${n.port}`, weight: n.weight, media: client, remote: true, ping: () => client.ping() };
    }),
  });
}
