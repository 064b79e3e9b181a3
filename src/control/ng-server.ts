import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../common/log.js';
import { isTandemError, errorMessage } from '../common/errors.js';
import type { BDict } from './bencode.js';
import { parseNgDatagram, formatNgDatagram } from './ng-wire.js';
import { COMMANDS, type CommandContext } from './commands.js';
import { NgFields } from './ng-options.js';

export interface NgServerOptions {
  address: string;
  port: number;
  context: CommandContext;
  log: Logger;
  /** How long a reply is kept for retransmissions of its cookie (Kamailio: 1 s × 5). */
  cookieTtlMs?: number;
}

interface CachedReply {
  reply: Promise<Buffer>;
  expiresMs: number;
}

/** Counters an operator (and the tests) can read. */
export interface NgServerCounters {
  requests: number;
  retransmissions: number;
  malformed: number;
  errors: number;
}

/**
 * The ng control server: `<cookie> <bencoded dict>` over UDP. A retransmitted cookie gets
 * the same reply and does not run the command twice, even while the first run is in flight.
 */
export class NgServer {
  private readonly socket: dgram.Socket;
  private readonly cache = new Map<string, CachedReply>();
  private readonly ttlMs: number;
  private sweeper: NodeJS.Timeout | null = null;
  readonly counters: NgServerCounters = { requests: 0, retransmissions: 0, malformed: 0, errors: 0 };

  constructor(private readonly opts: NgServerOptions) {
    this.ttlMs = opts.cookieTtlMs ?? 30_000;
    this.socket = dgram.createSocket(isIP(opts.address) === 6 ? 'udp6' : 'udp4');
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket.on('error', (err) => opts.log.error({ err: err.message }, 'ng socket error'));
  }

  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(this.opts.port, this.opts.address, () => {
        this.socket.off('error', reject);
        const a = this.socket.address();
        this.opts.log.info({ address: a.address, port: a.port }, 'ng control listening');
        this.sweeper = setInterval(() => this.sweep(), Math.min(this.ttlMs, 5000));
        this.sweeper.unref();
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.cache) if (v.expiresMs <= now) this.cache.delete(k);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let cookie: string;
    let message: BDict;
    try {
      ({ cookie, message } = parseNgDatagram(msg));
    } catch (err) {
      this.counters.malformed++;
      const c = (err as { cookie?: unknown }).cookie;
      this.opts.log.warn({ from: `${rinfo.address}:${rinfo.port}`, err: errorMessage(err) }, 'malformed ng message');
      if (typeof c === 'string' && c !== '') this.send(formatNgDatagram(c, { result: 'error', 'error-reason': `Failed to parse message: ${errorMessage(err)}` }), rinfo);
      return;
    }
    // rtpengine keys the cache by cookie alone; a client that reuses cookies gets its old reply.
    const cached = this.cache.get(cookie);
    if (cached !== undefined) {
      this.counters.retransmissions++;
      void cached.reply.then((buf) => this.send(buf, rinfo));
      return;
    }
    this.counters.requests++;
    const reply = this.run(message).then((dict) => formatNgDatagram(cookie, dict));
    this.cache.set(cookie, { reply, expiresMs: Date.now() + this.ttlMs });
    void reply.then((buf) => this.send(buf, rinfo));
  }

  private async run(message: BDict): Promise<BDict> {
    const f = new NgFields(message);
    let command = '';
    let callId: string | undefined;
    try {
      command = f.requiredString('command').toLowerCase();
      callId = f.string('call-id');
      const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
      if (handler === undefined) return { result: 'error', 'error-reason': `Unrecognized command '${command}'` };
      return await handler(f, this.opts.context);
    } catch (err) {
      this.counters.errors++;
      const log = callId !== undefined ? this.opts.log.child({ callId }) : this.opts.log;
      if (isTandemError(err) && err.code === 'LOAD_LIMIT') {
        const supports = f.list('supports').map((s) => s.toLowerCase());
        log.warn({ cmd: command }, 'session limit reached');
        if (supports.includes('load limit')) return { result: 'load limit', message: 'Parallel session limit reached' };
        return { result: 'error', 'error-reason': 'Parallel session limit reached' };
      }
      log.warn({ cmd: command, err: errorMessage(err) }, 'ng command failed');
      return { result: 'error', 'error-reason': errorMessage(err) };
    }
  }

  private send(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    this.socket.send(buf, rinfo.port, rinfo.address);
  }

  close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
