import { EventEmitter } from 'node:events';
import type { Logger } from '../../common/log.js';
import { WorkerChannel } from './channel.js';
import type { WorkerMessage } from './protocol.js';

export interface WorkerPoolOptions {
  size: number;
  logLevel: string;
  mediaTimeoutMs: number;
  requestTimeoutMs?: number;
  log: Logger;
}

/** The worker entry: compiled JS in production, a tsx bootstrap when running from sources. */
function workerEntry(): URL {
  const fromSources = import.meta.url.endsWith('.ts');
  return new URL(fromSources ? '../worker/dev-entry.mjs' : '../worker/entry.js', import.meta.url);
}

/**
 * Media worker threads. Calls are placed on the least-loaded worker; a worker that dies is
 * replaced at once and reported ('worker-exit' with its index), so its calls can be ended
 * while every other worker goes on.
 */
export class WorkerPool extends EventEmitter {
  private readonly channels: WorkerChannel[] = [];
  private readonly load: number[] = [];
  private closing = false;

  constructor(private readonly opts: WorkerPoolOptions) {
    super();
    for (let i = 0; i < opts.size; i++) {
      this.channels.push(this.spawn(i));
      this.load.push(0);
    }
  }

  async ready(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.ready));
  }

  get size(): number {
    return this.channels.length;
  }

  private spawn(index: number): WorkerChannel {
    const ch = new WorkerChannel(
      index,
      workerEntry(),
      { workerIndex: index, logLevel: this.opts.logLevel, mediaTimeoutMs: this.opts.mediaTimeoutMs },
      this.opts.requestTimeoutMs ?? 5000,
    );
    ch.on('event', (msg: Extract<WorkerMessage, { kind: 'event' }>) => this.emit('worker-event', index, msg));
    ch.on('failure', (err: Error) => this.opts.log.error({ worker: index, err: err.message }, 'media worker failed'));
    ch.on('exit', (code: number) => {
      if (this.closing) return;
      this.opts.log.error({ worker: index, code }, 'media worker exited; replacing it and ending its calls');
      this.load[index] = 0;
      this.channels[index] = this.spawn(index);
      this.emit('worker-exit', index, code);
    });
    return ch;
  }

  /** Least-loaded worker index; the caller must call release() when the call ends. */
  place(): number {
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i] < this.load[best]) best = i;
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

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.channels.map((c) => c.terminate()));
  }
}
