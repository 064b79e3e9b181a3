// What a /metrics scrape costs (issue 16): Tandem in this process with its admin listener on a free
// loopback port; ng sessions (offer + answer, RTP both ways for a second before each step) are set up
// in steps, and at each step SCRAPES scrapes are timed (wall) and this process's CPU per scrape is
// read, so the steps compare side by side in one run. Nothing here is per packet: the figure is
// what an operator pays per scrape interval.   tsx bench/scrape.ts [--sessions 0,100,500] [--scrapes 20]
import dgram from 'node:dgram';
import { Agent, get } from 'node:http';
import { pino } from 'pino';
import { startTandem } from '../src/main.js';
import { defaultConfig } from '../src/config/config.js';
import { NgClient, expectOk } from './lib/ng.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const STEPS = arg('sessions', '0,100,500').split(',').map(Number);
const SCRAPES = Math.min(200, Number(arg('scrapes', '20')));

function sdp(port: number): string {
  return ['v=0', `o=- 1 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
}

function rtp(seq: number): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(0x1234, 8);
  return b;
}

const t = await startTandem(
  { ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, listenSip: [], listenHttp: { address: '127.0.0.1', port: 0 }, portMin: 12000, portMax: 19999, numThreads: 2, logLevel: 'silent' },
  pino({ level: 'silent' }),
);
const url = `http://127.0.0.1:${t.ops.address?.port}/metrics`;
// node:http with keep-alive, as Prometheus scrapes (fetch's first requests in a process cost more than the scrape).
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const scrape = (): Promise<string> =>
  new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
const ng = new NgClient({ host: '127.0.0.1', port: t.ngAddress.port });
const sender = dgram.createSocket('udp4');
await new Promise<void>((r) => sender.bind(0, '127.0.0.1', () => r()));
const targets: number[] = [];
let made = 0;
const rows: string[] = [];
for (const n of STEPS) {
  while (made < n) {
    const id = `scrape-${made}`;
    const o = expectOk(await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: sdp(sender.address().port) }), 'offer');
    const a = expectOk(await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(sender.address().port) }), 'answer');
    targets.push(Number(/m=audio (\d+)/.exec(String(o.sdp))?.[1]), Number(/m=audio (\d+)/.exec(String(a.sdp))?.[1]));
    made++;
  }
  // A second of media on every session (50 packets per side), so the counters have something to add.
  for (let i = 0; i < 50; i++) {
    for (const port of targets) sender.send(rtp(i), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
  }
  const times: number[] = [];
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < SCRAPES; i++) {
    const start = performance.now();
    const text = await scrape();
    times.push(performance.now() - start);
    bytes = text.length;
  }
  const cpu = process.cpuUsage(cpu0);
  times.sort((x, y) => x - y);
  const median = times[Math.floor(times.length / 2)];
  const p95 = times[Math.min(times.length - 1, Math.floor(times.length * 0.95))];
  rows.push(`${String(n).padStart(8)} ${median.toFixed(2).padStart(10)} ${p95.toFixed(2).padStart(10)} ${((cpu.user + cpu.system) / 1000 / SCRAPES).toFixed(2).padStart(14)} ${String(bytes).padStart(8)}`);
}
process.stdout.write(`sessions  median ms     p95 ms  CPU ms/scrape    bytes   (${SCRAPES} scrapes per step; CPU is this process's: main thread, workers, and the client)\n${rows.join('\n')}\n`);
ng.close();
sender.close();
agent.destroy();
await t.close();
