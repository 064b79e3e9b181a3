import { EventEmitter } from 'node:events';
import type { Logger } from '../../common/log.js';
import { TandemError } from '../../common/errors.js';
import { WorkerChannel } from './channel.js';
import type { WarmUpReport, WorkerMessage } from './protocol.js';

export interface WorkerPoolOptions {
  size: number;
  logLevel: string;
  mediaTimeoutMs: number;
  /** The workers' socket backend (default dgram). */
  io?: 'batch' | 'dgram';
  requestTimeoutMs?: number;
  log: Logger;
  /** First respawn delay after a crash; it doubles per crash in a row (default 100 ms). */
  respawnBaseMs?: number;
  /** Longest respawn delay (default 30 s). */
  respawnMaxMs?: number;
  /** A worker that ran this long before it died starts the backoff over (default 60 s). */
  respawnStableMs?: number;
  /** Watchdog ping period (default 2 s; 0 = no watchdog). */
  watchdogIntervalMs?: number;
  /** A worker that does not answer a ping within this is replaced (default 3 s). */
  watchdogTimeoutMs?: number;
  /** Let workers accept test-only requests (tests only). */
  testOps?: boolean;
  /** rtpengine's `--dtmf-no-suppress`, passed to every worker. */
  dtmfNoSuppress?: boolean;
  /** Tandem's RTCP report period where it terminates RTCP (default 5 s; tests shorten it). */
  rtcpIntervalMs?: number;
}

export interface PoolCounters {
  /** Workers that died (exit, crash, or replaced by the watchdog). */
  failures: number;
  /** Workers started to replace one that died. */
  respawns: number;
  /** Workers the watchdog terminated because they stopped answering. */
  watchdogKills: number;
}

/** The worker entry: compiled JS in production, a tsx bootstrap when running from sources. */
function workerEntry(): URL {
  const fromSources = import.meta.url.endsWith('.ts');
  return new URL(fromSources ? '../worker/dev-entry.mjs' : '../worker/entry.js', import.meta.url);
}

/**
 * Media worker threads. Calls are placed on the least-loaded running worker. A worker that dies is
 * reported ('worker-exit' with its index, exit code and why) so its calls can be ended, and replaced
 * after a delay that doubles per crash in a row ('worker-respawn' with the delay): a peer that can
 * crash a worker per packet must not make us burn a core on respawns. A watchdog pings every worker;
 * one that stops answering (a blocked event loop) is terminated and replaced the same way.
 */
export class WorkerPool extends EventEmitter {
  private readonly channels: WorkerChannel[] = [];
  private readonly load: number[] = [];
  private readonly crashesInARow: number[] = [];
  private readonly spawnedMs: number[] = [];
  private readonly respawning = new Map<number, { timer: NodeJS.Timeout; done: Promise<void> }>();
  private readonly hung = new Map<WorkerChannel, string>();
  private readonly pinging = new Set<WorkerChannel>();
  private watchdog: NodeJS.Timeout | undefined;
  private closing = false;
  private warmUpLogged = false;
  readonly counters: PoolCounters = { failures: 0, respawns: 0, watchdogKills: 0 };

  constructor(private readonly opts: WorkerPoolOptions) {
    super();
    for (let i = 0; i < opts.size; i++) {
      this.channels.push(this.spawn(i));
      this.load.push(0);
      this.crashesInARow.push(0);
    }
    const every = opts.watchdogIntervalMs ?? 2000;
    if (every > 0) {
      this.watchdog = setInterval(() => this.pingAll(), every);
      this.watchdog.unref();
    }
  }

  /** Every worker, including any being respawned, is up (and has done its one-time set-up). */
  async ready(): Promise<void> {
    await Promise.all([...this.channels.map((c) => c.ready), ...[...this.respawning.values()].map((r) => r.done)]);
    if (!this.warmUpLogged) {
      this.warmUpLogged = true;
      this.opts.log.info(this.warmUpSummary(), this.channels.some((c) => c.warmUp?.skipped === true) ? 'media workers started without warm-up (TANDEM_WARMUP=off)' : 'media workers warmed up');
    }
  }

  /**
   * What the workers' start cost, slowest worker per step (they run in parallel, so the slowest is
   * what the start waited for): spawn to ready, and within it the warm-up and its steps (ms).
   */
  warmUpSummary(): { workers: number; startMs: number; warmUpMs: number; codecsMs: number; srtpMs: number; dtlsMs: number } {
    const max = (f: (w: WarmUpReport) => number): number => Math.max(0, ...this.channels.map((c) => (c.warmUp !== undefined ? f(c.warmUp) : 0)));
    return {
      workers: this.channels.length,
      startMs: Math.max(0, ...this.channels.map((c) => c.spawnToReadyMs ?? 0)),
      warmUpMs: max((w) => w.totalMs),
      codecsMs: max((w) => w.codecsMs),
      srtpMs: max((w) => w.srtpMs),
      dtlsMs: max((w) => w.dtlsMs),
    };
  }

