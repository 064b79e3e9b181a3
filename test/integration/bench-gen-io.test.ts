import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { buildGenIo, NativeIo } from '../../bench/lib/gen-native.js';
import { itWithPeers } from '../helpers/peers.js';

/**
 * The generator's native packet I/O (bench/gen-io.c, a Node-API addon the bench compiles): datagrams out
 * through a leg arrive at a plain dgram peer and the peer's replies come back to the leg's receiver,
 * counted by the addon too; arguments that make no sense are refused with an error naming them.
 */
const open: NativeIo[] = [];
const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const io of open.splice(0)) io.close();
  for (const s of sockets.splice(0)) s.close();
});

function load(): NativeIo {
  const built = buildGenIo();
  if (!built.ok) throw new Error(built.reason);
  const io = new NativeIo(built.binary);
  open.push(io);
  return io;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('bench gen-io: the native generator I/O', () => {
  itWithPeers('sends a batch through a leg and delivers the replies to its receiver', ['cc'], async () => {
    const io = load();
    const peer = dgram.createSocket('udp4');
    sockets.push(peer);
    const atPeer: string[] = [];
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
    const { leg, port } = io.openLeg();
    const idle = io.openLeg(); // never addressed: nothing may reach its receiver
    const got: string[] = [];
    const idleGot: string[] = [];
    io.receiveWith(leg, { onMessage: (m: Buffer) => got.push(m.toString()) });
    io.receiveWith(idle.leg, { onMessage: (m: Buffer) => idleGot.push(m.toString()) });
    io.connect(leg, peer.address().port, '127.0.0.1');
    peer.on('message', (m, from) => {
      atPeer.push(m.toString());
      peer.send(Buffer.from(`re:${m.toString()}`), from.port, from.address);
    });
    const out = io.out(leg);
    for (let i = 0; i < 20; i++) out.send(Buffer.from(`xx-${i}-yy`), 0, `xx-${i}-yy`.length);
    expect(atPeer).toHaveLength(0); // queued until the pacer's flush
    io.flush();
    await until(() => got.length === 20);
    expect(atPeer).toEqual(Array.from({ length: 20 }, (_, i) => `xx-${i}-yy`));
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `re:xx-${i}-yy`));
    expect(port).toBeGreaterThan(0);
    expect(idleGot).toEqual([]); // beside the 20 that came back on the other leg
    expect(io.stats()).toEqual([20, 0, 0]);
    expect(io.sendErrors).toBe(0);
  });

  itWithPeers('refuses malformed arguments, naming them', ['cc'], () => {
    const io = load();
    const { leg } = io.openLeg();
    expect(() => io.connect(leg, 0, '127.0.0.1')).toThrow(/port must be a whole number in 1..65535/);
    expect(() => io.connect(leg, 5060, 'localhost')).toThrow(/dotted IPv4 address/);
    expect(() => io.connect(leg + 5, 5060, '127.0.0.1')).toThrow(/leg must be a whole number/);
    expect(() => io.out(leg).send(Buffer.alloc(1600), 0, 1600)).toThrow(/does not fit/);
    io.closeLeg(leg);
    expect(() => io.connect(leg, 5060, '127.0.0.1')).toThrow(/that leg is closed/);
    io.close();
    open.length = 0;
    expect(() => io.openLeg()).toThrow(/the io handle is closed/);
  });

  it('says why it cannot build without a compiler', () => {
    expect(buildGenIo({ path: '/nonexistent' })).toEqual({ ok: false, reason: expect.stringMatching(/no C compiler \(cc\)/) });
  });
});
