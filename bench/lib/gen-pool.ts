/**
 * The generator on worker threads (`--gen-workers N`): call i's two legs live in worker i mod N, which
 * binds their sockets, sends, receives and checks their packets; the main thread only signals (ng or SIP)
 * and merges the workers' window summaries. So the packet work scales with the cores the generator is
 * given, and signalling, progress and /proc sampling never delay a send timer.
 */
import { Worker } from 'node:worker_threads';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { CallSetOptions, LoadProgress, LoadSet } from './calls.js';
import type { Established } from './signalling.js';
import type { G711Law } from './g711.js';
import { buildSdp, parseSdp, PT } from './sdp.js';
import { mergeLoads, type LoadSummary } from './summary.js';

export interface GenWorkerData {
  scenario: { callerCodec: G711Law; calleeCodec: G711Law; callerPtime: number };
  /** the compiled gen-io addon (--gen-io native); undefined: dgram sockets */
  nativeIo?: string;
}

type Dest = { port: number; address: string };
export type GenRequest = { seq: number } & (
  | { op: 'open'; call: number }
  | { op: 'connect'; call: number; toCaller: Dest; toCallee: Dest; calleePtime: number }
  | { op: 'drop'; call: number }
  | { op: 'start' | 'window' | 'progress' | 'collect' | 'stop' | 'close' }
);
type Op = GenRequest['op'];

export interface GenReply {
  seq: number;
  ok: boolean;
  error?: string;
  ports?: [number, number];
  progress?: LoadProgress;
  summary?: LoadSummary;
}

const ENTRY = new URL('./gen-worker-entry.mjs', import.meta.url);
const REQUEST_TIMEOUT_MS = 30_000;

/** One worker thread and its request/reply channel. */
class GenWorker {
  readonly worker: Worker;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: GenReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private failed: Error | undefined;
  elu0: EventLoopUtilization | undefined;

  constructor(data: GenWorkerData) {
    this.worker = new Worker(ENTRY, { workerData: data });
    this.worker.on('message', (r: GenReply) => {
      const p = this.pending.get(r.seq);
      if (p === undefined) return;
      this.pending.delete(r.seq);
      clearTimeout(p.timer);
      if (r.ok) p.resolve(r);
      else p.reject(new Error(`generator worker: ${r.error ?? 'failed'}`));
    });
    const fail = (e: Error): void => {
      this.failed = e;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(e);
      }
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`generator worker failed: ${e.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`generator worker exited (${code})`)));
  }

  request(r: { op: Op } & Record<string, unknown>): Promise<GenReply> {
    if (this.failed) return Promise.reject(this.failed);
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`generator worker: no reply to ${r.op} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(seq, { resolve, reject, timer });
      this.worker.postMessage({ ...r, seq });
    });
  }
}

interface WorkerCall {
  id: number;
  worker: GenWorker;
  signalled: Established;
}

export class WorkerCallSet implements LoadSet {
  private readonly workers: GenWorker[] = [];
  private readonly calls: WorkerCall[] = [];
  private lastProgress: LoadProgress[] = [];
  readonly setupErrors: string[] = [];

  constructor(private readonly o: CallSetOptions & { workers: number; nativeIo?: string }) {
    const sc = o.scenario;
    if (sc.callerCodec === 'opus' || sc.calleeCodec === 'opus') throw new Error(`--gen-workers: the ${sc.name} scenario (Opus) runs in-process only (--gen-workers 0)`);
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error(`WorkerCallSet needs at least one worker, not ${o.workers}`);
  }

  get callsUp(): number {
    return this.calls.length;
  }

  async setup(): Promise<void> {
    const sc = this.o.scenario;
    if (sc.callerCodec === 'opus' || sc.calleeCodec === 'opus') throw new Error('unreachable: Opus checked in the constructor');
    const data: GenWorkerData = { scenario: { callerCodec: sc.callerCodec, calleeCodec: sc.calleeCodec, callerPtime: sc.callerPtime }, nativeIo: this.o.nativeIo };
    for (let i = 0; i < this.o.workers; i++) this.workers.push(new GenWorker(data));
    const conc = this.o.setupConcurrency ?? 16;
    let next = 0;
    const run = async (): Promise<void> => {
      while (next < this.o.calls) {
        const i = next++;
        try {
          this.calls.push(await this.setupCall(i));
        } catch (e) {
          this.setupErrors.push((e as Error).message);
          if (this.setupErrors.length >= 5 && this.calls.length === 0) return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(conc, this.o.calls) }, run));
  }

