import type { Logger } from '../common/log.js';
import { isTandemError } from '../common/errors.js';
import { LogLimiter } from '../common/log-limit.js';
import type { BDict } from './bencode.js';
import { parseNgDatagram, formatNgDatagram } from './ng-wire.js';
import { COMMANDS, type CommandContext } from './commands.js';
import { NgFields, expandRtppFlags } from './ng-options.js';
import { ngErrorReply, ngErrorReplyFor, clipReason } from './ng-errors.js';

/**
 * What every ng transport shares once a message's bytes are known: decoding, the reply cache that
 * answers a repeated cookie without running its command twice, the command table, and replies
 * that fit the transport. UDP (ng-server.ts) and TCP (ng-tcp.ts) only find the messages and send.
 */

/** Counters an operator (and the tests) can read; one per way a message ends. */
export interface NgServerCounters {
  requests: number;
  retransmissions: number;
  malformed: number;
  errors: number;
  /** Dropped unread: the source is not in `allow` (UDP datagrams; TCP connections count in `tcp`). */
  denied: number;
  requestTooLarge: number;
  replyTooLarge: number;
  /** Repeats past `maxResends` of one cached reply, dropped. */
  resendsRefused: number;
  cacheEvictions: number;
  sendErrors: number;
}

export function zeroCounters(): NgServerCounters {
  return { requests: 0, retransmissions: 0, malformed: 0, errors: 0, denied: 0, requestTooLarge: 0, replyTooLarge: 0, resendsRefused: 0, cacheEvictions: 0, sendErrors: 0 };
}

/** Where a message came from, and the reply cache's scope for it. */
export interface NgPeer {
  address: string;
  port: number;
  /**
   * Cookies are remembered per scope: UDP's is the source address and port (rtpengine: the cookie
   * alone), so nobody else can read a client's reply or pre-empt its command; TCP's is the source
   * address, so a client that reconnects and sends a command again gets the reply it missed.
   */
  scope: string;
}

interface CachedReply {
  reply: Promise<Buffer>;
  expiresMs: number;
  /** 0 until the reply exists. */
  bytes: number;
  resends: number;
}

export interface NgDispatcherOptions {
  context: CommandContext;
  log: Logger;
  counters: NgServerCounters;
  cookieTtlMs: number;
  maxCacheBytes: number;
  maxResends: number;
  /** Each executed command (repeats aside) and its reply's `result`; names outside the command table are `unknown`. */
  onCommand?: (command: string, result: string) => void;
}

export class NgDispatcher {
  private readonly cache = new Map<string, CachedReply>();
  private cacheBytes = 0;
  private readonly warnings = new LogLimiter();

  constructor(private readonly opts: NgDispatcherOptions) {}

  get cachedReplies(): number {
    return this.cache.size;
  }

  get cachedBytes(): number {
    return this.cacheBytes;
  }

  /** A warn line, at most one per source and kind every 10 s (the rest go to debug). */
  warn(kind: string, from: { address: string; port: number }, fields: Record<string, unknown>, msg: string, log: Logger = this.opts.log): void {
    const suppressed = this.warnings.admit(`${kind} ${from.address}`);
    const line = { from: `${from.address}:${from.port}`, ...fields };
    if (suppressed === undefined) log.debug(line, msg);
    else log.warn(suppressed > 0 ? { ...line, suppressed } : line, msg);
  }

  sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.cache) if (v.expiresMs <= now) this.forget(k, v);
    this.warnings.sweep();
  }

  private forget(key: string, v: CachedReply): void {
    this.cache.delete(key);
    this.cacheBytes -= v.bytes;
  }

  /**
   * One whole `<cookie> <dict>` message: `send` gets its reply (or the cached one), at most
   * `maxReplyBytes` long. Resolves once it is sent or dropped; never rejects.
   */
  handle(msg: Buffer, peer: NgPeer, maxReplyBytes: number, sendReply: (buf: Buffer) => void): Promise<void> {
    const { counters } = this.opts;
    const send = (buf: Buffer): void => {
      try {
        sendReply(buf);
      } catch (err) {
        counters.sendErrors++;
        this.warn('send', peer, { err, bytes: buf.length }, 'ng reply not sent');
      }
    };
    let cookie: string;
    let message: BDict;
    try {
      ({ cookie, message } = parseNgDatagram(msg));
    } catch (err) {
      counters.malformed++;
      const c = (err as { cookie?: unknown }).cookie;
      this.warn('malformed', peer, { err }, 'malformed ng message');
      if (typeof c === 'string' && c !== '') send(formatNgDatagram(c, ngErrorReplyFor(err, 'Failed to parse message: ')));
      return Promise.resolve();
    }
    const key = `${peer.scope} ${cookie}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      if (cached.resends >= this.opts.maxResends) {
        counters.resendsRefused++;
        this.warn('resends', peer, { cookie }, 'ng cookie repeated too often: not answered again');
        return Promise.resolve();
      }
      cached.resends++;
      counters.retransmissions++;
      return cached.reply.then(send);
    }
    counters.requests++;
    const reply = this.run(message, peer)
      .then((dict) => {
        const cmd = typeof message.command === 'string' ? message.command.toLowerCase() : '';
        this.opts.onCommand?.(Object.hasOwn(COMMANDS, cmd) ? cmd : 'unknown', typeof dict.result === 'string' ? dict.result : 'unknown');
        return dict;
      })
      .then((dict) => this.reply(cookie, dict, peer, maxReplyBytes, typeof message['call-id'] === 'string' ? message['call-id'] : undefined))
      // A reply that cannot be encoded (a handler bug) still answers, and never rejects unhandled.
      .catch((err: unknown) => formatNgDatagram(cookie, ngErrorReplyFor(err, 'cannot encode the reply: ')));
    const entry: CachedReply = { reply, expiresMs: Date.now() + this.opts.cookieTtlMs, bytes: 0, resends: 0 };
    this.cache.set(key, entry);
    return entry.reply.then((buf) => {
      if (this.cache.get(key) === entry) {
        entry.bytes = buf.length;
        this.cacheBytes += buf.length;
        this.evict();
      }
      send(buf);
    });
  }

  /** The message for `dict`, or a short error when it would not fit the transport. */
  private reply(cookie: string, dict: BDict, peer: NgPeer, maxReplyBytes: number, callId: string | undefined): Buffer {
    const buf = formatNgDatagram(cookie, dict);
    if (buf.length <= maxReplyBytes) return buf;
    this.opts.counters.replyTooLarge++;
    const log = callId !== undefined ? this.opts.log.child({ callId }) : this.opts.log;
    this.warn('reply-too-large', peer, { bytes: buf.length, limit: maxReplyBytes }, 'ng reply too large: answered with an error', log);
    return formatNgDatagram(cookie, ngErrorReply('TOO_LARGE', `reply too large (${buf.length} bytes)`));
  }

  /** Oldest first; entries still running have no size yet and stay (evicting them would rerun). */
  private evict(): void {
    if (this.cacheBytes <= this.opts.maxCacheBytes) return;
    for (const [k, v] of this.cache) {
      if (this.cacheBytes <= this.opts.maxCacheBytes) break;
      if (v.bytes === 0) continue;
      this.forget(k, v);
      this.opts.counters.cacheEvictions++;
    }
  }

  private async run(message: BDict, peer: NgPeer): Promise<BDict> {
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
      this.opts.counters.errors++;
      const log = callId !== undefined ? this.opts.log.child({ callId }) : this.opts.log;
      if (isTandemError(err) && err.code === 'LOAD_LIMIT') {
        const supports = f.list('supports').map((s) => s.toLowerCase());
        this.warn('load-limit', peer, { cmd: command }, 'session limit reached', log);
        if (supports.includes('load limit')) return { result: 'load limit', message: 'Parallel session limit reached' };
        return ngErrorReply('LOAD_LIMIT', 'Parallel session limit reached');
      }
      this.warn('command', peer, { cmd: clipReason(command), err }, 'ng command failed', log);
      return ngErrorReplyFor(err);
    }
  }
}
