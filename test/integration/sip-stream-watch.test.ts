import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { SipTransportLayer } from '../../src/sip/transport/transport-layer.js';
import type { SipEndpoint, StreamWatcher } from '../../src/sip/transport/types.js';
import { parseSipMessage } from '../../src/sip/parse.js';
import type { SipRequest } from '../../src/sip/message.js';
import { itWithPeers, peerPath } from '../helpers/peers.js';

/**
 * The transport's half of RFC 3261 §18.4 on real loopback sockets: a watcher handed to send() is
 * attached to the TCP connection the message went out on and told once if that connection goes;
 * one that stopped watching is not; a connection someone still waits on is not closed as idle.
 */
let layer: SipTransportLayer | undefined;
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
const browsers: WebSocket[] = [];

afterEach(async () => {
  await layer?.close();
  layer = undefined;
  for (const s of sockets) s.destroy();
  sockets.length = 0;
  for (const b of browsers) b.terminate();
  browsers.length = 0;
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  servers.length = 0;
});

async function start(idleMs?: number): Promise<SipTransportLayer> {
  layer = await SipTransportLayer.start({
    listen: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
    ...(idleMs !== undefined ? { limits: { idleMs } } : {}),
    log: pino({ level: 'silent' }),
    onMessage: () => undefined,
  });
  return layer;
}

