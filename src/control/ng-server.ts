import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../common/log.js';
import { isTandemError } from '../common/errors.js';
import { addressList, isLoopback, type AddressList } from '../common/cidr.js';
import { LogLimiter } from '../common/log-limit.js';
import type { BDict } from './bencode.js';
import { parseNgDatagram, formatNgDatagram, isValidCookie, MAX_COOKIE_LENGTH } from './ng-wire.js';
import { COMMANDS, type CommandContext } from './commands.js';
import { NgFields, expandRtppFlags } from './ng-options.js';
import { ngErrorReply, ngErrorReplyFor, clipReason } from './ng-errors.js';

/** Limits of the ng listener; every one has a default and a counter in {@link NgServerCounters}. */
export interface NgLimits {
  /** Larger requests are refused with an error (counter `requestTooLarge`). Default: a full IPv4 datagram. */
  maxRequestBytes: number;
  /** A larger reply is replaced by `reply too large (N bytes)` (counter `replyTooLarge`). Default 65507. */
  maxReplyBytes: number;
  /** Bytes of replies kept for retransmissions; the oldest go first (counter `cacheEvictions`). Default 64 MiB. */
  maxCacheBytes: number;
  /**
   * Times one cached reply is sent again (counter `resendsRefused` beyond that). Kamailio sends a
   * request 5 times in all; the cap bounds what one executed command can reflect toward a source.
   */
  maxResends: number;
}

/** Largest UDP payload over IPv4 (65535 − 20 − 8). */
const MAX_DATAGRAM = 65507;

export const DEFAULT_NG_LIMITS: Readonly<NgLimits> = {
  maxRequestBytes: MAX_DATAGRAM,
  maxReplyBytes: MAX_DATAGRAM,
  maxCacheBytes: 64 * 1024 * 1024,
  maxResends: 10,
};

export interface NgServerOptions {
  address: string;
  port: number;
  context: CommandContext;
  log: Logger;
  /** How long a reply is kept for retransmissions of its cookie (Kamailio: 1 s × 5). */
  cookieTtlMs?: number;
  /**
   * Sources (IPs or CIDRs) allowed to send commands (`--ng-allow`); anything else is dropped
   * before it is parsed. Undefined: every source that can reach the socket, as rtpengine does.
   */
  allow?: readonly string[];
  limits?: Partial<NgLimits>;
}

interface CachedReply {
  reply: Promise<Buffer>;
  expiresMs: number;
  /** 0 until the reply exists. */
  bytes: number;
  resends: number;
}

/** Counters an operator (and the tests) can read; one per way a datagram ends. */
export interface NgServerCounters {
  requests: number;
  retransmissions: number;
  malformed: number;
  errors: number;
  /** Dropped unread: the source is not in `allow`. */
  denied: number;
  requestTooLarge: number;
  replyTooLarge: number;
  /** Retransmissions past `maxResends` for one cached reply, dropped. */
  resendsRefused: number;
  cacheEvictions: number;
  sendErrors: number;
}

export interface NgServerStats extends NgServerCounters {
  cachedReplies: number;
  cacheBytes: number;
}

/**
 * The ng control server: `<cookie> <bencoded dict>` over UDP. A retransmitted cookie gets
 * the same reply and does not run the command twice, even while the first run is in flight.
 */
export class NgServer {
  private readonly socket: dgram.Socket;
  private readonly cache = new Map<string, CachedReply>();
  private cacheBytes = 0;
  private readonly ttlMs: number;
  private readonly limits: NgLimits;
  private readonly allow: AddressList | undefined;
  private readonly warnings = new LogLimiter();
  private sweeper: NodeJS.Timeout | null = null;
  readonly counters: NgServerCounters = {
    requests: 0,
    retransmissions: 0,
    malformed: 0,
    errors: 0,
    denied: 0,
    requestTooLarge: 0,
    replyTooLarge: 0,
    resendsRefused: 0,
    cacheEvictions: 0,
    sendErrors: 0,
  };

