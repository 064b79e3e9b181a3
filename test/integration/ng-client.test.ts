import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { NgClient, NgClientError } from '../../src/control/ng-client.js';
import { NgMediaClient } from '../../src/control/ng-media-client.js';
import { parseNgDatagram, formatNgDatagram } from '../../src/control/ng-wire.js';
import type { BDict } from '../../src/control/bencode.js';

interface Received {
  raw: Buffer;
  cookie: string;
  message: BDict;
  from: dgram.RemoteInfo;
}

/**
 * A tiny fake ng server on 127.0.0.1, port 0. `reply` decides per received datagram what to send
 * back (nothing when it returns undefined); every datagram is recorded, and `next()` awaits one.
 */
class FakeNgServer {
  readonly socket = dgram.createSocket('udp4');
  readonly received: Received[] = [];
  private waiters: ((r: Received) => void)[] = [];

  constructor(private reply: (r: Received, n: number) => Buffer | undefined) {}

  async start(): Promise<number> {
    this.socket.bind(0, '127.0.0.1');
    await once(this.socket, 'listening');
    this.socket.on('message', (raw, from) => {
      const { cookie, message } = parseNgDatagram(raw);
      const r = { raw, cookie, message, from };
      this.received.push(r);
      this.waiters.shift()?.(r);
      const out = this.reply(r, this.received.length);
      if (out) this.socket.send(out, from.port, from.address);
    });
    return (this.socket.address() as AddressInfo).port;
  }

  next(): Promise<Received> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  send(buf: Buffer, to: dgram.RemoteInfo): void {
    this.socket.send(buf, to.port, to.address);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

const pong = (r: Received): Buffer => formatNgDatagram(r.cookie, { result: 'pong', echo: r.message.command ?? '' });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function setup(reply: (r: Received, n: number) => Buffer | undefined, opts: { timeoutMs?: number; retries?: number } = {}): Promise<{ server: FakeNgServer; client: NgClient }> {
  const server = new FakeNgServer(reply);
  const port = await server.start();
  const client = new NgClient({ host: '127.0.0.1', port, bindAddress: '127.0.0.1', ...opts });
  cleanups.push(() => server.close(), () => client.close());
  return { server, client };
}

async function rejection(p: Promise<unknown>): Promise<NgClientError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(NgClientError);
    return e as NgClientError;
  }
  throw new Error('expected a rejection');
}

