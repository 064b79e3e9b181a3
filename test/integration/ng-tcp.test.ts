import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { startTestTandem, tandemPerFile, type TestTandem } from '../helpers/tandem.js';
import { TcpNg } from '../helpers/ng-tcp.js';
import { RawNg } from '../helpers/ng.js';
import { RtpPeer, sdpFor, mediaTarget, rtpPacket, patternPayload } from '../helpers/rtp-peer.js';
import { pino } from 'pino';
import type { BDict } from '../../src/control/bencode.js';
import { NgServer } from '../../src/control/ng-server.js';
import type { MediaControl } from '../../src/media/api.js';

/**
 * ng over TCP (`--listen-tcp-ng`) beside UDP, and `rtpp-flags` over both, against a real Tandem on
 * loopback. Each "closed" is checked next to a connection that is not closed (positive control).
 */

const tcp = { address: '127.0.0.1', port: 0 };
const portOf = (env: TestTandem): number => {
  const a = env.t.ngTcpAddress;
  if (a === undefined) throw new Error('no TCP ng listener');
  return a.port;
};

const FLAGS = 'replace-origin trust-address codec=[transcode=[PCMA] strip=[PCMU]] ICE=remove SDES-off';
const mLine = (sdp: unknown): string => /^m=audio \d+ (.*)$/m.exec(String(sdp))?.[1] ?? '';

describe('rtpp-flags: an offer with a bracketed flag string over UDP and over TCP', () => {
  const tandem = tandemPerFile({ listenTcpNg: tcp });
  let conn: TcpNg;
  beforeAll(async () => {
    conn = await TcpNg.connect(portOf(tandem.env));
  });
  afterAll(() => conn.close());

  const offer = (callId: string, port: number, extra: BDict): BDict => ({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: sdpFor({ port, pts: [0, 8], rtpmaps: ['0 PCMU/8000', '8 PCMA/8000'] }), ...extra });

  it('strips and transcodes as the dictionary form does, over both transports', async () => {
    const viaUdp = await tandem.ng.request(offer('rtpp-udp', 40000, { 'rtpp-flags': FLAGS }));
    const viaTcp = await conn.request(offer('rtpp-tcp', 40010, { 'rtpp-flags': FLAGS }));
    const viaDict = await tandem.ng.request(offer('rtpp-dict', 40020, { flags: ['trust-address', 'SDES-off'], replace: ['origin'], codec: { transcode: ['PCMA'], strip: ['PCMU'] }, ICE: 'remove' }));
    for (const r of [viaUdp, viaTcp, viaDict]) {
      expect(r.result).toBe('ok');
      expect(r).not.toHaveProperty('warning');
      expect(mLine(r.sdp)).toBe('RTP/AVP 8');
    }
  });

  it('carries media on a call set up over TCP, and query/delete over TCP read to-tag from rtpp-flags', async () => {
    const caller = await RtpPeer.open();
    const callee = await RtpPeer.open();
    try {
      const o = await conn.request({ command: 'offer', 'call-id': 'rtpp-media', 'from-tag': 'a', sdp: sdpFor({ port: caller.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }), 'rtpp-flags': 'replace-origin ICE=remove' });
      const a = await conn.request({ command: 'answer', 'call-id': 'rtpp-media', 'from-tag': 'a', sdp: sdpFor({ port: callee.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }), 'rtpp-flags': 'to-tag=b' });
      expect([o.result, a.result]).toEqual(['ok', 'ok']);
      // The answer's SDP (given to the caller) names where the caller sends.
      const toCallee = mediaTarget(String(a.sdp));
      const payload = patternPayload(160, 3);
      // Bounded: up to 50 packets until the first arrives (the worker may still be binding).
      for (let i = 0; i < 50 && callee.received.length === 0; i++) {
        await caller.send(rtpPacket({ pt: 8, seq: i, ts: i * 160, ssrc: 7, payload }), toCallee.port, toCallee.address);
        await callee.waitFor(1, 100).catch(() => undefined);
      }
      expect(callee.received[0]?.subarray(12).equals(payload)).toBe(true);
      const q = await conn.request({ command: 'query', 'call-id': 'rtpp-media', 'rtpp-flags': 'from-tag=a' });
      expect(q.result).toBe('ok');
      expect(Object.keys(q.tags as BDict).sort()).toEqual(['a', 'b']);
      expect((await conn.request({ command: 'delete', 'call-id': 'rtpp-media', 'rtpp-flags': 'from-tag=a to-tag=b' })).result).toBe('ok');
    } finally {
      caller.close();
      callee.close();
    }
  });

  it('answers a malformed flag string with an error naming the fault, on both transports', async () => {
    for (const send of [(d: BDict) => tandem.ng.request(d), (d: BDict) => conn.request(d)]) {
      const r = await send(offer('rtpp-bad', 40030, { 'rtpp-flags': 'codec=[transcode=[PCMA]' }));
      expect(r).toMatchObject({ result: 'error', 'error-code': 'BAD_REQUEST' });
      expect(String(r['error-reason'])).toMatch(/rtpp-flags: "\[" at character 7 is never closed/);
    }
    expect((await conn.request({ command: 'ping' })).result).toBe('pong');
  });
});

