import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../common/log.js';
import { TandemError, errorMessage } from '../../common/errors.js';
import { parseSipMessage, parseSipStream, DEFAULT_MAX_BYTES, type ParseResult } from '../parse.js';
import { serializeSipMessage } from '../serialize.js';
import { getVias, type SipMessage, type SipParseError, type SipResponse } from '../message.js';
import type { InboundMessage, SipEndpoint, SipSender, TransportProtocol } from './types.js';
import { WebSocketListener } from './websocket.js';

export interface SipListenSpec {
  protocol: TransportProtocol;
  address: string;
  port: number;
}

export interface SipTransportOptions {
  listen: SipListenSpec[];
  /** PEM texts. Needed for a TLS listener; outbound TLS works without (no client certificate). */
  tls?: { cert: string; key: string; ca?: string; rejectUnauthorized?: boolean };
  maxMessageBytes?: number;
  /** Close a stream connection after this long without traffic (default 10 minutes). */
  idleMs?: number;
  log: Logger;
  onMessage: (inbound: InboundMessage) => void;
}

export interface TransportCounters {
  received: number;
  sent: number;
  malformed: number;
  rejected: number;
  dropped: number;
  connections: number;
}

/** A TCP or TLS connection, framed by Content-Length (RFC 3261 §18.3). */
class StreamConnection {
  private rest: Buffer = Buffer.alloc(0);
  private idle: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly remote: SipEndpoint,
    readonly local: SipEndpoint,
    private readonly layer: SipTransportLayer,
    private readonly idleMs: number,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => layer.log.debug({ remote: `${remote.address}:${remote.port}`, err: err.message }, 'connection error'));
    socket.on('close', () => {
      if (this.idle !== undefined) clearTimeout(this.idle);
      layer.forget(this);
    });
    this.touch();
  }

  private touch(): void {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = setTimeout(() => this.socket.destroy(), this.idleMs);
    this.idle.unref();
  }

  private onData(d: Buffer): void {
    this.touch();
    const r = parseSipStream(this.rest.length === 0 ? d : Buffer.concat([this.rest, d]), { maxBytes: this.layer.maxBytes });
    this.rest = r.rest;
    for (const x of r.results) this.layer.deliver(x, this.remote, this.local);
    if (r.fatal !== undefined) {
      // The stream cannot be resynchronised after a framing error: answer if we can, then close.
      this.layer.deliver({ ok: false, error: r.fatal }, this.remote, this.local);
      // The 400 is written from a promise chain: close after it has been queued.
      setImmediate(() => this.socket.end());
      this.rest = Buffer.alloc(0);
    }
  }

  write(buf: Buffer): Promise<void> {
    this.touch();
    return new Promise((resolve, reject) => this.socket.write(buf, (err) => (err ? reject(err) : resolve())));
  }
}

function endpointKey(e: SipEndpoint): string {
  return `${e.protocol}|${e.address}|${e.port}`;
}

/**
 * SIP transports (RFC 3261 §18): UDP sockets and TCP/TLS listeners and connections. It frames and
 * parses; a malformed request gets the 4xx/5xx its fault deserves when a response can be formed at
 * all, and anything else unusable is counted and dropped.
 */
export class SipTransportLayer implements SipSender {
  private readonly udp: { socket: dgram.Socket; local: SipEndpoint }[] = [];
  private readonly servers: { server: net.Server; local: SipEndpoint }[] = [];
  private readonly websockets: WebSocketListener[] = [];
  private readonly connections = new Map<string, StreamConnection>();
  private readonly connecting = new Map<string, Promise<StreamConnection>>();
  readonly counters: TransportCounters = { received: 0, sent: 0, malformed: 0, rejected: 0, dropped: 0, connections: 0 };
  readonly maxBytes: number;
  readonly log: Logger;

