import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../common/log.js';
import { TandemError } from '../../common/errors.js';
import type { SipEndpoint, StreamWatcher } from './types.js';
import { MAX_WRITE_BACKLOG, type ConnectionLimits } from './connection-limits.js';
import { StreamWatchers } from './stream-watch.js';

export interface WebSocketListenerOptions {
  spec: { protocol: 'ws' | 'wss'; address: string; port: number };
  tls: { cert: string; key: string } | undefined;
  /** shared with the TCP/TLS listeners: one cap on descriptors. */
  caps: ConnectionLimits;
  limits: { idleMs: number; tlsHandshakeMs: number; wsPingMs: number };
  /** SIP message size limit; bigger WebSocket messages are still read (up to twice this) so they can get a 513. */
  maxBytes: number;
  onMessage: (data: Buffer, remote: SipEndpoint, local: SipEndpoint) => void;
  onLimit: (kind: 'idle' | 'ping' | 'handshake' | 'backlog', remote: SipEndpoint) => void;
  /** an upgraded connection closed (the registrar drops bindings tied to it). */
  onClose?: (remote: SipEndpoint) => void;
  /** the connection went with `pending` client transactions still waiting on it (each told already). */
  onTransactionsLost?: (pending: number, remote: SipEndpoint, cause: Error | undefined) => void;
  log: Logger;
}

/**
 * SIP over WebSocket (RFC 7118): an HTTP(S) listener that upgrades to WebSocket with the `sip`
 * subprotocol. Each WebSocket message carries exactly one SIP message (§5), so framing is the
 * datagram kind. Connections are inbound only (browsers connect to us); replies and in-dialog
 * requests go back over the connection the peer opened. A connection must finish its TLS and
 * HTTP upgrade handshakes within the handshake deadline and answer every ping before the next one;
 * one that carries neither a SIP message nor a pong for the idle period is closed. A request sent
 * with a StreamWatcher is watched like one on TCP/TLS: if its WebSocket closes before the final
 * response, the transaction hears a ConnectionLostError at once (RFC 3261 §18.4; a browser tab
 * that went away will not answer).
 */
export class WebSocketListener {
  private readonly peers = new Map<string, WebSocket>();
  readonly counters = { pingTimeouts: 0 };
  private readonly touchers = new WeakMap<WebSocket, () => void>();
  /** per connection: client transactions whose request went out on it and await their final. */
  private readonly watchers = new WeakMap<WebSocket, StreamWatchers>();
  private pinger: NodeJS.Timeout | undefined;

  private constructor(
    readonly local: SipEndpoint,
    private readonly http: http.Server | https.Server,
    private readonly wss: WebSocketServer,
    private readonly onLimit: WebSocketListenerOptions['onLimit'],
  ) {}

