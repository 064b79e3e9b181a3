import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIP, isIPv6, SocketAddress, type AddressInfo } from 'node:net';
import type { BDict } from './bencode.js';
import { formatNgDatagram, parseNgDatagram, NgWireError } from './ng-wire.js';
import { TandemError, errorMessage, type ErrorCode } from '../common/errors.js';

/**
 * An ng client over UDP, behaving like Kamailio's rtpengine module (modules/rtpengine,
 * parameters rtpengine_tout_ms = 1000 and rtpengine_retr = 5): every request gets a fresh cookie,
 * the very same bytes are retransmitted after each timeout, the first reply carrying the cookie
 * resolves the request and later ones (answers to retransmissions) are ignored.
 *
 * Only the server's address and port can answer: a datagram from anywhere else is counted and
 * dropped, even with a pending cookie. Cookies are 96 random bits (not a counter), so nobody who
 * has not seen the request can guess one.
 *
 * Used by tests, the bench and, behind MediaControl, by the B2BUA to drive a remote Tandem or
 * rtpengine. A `{result: "error"}` reply is a reply: it resolves, and the caller reads `result`.
 */
export interface NgClientOptions {
  /** The server's IP address (no DNS: replies are matched against it). */
  host: string;
  port: number;
  /** Wait for a reply this long before each retransmission, ms. Default 1000 (Kamailio). */
  timeoutMs?: number;
  /**
   * How many times a request is sent in all, as Kamailio's rtpengine_retr counts (default 5, at
   * least 1): a request is given up after `retries × timeoutMs`.
   */
  retries?: number;
  /** Local address to bind (default: any address of the server's family). */
  bindAddress?: string;
}

/** The catalogue codes an NgClient rejects with (see common/errors.ts). */
export type NgClientErrorCode = Extract<ErrorCode, 'NG_TIMEOUT' | 'NG_CLOSED' | 'NG_SEND' | 'NG_BAD_REPLY'>;

export class NgClientError extends TandemError {
  declare readonly code: NgClientErrorCode;
  readonly cookie: string;

  constructor(code: NgClientErrorCode, message: string, cookie: string, options?: { cause?: unknown }) {
    super(code, message, { cookie }, options);
    this.name = 'NgClientError';
    this.cookie = cookie;
  }
}

interface Pending {
  readonly bytes: Buffer;
  readonly command: string;
  readonly resolve: (reply: BDict) => void;
  readonly reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  sent: number;
}

/** Largest UDP payload over IPv4 (65535 − 8 − 20); larger requests are refused up front. */
const MAX_DATAGRAM = 65507;

export class NgClient {
  private readonly host: string;
  private readonly port: number;
  private readonly timeoutMs: number;
  private readonly tries: number;
  private readonly bindAddress: string | undefined;
  private readonly pending = new Map<string, Pending>();
  /** The server's address as dgram reports a source, to compare replies against. */
  private readonly serverAddress: string;
  private socket: dgram.Socket | undefined;
  private bound: Promise<dgram.Socket> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Replies from the server that matched no pending request (late answers to retransmissions). */
  strayReplies = 0;
  /** Datagrams from anyone but the server, dropped whatever cookie they carry. */
  foreignReplies = 0;
  /** Retransmissions sent (every send after the first of a request). */
  retransmissions = 0;

  constructor(opts: NgClientOptions) {
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new RangeError(`ng client: invalid port ${opts.port}`);
    this.serverAddress = canonicalAddress(opts.host);
    // Replies to a datagram sent to 0.0.0.0 or :: come from some other local address.
    if (this.serverAddress === '0.0.0.0' || this.serverAddress === '::') throw new RangeError(`ng client: host ${opts.host} is not an address replies can come from`);
    const timeoutMs = opts.timeoutMs ?? 1000;
    if (!(timeoutMs > 0)) throw new RangeError(`ng client: timeoutMs must be > 0, got ${timeoutMs}`);
    const retries = opts.retries ?? 5;
    if (!Number.isInteger(retries) || retries < 1) throw new RangeError(`ng client: retries must be an integer ≥ 1, got ${retries}`);
    this.host = opts.host;
    this.port = opts.port;
    this.timeoutMs = timeoutMs;
    this.tries = retries;
    this.bindAddress = opts.bindAddress;
  }

  /** The bound local address, once the first request has opened the socket. */
  get localAddress(): AddressInfo | undefined {
    return this.socket?.address();
  }

  /** Number of requests waiting for a reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Sends one request and resolves with the reply dictionary carrying its cookie. */
  async request(message: BDict): Promise<BDict> {
    if (this.closed) throw new NgClientError('NG_CLOSED', 'ng client is closed', '-');
    let cookie = newCookie();
    while (this.pending.has(cookie)) cookie = newCookie();
    const command = typeof message.command === 'string' ? message.command : '?';
    let bytes: Buffer;
    try {
      bytes = formatNgDatagram(cookie, message);
    } catch (e) {
      throw new NgClientError('NG_SEND', `cannot encode ${command}: ${errorMessage(e)}`, cookie, { cause: e });
    }
    if (bytes.length > MAX_DATAGRAM) throw new NgClientError('NG_SEND', `${command} request of ${bytes.length} bytes exceeds a UDP datagram`, cookie);
    const socket = await this.open();
    if (this.closed) throw new NgClientError('NG_CLOSED', 'ng client is closed', cookie);
    return new Promise<BDict>((resolve, reject) => {
      const p: Pending = { bytes, command, resolve, reject, timer: undefined, sent: 0 };
      this.pending.set(cookie, p);
      this.transmit(socket, cookie, p);
    });
  }

