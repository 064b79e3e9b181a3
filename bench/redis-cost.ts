// The cost of --redis per call (issue 16): the same ng calls (offer, answer, delete: plain PCMU
// relay) against two in-process Tandems, one without and one with --redis (a redis-server of its
// own on loopback, `--save '' --appendonly no`), alternating rounds in one run so both see the same
// machine. Reports, per call and side by side: this process's CPU (main thread, workers and the ng
// client; the client's share is the same on both sides, so the difference is what --redis adds),
// the wall time of a call's three requests, redis-server's own CPU, and the commands it processed.
// Bounded: --rounds × --calls calls each (defaults 6 × 200). Not a test.
//   npx tsx bench/redis-cost.ts [--rounds N] [--calls N]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../src/main.js';
import { defaultConfig } from '../src/config/config.js';
import { NgClient } from '../src/control/ng-client.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0 || v > 100_000) throw new Error(`--${name} must be a whole number from 1 to 100000`);
  return v;
};
const ROUNDS = arg('rounds', 6);
const CALLS = arg('calls', 200);

function resp(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error('redis did not answer')); }, 2000);
    s.on('error', reject);
    s.on('connect', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d) => {
      buf += d.toString();
      const m = /^\$(\d+)\r\n/.exec(buf);
      if (buf.startsWith('+') || (m !== null && buf.length >= m[0].length + Number(m[1]))) {
        clearTimeout(t);
        s.destroy();
        resolve(buf);
      }
    });
  });
}

/** utime+stime of a process, ms (from /proc; Linux only). */
function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

const sdp = (port: number): string => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

async function main(): Promise<void> {
  const redisPort = 20000 + Math.floor(Math.random() * 10000);
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    if ((await resp(redisPort, 'PING').catch(() => '')).startsWith('+PONG')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = pino({ level: 'silent' });
  const start = (redisUrl: string | undefined, base: number): Promise<RunningTandem> =>
    startTandem({ ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, listenSip: [], portMin: base, portMax: base + 3999, numThreads: 1, logLevel: 'silent', ...(redisUrl !== undefined ? { redis: redisUrl } : {}) }, log);
  const plain = await start(undefined, 12000);
  const stored = await start(`redis://127.0.0.1:${redisPort}`, 20000);
  const sides = [
    { name: 'without --redis', t: plain, ng: new NgClient({ host: '127.0.0.1', port: plain.ngAddress.port }), cpu: [] as number[], wall: [] as number[], redisCpu: [] as number[], cmds: [] as number[] },
    { name: 'with --redis', t: stored, ng: new NgClient({ host: '127.0.0.1', port: stored.ngAddress.port }), cpu: [] as number[], wall: [] as number[], redisCpu: [] as number[], cmds: [] as number[] },
  ];
  const commands = async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await resp(redisPort, 'INFO', 'stats'))?.[1] ?? 0);
  let n = 0;
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const c0 = process.cpuUsage();
      const r0 = procCpuMs(redis.pid ?? 0);
      const k0 = await commands();
      const w0 = performance.now();
      for (let i = 0; i < CALLS; i++) {
        const id = `bench-${n++}`;
        await side.ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: sdp(40000) });
        await side.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(40002) });
        await side.ng.request({ command: 'delete', 'call-id': id });
      }
      const wall = (performance.now() - w0) / CALLS;
      await new Promise((r) => setTimeout(r, 100)); // the last writes reach Redis
      const c = process.cpuUsage(c0);
      if (round === 0) continue; // warm-up round, both sides
      side.cpu.push((c.user + c.system) / CALLS);
      side.wall.push(wall * 1000);
      side.redisCpu.push(((procCpuMs(redis.pid ?? 0) - r0) * 1000) / CALLS);
      side.cmds.push(((await commands()) - k0 - 1) / CALLS);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write(`${ROUNDS} rounds × ${CALLS} calls each (offer + answer + delete, PCMU relay), alternating; medians per call:\n`);
  for (const s of sides) process.stdout.write(`  ${s.name.padEnd(16)} CPU ${median(s.cpu).toFixed(0).padStart(5)} µs  wall ${median(s.wall).toFixed(0).padStart(5)} µs  redis-server CPU ${median(s.redisCpu).toFixed(0).padStart(4)} µs  redis commands ${median(s.cmds).toFixed(1)}\n`);
  const ratios = sides[1].cpu.map((c, i) => c / sides[0].cpu[i]);
  process.stdout.write(`  CPU ratio with/without: median ${median(ratios).toFixed(2)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})\n`);
  for (const s of sides) {
    await s.ng.close();
    await s.t.close();
  }
  redis.kill('SIGKILL');
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
