// Flood cost (issue 12): what a UDP INVITE flood costs Tandem with the edge on and off.
// Starts Tandem in this process (so its CPU and RSS are this process's), sends FLOOD INVITEs from
// 127.0.0.2 as fast as the socket takes them (batches of 200, yielding between), then SPREAD
// INVITEs from 200 other loopback sources, and prints RSS before/after and CPU per 1000 datagrams.
// Not a test: numbers for the README.  tsx bench/flood.ts [--flood N] [--spread N] [--pike off]
import dgram from 'node:dgram';
import { pino } from 'pino';
import { startTandem } from '../src/main.js';
import { defaultConfig } from '../src/config/config.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const FLOOD = Number(arg('flood', '50000'));
const SPREAD = Number(arg('spread', '20000'));
const pikeOff = arg('pike', 'on') === 'off';

function invite(port: number, i: number, src: string, from: number): Buffer {
  return Buffer.from(
    [`INVITE sip:${i}@127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP ${src}:${from};branch=z9hG4bKb${i}`, 'Max-Forwards: 70', `From: <sip:x@${src}>;tag=${i}`,
      `To: <sip:${i}@127.0.0.1>`, `Call-ID: bench-${i}@${src}`, 'CSeq: 1 INVITE', 'Content-Length: 0', '', ''].join('\r\n'),
  );
}

async function blast(sockets: dgram.Socket[], port: number, n: number, tag: number): Promise<void> {
  for (let i = 0; i < n; i += 200) {
    for (let j = i; j < Math.min(n, i + 200); j++) {
      const s = sockets[j % sockets.length];
      const a = s.address();
      s.send(invite(port, tag + j, a.address, a.port), port, '127.0.0.1');
    }
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 500));
}

async function socketOn(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('message', () => undefined);
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  return s;
}

async function main(): Promise<void> {
  const tandem = await startTandem(
    {
      ...defaultConfig(),
      listenNg: { address: '127.0.0.1', port: 0 },
      listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
      numThreads: 1,
      logLevel: 'silent',
      floodExempt: [],
      ...(pikeOff ? { pike: undefined } : {}),
    },
    pino({ level: 'silent' }),
  );
  const sip = tandem.sip?.listeners[0];
  if (sip === undefined) throw new Error('no SIP listener');
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const one = [await socketOn('127.0.0.2')];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await blast(one, sip.port, FLOOD, 0);
  const c1 = process.cpuUsage(c0);
  const rss1 = process.memoryUsage().rss;
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => socketOn(`127.0.${1 + (i >> 7)}.${2 + (i & 127)}`)));
  const c2s = process.cpuUsage();
  await blast(many, sip.port, SPREAD, FLOOD);
  const c2 = process.cpuUsage(c2s);
  global.gc?.();
  const rss2 = process.memoryUsage().rss;
  const st = tandem.sip?.transport.stats();
  const ms = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
  const out = {
    pike: pikeOff ? 'off' : '30/2 (default)',
    flood: FLOOD,
    spread: SPREAD,
    read: st?.received,
    notAdmitted: st?.notAdmitted,
    bans: tandem.sip?.edge.pike?.counters.bans ?? 0,
    tracked: tandem.sip?.edge.pike?.size ?? 0,
    calls: tandem.sip?.b2bua.counters.calls,
    cpuMsPer1000Flood: Number(((ms(c1) / FLOOD) * 1000).toFixed(2)),
    cpuMsPer1000Spread: Number(((ms(c2) / SPREAD) * 1000).toFixed(2)),
    floodWallMs: Math.round(performance.now() - t0),
    rssMiB: { before: Math.round(rss0 / 2 ** 20), afterFlood: Math.round(rss1 / 2 ** 20), afterSpread: Math.round(rss2 / 2 ** 20) },
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  for (const s of [...one, ...many]) s.close();
  await tandem.close();
}

void main().then(() => process.exit(0));