  private async setupCall(i: number): Promise<WorkerCall> {
    const sc = this.o.scenario;
    const law = (c: typeof sc.callerCodec): G711Law => (c === 'opus' ? 'PCMA' : c); // Opus refused in the constructor
    const worker = this.workers[i % this.workers.length];
    const { ports } = await worker.request({ op: 'open', call: i });
    if (ports === undefined) throw new Error('generator worker: open without ports');
    const callId = `${this.o.runId}-${i}`;
    let calleePtime = sc.calleePtime;
    let signalled: Established | undefined;
    try {
      signalled = await this.o.signalling.establish(
        callId,
        buildSdp({ sessionId: 1000 + i, port: ports[0], codec: law(sc.callerCodec), ptime: sc.callerPtime }),
        (offerSdp) => {
          const offered = parseSdp(offerSdp);
          if (!offered.payloadTypes.includes(PT[sc.calleeCodec])) throw new Error(`offer to callee lacks ${sc.calleeCodec}: m= payload types ${offered.payloadTypes.join(' ')}`);
          calleePtime = offered.ptime ?? sc.calleePtime;
          return buildSdp({ sessionId: 2000 + i, port: ports[1], codec: law(sc.calleeCodec), ptime: calleePtime });
        },
      );
      const toCallee = parseSdp(signalled.toCallee);
      const toCaller = parseSdp(signalled.toCaller);
      if (!toCaller.payloadTypes.includes(PT[sc.callerCodec])) {
        throw new Error(`answer to caller lacks ${sc.callerCodec}: m= payload types ${toCaller.payloadTypes.join(' ')}`);
      }
      await worker.request({ op: 'connect', call: i, toCaller: { port: toCaller.port, address: toCaller.address }, toCallee: { port: toCallee.port, address: toCallee.address }, calleePtime });
      return { id: i, worker, signalled };
    } catch (e) {
      await signalled?.release().catch(() => undefined);
      await worker.request({ op: 'drop', call: i }).catch(() => undefined);
      throw e;
    }
  }

  private all(op: Op): Promise<GenReply[]> {
    return Promise.all(this.workers.map((w) => w.request({ op })));
  }

  start(): void {
    // Each worker spreads its own legs over one ptime; the workers start within a message's latency.
    void this.all('start').catch((e: unknown) => this.setupErrors.push((e as Error).message));
  }

  async startWindow(): Promise<void> {
    await this.all('window');
    for (const w of this.workers) w.elu0 = w.worker.performance.eventLoopUtilization();
  }

  progress(): LoadProgress {
    void this.all('progress').then(
      (rs) => (this.lastProgress = rs.map((r) => r.progress ?? { sent: 0, received: 0, lagP99Ms: 0 })),
      () => undefined,
    );
    const p = this.lastProgress;
    return { sent: p.reduce((a, x) => a + x.sent, 0), received: p.reduce((a, x) => a + x.received, 0), lagP99Ms: Math.max(0, ...p.map((x) => x.lagP99Ms)) };
  }

  async collect(): Promise<LoadSummary> {
    const elu = this.workers.map((w) => w.worker.performance.eventLoopUtilization(w.elu0).utilization);
    const parts = (await this.all('collect')).map((r) => {
      if (r.summary === undefined) throw new Error('generator worker: collect without a summary');
      return r.summary;
    });
    return { ...mergeLoads(parts), workerElu: elu };
  }

  async stop(): Promise<void> {
    await this.all('stop');
  }

  async teardown(): Promise<void> {
    await this.all('stop').catch(() => undefined);
    const conc = this.o.setupConcurrency ?? 16;
    let next = 0;
    const release = async (): Promise<void> => {
      while (next < this.calls.length) {
        const c = this.calls[next++];
        await c.signalled.release().catch(() => undefined); // the step's numbers are already taken
      }
    };
    await Promise.all(Array.from({ length: Math.min(conc, Math.max(1, this.calls.length)) }, release));
    await this.all('close').catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
