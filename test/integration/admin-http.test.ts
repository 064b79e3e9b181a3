import { describe, it, expect, afterEach } from 'vitest';
import { connect, createServer, type Socket } from 'node:net';
import { startTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { pino } from 'pino';
import { AdminHttpServer } from '../../src/ops/admin-http.js';

/** The admin listener's limits on real loopback sockets: connections, slow requests, odd bytes. */
let server: AdminHttpServer | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = undefined;
});

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
    sockets.push(s);
  });
}

/** Everything the socket gets until it closes (bounded by `ms`). */
function readAll(s: Socket, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const timer = setTimeout(() => resolve(got), ms);
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

async function start(limits: Partial<{ maxConnections: number; requestTimeoutMs: number; maxBodyBytes: number }>): Promise<number> {
  server = new AdminHttpServer(() => ({ status: 200, json: { ok: true } }), pino({ level: 'silent' }), limits);
  return (await server.listen('127.0.0.1', 0)).port;
}

describe('admin HTTP limits', () => {
  it('a connection over the cap is closed at accept and counted; the ones within it are served', async () => {
    const port = await start({ maxConnections: 2 });
    const a = await open(port);
    const b = await open(port);
    const c = await open(port);
    const closed = readAll(c);
    expect(await closed).toBe('');
    await expect.poll(() => server!.counters.refusedConnections).toBe(1);
    const reply = readAll(a, 2000);
    a.write('GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(await reply).toMatch(/^HTTP\/1\.1 200 OK/);
    b.destroy();
  });

  it('a request still incomplete at the deadline gets 408 and is counted (slowloris)', async () => {
    const port = await start({ requestTimeoutMs: 300 });
    const s = await open(port);
    const got = readAll(s, 5000);
    s.write('GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    expect(await got).toMatch(/^HTTP\/1\.1 408/);
    expect(server!.counters.timeouts).toBe(1);
  });

  it('bytes that are not HTTP get 400, a header block over 8 KiB is refused, and the listener goes on', async () => {
    const port = await start({});
    const s1 = await open(port);
    const g1 = readAll(s1);
    s1.write('\x16\x03\x01\x02\x00garbage\r\n\r\n');
    expect(await g1).toMatch(/^HTTP\/1\.1 400/);
    const s2 = await open(port);
    const g2 = readAll(s2);
    s2.write(`GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`);
    expect(await g2).toMatch(/^HTTP\/1\.1 431/);
    expect(server!.counters.badRequests).toBe(2);
    const s3 = await open(port);
    const g3 = readAll(s3);
    s3.write('GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(await g3).toMatch(/^HTTP\/1\.1 200/);
  });

  it('a request target that is not a URL or not %-decodable gets 400 and is counted, not a 500', async () => {
    const port = await start({});
    for (const target of ['http://[', '/api/%E0%A4%A']) {
      const s = await open(port);
      const got = readAll(s);
      s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect(await got, target).toMatch(/^HTTP\/1\.1 400 [^]*bad request/);
    }
    expect(server!.counters.badRequests).toBe(2);
    expect(server!.counters.errors).toBe(0);
  });

  it('a streamed (chunked) body over the limit gets its 413 and the connection ends, as a declared one does', async () => {
    const port = await start({ maxBodyBytes: 100 });
    for (const head of ['Transfer-Encoding: chunked', 'Content-Length: 200']) {
      const s = await open(port);
      const got = readAll(s);
      s.write(`POST /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${head}\r\n\r\n`);
      s.write(head.startsWith('Transfer') ? `c8\r\n${'a'.repeat(200)}\r\n` : 'a'.repeat(200));
      const reply = await got;
      expect(reply, head).toMatch(/^HTTP\/1\.1 413 [^]*Connection: close[^]*request body over 100 bytes/i);
    }
    expect(server!.counters.tooLarge).toBe(2);
  });

  it('a --listen-http port in use is a configuration error naming the option, and nothing is left running', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      const base = 10000 + Math.floor(Math.random() * 45) * 400;
      await expect(
        startTandem({ ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }], listenHttp: { address: '127.0.0.1', port }, portMin: base, portMax: base + 99, numThreads: 1, logLevel: 'silent' }, pino({ level: 'silent' })),
      ).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(new RegExp(`^--listen-http: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`)) });
    } finally {
      taken.close();
    }
  });
});