  private constructor(private readonly opts: SipTransportOptions) {
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_BYTES;
    this.log = opts.log;
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

  private async listen(spec: SipListenSpec): Promise<void> {
    const where = `${spec.protocol}:${spec.address}:${spec.port}`;
    if (spec.protocol === 'udp') {
      const socket = dgram.createSocket(spec.address.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', (err) => reject(new TandemError('CONFIG', `--listen-sip: cannot bind ${where}: ${err.message}`)));
        socket.bind(spec.port, spec.address, () => resolve());
      });
      const local: SipEndpoint = { protocol: 'udp', address: spec.address, port: socket.address().port };
      socket.on('error', (err) => this.log.warn({ err: err.message }, 'UDP socket error'));
      socket.on('message', (buf, rinfo) => this.onDatagram(buf, { protocol: 'udp', address: rinfo.address, port: rinfo.port }, local));
      this.udp.push({ socket, local });
      return;
    }
    if (spec.protocol === 'ws' || spec.protocol === 'wss') {
      const l = await WebSocketListener.start(
        { protocol: spec.protocol, address: spec.address, port: spec.port },
        this.opts.tls,
        (buf, remote, local) => this.deliver(parseSipMessage(buf, { maxBytes: this.maxBytes }), remote, local),
        this.log,
      );
      this.websockets.push(l);
      return;
    }
    let server: net.Server;
    if (spec.protocol === 'tls') {
      if (this.opts.tls === undefined) throw new TandemError('CONFIG', `--listen-sip: ${where} needs --tls-cert and --tls-key`);
      server = tls.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key });
      server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'TLS handshake failed'));
    } else server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new TandemError('CONFIG', `--listen-sip: cannot listen on ${where}: ${err.message}`)));
      server.listen(spec.port, spec.address, () => resolve());
    });
    const addr = server.address() as net.AddressInfo;
    const local: SipEndpoint = { protocol: spec.protocol, address: spec.address, port: addr.port };
    server.on(spec.protocol === 'tls' ? 'secureConnection' : 'connection', (socket: net.Socket) => {
      const remote: SipEndpoint = { protocol: spec.protocol, address: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 };
      this.adopt(socket, remote, local);
    });
    this.servers.push({ server, local });
  }

  private adopt(socket: net.Socket, remote: SipEndpoint, local: SipEndpoint): StreamConnection {
    const c = new StreamConnection(socket, remote, local, this, this.opts.idleMs ?? 600_000);
    this.connections.set(endpointKey(remote), c);
    this.counters.connections++;
    return c;
  }

  /** Called by a connection when it closes. */
  forget(c: StreamConnection): void {
    const key = endpointKey(c.remote);
    if (this.connections.get(key) === c) this.connections.delete(key);
  }

  private onDatagram(buf: Buffer, source: SipEndpoint, local: SipEndpoint): void {
    // RFC 5626 §4.4.1 keepalives (CRLF) are not messages.
    if (buf.length <= 4 && buf.toString('latin1').trim() === '') return;
    this.deliver(parseSipMessage(buf, { maxBytes: this.maxBytes }), source, local);
  }

  /** One parsed (or failed) message from any transport. */
  deliver(r: ParseResult | { ok: false; error: SipParseError }, source: SipEndpoint, local: SipEndpoint): void {
    if (!r.ok) {
      this.counters.malformed++;
      this.rejectMalformed(r.error, source);
      return;
    }
    this.counters.received++;
    const message = r.message;
    if (message.kind === 'request') this.markReceived(message, source);
    try {
      this.opts.onMessage({ message, source, local });
    } catch (err) {
      // A fault above must not take the socket down with it.
      this.log.error({ err: errorMessage(err), source: `${source.address}:${source.port}` }, 'message handler failed');
    }
  }

  /** RFC 3261 §18.2.1 received=, RFC 3581 rport= on the top Via of a request. */
  private markReceived(msg: SipMessage, source: SipEndpoint): void {
    const i = msg.headers.findIndex((h) => /^(via|v)$/i.test(h.name));
    if (i < 0) return;
    let via;
    try {
      via = getVias(msg)[0];
    } catch {
      return;
    }
    if (via === undefined) return;
    const line = msg.headers[i].value;
    // The top Via may share a line with others: edit only the first element.
    const comma = firstTopLevelComma(line);
    let first = comma < 0 ? line : line.slice(0, comma);
    const tail = comma < 0 ? '' : line.slice(comma);
    if (via.host.replace(/^\[|\]$/g, '') !== source.address && via.received === undefined) first += `;received=${source.address}`;
    if (via.rport === null) first = first.replace(/;\s*rport(?=\s*(;|$))/i, `;rport=${source.port}`);
    msg.headers[i] = { name: msg.headers[i].name, value: first + tail };
  }

  private rejectMalformed(error: SipParseError, source: SipEndpoint): void {
    const ctx = error.response;
    if (ctx === undefined) {
      this.counters.dropped++;
      this.log.warn({ source: `${source.protocol}:${source.address}:${source.port}`, reason: error.reason }, 'unusable SIP message dropped');
      return;
    }
    this.counters.rejected++;
    this.log.warn({ source: `${source.protocol}:${source.address}:${source.port}`, callId: ctx.callId, reason: error.reason, status: error.status }, 'malformed request rejected');
    const to = /;\s*tag=/i.test(ctx.to) ? ctx.to : `${ctx.to};tag=malformed`;
    const res: SipResponse = {
      kind: 'response',
      version: 'SIP/2.0',
      status: error.status,
      reason: error.reason.replace(/[\r\n]/g, ' '),
      headers: [
        ...ctx.via.map((v) => ({ name: 'Via', value: v })),
        { name: 'From', value: ctx.from },
        { name: 'To', value: to },
        { name: 'Call-ID', value: ctx.callId },
        { name: 'CSeq', value: ctx.cseq },
      ],
      body: Buffer.alloc(0),
    };
    this.send(res, source).catch((err: unknown) => this.log.debug({ err: errorMessage(err) }, 'could not answer a malformed request'));
  }

  async send(message: SipMessage, destination: SipEndpoint): Promise<void> {
    const buf = serializeSipMessage(message);
    if (destination.protocol === 'ws' || destination.protocol === 'wss') {
      for (const l of this.websockets) if (await l.send(destination, buf)) {
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
    const p = new Promise<StreamConnection>((resolve, reject) => {
      const socket =
        to.protocol === 'tls'
          ? tls.connect({
              host: to.address,
              port: to.port,
              ...(this.opts.tls?.ca !== undefined ? { ca: this.opts.tls.ca } : {}),
              // Lab and SBC deployments talk to peers by IP with self-signed certificates; verification
              // is opt-in until Tandem has a CA setting per route.
              rejectUnauthorized: this.opts.tls?.rejectUnauthorized ?? false,
            })
          : net.connect(to.port, to.address);
      const ready = to.protocol === 'tls' ? 'secureConnect' : 'connect';
      socket.once(ready, () => {
        socket.removeAllListeners('error');
        resolve(this.adopt(socket, to, local));
      });
      socket.once('error', (err) => reject(new Error(`${to.protocol} connect to ${to.address}:${to.port} failed: ${err.message}`)));
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

function firstTopLevelComma(s: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) return i;
  }
  return -1;
}