describe('NgClient over UDP', () => {
  it('matches concurrent replies to their requests by cookie, whatever the order', async () => {
    const held: Received[] = [];
    const { server, client } = await setup((r) => {
      held.push(r);
      if (held.length === 3) for (const h of [...held].reverse()) server.send(formatNgDatagram(h.cookie, { result: 'ok', n: h.message.n ?? -1 }), h.from);
      return undefined;
    });
    const replies = await Promise.all([1, 2, 3].map((n) => client.request({ command: 'query', n })));
    expect(replies).toEqual([1, 2, 3].map((n) => ({ result: 'ok', n })));
    const cookies = server.received.map((r) => r.cookie);
    expect(new Set(cookies).size).toBe(3);
    for (const c of cookies) expect(c.length).toBeLessThanOrEqual(64);
    expect(client.pendingCount).toBe(0);
  });

  it('resolves an error reply rather than rejecting: result "error" is the caller’s to read', async () => {
    const { client } = await setup((r) => formatNgDatagram(r.cookie, { result: 'error', 'error-reason': 'Unknown call-id' }));
    await expect(client.request({ command: 'delete', 'call-id': 'x' })).resolves.toEqual({ result: 'error', 'error-reason': 'Unknown call-id' });
  });

  it('ignores replies with a foreign cookie and keeps waiting for its own', async () => {
    const { server, client } = await setup((r) => {
      server.send(formatNgDatagram('someone-else_1', { result: 'pong' }), r.from);
      server.send(Buffer.from('garbage without a space'), r.from);
      return pong(r);
    });
    await expect(client.request({ command: 'ping' })).resolves.toEqual({ result: 'pong', echo: 'ping' });
    await new Promise((r) => setImmediate(r));
    expect(client.strayReplies).toBeGreaterThanOrEqual(1);
  });

  it('retransmits the very same bytes when the first request is dropped', async () => {
    const { server, client } = await setup((r, n) => (n === 1 ? undefined : pong(r)), { timeoutMs: 50, retries: 5 });
    const reply = await client.request({ command: 'ping' });
    expect(reply).toEqual({ result: 'pong', echo: 'ping' });
    expect(server.received.length).toBe(2);
    expect(server.received[1].raw.equals(server.received[0].raw)).toBe(true);
    expect(server.received[1].from.port).toBe(server.received[0].from.port);
    expect(client.retransmissions).toBe(1);
  });

  it('resolves once and ignores the late reply to a retransmission', async () => {
    const { server, client } = await setup(() => undefined, { timeoutMs: 40, retries: 5 });
    const p = client.request({ command: 'ping' });
    const first = await server.next();
    await server.next(); // the retransmission
    server.send(pong(first), first.from);
    server.send(pong(first), first.from);
    await expect(p).resolves.toEqual({ result: 'pong', echo: 'ping' });
    await expect.poll(() => client.strayReplies).toBe(1);
  });

  it('rejects with NG_TIMEOUT after the last try', async () => {
    const { server, client } = await setup(() => undefined, { timeoutMs: 30, retries: 3 });
    const started = Date.now();
    const e = await rejection(client.request({ command: 'offer' }));
    expect(e.code).toBe('NG_TIMEOUT');
    expect(e.message).toMatch(/no reply to offer .* after 3 tries × 30 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 30 - 5);
    expect(server.received.length).toBe(3);
    expect(client.pendingCount).toBe(0);
  });

  it('rejects a reply with its cookie but a broken body as NG_BAD_REPLY', async () => {
    const { client } = await setup((r) => Buffer.from(`${r.cookie} d6:result`));
    const e = await rejection(client.request({ command: 'ping' }));
    expect(e.code).toBe('NG_BAD_REPLY');
  });

  it('close() rejects every pending request and later requests', async () => {
    const { server, client } = await setup(() => undefined);
    const a = client.request({ command: 'offer' });
    const b = client.request({ command: 'answer' });
    await server.next();
    await server.next();
    expect(client.pendingCount).toBe(2);
    await client.close();
    for (const e of await Promise.all([rejection(a), rejection(b)])) expect(e.code).toBe('NG_CLOSED');
    expect((await rejection(client.request({ command: 'ping' }))).code).toBe('NG_CLOSED');
    await client.close(); // idempotent
  });

  it('close() right after request() — while the socket is still binding — rejects it too', async () => {
    const { client } = await setup(pong);
    const p = client.request({ command: 'ping' });
    const closed = client.close();
    expect((await rejection(p)).code).toBe('NG_CLOSED');
    await closed;
  });

  it('refuses an oversized request up front', async () => {
    const { client } = await setup(pong);
    const e = await rejection(client.request({ command: 'offer', sdp: 'x'.repeat(70000) }));
    expect(e.code).toBe('NG_SEND');
  });

  it('validates its options', () => {
    expect(() => new NgClient({ host: '127.0.0.1', port: 0 })).toThrow(RangeError);
    expect(() => new NgClient({ host: 'localhost', port: 1 })).toThrow(/must be an IP address/);
    expect(() => new NgClient({ host: '0.0.0.0', port: 1 })).toThrow(/not an address replies can come from/);
    expect(() => new NgClient({ host: '127.0.0.1', port: 1, retries: 0 })).toThrow(RangeError);
    expect(() => new NgClient({ host: '127.0.0.1', port: 1, timeoutMs: 0 })).toThrow(RangeError);
  });

  // Issue 10, "Hostile peers": whoever can reach the client's port must not answer for the server.
  it('ignores a spoofed reply from another port, even one carrying the pending cookie; the real reply is then accepted', async () => {
    const spoofer = dgram.createSocket('udp4');
    spoofer.bind(0, '127.0.0.1');
    await once(spoofer, 'listening');
    cleanups.push(() => new Promise((r) => spoofer.close(() => r())));
    let release: (() => void) | undefined;
    const { server, client } = await setup((r) => {
      // The attacker races the server: a forged answer and a broken body, both with the live cookie.
      spoofer.send(formatNgDatagram(r.cookie, { result: 'ok', forged: 1 }), r.from.port, r.from.address);
      spoofer.send(Buffer.from(`${r.cookie} d6:result`), r.from.port, r.from.address);
      release = () => server.send(formatNgDatagram(r.cookie, { result: 'ok', real: 1 }), r.from);
      return undefined;
    });
    const reply = client.request({ command: 'query', 'call-id': 'c' });
    await server.next();
    while (client.foreignReplies < 2) await new Promise((r) => setImmediate(r));
    expect(client.pendingCount).toBe(1); // neither resolved nor rejected by the spoofer
    release?.();
    await expect(reply).resolves.toEqual({ result: 'ok', real: 1 });
    expect(client.foreignReplies).toBe(2);
  });

  it('uses unpredictable cookies: 96 random bits each, no counter', async () => {
    const { server, client } = await setup(pong);
    for (let i = 0; i < 20; i++) await client.request({ command: 'ping' });
    const cookies = server.received.map((r) => r.cookie);
    expect(new Set(cookies).size).toBe(20);
    for (const c of cookies) expect(c).toMatch(/^[A-Za-z0-9_-]{16}$/);
    // A counter-based scheme shares a prefix between consecutive requests; random ones almost never do.
    for (let i = 1; i < cookies.length; i++) expect(cookies[i].slice(0, 4)).not.toBe(cookies[i - 1].slice(0, 4));
  });

  it('NgMediaClient cuts a huge error reason from the server before it reaches logs and SIP headers', async () => {
    const server = new FakeNgServer((r) => formatNgDatagram(r.cookie, { result: 'error', 'error-reason': `Unknown call-id ${'x'.repeat(20_000)}` }));
    const port = await server.start();
    const media = new NgMediaClient({ host: '127.0.0.1', port, bindAddress: '127.0.0.1' });
    cleanups.push(() => server.close(), () => media.close());
    const err = await media.query({ callId: 'c' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^Unknown call-id x+…/);
    expect((err as Error).message.length).toBeLessThan(400);
  });

  it('NgMediaClient names a reply without a usable result instead of printing [object Object]', async () => {
    const server = new FakeNgServer((r) => formatNgDatagram(r.cookie, r.message.command === 'query' ? {} : { result: { nested: 'x' } }));
    const port = await server.start();
    const media = new NgMediaClient({ host: '127.0.0.1', port, bindAddress: '127.0.0.1' });
    cleanups.push(() => server.close(), () => media.close());
    await expect(media.query({ callId: 'c' })).rejects.toThrow(/^a reply without a result/);
    await expect(media.list()).rejects.toThrow(/^a reply without a result/);
  });
});