describe('ng over TCP: framing, cache and limits', () => {
  const tandem = tandemPerFile({ listenTcpNg: tcp, ngTcpMaxMessage: 8192, ngTcpMaxConnections: 4 });
  const open: TcpNg[] = [];
  const connect = async (local?: string): Promise<TcpNg> => {
    const c = await TcpNg.connect(portOf(tandem.env), local);
    open.push(c);
    return c;
  };
  // At most 4 connections here: each test starts from none.
  afterEach(() => open.splice(0).forEach((c) => c.close()));

  it('takes pipelined messages in one write and a message cut into single bytes', async () => {
    const c = await connect();
    c.write(Buffer.concat([TcpNg.frame('p1', { command: 'ping' }), Buffer.from('\n'), TcpNg.frame('p2', { command: 'list' }), TcpNg.frame('p3', { command: 'ping' })]));
    expect(await c.reply('p1')).toEqual({ result: 'pong' });
    expect((await c.reply('p2')).result).toBe('ok');
    expect(await c.reply('p3')).toEqual({ result: 'pong' });
    const cut = TcpNg.frame('p4', { command: 'ping' });
    for (const b of cut) c.write(Buffer.from([b]));
    expect(await c.reply('p4')).toEqual({ result: 'pong' });
  });

  it('answers a cookie sent again after a reconnect from the cache: the command ran once', async () => {
    const frame = TcpNg.frame('again-1', { command: 'offer', 'call-id': 'tcp-once', 'from-tag': 'a', sdp: sdpFor({ port: 40100, pts: [0] }) });
    const first = await connect();
    first.write(frame);
    const r1 = await first.reply('again-1');
    first.close();
    const before = tandem.env.t.ng.counters.retransmissions;
    const requests = tandem.env.t.ng.counters.requests;
    const second = await connect();
    second.write(frame);
    expect(await second.reply('again-1')).toEqual(r1);
    expect(tandem.env.t.ng.counters.retransmissions).toBe(before + 1);
    expect(tandem.env.t.ng.counters.requests).toBe(requests);
  });

  it('answers a framed but undecodable message with an error and keeps the connection', async () => {
    const c = await connect();
    c.write('dup d1:ai1e1:ai2ee');
    expect(String((await c.reply('dup'))['error-reason'])).toMatch(/duplicate key/);
    expect(await c.request({ command: 'ping' })).toEqual({ result: 'pong' });
  });

  it('closes a stream it cannot frame: with an error reply when the cookie is readable, silently when not', async () => {
    const control = await connect();
    const garbage = await connect();
    garbage.write('g1 d7:command?');
    expect(await garbage.reply('g1')).toMatchObject({ result: 'error', 'error-code': 'BAD_REQUEST' });
    expect(await garbage.closesWithin(2000)).toBe(true);
    const noCookie = await connect();
    noCookie.write('x'.repeat(100));
    expect(await noCookie.closesWithin(2000)).toBe(true);
    expect(noCookie.replies).toEqual([]);
    // A peer that never closes its side does not keep the connection (and its slot).
    const halfOpen = await TcpNg.connect(portOf(tandem.env), '127.0.0.1', true);
    halfOpen.write('h1 l1:ae');
    expect(await halfOpen.reply('h1')).toMatchObject({ result: 'error' });
    // Only the control connection is left open on the server's side.
    await waitFor(() => tandem.env.t.ng.stats().tcp?.open === 1);
    expect(await control.request({ command: 'ping' })).toEqual({ result: 'pong' });
    expect(tandem.env.t.ng.stats().tcp).toMatchObject({ unframeable: 3 });
  });

  it('refuses a message over --ng-tcp-max-message with TOO_LARGE and closes; a reply over it becomes an error', async () => {
    const c = await connect();
    c.write(TcpNg.frame('big', { command: 'ping', pad: 'x'.repeat(9000) }));
    expect(await c.reply('big')).toMatchObject({ result: 'error', 'error-code': 'TOO_LARGE' });
    expect(await c.closesWithin(2000)).toBe(true);
    // The query of a call with 16 m= lines is over 8 KiB (its offer is not).
    const lines = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
    for (let i = 0; i < 16; i++) lines.push(`m=audio ${41000 + 2 * i} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000');
    const d = await connect();
    expect((await d.request({ command: 'offer', 'call-id': 'tcp-big', 'from-tag': 'a', sdp: lines.join('\r\n') + '\r\n' })).result).toBe('ok');
    const r = await d.request({ command: 'query', 'call-id': 'tcp-big' });
    expect(r).toMatchObject({ result: 'error', 'error-code': 'TOO_LARGE' });
    expect(String(r['error-reason'])).toMatch(/^reply too large \(\d+ bytes\)$/);
    expect(await d.request({ command: 'ping' })).toEqual({ result: 'pong' });
  });

  it('closes a connection over --ng-tcp-max-connections at once, and serves again when one is freed', async () => {
    await waitFor(() => tandem.env.t.ng.stats().tcp?.open === 0);
    const held = [await connect(), await connect(), await connect(), await connect()];
    for (const c of held) expect(await c.request({ command: 'ping' })).toEqual({ result: 'pong' });
    const extra = await connect();
    expect(await extra.closesWithin(2000)).toBe(true);
    expect(tandem.env.t.ng.stats().tcp?.refused).toBeGreaterThanOrEqual(1);
    held[0].close();
    await waitFor(() => tandem.env.t.ng.stats().tcp?.open === 3);
    expect(await (await connect()).request({ command: 'ping' })).toEqual({ result: 'pong' });
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ng over TCP: deadlines and the allow list', () => {
  let env: TestTandem;
  beforeAll(async () => {
    env = await startTestTandem({ listenTcpNg: tcp, ngTcpIdleTimeout: 300, ngTcpMessageTimeout: 300, ngAllow: ['127.0.0.1'] });
  });
  afterAll(() => env.close());

  it('closes a connection idle past --ng-tcp-idle-timeout, and one whose message stalls past --ng-tcp-message-timeout', async () => {
    const idle = await TcpNg.connect(portOf(env));
    const stalled = await TcpNg.connect(portOf(env));
    stalled.write('s1 d7:comm');
    expect(await idle.closesWithin(3000)).toBe(true);
    expect(await stalled.closesWithin(3000)).toBe(true);
    expect(env.t.ng.stats().tcp).toMatchObject({ idleTimeouts: 1, messageTimeouts: 1 });
    // Positive control: a client that keeps talking stays connected past the idle deadline.
    const busy = await TcpNg.connect(portOf(env));
    for (let i = 0; i < 6; i++) {
      expect(await busy.request({ command: 'ping' })).toEqual({ result: 'pong' });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(busy.socket.destroyed).toBe(false);
    busy.close();
  });

  it('closes a connection from a source outside --ng-allow before reading it', async () => {
    const denied = await TcpNg.connect(portOf(env), '127.0.0.2');
    denied.write(TcpNg.frame('d1', { command: 'ping' }));
    expect(await denied.closesWithin(2000)).toBe(true);
    expect(denied.replies).toEqual([]);
    expect(env.t.ng.stats().tcp?.denied).toBe(1);
    const allowed = await TcpNg.connect(portOf(env), '127.0.0.1');
    expect(await allowed.request({ command: 'ping' })).toEqual({ result: 'pong' });
    allowed.close();
  });

  it('UDP goes on beside TCP', async () => {
    const udp = await new RawNg(env.t.ngAddress.port).open();
    expect(await udp.request({ command: 'ping' })).toEqual({ result: 'pong' });
    udp.close();
  });
});

describe('ng over TCP: hostile streams', () => {
  const tandem = tandemPerFile({ listenTcpNg: tcp, ngTcpMaxMessage: 16384, ngTcpMessageTimeout: 200 });

  it('seeded damaged streams: each connection gets well-formed replies or is closed, and the server goes on', async () => {
    let seed = 20261201;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const good = [
      TcpNg.frame('h-ping', { command: 'ping' }),
      TcpNg.frame('h-offer', { command: 'offer', 'call-id': 'h', 'from-tag': 'a', sdp: sdpFor({ port: 40700, pts: [0, 8] }), 'rtpp-flags': FLAGS }),
      TcpNg.frame('h-list', { command: 'list', limit: 3 }),
    ];
    const damage = (b: Buffer): Buffer => {
      const out = Buffer.from(b);
      const kind = rnd(4);
      if (kind === 0) for (let i = 0, n = 1 + rnd(4); i < n; i++) out[rnd(out.length)] = rnd(256);
      if (kind === 1) return out.subarray(0, rnd(out.length));
      if (kind === 2) return Buffer.concat([out.subarray(0, rnd(out.length)), out]);
      if (kind === 3) return Buffer.from(Array.from({ length: rnd(200) }, () => rnd(256)));
      return out;
    };
    let closed = 0;
    // Bounded: 40 connections, each one stream of up to 5 (damaged) messages and a ping, 2 s at most each.
    for (let c = 0; c < 40; c++) {
      const conn = await TcpNg.connect(portOf(tandem.env));
      const parts = Array.from({ length: 1 + rnd(5) }, () => (rnd(3) === 0 ? good[rnd(good.length)] : damage(good[rnd(good.length)])));
      const stream = Buffer.concat([...parts, TcpNg.frame(`end-${c}`, { command: 'ping' })]);
      // Written in random pieces, as a network would deliver it.
      for (let at = 0; at < stream.length; ) {
        const n = 1 + rnd(300);
        conn.write(stream.subarray(at, at + n));
        at += n;
      }
      const answered = await conn.reply(`end-${c}`, 2000).then(
        () => true,
        () => false,
      );
      // The helper throws on a reply it cannot frame or decode: every reply was well-formed.
      for (const r of conn.replies) expect(['ok', 'error', 'pong'], JSON.stringify(r.dict)).toContain(r.dict.result);
      if (!answered) {
        expect(await conn.closesWithin(2000)).toBe(true);
        closed++;
      }
      conn.close();
    }
    expect(closed).toBeGreaterThan(0);
    expect(closed).toBeLessThan(40);
    const check = await TcpNg.connect(portOf(tandem.env));
    expect(await check.request({ command: 'ping' })).toEqual({ result: 'pong' });
    check.close();
    expect(tandem.env.t.ng.stats().tcp?.unframeable).toBeGreaterThan(0);
  });
});

describe('ng over TCP: a peer that does not read its replies', () => {
  let server: NgServer;
  beforeAll(async () => {
    // A media plane whose `list` is large (about 200 KB of call-ids): replies pile up fast.
    const ids = Array.from({ length: 5000 }, (_, i) => `call-${String(i).padStart(34, '0')}`);
    const media = { list: () => Promise.resolve(ids) } as unknown as MediaControl;
    server = new NgServer({ address: '127.0.0.1', port: 0, context: { media }, log: pino({ level: 'silent' }), tcp: { address: '127.0.0.1', port: 0, limits: { maxMessageBytes: 1 << 20, maxWriteBacklog: 256 * 1024 } } });
    await server.listen();
  });
  afterAll(() => server.close());

  it('is closed once its unread replies pass the backlog limit; a reading peer is not', async () => {
    const port = server.tcpAddress?.port ?? 0;
    const reader = await TcpNg.connect(port);
    const stalled = await TcpNg.connect(port);
    stalled.socket.pause();
    // Bounded: at most 300 requests (~60 MB of replies), far past what the kernel's buffers take.
    for (let i = 0; i < 300 && !stalled.socket.destroyed && server.stats().tcp?.slowReaders === 0; i++) {
      stalled.write(TcpNg.frame(`s${i}`, { command: 'list', limit: 10000 }));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => server.stats().tcp?.slowReaders === 1, 5000);
    expect((await reader.request({ command: 'list', limit: 10000 })).calls).toHaveLength(5000);
    reader.close();
    stalled.close();
  });
});