  constructor(private readonly opts: NgServerOptions) {
    this.ttlMs = opts.cookieTtlMs ?? 30_000;
    this.limits = { ...DEFAULT_NG_LIMITS, ...opts.limits };
    this.allow = opts.allow === undefined ? undefined : addressList(opts.allow);
    this.socket = dgram.createSocket(isIP(opts.address) === 6 ? 'udp6' : 'udp4');
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket.on('error', (err) => opts.log.error({ err }, 'ng socket error'));
  }

  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(this.opts.port, this.opts.address, () => {
        this.socket.off('error', reject);
        const a = this.socket.address();
        this.opts.log.info({ address: a.address, port: a.port, allow: this.allow?.entries ?? 'any' }, 'ng control listening');
        if (this.allow === undefined && !isLoopback(a.address))
          this.opts.log.warn({ address: a.address, port: a.port }, 'ng control listens beyond loopback and obeys every source that reaches it: set --ng-allow');
        this.sweeper = setInterval(() => this.sweep(), Math.min(this.ttlMs, 5000));
        this.sweeper.unref();
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  stats(): NgServerStats {
    return { ...this.counters, cachedReplies: this.cache.size, cacheBytes: this.cacheBytes };
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.cache) if (v.expiresMs <= now) this.forget(k, v);
    this.warnings.sweep();
  }

  private forget(key: string, v: CachedReply): void {
    this.cache.delete(key);
    this.cacheBytes -= v.bytes;
  }

  /** A warn line, at most one per source and kind every 10 s (the rest go to debug). */
  private warn(kind: string, rinfo: dgram.RemoteInfo, fields: Record<string, unknown>, msg: string, log: Logger = this.opts.log): void {
    const suppressed = this.warnings.admit(`${kind} ${rinfo.address}`);
    const line = { from: `${rinfo.address}:${rinfo.port}`, ...fields };
    if (suppressed === undefined) log.debug(line, msg);
    else log.warn(suppressed > 0 ? { ...line, suppressed } : line, msg);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // Before anything reads the bytes: a source we do not serve costs one lookup.
    if (this.allow !== undefined && !this.allow.has(rinfo.address)) {
      this.counters.denied++;
      this.warn('denied', rinfo, {}, 'ng datagram from a source outside --ng-allow dropped');
      return;
    }
    if (msg.length > this.limits.maxRequestBytes) {
      this.counters.requestTooLarge++;
      this.warn('too-large', rinfo, { bytes: msg.length }, 'ng request too large');
      const sp = msg.subarray(0, MAX_COOKIE_LENGTH + 1).indexOf(0x20);
      const cookie = sp > 0 ? msg.toString('latin1', 0, sp) : '';
      if (isValidCookie(cookie)) this.send(formatNgDatagram(cookie, ngErrorReply('TOO_LARGE', `request too large (${msg.length} bytes, limit ${this.limits.maxRequestBytes})`)), rinfo);
      return;
    }
    let cookie: string;
    let message: BDict;
    try {
      ({ cookie, message } = parseNgDatagram(msg));
    } catch (err) {
      this.counters.malformed++;
      const c = (err as { cookie?: unknown }).cookie;
      this.warn('malformed', rinfo, { err }, 'malformed ng message');
      if (typeof c === 'string' && c !== '') this.send(formatNgDatagram(c, ngErrorReplyFor(err, 'Failed to parse message: ')), rinfo);
      return;
    }
    // Keyed by source and cookie (rtpengine: cookie alone), so nobody else can read a cached
    // reply or pre-empt a client's command by sending its cookie first.
    const key = `${rinfo.address} ${rinfo.port} ${cookie}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      if (cached.resends >= this.limits.maxResends) {
        this.counters.resendsRefused++;
        this.warn('resends', rinfo, { cookie }, 'ng cookie retransmitted too often: not answered again');
        return;
      }
      cached.resends++;
      this.counters.retransmissions++;
      void cached.reply.then((buf) => this.send(buf, rinfo));
      return;
    }
    this.counters.requests++;
    const reply = this.run(message, rinfo)
      .then((dict) => this.reply(cookie, dict, rinfo, typeof message['call-id'] === 'string' ? message['call-id'] : undefined))
      // A reply that cannot be encoded (a handler bug) still answers, and never rejects unhandled.
      .catch((err: unknown) => formatNgDatagram(cookie, ngErrorReplyFor(err, 'cannot encode the reply: ')));
    const entry: CachedReply = { reply, expiresMs: Date.now() + this.ttlMs, bytes: 0, resends: 0 };
    this.cache.set(key, entry);
    void entry.reply.then((buf) => {
      if (this.cache.get(key) === entry) {
        entry.bytes = buf.length;
        this.cacheBytes += buf.length;
        this.evict();
      }
      this.send(buf, rinfo);
    });
  }

  /** The datagram for `dict`, or a short error when it would not fit in one. */
  private reply(cookie: string, dict: BDict, rinfo: dgram.RemoteInfo, callId: string | undefined): Buffer {
    const buf = formatNgDatagram(cookie, dict);
    if (buf.length <= this.limits.maxReplyBytes) return buf;
    this.counters.replyTooLarge++;
    const log = callId !== undefined ? this.opts.log.child({ callId }) : this.opts.log;
    this.warn('reply-too-large', rinfo, { bytes: buf.length, limit: this.limits.maxReplyBytes }, 'ng reply too large for a datagram: answered with an error', log);
    return formatNgDatagram(cookie, ngErrorReply('TOO_LARGE', `reply too large (${buf.length} bytes)`));
  }

  /** Oldest first; entries still running have no size yet and stay (evicting them would rerun). */
  private evict(): void {
    if (this.cacheBytes <= this.limits.maxCacheBytes) return;
    for (const [k, v] of this.cache) {
      if (this.cacheBytes <= this.limits.maxCacheBytes) break;
      if (v.bytes === 0) continue;
      this.forget(k, v);
      this.counters.cacheEvictions++;
    }
  }

  private async run(message: BDict, rinfo: dgram.RemoteInfo): Promise<BDict> {
    const f = new NgFields(message);
    let command = '';
    let callId: string | undefined;
    try {
      // Before any handler: delete and query read from-tag/to-tag given in the string too.
      expandRtppFlags(f);
      command = f.requiredString('command').toLowerCase();
      callId = f.string('call-id');
      const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
      if (handler === undefined) return ngErrorReply('BAD_REQUEST', `Unrecognized command '${command}'`);
      return await handler(f, this.opts.context);
    } catch (err) {
      this.counters.errors++;
      const log = callId !== undefined ? this.opts.log.child({ callId }) : this.opts.log;
      if (isTandemError(err) && err.code === 'LOAD_LIMIT') {
        const supports = f.list('supports').map((s) => s.toLowerCase());
        this.warn('load-limit', rinfo, { cmd: command }, 'session limit reached', log);
        if (supports.includes('load limit')) return { result: 'load limit', message: 'Parallel session limit reached' };
        return ngErrorReply('LOAD_LIMIT', 'Parallel session limit reached');
      }
      this.warn('command', rinfo, { cmd: clipReason(command), err }, 'ng command failed', log);
      return ngErrorReplyFor(err);
    }
  }

  private send(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const failed = (err: Error): void => {
      this.counters.sendErrors++;
      this.warn('send', rinfo, { err, bytes: buf.length }, 'ng reply not sent');
    };
    try {
      this.socket.send(buf, rinfo.port, rinfo.address, (err) => {
        if (err !== null) failed(err);
      });
    } catch (err) {
      // A command that finishes after close(): the socket is gone.
      failed(err instanceof Error ? err : new Error(String(err)));
    }
  }

  close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
