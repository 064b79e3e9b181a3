// Relay CPU per packet of Tandem's two media socket layers (--io=batch|dgram), side by side in one
// run. The server's CPU time (/proc/PID/stat) is divided by the packets it relayed, so the figure
// holds on a busy machine where the load generator cannot keep its pace (it only stretches the run).
//   npx tsx bench/io-compare.ts [--calls 200] [--rounds 300] [--order batch,dgram,dgram,batch] [--threads 1] [--cpu-prof DIR]
// --cpu-prof DIR: the server runs under node --cpu-prof, one .cpuprofile per thread (the worker's is the media path).
// --perf DIR: `perf record` of the server over the measured rounds (node --perf-basic-prof names JS frames), DIR/IO.data.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { decode, encode, type BDict } from '../src/control/bencode.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
};
const CALLS = Number(arg('calls', '200'));
const ROUNDS = Number(arg('rounds', '300'));
const WARMUP_ROUNDS = 25;
const ORDER = arg('order', 'batch,dgram,dgram,batch').split(',') as ('batch' | 'dgram')[];
const THREADS = arg('threads', '1');
const NG_PORT = 23322;
const PROF_DIR = arg('cpu-prof', '');
const PERF_DIR = arg('perf', '');

function cpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime of every thread, in clock ticks (USER_HZ 100)
}

async function ng(sock: dgram.Socket, dict: BDict): Promise<BDict> {
  const cookie = Math.random().toString(36).slice(2, 10);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      sock.off('message', on);
      reject(new Error(`no ng reply to ${String(dict.command)}`));
    }, 15000);
    const on = (m: Buffer): void => {
      if (!m.subarray(0, cookie.length).equals(Buffer.from(cookie))) return;
      clearTimeout(t);
      sock.off('message', on);
      resolve(decode(m.subarray(cookie.length + 1)) as BDict);
    };
    sock.on('message', on);
    sock.send(Buffer.concat([Buffer.from(`${cookie} `), encode(dict)]), NG_PORT, '127.0.0.1');
  });
}

const sdp = (port: number): string => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n`;
const mediaPort = (s: string): number => Number(/^m=audio (\d+)/m.exec(s)?.[1]);

async function bound(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

async function run(io: 'batch' | 'dgram'): Promise<{ io: string; packets: number; cpuS: number; lost: number; wallS: number }> {
  const prof = PROF_DIR !== '' ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}/${io}`] : PERF_DIR !== '' ? ['--perf-basic-prof'] : [];
  const child = spawn(process.execPath, [...prof, 'dist/cli/tandem.js', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${NG_PORT}`, '--port-min=41000', '--port-max=44999', `--num-threads=${THREADS}`, '--log-level=warn', '--listen-sip=none', `--io=${io}`], { stdio: 'ignore' });
  const pid = child.pid as number;
  const ctl = await bound();
  for (let i = 0; i < 50; i++) {
    try {
      if ((await ng(ctl, { command: 'ping' })).result === 'pong') break;
    } catch {
      await sleep(100);
    }
  }
  let received = 0;
  const legs: { from: dgram.Socket; to: number }[] = [];
  const socks: dgram.Socket[] = [];
  for (let c = 0; c < CALLS; c++) {
    const a = await bound();
    const b = await bound();
    socks.push(a, b);
    // Only the measured rounds count (warm-up packets may still be arriving when they start).
    for (const s of [a, b]) s.on('message', (m: Buffer) => m.length >= 4 && m.readUInt16BE(2) >= WARMUP_ROUNDS && received++);
    const callId = `io-${c}`;
    const offer = await ng(ctl, { command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdp(a.address().port) });
    const answer = await ng(ctl, { command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(b.address().port) });
    legs.push({ from: a, to: mediaPort(answer.sdp as string) }, { from: b, to: mediaPort(offer.sdp as string) });
  }
  const pkt = Buffer.alloc(172);
  pkt[0] = 0x80;
  const round = (k: number): void => {
    pkt.writeUInt16BE(k & 0xffff, 2);
    pkt.writeUInt32BE(k * 160, 4);
    for (const [i, l] of legs.entries()) {
      pkt.writeUInt32BE(i + 1, 8);
      l.from.send(pkt, l.to, '127.0.0.1');
    }
  };
  // Paced like the calls' 20 ms packets: each round at its time, or at once when behind.
  const paced = async (from: number, to: number): Promise<void> => {
    const t0 = performance.now();
    for (let k = from; k < to; k++) {
      const wait = t0 + (k - from) * 20 - performance.now();
      if (wait > 0) await sleep(wait);
      round(k);
    }
  };
  await paced(0, WARMUP_ROUNDS);
  await sleep(300);
  const base = 0;
  const perf = PERF_DIR === '' ? undefined : spawn('perf', ['record', '-F', '1999', '-g', '-o', `${PERF_DIR}/${io}.data`, '-p', String(pid)], { stdio: 'ignore' });
  if (perf !== undefined) await sleep(500);
  const cpu0 = cpuSeconds(pid);
  const wall0 = performance.now();
  await paced(WARMUP_ROUNDS, WARMUP_ROUNDS + ROUNDS);
  const expected = legs.length * ROUNDS;
  for (let i = 0; i < 100 && received - base < expected; i++) await sleep(50);
  const cpuS = cpuSeconds(pid) - cpu0;
  const wallS = (performance.now() - wall0) / 1000;
  const got = received - base;
  if (perf !== undefined) {
    perf.kill('SIGINT');
    await new Promise((r) => perf.once('exit', r));
  }
  for (const s of socks) s.close();
  ctl.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { io, packets: got, cpuS, lost: expected - got, wallS };
}

const rows: Awaited<ReturnType<typeof run>>[] = [];
for (const io of ORDER) {
  const r = await run(io);
  rows.push(r);
  process.stdout.write(`${io.padEnd(5)} calls ${CALLS} relayed ${r.packets} (lost ${r.lost}) in ${r.wallS.toFixed(1)} s wall, server CPU ${r.cpuS.toFixed(2)} s → ${((r.cpuS / r.packets) * 1e6).toFixed(2)} µs/packet, ${Math.round(r.packets / r.cpuS)} packets/CPU-s\n`);
}
const per = (io: string): number => {
  const rs = rows.filter((r) => r.io === io);
  return rs.reduce((s, r) => s + r.cpuS, 0) / rs.reduce((s, r) => s + r.packets, 0);
};
if (ORDER.includes('batch') && ORDER.includes('dgram')) process.stdout.write(`CPU per relayed packet, batch ÷ dgram: ${(per('batch') / per('dgram')).toFixed(2)}\n`);
