import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../common/log.js';
import { TandemError } from '../../common/errors.js';
import type { SipEndpoint } from './types.js';

/**
 * SIP over WebSocket (RFC 7118): an HTTP(S) listener that upgrades to WebSocket with the `sip`
 * subprotocol. Each WebSocket message carries exactly one SIP message (§5), so framing is the
 * datagram kind. Connections are inbound only (browsers connect to us); replies and in-dialog
 * requests go back over the connection the peer opened.
 */
export class WebSocketListener {
  private readonly peers = new Map<string, WebSocket>();

  private constructor(
    readonly local: SipEndpoint,
    private readonly http: http.Server | https.Server,
    private readonly wss: WebSocketServer,
  ) {}

  static async start(
    spec: { protocol: 'ws' | 'wss'; address: string; port: number },
    tls: { cert: string; key: string } | undefined,
    onMessage: (data: Buffer, remote: SipEndpoint, local: SipEndpoint) => void,
    log: Logger,
  ): Promise<WebSocketListener> {
    const where = `${spec.protocol}:${spec.address}:${spec.port}`;
    if (spec.protocol === 'wss' && tls === undefined) throw new TandemError('CONFIG', `--listen-sip: ${where} needs --tls-cert and --tls-key`);
    const server = spec.protocol === 'wss' && tls !== undefined ? https.createServer({ cert: tls.cert, key: tls.key }) : http.createServer();
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
      maxPayload: 64 * 1024,
      // RFC 7118 §4: the handshake must negotiate the "sip" subprotocol.
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    const listener = new WebSocketListener(local, server, wss);
    wss.on('connection', (ws, req) => {
      if (ws.protocol !== 'sip') {
        ws.close(1002, 'Sec-WebSocket-Protocol must be sip');
        return;
      }
      const remote: SipEndpoint = { protocol: spec.protocol, address: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: req.socket.remotePort ?? 0 };
      const key = `${remote.address}|${remote.port}`;
      listener.peers.set(key, ws);
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        onMessage(buf, remote, local);
      });
      ws.on('close', () => {
        if (listener.peers.get(key) === ws) listener.peers.delete(key);
      });
      ws.on('error', (err) => log.debug({ err: err.message, remote: key }, 'WebSocket error'));
    });
    return listener;
  }

  /** Sends over the connection the peer opened; false if there is none (we cannot dial a browser). */
  send(remote: SipEndpoint, data: Buffer): Promise<boolean> {
    const ws = this.peers.get(`${remote.address}|${remote.port}`);
    if (ws === undefined || ws.readyState !== ws.OPEN) return Promise.resolve(false);
    return new Promise((resolve, reject) => ws.send(data, (err) => (err ? reject(err) : resolve(true))));
  }

  get connections(): number {
    return this.peers.size;
  }

  async close(): Promise<void> {
    for (const ws of this.peers.values()) ws.terminate();
    this.peers.clear();
    await new Promise<void>((r) => this.wss.close(() => r()));
    await new Promise<void>((r) => this.http.close(() => r()));
  }
}
