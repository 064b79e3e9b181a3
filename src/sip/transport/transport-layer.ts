import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../common/log.js';
import { TandemError } from '../../common/errors.js';
import { parseSipMessage, DEFAULT_MAX_BYTES, type ParseResult } from '../parse.js';
import { serializeSipMessage } from '../serialize.js';
import { type SipMessage, type SipParseError } from '../message.js';
import { malformedResponse } from './malformed-response.js';
import { formatEndpoint, type InboundMessage, type SipEndpoint, type SipSender, type StreamWatcher, type TransportProtocol } from './types.js';
import { WebSocketListener } from './websocket.js';
import { StreamConnection, type StreamConnectionHost } from './stream-connection.js';
import { datagramTooLarge } from './stream-framer.js';
import { CONNECTION_DEFAULTS, ConnectionLimits, effectiveConnectionCap, readFdLimit } from './connection-limits.js';
import { LogLimiter } from '../../common/log-limit.js';
import { markReceived } from './received.js';
import { connectStream, isCertificateError } from './outbound-socket.js';
import type { TransportCounters, TransportStats } from './transport-stats.js';
import { datagramKind, messageKind, socketSource, type AdmitHook, type AdmitKind } from './admit.js';

export interface SipListenSpec {
  protocol: TransportProtocol;
  address: string;
  port: number;
}

/** SO_RCVBUF asked for each UDP SIP socket (bytes). */
const UDP_RECV_BUFFER = 4 * 1024 * 1024;

/** Stream-connection limits (TCP, TLS, WebSocket); defaults in CONNECTION_DEFAULTS. */
export interface SipConnectionLimits {
  maxConnections: number;
  maxConnectionsPerSource: number;
  idleMs: number;
  messageMs: number;
  tlsHandshakeMs: number;
  wsPingMs: number;
}

export interface SipTransportOptions {
  listen: SipListenSpec[];
  /** PEM texts for TLS and WSS listeners. */
  tls?: { cert: string; key: string };
  /**
   * Outbound TLS: certificates are verified against `ca` (PEM) or the system CAs, and the target's
   * IP; `noVerify` lists the targets whose certificate is not checked (routes file `tlsVerify: false`).
   */
  tlsClient?: { ca?: string; noVerify?: SipEndpoint[] };
  maxMessageBytes?: number;
  limits?: Partial<SipConnectionLimits>;
  /** descriptor limit the connection cap is kept under; read from the system when left out. */
  fdLimit?: number;
  log: Logger;
  onMessage: (inbound: InboundMessage) => void;
  /** A TCP/TLS/WebSocket connection closed (either end): bindings tied to that flow go (registrar). */
  onConnectionClosed?: (remote: SipEndpoint) => void;
  /** asked before a datagram is parsed, a stream is accepted or a stream's request is delivered (edge/). */
  admit?: AdmitHook;
}

export type { TransportCounters, TransportStats } from './transport-stats.js';

function endpointKey(e: SipEndpoint): string {
  return `${e.protocol}|${e.address}|${e.port}`;
}

/**
 * SIP transports (RFC 3261 §18): UDP sockets and TCP/TLS listeners and connections. It frames and
 * parses; a malformed request gets the 4xx/5xx its fault deserves when a response can be formed at
 * all, and anything else unusable is counted and dropped.
 */
export class SipTransportLayer implements SipSender, StreamConnectionHost {
  private readonly udp: { socket: dgram.Socket; local: SipEndpoint }[] = [];
  private readonly servers: { server: net.Server; local: SipEndpoint }[] = [];
  private readonly websockets: WebSocketListener[] = [];
  private readonly connections = new Map<string, StreamConnection>();
  private readonly connecting = new Map<string, Promise<StreamConnection>>();
  readonly counters: TransportCounters = {
    received: 0, sent: 0, malformed: 0, rejected: 0, dropped: 0, connections: 0, oversized: 0,
    idleTimeouts: 0, messageTimeouts: 0, tlsHandshakeTimeouts: 0, writeBacklogCloses: 0, tlsVerifyFailures: 0, notAdmitted: 0, transactionsLost: 0,
  };
  readonly maxBytes: number;
  readonly log: Logger;
  readonly limits: SipConnectionLimits;
  private readonly caps: ConnectionLimits;
  private readonly warnings = new LogLimiter();
  private logsSuppressed = 0;
  private lastSweep = Date.now();
  private readonly noVerify: Set<string>;