  /** Rejects every pending request with NG_CLOSED and closes the socket. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.failAll('NG_CLOSED', 'ng client closed');
    const bound = this.bound;
    this.closing = (async () => {
      // A bind still in flight: let it finish (a request awaiting it then sees `closed`), so the
      // socket is closed cleanly rather than mid-bind.
      if (bound) await bound.catch(() => undefined);
      const s = this.socket;
      if (!s) return;
      await new Promise<void>((resolve) => {
        try {
          s.close(() => resolve());
        } catch {
          resolve(); // already closed after a socket error
        }
      });
    })();
    return this.closing;
  }

  private transmit(socket: dgram.Socket, cookie: string, p: Pending): void {
    if (p.sent > 0) this.retransmissions++;
    p.sent++;
    socket.send(p.bytes, this.port, this.host, (err) => {
      if (err && this.pending.get(cookie) === p) this.settle(cookie, p, new NgClientError('NG_SEND', `cannot send ${p.command} to ${this.host}:${this.port}: ${err.message}`, cookie, { cause: err }));
    });
    p.timer = setTimeout(() => {
      if (this.pending.get(cookie) !== p) return;
      if (p.sent < this.tries) this.transmit(socket, cookie, p);
      else this.settle(cookie, p, new NgClientError('NG_TIMEOUT', `no reply to ${p.command} from ${this.host}:${this.port} after ${p.sent} tries × ${this.timeoutMs} ms`, cookie));
    }, this.timeoutMs);
  }

  private settle(cookie: string, p: Pending, result: BDict | Error): void {
    clearTimeout(p.timer);
    this.pending.delete(cookie);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  private onMessage(msg: Buffer, from: dgram.RemoteInfo): void {
    // Before the cookie is read: a spoofed reply must neither resolve nor reject a request.
    if (from.port !== this.port || canonicalAddress(from.address) !== this.serverAddress) {
      this.foreignReplies++;
      return;
    }
    let cookie: string;
    let reply: BDict;
    try {
      ({ cookie, message: reply } = parseNgDatagram(msg));
    } catch (e) {
      const c = e instanceof NgWireError ? e.cookie : undefined;
      const p = c === undefined ? undefined : this.pending.get(c);
      if (c !== undefined && p) this.settle(c, p, new NgClientError('NG_BAD_REPLY', `malformed reply to ${p.command}: ${errorMessage(e)}`, c, { cause: e }));
      else this.strayReplies++;
      return;
    }
    const p = this.pending.get(cookie);
    if (p) this.settle(cookie, p, reply);
    else this.strayReplies++;
  }

  private open(): Promise<dgram.Socket> {
    if (this.bound) return this.bound;
    const family = this.bindAddress !== undefined ? (isIPv6(this.bindAddress) ? 'udp6' : 'udp4') : isIPv6(this.host) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket(family);
    this.socket = socket;
    socket.on('message', (msg, from) => this.onMessage(msg, from));
    socket.on('error', (err) => {
      this.failAll('NG_CLOSED', `ng client socket error: ${err.message}`, err);
      void this.close();
    });
    this.bound = new Promise<dgram.Socket>((resolve, reject) => {
      const onError = (err: Error): void => reject(new NgClientError('NG_SEND', `cannot bind ng client to ${this.bindAddress ?? 'any'}: ${err.message}`, '-', { cause: err }));
      socket.once('error', onError);
      socket.bind({ port: 0, ...(this.bindAddress !== undefined ? { address: this.bindAddress } : {}) }, () => {
        socket.off('error', onError);
        resolve(socket);
      });
    });
    return this.bound;
  }

  private failAll(code: NgClientErrorCode, reason: string, cause?: Error): void {
    for (const [cookie, p] of [...this.pending]) this.settle(cookie, p, new NgClientError(code, `${reason} while ${p.command} was pending`, cookie, cause && { cause }));
  }
}

/** 16 characters of base64url: 96 random bits. */
function newCookie(): string {
  return randomBytes(12).toString('base64url');
}

/** One spelling per address (`0:0::1` and `::1` are the same source). Throws RangeError for a non-IP. */
function canonicalAddress(ip: string): string {
  const family = isIP(ip);
  if (family === 0) throw new RangeError(`ng client: host must be an IP address, got ${JSON.stringify(ip)}`);
  if (family === 4) return ip;
  const v6 = new SocketAddress({ address: ip, family: 'ipv6' }).address;
  // A udp6 socket reports an IPv4 server as ::ffff:a.b.c.d.
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(v6) ? v6.slice(7) : v6;
}
