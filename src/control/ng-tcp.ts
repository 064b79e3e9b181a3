import net from 'node:net';
import type { Logger } from '../common/log.js';
import { isLoopback, type AddressList } from '../common/cidr.js';
import { formatNgDatagram } from './ng-wire.js';
import { ngErrorReply } from './ng-errors.js';
import { NgStreamFramer } from './ng-stream.js';
import type { NgDispatcher, NgPeer } from './ng-dispatch.js';

/** Limits of the ng TCP listener; every one has a default and a counter in {@link NgTcpCounters}. */
export interface NgTcpLimits {
  /** Open connections at most; one more is closed at accept (`refused`). */
  maxConnections: number;
  /** Largest request and reply (`tooLarge`; a larger reply becomes `reply too large`). */
  maxMessageBytes: number;
  /** A connection without a complete message for this long is closed (`idleTimeouts`). 0 = never. */
  idleMs: number;
  /** A message must be complete this long after its first byte (`messageTimeouts`), so a slow sender cannot hold a buffer. */
  messageMs: number;
  /** Commands of one connection running at once; past it the connection is not read until one ends. */
  maxInFlight: number;
  /** Reply bytes queued toward a peer that does not read; past it the connection is closed (`slowReaders`). */
  maxWriteBacklog: number;
}

export const DEFAULT_NG_TCP_LIMITS: Readonly<NgTcpLimits> = {
  maxConnections: 128,
  maxMessageBytes: 256 * 1024,
  idleMs: 600_000,
  messageMs: 10_000,
  maxInFlight: 32,
  maxWriteBacklog: 1024 * 1024,
};

export interface NgTcpCounters {
  accepted: number;
  /** Closed at accept: over `maxConnections`. */
  refused: number;
  /** Closed at accept: the source is not in `--ng-allow`. */
  denied: number;
  messages: number;
  /** Streams ended because a message could not be framed (no cookie, not bencode). */
  unframeable: number;
  tooLarge: number;
  idleTimeouts: number;
  messageTimeouts: number;
  slowReaders: number;
  socketErrors: number;
}

export interface NgTcpOptions {
  address: string;
  port: number;
  dispatcher: NgDispatcher;
  allow: AddressList | undefined;
  log: Logger;
  limits?: Partial<NgTcpLimits>;
}

/** What a connection owes, in order: requests to run, an error reply to send, the end of the stream. */
type Pending = { kind: 'request'; bytes: Buffer } | { kind: 'reply'; bytes: Buffer } | { kind: 'end' };

/** One accepted connection: its framer, timers and the messages waiting for a free command slot. */
interface Connection {
  socket: net.Socket;
  peer: NgPeer;
  framer: NgStreamFramer;
  queue: Pending[];
  inFlight: number;
  idle: NodeJS.Timeout | undefined;
  partial: NodeJS.Timeout | undefined;
}

/**
 * ng over TCP beside UDP (`--listen-tcp-ng`), with rtpengine's framing (ng-stream.ts). Messages go
 * through the same dispatcher as datagrams: the same commands, cookie cache and counters.
 */
export class NgTcpServer {
  private readonly server: net.Server;
  private readonly limits: NgTcpLimits;
  private readonly connections = new Set<Connection>();
  readonly counters: NgTcpCounters = { accepted: 0, refused: 0, denied: 0, messages: 0, unframeable: 0, tooLarge: 0, idleTimeouts: 0, messageTimeouts: 0, slowReaders: 0, socketErrors: 0 };