  private constructor(private readonly opts: SipTransportOptions) {
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_BYTES;
    this.log = opts.log;
    this.limits = { ...CONNECTION_DEFAULTS, ...opts.limits };
    const fd = opts.fdLimit !== undefined ? { limit: opts.fdLimit, source: 'configured' } : readFdLimit();
    const cap = effectiveConnectionCap(this.limits.maxConnections, fd.limit);
    if (cap < this.limits.maxConnections)
      this.log.warn({ configured: this.limits.maxConnections, cap, fdLimit: fd.limit, fdLimitFrom: fd.source }, 'SIP connection cap lowered to a quarter of the descriptor limit (the rest is kept for media)');
    this.caps = new ConnectionLimits(cap, this.limits.maxConnectionsPerSource, (socket, local) => this.admitted(socketSource(socket, local), local, 'connection'));
    this.noVerify = new Set((opts.tlsClient?.noVerify ?? []).map(endpointKey));
  }

  static async start(opts: SipTransportOptions): Promise<SipTransportLayer> {
    const t = new SipTransportLayer(opts);
    try {
      for (const spec of opts.listen) await t.listen(spec);
    } catch (err) {
      await t.close();
      throw err;
    }
    return t;
  }

  /** Counters and the connection limits' state. */
  stats(): TransportStats {
    return {
      ...this.counters,
      logsSuppressed: this.logsSuppressed,
      openConnections: this.caps.counters.open,
      refusedConnections: this.caps.counters.refusedTotal,
      refusedConnectionsPerSource: this.caps.counters.refusedPerSource,
      wsPingTimeouts: this.websockets.reduce((n, w) => n + w.counters.pingTimeouts, 0),
      maxConnections: this.caps.maxTotal,
    };
  }

