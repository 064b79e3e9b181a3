import { Worker } from 'node:worker_threads';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { EventEmitter } from 'node:events';
import type { WarmUpReport, WorkerInit, WorkerMessage, WorkerReplyResult, WorkerRequest } from './protocol.js';
import { TandemError, type ErrorCode } from '../../common/errors.js';

/**
 * A request the worker answered with an error. The worker sends whatever code its error had (an
 * errno name from a socket, or a catalogue code); here, at the pool boundary, it becomes a
 * catalogue code. `osCode` keeps the worker's own code for callers that react to one errno, such
 * as the port allocator retrying another pair on EADDRINUSE.
 */
export class WorkerRequestError extends TandemError {
  readonly osCode: string | undefined;

  constructor(message: string, osCode: string | undefined) {
    super(workerErrorCode(osCode), message);
    this.name = 'WorkerRequestError';
    this.osCode = osCode;
  }
}

/**
 * Ports taken or refused by the OS are a port problem (NO_PORTS); anything else failed inside the
 * worker (WORKER), whatever the worker called it: from main's side the worker is what failed.
 */
export function workerErrorCode(osCode: string | undefined): ErrorCode {
  return osCode === 'EADDRINUSE' || osCode === 'EACCES' ? 'NO_PORTS' : 'WORKER';
}

/** A request without its id: the channel numbers requests itself. */
export type RequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve: (r: WorkerReplyResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One worker thread and its typed channel: requests carry an id and wait in a pending map;
 * every pending request is rejected when the worker exits or a request times out.
 * Events: 'ready', 'event' (WorkerMessage of kind event), 'exit' (code).
 */
export class WorkerChannel extends EventEmitter {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited = false;
  private readyFlag = false;
  /** The socket backend the worker reported at ready, and why it fell back to dgram if it did. */
  io: { io?: 'batch' | 'dgram'; fallback?: string } = {};
  /** The worker's one-time set-up as it reported it at ready, and how long it took from spawn to ready (ms). */
  warmUp: WarmUpReport | undefined;
  spawnToReadyMs: number | undefined;
  private readonly spawnedAt = performance.now();
  private lastElu: EventLoopUtilization | undefined;
  readonly ready: Promise<void>;

  constructor(
    readonly index: number,
    entry: URL,
    init: WorkerInit,
    private readonly requestTimeoutMs: number,
  ) {
    super();
    this.worker = new Worker(entry, { workerData: init });
    this.ready = new Promise<void>((resolve, reject) => {
      this.once('ready', resolve);
      this.once('exit', (code: number) => reject(new TandemError('WORKER', `media worker ${index} exited before ready (code ${code})`)));
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (msg: WorkerMessage) => this.onMessage(msg));
    this.worker.on('error', (err) => this.emit('failure', err));
    this.worker.on('exit', (code) => {
      this.exited = true;
      const err = new TandemError('WORKER', `media worker ${index} exited (code ${code})`);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
      this.emit('exit', code);
    });
  }

  /**
   * How busy the worker's event loop is, read from main without asking the worker: `activeMs` since
   * it started (its CPU time, near enough: a media worker does not wait on I/O in its loop) and the
   * utilisation (0–1) since the previous call.
   */
  eventLoop(): { activeMs: number; utilization: number } {
    if (this.exited) return { activeMs: 0, utilization: 0 };
    const now = this.worker.performance.eventLoopUtilization();
    const since = this.lastElu === undefined ? now : this.worker.performance.eventLoopUtilization(now, this.lastElu);
    this.lastElu = now;
    return { activeMs: now.active, utilization: since.utilization };
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  get alive(): boolean {
    return !this.exited;
  }

  get isReady(): boolean {
    return this.readyFlag && !this.exited;
  }

  request(body: RequestBody, timeoutMs = this.requestTimeoutMs): Promise<WorkerReplyResult> {
    if (this.exited) return Promise.reject(new TandemError('WORKER', `media worker ${this.index} is gone`));
    const id = this.nextId++;
    return new Promise<WorkerReplyResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TandemError('WORKER', `media worker ${this.index} did not answer ${body.op} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ ...body, id } as WorkerRequest);
    });
  }

  private onMessage(msg: WorkerMessage): void {
    if (msg.kind === 'ready') {
      this.readyFlag = true;
      this.io = { ...(msg.io !== undefined ? { io: msg.io } : {}), ...(msg.ioFallback !== undefined ? { fallback: msg.ioFallback } : {}) };
      this.warmUp = msg.warmUp;
      this.spawnToReadyMs = Math.round(performance.now() - this.spawnedAt);
      this.emit('ready');
      return;
    }
    if (msg.kind === 'event') {
      this.emit('event', msg);
      return;
    }
    const p = this.pending.get(msg.id);
    if (p === undefined) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else {
      p.reject(new WorkerRequestError(msg.error, msg.code));
    }
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}