  static async start(o: WebSocketListenerOptions): Promise<WebSocketListener> {
    const { spec, tls, log } = o;
    const where = `${spec.protocol}:${spec.address}:${spec.port}`;
    if (spec.protocol === 'wss' && tls === undefined) throw new TandemError('CONFIG', `--listen-sip: ${where} needs --tls-cert and --tls-key`);
    const server = spec.protocol === 'wss' && tls !== undefined ? https.createServer({ cert: tls.cert, key: tls.key }) : http.createServer();
    let listener: WebSocketListener | undefined;
    // TLS and the HTTP upgrade together must be done within the handshake deadline from accept.
    server.prependListener('connection', (socket: net.Socket) => {
      const addr = server.address();
      if (!o.caps.admitInbound(socket, { protocol: spec.protocol, address: spec.address, port: typeof addr === 'object' && addr !== null ? addr.port : spec.port })) return;
      const remote: SipEndpoint = { protocol: spec.protocol, address: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 };
      const deadline = setTimeout(() => {
        if (listener?.peers.has(`${remote.address}|${remote.port}`) === true) return;
        o.onLimit('handshake', remote);
        socket.destroy();
      }, o.limits.tlsHandshakeMs);
      deadline.unref();
      socket.once('close', () => clearTimeout(deadline));
    });
    server.on('tlsClientError', (err: Error, socket: net.Socket) => {
      log.debug({ err, remote: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}` }, 'TLS handshake failed');
      socket.destroy();
    });
    // Plain HTTP requests get a short answer: this port speaks SIP over WebSocket only.
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
      res.end('SIP over WebSocket (RFC 7118): upgrade with Sec-WebSocket-Protocol: sip\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new TandemError('CONFIG', `--listen-sip: cannot listen on ${where}: ${err.message}`)));
      server.listen(spec.port, spec.address, () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    const local: SipEndpoint = { protocol: spec.protocol, address: spec.address, port };
    const wss = new WebSocketServer({
      server,
      maxPayload: 2 * o.maxBytes,
      // RFC 7118 §4: the handshake must negotiate the "sip" subprotocol.
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    const l = new WebSocketListener(local, server, wss, o.onLimit);
    listener = l;
    const alive = new WeakSet<WebSocket>();
    wss.on('connection', (ws, req) => {
      if (ws.protocol !== 'sip') {
        ws.close(1002, 'Sec-WebSocket-Protocol must be sip');
        return;
      }
      const remote: SipEndpoint = { protocol: spec.protocol, address: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: req.socket.remotePort ?? 0 };
      const key = `${remote.address}|${remote.port}`;
      l.peers.set(key, ws);
      alive.add(ws);
      const watchers = new StreamWatchers();
      l.watchers.set(ws, watchers);
      /** why the connection failed, if it did: the close that follows carries it. */
      let failure: Error | undefined;
      // Idle: no SIP message either way and no pong (the WebSocket keep-alive) for idleMs.
      let idle: NodeJS.Timeout | undefined;
      const touch = (): void => {
        if (idle !== undefined) clearTimeout(idle);
        idle = setTimeout(() => {
          // A connection we still await a final response on is not idle (a long-ringing INVITE).
          if (watchers.size > 0) {
            touch();
            return;
          }
          o.onLimit('idle', remote);
          ws.terminate();
        }, o.limits.idleMs);
        idle.unref();
      };
      touch();
      l.touchers.set(ws, touch);
      ws.on('pong', () => {
        alive.add(ws);
        touch();
      });
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        touch();
        o.onMessage(buf, remote, local);
        // The 513 for it has been queued (sends are in order); the peer does not get to try again.
        if (buf.length > o.maxBytes) ws.close(1009, 'SIP message too large');
      });
      ws.on('close', () => {
        if (idle !== undefined) clearTimeout(idle);
        // RFC 3261 §18.4: a request's connection gone before its final response is a transport error.
        const lost = watchers.lost(remote, failure);
        if (lost > 0) o.onTransactionsLost?.(lost, remote, failure);
        if (l.peers.get(key) !== ws) return;
        l.peers.delete(key);
        o.onClose?.(remote);
      });
      ws.on('error', (err) => {
        failure = err;
        log.debug({ err, remote: key }, 'WebSocket error');
      });
    });
    // One timer for all connections: a peer that has not answered the last ping is terminated.
    l.pinger = setInterval(() => {
      for (const [key, ws] of l.peers) {
        if (!alive.has(ws)) {
          l.counters.pingTimeouts++;
          const [address, p] = key.split('|');
          o.onLimit('ping', { protocol: spec.protocol, address, port: Number(p) });
          ws.terminate();
          continue;
        }
        alive.delete(ws);
        ws.ping();
      }
    }, o.limits.wsPingMs);
    l.pinger.unref();
    return l;
  }

  /**
   * Sends over the connection the peer opened; false if there is none (we cannot dial a browser).
   * `watcher` is attached to that connection before the write, so a close racing it still reaches it.
   */
  send(remote: SipEndpoint, data: Buffer, watcher?: StreamWatcher): Promise<boolean> {
    const ws = this.peers.get(`${remote.address}|${remote.port}`);
    if (ws === undefined || ws.readyState !== ws.OPEN) return Promise.resolve(false);
    if (ws.bufferedAmount + data.length > MAX_WRITE_BACKLOG) {
      // A peer that does not read what we send is not kept (our queue toward it would only grow).
      this.onLimit('backlog', remote);
      ws.terminate();
      return Promise.reject(new Error(`WebSocket peer ${remote.address}:${remote.port} does not read: connection closed`));
    }
    this.touchers.get(ws)?.();
    if (watcher !== undefined) this.watchers.get(ws)?.add(watcher);
    return new Promise((resolve, reject) => ws.send(data, (err) => (err ? reject(err) : resolve(true))));
  }

  get connections(): number {
    return this.peers.size;
  }

  async close(): Promise<void> {
    if (this.pinger !== undefined) clearInterval(this.pinger);
    for (const ws of this.peers.values()) ws.terminate();
    this.peers.clear();
    await new Promise<void>((r) => this.wss.close(() => r()));
    await new Promise<void>((r) => this.http.close(() => r()));
  }
}