  private async listen(spec: SipListenSpec): Promise<void> {
    const where = `${spec.protocol}:${spec.address}:${spec.port}`;
    if (spec.protocol === 'udp') {
      // A burst (a registration storm after an outage) must wait in the kernel, not be dropped
      // there: the default buffer (~208 KiB) holds ~500 REGISTERs. Linux caps it at net.core.rmem_max.
      const socket = dgram.createSocket({ type: spec.address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: UDP_RECV_BUFFER });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', (err) => reject(new TandemError('CONFIG', `--listen-sip: cannot bind ${where}: ${err.message}`)));
        socket.bind(spec.port, spec.address, () => resolve());
      });
      const local: SipEndpoint = { protocol: 'udp', address: spec.address, port: socket.address().port };
      const rcvbuf = socket.getRecvBufferSize();
      if (rcvbuf < UDP_RECV_BUFFER) this.log.warn({ listener: where, rcvbuf, wanted: UDP_RECV_BUFFER }, 'UDP receive buffer capped by net.core.rmem_max: a burst may be dropped by the kernel');
      socket.on('error', (err) => this.log.warn({ err }, 'UDP socket error'));
      socket.on('message', (buf, rinfo) => this.onDatagram(buf, { protocol: 'udp', address: rinfo.address, port: rinfo.port }, local));
      this.udp.push({ socket, local });
      return;
    }
    if (spec.protocol === 'ws' || spec.protocol === 'wss') {
      const l = await WebSocketListener.start({
        spec: { protocol: spec.protocol, address: spec.address, port: spec.port },
        tls: this.opts.tls,
        caps: this.caps,
        limits: this.limits,
        maxBytes: this.maxBytes,
        onMessage: (buf, remote, local) => this.onDatagram(buf, remote, local),
        onLimit: (kind, remote) => this.limitHit(kind, remote),
        onClose: (remote) => this.opts.onConnectionClosed?.(remote),
        onTransactionsLost: (pending, remote, cause) => this.transactionsLost(pending, remote, cause),
        log: this.log,
      });
      this.websockets.push(l);
      return;
    }
    let server: net.Server;
    if (spec.protocol === 'tls') {
      if (this.opts.tls === undefined) throw new TandemError('CONFIG', `--listen-sip: ${where} needs --tls-cert and --tls-key`);
      server = tls.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key, handshakeTimeout: this.limits.tlsHandshakeMs });
      server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
        const remote = { protocol: 'tls' as const, address: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 };
        if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') this.limitHit('handshake', remote);
        else this.debug({ remote: formatEndpoint(remote), err }, 'TLS handshake failed');
        // Node reports the failure (the deadline included) but leaves the socket open.
        socket.destroy();
      });
    } else server = net.createServer();
    // Counted from the first byte of the TCP handshake: that is when a descriptor is spent.
    server.prependListener('connection', (socket: net.Socket) => {
      this.caps.admitInbound(socket, { protocol: spec.protocol, address: spec.address, port: (server.address() as net.AddressInfo).port });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new TandemError('CONFIG', `--listen-sip: cannot listen on ${where}: ${err.message}`)));
      server.listen(spec.port, spec.address, () => resolve());
    });
    const addr = server.address() as net.AddressInfo;
    const local: SipEndpoint = { protocol: spec.protocol, address: spec.address, port: addr.port };
    server.on(spec.protocol === 'tls' ? 'secureConnection' : 'connection', (socket: net.Socket) => {
      if (socket.destroyed) return;
      const remote: SipEndpoint = { protocol: spec.protocol, address: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 };
      this.adopt(socket, remote, local);
    });
    this.servers.push({ server, local });
  }

  private adopt(socket: net.Socket, remote: SipEndpoint, local: SipEndpoint): StreamConnection {
    const c = new StreamConnection(socket, remote, local, this, { idleMs: this.limits.idleMs, messageMs: this.limits.messageMs });
    this.connections.set(endpointKey(remote), c);
    this.counters.connections++;
    return c;
  }

  /** Called by a connection when it closes. */
  forget(c: StreamConnection): void {
    const key = endpointKey(c.remote);
    if (this.connections.get(key) !== c) return;
    this.connections.delete(key);
    this.opts.onConnectionClosed?.(c.remote);
  }

  /** Test hook: the open connection from or to `remote`. */
  connectionTo(remote: SipEndpoint): StreamConnection | undefined {
    return this.connections.get(endpointKey(remote));
  }

  transactionsLost(pending: number, remote: SipEndpoint, cause: Error | undefined): void {
    this.counters.transactionsLost += pending;
    this.debug({ remote: formatEndpoint(remote), pending, err: cause }, 'connection gone with client transactions waiting on it: each gets a transport error');
  }

  limitHit(kind: 'idle' | 'message' | 'handshake' | 'ping' | 'backlog', remote: SipEndpoint): void {
    if (kind === 'idle') this.counters.idleTimeouts++;
    else if (kind === 'backlog') this.counters.writeBacklogCloses++;
    else if (kind === 'message') this.counters.messageTimeouts++;
    else if (kind === 'handshake') this.counters.tlsHandshakeTimeouts++;
    this.warnLimited(remote, kind === 'backlog' ? 'peer does not read' : `${kind} timeout`, {}, 'connection closed by a limit');
  }

  debug(fields: Record<string, unknown>, msg: string): void {
    this.log.debug(fields, msg);
  }

  /** A warning about what a peer sent: the first per source and reason, then one per 10 s. */
  private warnLimited(source: SipEndpoint, reason: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    // Swept lazily: sources that went quiet free their slots without a timer of our own.
    if (now - this.lastSweep >= 10_000) {
      this.warnings.sweep();
      this.lastSweep = now;
    }
    const suppressed = this.warnings.admit(`${source.address}|${reason}`);
    if (suppressed === undefined) {
      this.logsSuppressed++;
      return;
    }
    this.log.warn({ source: formatEndpoint(source), reason, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
  }

  private onDatagram(buf: Buffer, source: SipEndpoint, local: SipEndpoint): void {
    // Before a byte is parsed, so a denied or banned source (or a flood) costs a few comparisons.
    if (!this.admitted(source, local, datagramKind(buf))) return;
    // RFC 5626 §4.4.1 keepalives (CRLF) are not messages.
    if (buf.length <= 4 && buf.toString('latin1').trim() === '') return;
    // Over the limit: the parser would only say "too large"; find what a 513 needs.
    if (buf.length > this.maxBytes) this.deliverParsed({ ok: false, error: datagramTooLarge(buf) }, source, local);
    else this.deliverParsed(parseSipMessage(buf, { maxBytes: this.maxBytes }), source, local);
  }

  /** One framed message from a stream connection: its source was admitted at accept, and each request is counted here. */
  deliver(r: ParseResult | { ok: false; error: SipParseError }, source: SipEndpoint, local: SipEndpoint): void {
    if (this.admitted(source, local, messageKind(r))) this.deliverParsed(r, source, local);
  }

  private admitted(source: SipEndpoint, local: SipEndpoint, kind: AdmitKind): boolean {
    if (this.opts.admit === undefined || this.opts.admit(source, local, kind)) return true;
    this.counters.notAdmitted++;
    return false;
  }

  /** One parsed (or failed) message from any transport. */
  private deliverParsed(r: ParseResult | { ok: false; error: SipParseError }, source: SipEndpoint, local: SipEndpoint): void {
    if (!r.ok) {
      this.counters.malformed++;
      if (r.error.status === 513) this.counters.oversized++;
      this.rejectMalformed(r.error, source);
      return;
    }
    this.counters.received++;
    const message = r.message;
    if (message.kind === 'request') markReceived(message, source);
    try {
      this.opts.onMessage({ message, source, local });
    } catch (err) {
      // A fault above must not take the socket down with it.
      this.log.error({ err, source: formatEndpoint(source) }, 'message handler failed');
    }
  }

  private rejectMalformed(error: SipParseError, source: SipEndpoint): void {
    const ctx = error.response;
    if (ctx === undefined) {
      this.counters.dropped++;
      this.warnLimited(source, error.reason, { status: error.status }, 'unusable SIP message dropped');
      return;
    }
    this.counters.rejected++;
    this.warnLimited(source, error.reason, { callId: ctx.callId, status: error.status }, 'malformed request rejected');
    const res = malformedResponse(error.status, error.reason, ctx);
    this.send(res, source).catch((err: unknown) => this.log.debug({ err, callId: ctx.callId }, 'could not answer a malformed request'));
  }

  async send(message: SipMessage, destination: SipEndpoint, watcher?: StreamWatcher): Promise<void> {
    const buf = serializeSipMessage(message);
    if (destination.protocol === 'ws' || destination.protocol === 'wss') {
      for (const l of this.websockets) if (await l.send(destination, buf, watcher)) {
        this.counters.sent++;
        return;
      }
      throw new Error(`no WebSocket connection from ${destination.address}:${destination.port}`);
    }
    if (destination.protocol === 'udp') {
      const family = destination.address.includes(':') ? ':' : '.';
      const u = this.udp.find((x) => x.local.address.includes(family)) ?? this.udp[0];
      if (u === undefined) throw new TandemError('CONFIG', 'no UDP SIP listener to send from');
      await new Promise<void>((resolve, reject) => u.socket.send(buf, destination.port, destination.address, (err) => (err ? reject(err) : resolve())));
    } else {
      const c = await this.connection(destination);
      // Attached before the write, so a close racing it still reaches the transaction.
      if (watcher !== undefined) c.watchers.add(watcher);
      await c.write(buf);
    }
    this.counters.sent++;
  }

  /** The open connection to `to`, or a new one (RFC 3261 §18.1.1: reuse before opening). */
  private connection(to: SipEndpoint): Promise<StreamConnection> {
    const key = endpointKey(to);
    const open = this.connections.get(key);
    if (open !== undefined && !open.socket.destroyed) return Promise.resolve(open);
    const inFlight = this.connecting.get(key);
    if (inFlight !== undefined) return inFlight;
    const local = this.servers.find((s) => s.local.protocol === to.protocol)?.local ?? { protocol: to.protocol, address: '0.0.0.0', port: 0 };
    const verify = !this.noVerify.has(key);
    const p = new Promise<StreamConnection>((resolve, reject) => {
      const ca = this.opts.tlsClient?.ca;
      const socket = this.caps.admitOutbound(() => connectStream(to, { ...(ca !== undefined ? { ca } : {}), verify }));
      if (socket === undefined) {
        reject(new Error(`${to.protocol} connect to ${to.address}:${to.port} refused: ${this.caps.maxTotal} SIP connections open (connection cap)`));
        return;
      }
      // A peer that accepts TCP but never completes the TLS handshake must not hold the request.
      const deadline = setTimeout(() => {
        if (to.protocol === 'tls') this.counters.tlsHandshakeTimeouts++;
        socket.destroy(new Error(`no ${to.protocol === 'tls' ? 'TLS handshake' : 'connection'} within ${this.limits.tlsHandshakeMs} ms`));
      }, this.limits.tlsHandshakeMs);
      deadline.unref();
      const ready = to.protocol === 'tls' ? 'secureConnect' : 'connect';
      socket.once(ready, () => {
        clearTimeout(deadline);
        socket.removeAllListeners('error');
        resolve(this.adopt(socket, to, local));
      });
      socket.once('error', (err: Error & { code?: string }) => {
        clearTimeout(deadline);
        if (to.protocol === 'tls' && isCertificateError(err)) {
          this.counters.tlsVerifyFailures++;
          this.warnLimited(to, 'certificate not verified', { err }, 'TLS peer refused: its certificate does not verify (--tls-ca, or tlsVerify: false on the target)');
        }
        reject(new Error(`${to.protocol} connect to ${to.address}:${to.port} failed: ${err.message}`));
      });
    });
    this.connecting.set(key, p);
    const done = (): void => {
      this.connecting.delete(key);
    };
    p.then(done, done);
    return p;
  }

  localEndpoint(protocol: TransportProtocol): SipEndpoint {
    const l = this.listeners().find((x) => x.protocol === protocol);
    if (l !== undefined) return l;
    // Outbound-only TCP/TLS (no listener of that kind): advertise the UDP listener's address.
    const any = this.listeners()[0];
    if (any === undefined) throw new TandemError('CONFIG', `no SIP listener for ${protocol}`);
    return { protocol, address: any.address, port: any.port };
  }

  listeners(): SipEndpoint[] {
    return [...this.udp.map((u) => u.local), ...this.servers.map((s) => s.local), ...this.websockets.map((w) => w.local)];
  }

  async close(): Promise<void> {
    for (const c of this.connections.values()) c.socket.destroy();
    this.connections.clear();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.server.close(() => r()))));
    for (const u of this.udp) u.socket.close();
    for (const w of this.websockets) await w.close();
    this.udp.length = 0;
    this.servers.length = 0;
    this.websockets.length = 0;
  }
}
