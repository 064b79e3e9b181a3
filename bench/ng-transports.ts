// ng over UDP and over TCP side by side (issue 15, "ng transports"): the same offer/delete pairs
// against one in-process Tandem, K commands in flight, each transport run in turns so both see the
// same machine; and what TCP framing costs when a stream arrives whole or one byte at a time.
// Not a test: numbers for the README.  tsx bench/ng-transports.ts [--calls N] [--inflight K] [--rounds R]
import dgram from 'node:dgram';
import net from 'node:net';
import { pino } from 'pino';
import { startTandem } from '../src/main.js';
import { defaultConfig } from '../src/config/config.js';
import { encode, decode, type BDict } from '../src/control/bencode.js';
import { NgStreamFramer } from '../src/control/ng-stream.js';

const arg = (name: string, dflt: string): number => {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt);
};
const CALLS = arg('calls', '500');
const INFLIGHT = arg('inflight', '16');
const ROUNDS = arg('rounds', '3');

const sdp = (port: number): string => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 8`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=sendrecv', ''].join('\r\n');
const frame = (cookie: string, d: BDict): Buffer => Buffer.concat([Buffer.from(`${cookie} `), encode(d)]);

type Send = (cookie: string, d: BDict) => Promise<BDict>;

function udpClient(port: number): { send: Send; close(): void } {
  const s = dgram.createSocket('udp4');
  const waiting = new Map<string, (d: BDict) => void>();
  s.on('message', (m) => {
    const sp = m.indexOf(0x20);
    waiting.get(m.toString('latin1', 0, sp))?.(decode(m.subarray(sp + 1)) as BDict);
  });
  return {
    send: (cookie, d) => new Promise((resolve) => {
      waiting.set(cookie, (r) => (waiting.delete(cookie), resolve(r)));
      s.send(frame(cookie, d), port, '127.0.0.1');
    }),
    close: () => s.close(),
  };
}

async function tcpClient(port: number): Promise<{ send: Send; close(): void }> {
  const s = await new Promise<net.Socket>((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
  });
  s.setNoDelay(true);
  const framer = new NgStreamFramer(1 << 24);
  const waiting = new Map<string, (d: BDict) => void>();
  s.on('data', (chunk: Buffer) => {
    for (const f of framer.push(chunk)) {
      if (f.kind !== 'message') throw new Error(f.reason);
      const sp = f.bytes.indexOf(0x20);
      waiting.get(f.bytes.toString('latin1', 0, sp))?.(decode(f.bytes.subarray(sp + 1)) as BDict);
    }
  });
  return {
    send: (cookie, d) => new Promise((resolve) => {
      waiting.set(cookie, (r) => (waiting.delete(cookie), resolve(r)));
      s.write(frame(cookie, d));
    }),
    close: () => s.destroy(),
  };
}

/** CALLS offer+delete pairs, INFLIGHT at once; wall ms and process CPU ms. */
async function run(send: Send, tag: string): Promise<{ wallMs: number; cpuMs: number }> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const worker = async (): Promise<void> => {
    while (next < CALLS) {
      const i = next++;
      const callId = `${tag}-${i}`;
      const o = await send(`${callId}-o`, { command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdp(20000 + (i % 1000) * 2), 'rtpp-flags': 'replace-origin codec=[mask=[PCMA] transcode=[PCMU]]' });
      if (o.result !== 'ok') throw new Error(`offer: ${JSON.stringify(o)}`);
      const d = await send(`${callId}-d`, { command: 'delete', 'call-id': callId });
      if (d.result !== 'ok') throw new Error(`delete: ${JSON.stringify(d)}`);
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, worker));
  const c = process.cpuUsage(c0);
  return { wallMs: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (c.user + c.system) / 1000 };
}

/** ns per byte to frame `count` offers arriving whole, or one byte per read (must not grow with `count`). */
function framing(count: number): { whole: number; bytewise: number } {
  const one = frame('c', { command: 'offer', 'call-id': 'x', 'from-tag': 'a', sdp: sdp(30000), 'rtpp-flags': 'replace-origin' });
  const stream = Buffer.concat(Array.from({ length: count }, () => one));
  const time = (step: number): number => {
    const f = new NgStreamFramer(1 << 20);
    const t0 = process.hrtime.bigint();
    let n = 0;
    for (let i = 0; i < stream.length; i += step) n += f.push(stream.subarray(i, i + step)).length;
    if (n !== count) throw new Error(`framed ${n}`);
    return Number(process.hrtime.bigint() - t0) / stream.length;
  };
  time(1); // warm-up
  return { whole: time(stream.length), bytewise: time(1) };
}

const t = await startTandem({ ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, listenTcpNg: { address: '127.0.0.1', port: 0 }, listenSip: [], portMin: 20000, portMax: 23999, numThreads: 1, logLevel: 'silent' }, pino({ level: 'silent' }));
const udp = udpClient(t.ngAddress.port);
const tcp = await tcpClient(t.ngTcpAddress?.port ?? 0);
process.stdout.write(`ng transports: ${CALLS} offer+delete pairs, ${INFLIGHT} in flight, ${ROUNDS} rounds, UDP and TCP in turns\n`);
for (let r = 0; r < ROUNDS; r++) {
  const u = await run(udp.send, `u${r}`);
  const c = await run(tcp.send, `t${r}`);
  process.stdout.write(`round ${r + 1}: UDP ${u.wallMs.toFixed(0)} ms wall ${u.cpuMs.toFixed(0)} ms CPU | TCP ${c.wallMs.toFixed(0)} ms wall ${c.cpuMs.toFixed(0)} ms CPU | TCP/UDP CPU ${(c.cpuMs / u.cpuMs).toFixed(2)}, wall ${(c.wallMs / u.wallMs).toFixed(2)}\n`);
}
for (const count of [200, 2000]) {
  const f = framing(count);
  process.stdout.write(`framing ${count} pipelined offers: whole ${f.whole.toFixed(1)} ns/B, one byte per read ${f.bytewise.toFixed(1)} ns/B\n`);
}
udp.close();
tcp.close();
await t.close();