  get size(): number {
    return this.channels.length;
  }

  private spawn(index: number): WorkerChannel {
    const ch = new WorkerChannel(
      index,
      workerEntry(),
      {
        workerIndex: index, logLevel: this.opts.logLevel, mediaTimeoutMs: this.opts.mediaTimeoutMs, ...(this.opts.io !== undefined ? { io: this.opts.io } : {}),
        ...(this.opts.testOps === true ? { testOps: true } : {}), ...(this.opts.rtcpIntervalMs !== undefined ? { rtcpIntervalMs: this.opts.rtcpIntervalMs } : {}),
        ...(this.opts.dtmfNoSuppress === true ? { dtmfNoSuppress: true } : {}),
      },
      this.opts.requestTimeoutMs ?? 5000,
    );
    this.spawnedMs[index] = Date.now();
    ch.on('event', (msg: Extract<WorkerMessage, { kind: 'event' }>) => this.emit('worker-event', index, msg));
    ch.on('failure', (err: Error) => this.opts.log.error({ worker: index, err }, 'media worker failed'));
    ch.on('exit', (code: number) => this.onExit(index, ch, code));
    return ch;
  }

  private onExit(index: number, ch: WorkerChannel, code: number): void {
    this.pinging.delete(ch);
    const why = this.hung.get(ch) ?? `exited (code ${code})`;
    this.hung.delete(ch);
    if (this.closing) return;
    this.counters.failures++;
    const lived = Date.now() - (this.spawnedMs[index] ?? 0);
    this.crashesInARow[index] = lived >= (this.opts.respawnStableMs ?? 60_000) ? 1 : this.crashesInARow[index] + 1;
    const base = this.opts.respawnBaseMs ?? 100;
    const delay = Math.min(this.opts.respawnMaxMs ?? 30_000, base * 2 ** (this.crashesInARow[index] - 1));
    this.opts.log.error({ worker: index, code, why, respawnInMs: delay }, 'media worker died; ending its calls and replacing it');
    this.load[index] = 0;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolveDone = r));
    const timer = setTimeout(() => {
      if (this.closing) return;
      this.counters.respawns++;
      const next = this.spawn(index);
      this.channels[index] = next;
      this.respawning.delete(index);
      next.ready.then(resolveDone, resolveDone);
    }, delay);
    this.respawning.set(index, { timer, done });
    this.emit('worker-exit', index, code, why);
    this.emit('worker-respawn', index, delay);
  }

  private pingAll(): void {
    const timeout = this.opts.watchdogTimeoutMs ?? 3000;
    for (const ch of this.channels) {
      if (!ch.alive || !ch.isReady || this.pinging.has(ch)) continue;
      this.pinging.add(ch);
      ch.request({ op: 'ping' }, timeout).then(
        () => this.pinging.delete(ch),
        () => {
          this.pinging.delete(ch);
          if (!ch.alive || this.closing) return;
          this.counters.watchdogKills++;
          this.hung.set(ch, `stopped answering (no reply to the watchdog in ${timeout} ms)`);
          void ch.terminate();
        },
      );
    }
  }

  /**
   * Least-loaded running worker index; the caller must call release() when the call ends. A worker
   * still starting (a replacement doing its warm-up) is taken only if no worker is ready: a call
   * placed on it would wait for its whole set-up.
   */
  place(): number {
    let best = -1;
    const anyReady = this.channels.some((c) => c.isReady);
    for (let i = 0; i < this.load.length; i++) {
      if (!this.channels[i].alive || (anyReady && !this.channels[i].isReady)) continue;
      if (best < 0 || this.load[i] < this.load[best]) best = i;
    }
    if (best < 0) throw new TandemError('WORKER', 'no media worker is running (all are being replaced)');
    this.load[best]++;
    return best;
  }

  release(index: number): void {
    if (this.load[index] > 0) this.load[index]--;
  }

  channel(index: number): WorkerChannel {
    return this.channels[index];
  }

  /** Test and operations hook: kill one worker as a crash would. */
  kill(index: number): Promise<number> {
    return this.channels[index].terminate();
  }

  loads(): number[] {
    return this.load.slice();
  }

  /** Why a worker runs on dgram though batch was asked for (the first one's reason), if one does. */
  ioFallback(): string | undefined {
    return this.channels.find((c) => c.io.fallback !== undefined)?.io.fallback;
  }

  /** The socket backends the workers reported. */
  ioBackends(): ('batch' | 'dgram' | undefined)[] {
    return this.channels.map((c) => c.io.io);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    for (const r of this.respawning.values()) clearTimeout(r.timer);
    this.respawning.clear();
    await Promise.all(this.channels.map((c) => c.terminate()));
  }
}
