import type net from 'node:net';
import type { ParseResult } from '../parse.js';
import type { SipParseError } from '../message.js';
import type { SipEndpoint } from './types.js';
import { StreamFramer } from './stream-framer.js';
import { MAX_WRITE_BACKLOG } from './connection-limits.js';
import { StreamWatchers } from './stream-watch.js';

export interface StreamTimeouts {
  /** no message in progress, none received or sent for this long: close. */
  idleMs: number;
  /** a message not complete this long after its first byte: close. */
  messageMs: number;
}

/** What a connection needs from the transport layer that owns it. */
export interface StreamConnectionHost {
  readonly maxBytes: number;
  deliver(r: ParseResult | { ok: false; error: SipParseError }, source: SipEndpoint, local: SipEndpoint): void;
  forget(c: StreamConnection): void;
  /** the connection went with `pending` client transactions still waiting on it (each told already). */
  transactionsLost(pending: number, remote: SipEndpoint, cause: Error | undefined): void;
  /** a limit closed the connection: count it and log (rate-limited). */
  limitHit(kind: 'idle' | 'message' | 'backlog', remote: SipEndpoint): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

/** A half-closed connection whose peer never closes its side is destroyed after this long. */
const LINGER_MS = 2000;


/**
 * A TCP or TLS connection, framed by Content-Length (RFC 3261 §18.3). Two deadlines guard it, and
 * neither is pushed back by a byte that does not finish a message (slowloris): a message must be
 * complete `messageMs` after its first byte, and a connection with no message in progress is
 * closed after `idleMs` without a complete message in either direction or a keep-alive (RFC 5626
 * CRLF; a peer holding connections open with those is bounded by the connection caps).
 */
export class StreamConnection {
  private readonly framer: StreamFramer;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  /** client transactions whose request went out here and whose final response has not come. */
  readonly watchers = new StreamWatchers();
  /** why the socket failed, if it did (ECONNRESET…): the close that follows carries it. */
  private failure: Error | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly remote: SipEndpoint,
    readonly local: SipEndpoint,
    private readonly host: StreamConnectionHost,
    private readonly timeouts: StreamTimeouts,
  ) {
    this.framer = new StreamFramer(host.maxBytes);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => {
      this.failure = err;
      host.debug({ remote: `${remote.address}:${remote.port}`, err }, 'connection error');
    });
    socket.on('close', () => {
      this.clearTimer();
      // RFC 3261 §18.4: a request's connection gone before its final response is a transport error.
      const lost = this.watchers.lost(remote, this.failure);
      if (lost > 0) host.transactionsLost(lost, remote, this.failure);
      host.forget(this);
    });
    this.arm('idle');
  }

  /** full parses run on this connection (test hook for the framing cost). */
  get parses(): number {
    return this.framer.parses;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(kind: 'idle' | 'message'): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      // A connection we still await a final response on is not idle (a long-ringing INVITE).
      if (kind === 'idle' && this.watchers.size > 0) {
        this.arm('idle');
        return;
      }
      this.host.limitHit(kind, this.remote);
      this.socket.destroy();
    }, kind === 'idle' ? this.timeouts.idleMs : this.timeouts.messageMs);
    this.timer.unref();
  }

  private onData(d: Buffer): void {
    if (this.closing) return;
    const wasInProgress = this.framer.inProgress;
    const out = this.framer.push(d);
    for (const r of out.results) this.host.deliver(r, this.remote, this.local);
    if (out.fatal !== undefined) {
      // The stream cannot be resynchronised after a framing error: answer if we can, then close.
      this.closing = true;
      this.clearTimer();
      this.host.deliver({ ok: false, error: out.fatal }, this.remote, this.local);
      // The response is written from a promise chain: close after it has been queued.
      setImmediate(() => this.socket.end());
      setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
      return;
    }
    // A byte that neither finishes a message nor is a keep-alive (CRLF) moves no deadline.
    if (out.results.length > 0 || !wasInProgress) this.arm(this.framer.inProgress ? 'message' : 'idle');
  }

  write(buf: Buffer): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new Error(`${this.remote.protocol} connection to ${this.remote.address}:${this.remote.port} is closed`));
    if (this.socket.writableLength + buf.length > MAX_WRITE_BACKLOG) {
      this.host.limitHit('backlog', this.remote);
      this.socket.destroy();
      return Promise.reject(new Error(`${this.remote.protocol} peer ${this.remote.address}:${this.remote.port} does not read: ${this.socket.writableLength} bytes queued, connection closed`));
    }
    if (!this.framer.inProgress && !this.closing) this.arm('idle');
    return new Promise((resolve, reject) => this.socket.write(buf, (err) => (err ? reject(err) : resolve())));
  }
}