/** A TCP peer that keeps every connection it accepts and does nothing unless told. */
async function peer(): Promise<{ to: SipEndpoint; accepted: net.Socket[] }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    accepted.push(s);
    sockets.push(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { to: { protocol: 'tcp', address: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, accepted };
}

const INVITE = parseSipMessage(Buffer.from('INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKw1\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: w-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n'));
if (!INVITE.ok) throw new Error('fixture');
const invite = INVITE.message as SipRequest;

function watcher(): StreamWatcher & { errors: Error[]; stop(): void } {
  let watching = true;
  const w = {
    errors: [] as Error[],
    get watching() {
      return watching;
    },
    connectionLost(err: Error) {
      w.errors.push(err);
    },
    stop() {
      watching = false;
      w.detach?.();
    },
  } as StreamWatcher & { errors: Error[]; stop(): void };
  return w;
}

describe('stream watchers (RFC 3261 §18.4)', () => {
  it('the peer closes: each watcher still waiting hears a ConnectionLostError once; one that stopped watching does not', async () => {
    const t = await start();
    const { to, accepted } = await peer();
    const waiting = watcher();
    const answered = watcher();
    await t.send(invite, to, waiting);
    await t.send(invite, to, answered);
    expect(accepted).toHaveLength(1);
    expect(t.connectionTo(to)?.watchers.size).toBe(2);
    answered.stop();
    expect(t.connectionTo(to)?.watchers.size).toBe(1);
    accepted[0].end();
    await expect.poll(() => waiting.errors.length).toBe(1);
    expect(waiting.errors[0]).toMatchObject({ name: 'ConnectionLostError', code: 'CONNECTION_LOST' });
    expect(waiting.errors[0].message).toBe(`tcp:127.0.0.1:${to.port} connection closed by the peer before the final response`);
    expect(answered.errors).toEqual([]);
    expect(t.stats().transactionsLost).toBe(1);
    // A new request opens a new connection (§18.1.1) and is watched there.
    const next = watcher();
    await t.send(invite, to, next);
    await expect.poll(() => accepted.length).toBe(2);
    expect(t.connectionTo(to)?.watchers.size).toBe(1);
    expect(waiting.errors).toHaveLength(1);
  });

  it('the peer resets: the error names the failure', async () => {
    const t = await start();
    const { to, accepted } = await peer();
    const w = watcher();
    await t.send(invite, to, w);
    await expect.poll(() => accepted.length).toBe(1);
    accepted[0].resetAndDestroy();
    await expect.poll(() => w.errors.length).toBe(1);
    expect(w.errors[0].message).toMatch(/connection failed \(.*ECONNRESET\)/);
  });

  it('a connection a watcher still waits on is not closed as idle; once it stops watching, it is', async () => {
    const t = await start(200);
    const watched = await peer();
    const control = await peer();
    const w = watcher();
    await t.send(invite, watched.to, w);
    // Positive control, armed after the watched one: a connection nobody waits on is closed as idle.
    await t.send(invite, control.to);
    await expect.poll(() => t.stats().idleTimeouts, { timeout: 3000 }).toBe(1);
    // Counted as the timer fires; the socket's close (which forgets it) follows a turn later.
    await expect.poll(() => t.connectionTo(control.to)).toBeUndefined();
    expect(t.connectionTo(watched.to)?.socket.destroyed).toBe(false);
    w.stop();
    await expect.poll(() => t.stats().idleTimeouts, { timeout: 3000 }).toBe(2);
    await expect.poll(() => t.connectionTo(watched.to)).toBeUndefined();
    expect(w.errors).toEqual([]);
  });
});

/** A layer with a WebSocket listener; `sources` are the remote ends requests arrived from (a browser's flow). */
async function startWs(limits?: { idleMs: number; wsPingMs: number }, tls?: { cert: string; key: string }): Promise<{ t: SipTransportLayer; port: number; sources: SipEndpoint[] }> {
  const sources: SipEndpoint[] = [];
  const protocol = tls !== undefined ? 'wss' : 'ws';
  layer = await SipTransportLayer.start({
    listen: [{ protocol, address: '127.0.0.1', port: 0 }],
    ...(tls !== undefined ? { tls } : {}),
    ...(limits !== undefined ? { limits } : {}),
    log: pino({ level: 'silent' }),
    onMessage: (m) => sources.push(m.source),
  });
  const ws = layer.listeners().find((l) => l.protocol === protocol);
  if (ws === undefined) throw new Error(`no ${protocol} listener`);
  return { t: layer, port: ws.port, sources };
}

/** A browser: connects with the sip subprotocol and sends one OPTIONS, so the layer knows its flow; returns that flow and what it receives. */
async function browser(port: number, sources: SipEndpoint[], secure = false): Promise<{ ws: WebSocket; flow: SipEndpoint; got: string[] }> {
  // The WSS listener's certificate is self-signed: verification is not this test's subject.
  const ws = secure ? new WebSocket(`wss://127.0.0.1:${port}`, 'sip', { rejectUnauthorized: false }) : new WebSocket(`ws://127.0.0.1:${port}`, 'sip');
  browsers.push(ws);
  await new Promise<void>((res, rej) => ws.once('open', () => res()).once('error', rej));
  const got: string[] = [];
  ws.on('message', (d: Buffer) => got.push(d.toString()));
  const before = sources.length;
  ws.send(`OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS b.invalid;branch=z9hG4bKo${before}\r\nMax-Forwards: 70\r\nFrom: <sip:b@b.invalid>;tag=b\r\nTo: <sip:127.0.0.1>\r\nCall-ID: o-${before}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
  await expect.poll(() => sources.length).toBe(before + 1);
  return { ws, flow: sources[before], got };
}

describe('stream watchers over WebSocket (RFC 7118, RFC 3261 §18.4)', () => {
  it('the browser closes its WebSocket: the watcher still waiting hears a ConnectionLostError once, counted; one that stopped watching does not', async () => {
    const { t, port, sources } = await startWs();
    const { ws, flow, got } = await browser(port, sources);
    const waiting = watcher();
    const answered = watcher();
    await t.send(invite, flow, waiting);
    await t.send(invite, flow, answered);
    await expect.poll(() => got.length).toBe(2);
    answered.stop();
    ws.close();
    await expect.poll(() => waiting.errors.length).toBe(1);
    expect(waiting.errors[0]).toMatchObject({ name: 'ConnectionLostError', code: 'CONNECTION_LOST' });
    expect(waiting.errors[0].message).toBe(`ws:127.0.0.1:${flow.port} connection closed by the peer before the final response`);
    expect(answered.errors).toEqual([]);
    expect(t.stats().transactionsLost).toBe(1);
  });

  it('a browser that is killed (TCP reset, no close frame): the same', async () => {
    const { t, port, sources } = await startWs();
    const { ws, flow, got } = await browser(port, sources);
    const w = watcher();
    await t.send(invite, flow, w);
    await expect.poll(() => got.length).toBe(1);
    ws.terminate();
    await expect.poll(() => w.errors.length).toBe(1);
    expect(w.errors[0]).toMatchObject({ code: 'CONNECTION_LOST' });
    expect(t.stats().transactionsLost).toBe(1);
  });

  itWithPeers('over WSS (TLS): the same', ['openssl'], async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-wss-watch-'));
    try {
      const openssl = peerPath('openssl') ?? 'openssl';
      execFileSync(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=tandem', '-days', '2', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
      const { t, port, sources } = await startWs(undefined, { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') });
      const { ws, flow, got } = await browser(port, sources, true);
      expect(flow.protocol).toBe('wss');
      const w = watcher();
      await t.send(invite, flow, w);
      await expect.poll(() => got.length).toBe(1);
      ws.close();
      await expect.poll(() => w.errors.length).toBe(1);
      expect(w.errors[0].message).toBe(`wss:127.0.0.1:${flow.port} connection closed by the peer before the final response`);
      expect(t.stats().transactionsLost).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a WebSocket a watcher still waits on is not closed as idle; once it stops watching, it is', async () => {
    // Pings far apart: only SIP messages could keep a connection from idling here.
    const { t, port, sources } = await startWs({ idleMs: 200, wsPingMs: 60_000 });
    const watched = await browser(port, sources);
    const control = await browser(port, sources);
    const w = watcher();
    await t.send(invite, watched.flow, w);
    // Positive control, armed after the watched one: a WebSocket nobody waits on is closed as idle.
    await t.send(invite, control.flow);
    await expect.poll(() => t.stats().idleTimeouts, { timeout: 3000 }).toBe(1);
    await expect.poll(() => control.ws.readyState).toBe(WebSocket.CLOSED);
    expect(watched.ws.readyState).toBe(WebSocket.OPEN);
    w.stop();
    await expect.poll(() => t.stats().idleTimeouts, { timeout: 3000 }).toBe(2);
    await expect.poll(() => watched.ws.readyState).toBe(WebSocket.CLOSED);
    expect(w.errors).toEqual([]);
    expect(t.stats().transactionsLost).toBe(0);
  });
});
