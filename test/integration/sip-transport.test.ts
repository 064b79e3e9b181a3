import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import dgram from 'node:dgram';
import { pino } from 'pino';
import { SipTransportLayer } from '../../src/sip/transport/transport-layer.js';
import type { InboundMessage } from '../../src/sip/transport/types.js';
import { getVias } from '../../src/sip/message.js';
import { createResponse } from '../../src/sip/build.js';

/** The SIP transports on real loopback sockets: framing, received/rport, reuse, failures. */
let layer: SipTransportLayer | undefined;
const got: InboundMessage[] = [];

async function start(): Promise<SipTransportLayer> {
  got.length = 0;
  layer = await SipTransportLayer.start({
    listen: [
      { protocol: 'udp', address: '127.0.0.1', port: 0 },
      { protocol: 'tcp', address: '127.0.0.1', port: 0 },
    ],
    log: pino({ level: 'silent' }),
    onMessage: (m) => got.push(m),
  });
  return layer;
}

afterEach(async () => {
  await layer?.close();
  layer = undefined;
});

function options(n: number, via = `SIP/2.0/TCP 10.9.9.9:5999;branch=z9hG4bKt${n};rport`): string {
  return `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: ${via}\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=${n}\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: t-${n}\r\nCSeq: ${n} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
}

describe('SIP transport layer', () => {
  it('frames TCP by Content-Length: two messages in one write, one split across writes', async () => {
    const t = await start();
    const tcp = t.listeners().find((l) => l.protocol === 'tcp');
    const c = net.connect(tcp?.port ?? 0, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    c.write(options(1) + options(2));
    const third = options(3);
    c.write(third.slice(0, 40));
    await new Promise((r) => setTimeout(r, 50));
    c.write(third.slice(40));
    await expect.poll(() => got.length).toBe(3);
    expect(got.map((m) => m.message.kind === 'request' && m.message.method)).toEqual(['OPTIONS', 'OPTIONS', 'OPTIONS']);
    // received/rport added for the real source (RFC 3261 §18.2.1, RFC 3581).
    const via = getVias(got[0].message)[0];
    expect(via.received).toBe('127.0.0.1');
    expect(via.rport).toBe(c.localPort);
    // A response goes back over the same connection.
    const res = createResponse(got[0].message as never, 200);
    let back = '';
    c.on('data', (d: Buffer) => (back += d.toString()));
    await t.send(res, got[0].source);
    await expect.poll(() => back).toMatch(/^SIP\/2\.0 200 OK/);
    expect(t.counters.connections).toBe(1);
    c.destroy();
  });

  it('answers a malformed request with 400 over UDP, drops garbage, keeps going', async () => {
    const t = await start();
    const udp = t.listeners().find((l) => l.protocol === 'udp');
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const replies: string[] = [];
    s.on('message', (m) => replies.push(m.toString()));
    s.send(options(4).replace('Content-Length: 0', 'Content-Length: 900'), udp?.port ?? 0, '127.0.0.1');
    await expect.poll(() => replies.length).toBe(1);
    expect(replies[0]).toMatch(/^SIP\/2\.0 400 .*Content-Length/i);
    s.send(Buffer.from([0, 1, 2, 3, 255, 254]), udp?.port ?? 0, '127.0.0.1');
    s.send(options(5, 'SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKu'), udp?.port ?? 0, '127.0.0.1');
    await expect.poll(() => got.length).toBe(1);
    expect(t.counters.dropped).toBe(1);
    expect(t.counters.rejected).toBe(1);
    expect(replies).toHaveLength(1);
    s.close();
  });

  it('a TCP framing error gets a 400 (when possible) and the connection is closed', async () => {
    const t = await start();
    const tcp = t.listeners().find((l) => l.protocol === 'tcp');
    const c = net.connect(tcp?.port ?? 0, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    let back = '';
    c.on('data', (d: Buffer) => (back += d.toString()));
    const closed = new Promise((r) => c.once('close', r));
    c.write(options(6).replace('Content-Length: 0', 'Content-Length: banana'));
    await closed;
    expect(back).toMatch(/^SIP\/2\.0 400 /);
  });

  it('a refused TCP connection rejects send(); a bad listen address is a config error', async () => {
    const t = await start();
    const res = createResponse(
      { kind: 'request', version: 'SIP/2.0', method: 'OPTIONS', uri: 'sip:x', headers: [{ name: 'Via', value: 'SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKx' }, { name: 'Call-ID', value: 'x' }, { name: 'CSeq', value: '1 OPTIONS' }, { name: 'From', value: '<sip:a@b>;tag=1' }, { name: 'To', value: '<sip:x@b>' }], body: Buffer.alloc(0) },
      200,
    );
    await expect(t.send(res, { protocol: 'tcp', address: '127.0.0.1', port: 1 })).rejects.toThrow(/connect to 127\.0\.0\.1:1 failed/);
    await expect(SipTransportLayer.start({ listen: [{ protocol: 'udp', address: '127.0.0.1', port: t.listeners()[0].port }], log: pino({ level: 'silent' }), onMessage: () => undefined })).rejects.toThrow(/--listen-sip: cannot bind udp:127\.0\.0\.1/);
    await expect(SipTransportLayer.start({ listen: [{ protocol: 'tls', address: '127.0.0.1', port: 0 }], log: pino({ level: 'silent' }), onMessage: () => undefined })).rejects.toThrow(/needs --tls-cert/);
  });
});
