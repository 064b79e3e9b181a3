import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../common/log.js';
import { addressList, isLoopback, type AddressList } from '../common/cidr.js';
import { formatNgDatagram, isValidCookie, MAX_COOKIE_LENGTH } from './ng-wire.js';
import type { CommandContext } from './commands.js';
import { ngErrorReply } from './ng-errors.js';
import { NgDispatcher, zeroCounters, type NgServerCounters } from './ng-dispatch.js';
import { NgTcpServer, type NgTcpCounters, type NgTcpLimits } from './ng-tcp.js';

export type { NgServerCounters } from './ng-dispatch.js';

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
  /** Each executed command (retransmissions aside) and its reply's `result`; names outside the command table are `unknown`. */
  onCommand?: (command: string, result: string) => void;
  /** ng over TCP as well (`--listen-tcp-ng`), sharing commands, reply cache and `allow`. */
  tcp?: { address: string; port: number; limits?: Partial<NgTcpLimits> };
}

export interface NgServerStats extends NgServerCounters {
  cachedReplies: number;
  cacheBytes: number;
  /** present with a TCP listener. */
  tcp?: NgTcpCounters & { open: number };
}

/**
 * The ng control server: `<cookie> <bencoded dict>` over UDP, and over TCP when asked. A repeated
 * cookie gets the same reply and does not run the command twice, even while the first run is in
 * flight (ng-dispatch.ts).
 */
export class NgServer {
  private readonly socket: dgram.Socket;
  private readonly limits: NgLimits;
  private readonly allow: AddressList | undefined;
  private readonly dispatcher: NgDispatcher;
  private readonly ttlMs: number;
  /** present with `tcp` in the options. */
  readonly tcp: NgTcpServer | undefined;
  /** Where the TCP listener is bound, after {@link listen}. */
  tcpAddress: { address: string; port: number } | undefined;
  private sweeper: NodeJS.Timeout | null = null;
  readonly counters: NgServerCounters = zeroCounters();

  constructor(private readonly opts: NgServerOptions) {
    this.ttlMs = opts.cookieTtlMs ?? 30_000;
    this.limits = { ...DEFAULT_NG_LIMITS, ...opts.limits };
    this.allow = opts.allow === undefined ? undefined : addressList(opts.allow);
    this.dispatcher = new NgDispatcher({ context: opts.context, log: opts.log, counters: this.counters, cookieTtlMs: this.ttlMs, maxCacheBytes: this.limits.maxCacheBytes, maxResends: this.limits.maxResends, ...(opts.onCommand !== undefined ? { onCommand: opts.onCommand } : {}) });
    this.tcp = opts.tcp === undefined ? undefined : new NgTcpServer({ ...opts.tcp, dispatcher: this.dispatcher, allow: this.allow, log: opts.log });
    this.socket = dgram.createSocket(isIP(opts.address) === 6 ? 'udp6' : 'udp4');
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket.on('error', (err) => opts.log.error({ err }, 'ng socket error'));
  }

  /** Binds UDP (and TCP); resolves with the UDP address. A TCP listener's is {@link tcpAddress}. */
  async listen(): Promise<{ address: string; port: number }> {
    const udp = await new Promise<{ address: string; port: number }>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(this.opts.port, this.opts.address, () => {
        this.socket.off('error', reject);
        const a = this.socket.address();
        this.opts.log.info({ address: a.address, port: a.port, allow: this.allow?.entries ?? 'any' }, 'ng control listening');
        if (this.allow === undefined && !isLoopback(a.address))
          this.opts.log.warn({ address: a.address, port: a.port }, 'ng control listens beyond loopback and obeys every source that reaches it: set --ng-allow');
        resolve({ address: a.address, port: a.port });
      });
    });
    if (this.tcp !== undefined) {
      try {
        this.tcpAddress = await this.tcp.listen();
      } catch (err) {
        await new Promise<void>((r) => this.socket.close(() => r()));
        throw err;
      }
    }
    this.sweeper = setInterval(() => this.dispatcher.sweep(), Math.min(this.ttlMs, 5000));
    this.sweeper.unref();
    return udp;
  }

  stats(): NgServerStats {
    return { ...this.counters, cachedReplies: this.dispatcher.cachedReplies, cacheBytes: this.dispatcher.cachedBytes, ...(this.tcp !== undefined ? { tcp: this.tcp.stats() } : {}) };
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // Before anything reads the bytes: a source we do not serve costs one lookup.
    if (this.allow !== undefined && !this.allow.has(rinfo.address)) {
      this.counters.denied++;
      this.dispatcher.warn('denied', rinfo, {}, 'ng datagram from a source outside --ng-allow dropped');
      return;
    }
    if (msg.length > this.limits.maxRequestBytes) {
      this.counters.requestTooLarge++;
      this.dispatcher.warn('too-large', rinfo, { bytes: msg.length }, 'ng request too large');
      const sp = msg.subarray(0, MAX_COOKIE_LENGTH + 1).indexOf(0x20);
      const cookie = sp > 0 ? msg.toString('latin1', 0, sp) : '';
      if (isValidCookie(cookie)) this.send(formatNgDatagram(cookie, ngErrorReply('TOO_LARGE', `request too large (${msg.length} bytes, limit ${this.limits.maxRequestBytes})`)), rinfo);
      return;
    }
    // Keyed by source address and port (rtpengine: cookie alone), so nobody else can read a cached
    // reply or pre-empt a client's command by sending its cookie first.
    void this.dispatcher.handle(msg, { address: rinfo.address, port: rinfo.port, scope: `udp ${rinfo.address} ${rinfo.port}` }, this.limits.maxReplyBytes, (buf) => this.send(buf, rinfo));
  }

  private send(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const failed = (err: Error): void => {
      this.counters.sendErrors++;
      this.dispatcher.warn('send', rinfo, { err, bytes: buf.length }, 'ng reply not sent');
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

  async close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    await this.tcp?.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
