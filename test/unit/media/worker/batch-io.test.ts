import { describe, it, expect, beforeAll } from 'vitest';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { BatchIo } from '../../../../src/media/worker/batch-io.js';
import { loadUdpBatch, addonPath } from '../../../../src/media/worker/native-addon.js';
import { safeSend } from '../../../../src/media/worker/guard.js';
import type { MediaRemoteInfo, MediaSocket } from '../../../../src/media/worker/media-socket.js';
import { describeWithPeers } from '../../../helpers/peers.js';

/** Batch sockets carry their addon id (for localPort). */
type BatchSocketLike = MediaSocket & { id: number };

/** A plain dgram peer on loopback that records what reaches it. */
async function peer(type: 'udp4' | 'udp6' = 'udp4', address = '127.0.0.1'): Promise<{ sock: dgram.Socket; port: number; got: Buffer[]; wait(n: number): Promise<Buffer[]> }> {
  const sock = dgram.createSocket(type);
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  return {
    sock,
    port: sock.address().port,
    got,
    async wait(n) {
      // Bounded: 200 polls of 10 ms.
      for (let i = 0; i < 200 && got.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      return got;
    },
  };
}

function sendFrom(p: { sock: dgram.Socket }, bytes: Buffer, port: number, address = '127.0.0.1'): Promise<void> {
  return new Promise((r, j) => p.sock.send(bytes, port, address, (e) => (e ? j(e) : r())));
}

/** What a batch socket's handler saw: copies, since the ring is reused. */
function recorder(sock: MediaSocket): { seen: { bytes: string; rinfo: MediaRemoteInfo; same: boolean }[]; wait(n: number): Promise<void> } {
  const seen: { bytes: string; rinfo: MediaRemoteInfo; same: boolean }[] = [];
  let last: MediaRemoteInfo | undefined;
  sock.onMessage((msg, rinfo) => {
    seen.push({ bytes: msg.toString('latin1'), rinfo: { ...rinfo }, same: last === rinfo });
    last = rinfo;
  });
  return {
    seen,
    async wait(n) {
      for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

describeWithPeers('batched UDP backend (native/udp_batch.c through batch-io.ts)', ['addon'], () => {
  // One addon instance per thread: one BatchIo for the whole file.
  let io: BatchIo;
  beforeAll(() => {
    const load = loadUdpBatch();
    if (!load.ok) throw new Error(load.reason);
    io = new BatchIo(load.addon);
  });

  it('delivers a datagram with its source, and an addressed reply reaches the sender', async () => {
    const s = await io.bind(4, '127.0.0.1', 0);
    const port = io.addon.localPort((s as BatchSocketLike).id);
    const p = await peer();
    const rec = recorder(s);
    s.onMessage((msg, rinfo) => {
      rec.seen.push({ bytes: msg.toString('latin1'), rinfo: { ...rinfo }, same: false });
      s.send(Buffer.from(`echo:${msg.toString('latin1')}`), msg.length + 5, rinfo.port, rinfo.address);
    });
    await sendFrom(p, Buffer.from('hello'), port);
    expect(await p.wait(1)).toEqual([Buffer.from('echo:hello')]);
    expect(rec.seen[0].rinfo).toEqual({ address: '127.0.0.1', port: p.port, family: 'IPv4', size: 5 });
    s.close();
    p.sock.close();
  });

  it('hands every packet of a drain the same source object (read it, never keep it)', async () => {
    const s = await io.bind(4, '127.0.0.1', 0);
    const port = io.addon.localPort((s as BatchSocketLike).id);
    const a = await peer();
    const b = await peer('udp4', '127.0.0.2');
    const rec = recorder(s);
    await sendFrom(a, Buffer.from('a'), port);
    await sendFrom(b, Buffer.from('b'), port);
    await rec.wait(2);
    expect(rec.seen.map((x) => `${x.bytes}@${x.rinfo.address}:${x.rinfo.port}`).sort()).toEqual([`a@127.0.0.1:${a.port}`, `b@127.0.0.2:${b.port}`]);
    expect(rec.seen[1].same).toBe(true);
    s.close();
    a.sock.close();
    b.sock.close();
  });

  it('sends queued for one socket leave in order; a send outside a drain leaves on the next microtask', async () => {
    const s = await io.bind(4, '127.0.0.1', 0);
    const p = await peer();
    for (let i = 0; i < 20; i++) s.send(Buffer.from(`m${i}`), `m${i}`.length, p.port, '127.0.0.1');
    const got = await p.wait(20);
    expect(got.map((b) => b.toString())).toEqual(Array.from({ length: 20 }, (_v, i) => `m${i}`));
    s.close();
    p.sock.close();
  });

  it('connect() makes unaddressed sends reach the peer; disconnect() goes back to addressed ones', async () => {
    const s = await io.bind(4, '127.0.0.1', 0);
    const p = await peer();
    let done = false;
    s.connect(p.port, '127.0.0.1', () => (done = true));
    expect(done).toBe(true);
    s.send(Buffer.from('connected'), 9);
    expect((await p.wait(1))[0].toString()).toBe('connected');
    s.disconnect();
    s.send(Buffer.from('addressed'), 9, p.port, '127.0.0.1');
    expect((await p.wait(2))[1].toString()).toBe('addressed');
    s.close();
    p.sock.close();
  });

  it('a datagram longer than a slot is counted and dropped; the next one is delivered', async () => {
    const s = await io.bind(4, '127.0.0.1', 0);
    const port = io.addon.localPort((s as BatchSocketLike).id);
    const p = await peer();
    const rec = recorder(s);
    const before = io.counters().truncated;
    await sendFrom(p, Buffer.alloc(io.addon.slotData + 1, 0x41), port);
    await sendFrom(p, Buffer.from('small'), port);
    await rec.wait(1);
    expect(rec.seen.map((x) => x.bytes)).toEqual(['small']);
    expect(io.counters().truncated).toBe(before + 1);
    s.close();
    p.sock.close();
  });

  it('refuses a bad send with a throw the guard counts (bad address, port 0, longer than a slot), never crashing', async () => {
    const s = await io.bind(4, '127.0.0.1', 0);
    const p = await peer();
    const before = io.counters().sendDropped;
    expect(safeSend(s, 'c1', Buffer.from('x'), 1, { port: p.port, address: 'not-an-ip' })).toBe(false);
    expect(safeSend(s, 'c1', Buffer.from('x'), 1, { port: 0, address: '127.0.0.1' })).toBe(false);
    expect(safeSend(s, 'c1', Buffer.alloc(io.addon.slotData + 1), io.addon.slotData + 1, { port: p.port, address: '127.0.0.1' })).toBe(false);
    expect(safeSend(s, 'c1', Buffer.from('x'), 1, { port: p.port, address: '::1' })).toBe(false);
    expect(io.counters().sendDropped).toBe(before + 4);
    // Positive control: a good one still leaves.
    expect(safeSend(s, 'c1', Buffer.from('ok'), 2, { port: p.port, address: '127.0.0.1' })).toBe(true);
    expect((await p.wait(1)).map((b) => b.toString())).toEqual(['ok']);
    s.close();
    p.sock.close();
  });

  it('closing a socket with queued sends sends them first; a second close leaves the id\'s next owner alone', async () => {
    const s = await io.bind(4, '127.0.0.1', 0);
    const p = await peer();
    s.send(Buffer.from('last words'), 10, p.port, '127.0.0.1');
    s.close();
    expect((await p.wait(1)).map((b) => b.toString())).toEqual(['last words']);
    const reused = await io.bind(4, '127.0.0.1', 0);
    s.close();
    reused.send(Buffer.from('still open'), 10, p.port, '127.0.0.1');
    expect((await p.wait(2))[1].toString()).toBe('still open');
    expect(() => s.send(Buffer.from('x'), 1, p.port, '127.0.0.1')).toThrow(/closed/);
    reused.close();
    p.sock.close();
  });

  it('a handler that throws costs that packet only', async () => {
    const s = await io.bind(4, '127.0.0.1', 0);
    const port = io.addon.localPort((s as BatchSocketLike).id);
    const p = await peer();
    const seen: string[] = [];
    s.onMessage((msg) => {
      if (msg[0] === 0x21) throw new Error('boom');
      seen.push(msg.toString());
    });
    const before = io.counters().unclaimed + io.counters().handlerErrors;
    await sendFrom(p, Buffer.from('!bad'), port);
    await sendFrom(p, Buffer.from('good'), port);
    for (let i = 0; i < 200 && seen.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(['good']);
    expect(io.counters().handlerErrors + io.counters().unclaimed).toBe(before + 1);
    s.close();
    p.sock.close();
  });

  it('binds IPv6 and names an IPv6 source as dgram does', async () => {
    const s = await io.bind(6, '::1', 0);
    const port = io.addon.localPort((s as BatchSocketLike).id);
    const p = await peer('udp6', '::1');
    const rec = recorder(s);
    await sendFrom(p, Buffer.from('v6'), port, '::1');
    await rec.wait(1);
    expect(rec.seen[0].rinfo).toEqual({ address: '::1', port: p.port, family: 'IPv6', size: 2 });
    s.send(Buffer.from('back'), 4, p.port, '::1');
    expect((await p.wait(1))[0].toString()).toBe('back');
    s.close();
    p.sock.close();
  });

  it('a port someone holds is EADDRINUSE, as dgram reports it (the port allocator tries another pair)', async () => {
    const p = await peer();
    await expect(io.bind(4, '127.0.0.1', p.port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await expect(io.bind(4, 'not-an-ip', 0)).rejects.toThrow(/not an address/);
    p.sock.close();
  });

  it('running out of descriptors is EMFILE on bind, not a crash (in a child with a small open-files limit)', () => {
    const script = `
      const a = require(${JSON.stringify(addonPath())});
      a.init(() => {});
      let n = 0;
      try { for (;;) { a.bind(4, '127.0.0.1', 0); if (++n > 10000) break; } console.log('no error after', n); }
      catch (e) { console.log(e.code, n > 0, a.stats().openSockets === n); }
      process.exit(0);`;
    const r = spawnSync('sh', ['-c', `ulimit -n 64 && exec "${process.execPath}" -e "$0"`, script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout.trim()).toBe('EMFILE true true');
  });
});