  constructor(private readonly opts: NgTcpOptions) {
    this.limits = { ...DEFAULT_NG_TCP_LIMITS, ...opts.limits };
    this.server = net.createServer({ noDelay: true }, (s) => this.accept(s));
    this.server.on('error', (err) => opts.log.error({ err }, 'ng TCP listener error'));
  }

  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.address, () => {
        this.server.off('error', reject);
        const a = this.server.address() as net.AddressInfo;
        this.opts.log.info({ address: a.address, port: a.port, maxConnections: this.limits.maxConnections, maxMessageBytes: this.limits.maxMessageBytes, allow: this.opts.allow?.entries ?? 'any' }, 'ng control listening on TCP');
        if (this.opts.allow === undefined && !isLoopback(a.address))
          this.opts.log.warn({ address: a.address, port: a.port }, 'ng control listens on TCP beyond loopback and obeys every source that reaches it: set --ng-allow');
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  stats(): NgTcpCounters & { open: number } {
    return { ...this.counters, open: this.connections.size };
  }

  private accept(socket: net.Socket): void {
    // Before anything can fail: a reset on a socket without a listener would throw.
    socket.on('error', (err) => {
      this.counters.socketErrors++;
      this.opts.log.debug({ err, from: `${socket.remoteAddress}:${socket.remotePort}` }, 'ng TCP connection error');
    });
    const address = socket.remoteAddress ?? '';
    const from = { address, port: socket.remotePort ?? 0 };
    if (this.opts.allow !== undefined && !this.opts.allow.has(address)) {
      this.counters.denied++;
      this.opts.dispatcher.warn('denied', from, { transport: 'tcp' }, 'ng TCP connection from a source outside --ng-allow closed');
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.limits.maxConnections) {
      this.counters.refused++;
      this.opts.dispatcher.warn('tcp-refused', from, { limit: this.limits.maxConnections }, 'ng TCP connection over the limit closed');
      socket.destroy();
      return;
    }
    this.counters.accepted++;
    const c: Connection = { socket, peer: { ...from, scope: `tcp ${address}` }, framer: new NgStreamFramer(this.limits.maxMessageBytes), queue: [], inFlight: 0, idle: undefined, partial: undefined };
    this.connections.add(c);
    if (this.limits.idleMs > 0) c.idle = setTimeout(() => this.expire(c, 'idle'), this.limits.idleMs);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('close', () => {
      this.connections.delete(c);
      clearTimeout(c.idle);
      clearTimeout(c.partial);
      c.queue.length = 0;
    });
  }

  private onData(c: Connection, chunk: Buffer): void {
    for (const f of c.framer.push(chunk)) {
      if (f.kind === 'message') {
        this.counters.messages++;
        c.idle?.refresh();
        c.queue.push({ kind: 'request', bytes: f.bytes });
        continue;
      }
      if (f.tooLarge) this.counters.tooLarge++;
      else this.counters.unframeable++;
      this.opts.dispatcher.warn('tcp-frame', c.peer, { reason: f.reason }, 'ng TCP stream cannot be read on: closed');
      const reply = f.cookie === undefined ? undefined : formatNgDatagram(f.cookie, ngErrorReply(f.tooLarge ? 'TOO_LARGE' : 'BAD_REQUEST', `${f.tooLarge ? 'request too large' : 'Failed to parse message'}: ${f.reason}`));
      // The error (when the client can match it) goes after the replies still owed, then the stream ends.
      if (reply !== undefined) c.queue.push({ kind: 'reply', bytes: reply });
      c.queue.push({ kind: 'end' });
      break;
    }
    // A message must be finished messageMs after its first byte, however slowly the rest trickles in.
    if (c.framer.pending === 0) {
      clearTimeout(c.partial);
      c.partial = undefined;
    } else if (c.partial === undefined) c.partial = setTimeout(() => this.expire(c, 'message'), this.limits.messageMs);
    this.drain(c);
  }

  /** Starts queued messages while command slots are free; the socket is not read while any wait. */
  private drain(c: Connection): void {
    while (c.queue.length > 0 && c.inFlight < this.limits.maxInFlight) {
      const next = c.queue[0];
      if (next.kind === 'end') {
        // An unreadable stream: closed once the replies still owed are written, whether or not
        // the peer closes its side (a half-open connection would keep its slot).
        if (c.inFlight === 0) c.socket.end(() => c.socket.destroy());
        break;
      }
      c.queue.shift();
      if (next.kind === 'reply') {
        this.write(c, next.bytes);
        continue;
      }
      c.inFlight++;
      void this.opts.dispatcher.handle(next.bytes, c.peer, this.limits.maxMessageBytes, (reply) => this.write(c, reply)).then(() => {
        c.inFlight--;
        this.drain(c);
      });
    }
    if (c.queue.length > 0 && !c.socket.isPaused()) c.socket.pause();
    else if (c.queue.length === 0 && c.socket.isPaused()) c.socket.resume();
  }

  private write(c: Connection, buf: Buffer): void {
    if (c.socket.destroyed || c.socket.writableEnded) return;
    if (c.socket.writableLength > this.limits.maxWriteBacklog) {
      this.counters.slowReaders++;
      this.opts.dispatcher.warn('tcp-slow', c.peer, { queued: c.socket.writableLength }, 'ng TCP peer does not read its replies: closed');
      c.socket.destroy();
      return;
    }
    c.socket.write(buf);
  }

  private expire(c: Connection, why: 'idle' | 'message'): void {
    // Idle means nothing under way: a message arriving has its own deadline, a command its reply.
    if (why === 'idle' && (c.framer.pending > 0 || c.inFlight > 0 || c.queue.length > 0)) {
      c.idle?.refresh();
      return;
    }
    // While its earlier commands hold the connection unread, the rest of a message cannot arrive.
    if (why === 'message' && c.queue.length > 0 && c.queue[0].kind === 'request') {
      c.partial?.refresh();
      return;
    }
    if (why === 'idle') this.counters.idleTimeouts++;
    else this.counters.messageTimeouts++;
    this.opts.dispatcher.warn(`tcp-${why}`, c.peer, { pendingBytes: c.framer.pending }, why === 'idle' ? 'ng TCP connection idle: closed' : 'ng TCP message not finished in time: closed');
    c.socket.destroy();
  }

  close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
