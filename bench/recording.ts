// What recording costs (issue 15): N transcoded calls (PCMA caller ↔ PCMU callee, 20 ms both ways)
// through one Tandem worker, run with recording off, every call recorded to pcap, and every call
// recorded to WAV; the server's CPU (utime+stime from /proc) per packet pair is compared side by
// side in one run, modes alternated per round. Not a test: numbers for the README. Bounded:
// --rounds × 3 modes × (--warmup + --seconds).
//   npx tsx bench/recording.ts [--calls 200] [--seconds 5] [--warmup 2] [--rounds 2]
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BDict } from '../src/control/bencode.js';
import { NgClient, expectOk } from './lib/ng.js';
import { processCpuSeconds, waitForPong } from './lib/server.js';

const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const whole = (name: string, dflt: number, max: number): number => {
  const v = Number(argOf(name) ?? dflt);
  if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`--${name} must be a whole number from 1 to ${max}`);
  return v;
};
const CALLS = whole('calls', 200, 500);
const SECONDS = whole('seconds', 5, 60);
const WARMUP = whole('warmup', 2, 30);
const ROUNDS = whole('rounds', 2, 10);
const NG_PORT = whole('ng-port', 31980, 65535);
const PORT_BASE = whole('port-base', 46000, 60000);
const HERE = fileURLToPath(new URL('../', import.meta.url));
if (!existsSync(`${HERE}/dist/cli/tandem.js`)) throw new Error(`${HERE}dist/cli/tandem.js missing: npm run build`);

type Mode = 'off' | 'pcap' | 'wav';
const MODES: Mode[] = ['off', 'pcap', 'wav'];

const sdp = (port: number, pt: number, name: string): string =>
  ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=bench', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP ${pt}`, `a=rtpmap:${pt} ${name}/8000`, 'a=sendrecv', ''].join('\r\n');
const portOf = (s: string): number => Number(/^m=audio (\d+) /m.exec(s)?.[1]);

interface Call {
  caller: dgram.Socket;
  callee: dgram.Socket;
  toCaller: number;
  toCallee: number;
  got: number;
}

async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

async function setUp(ng: NgClient, i: number, record: boolean): Promise<Call> {
  const caller = await udp();
  const callee = await udp();
  const id = `rec-bench-${i}`;
  const offered = expectOk(await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: sdp(caller.address().port, 8, 'PCMA'), codec: { mask: ['PCMA'], transcode: ['PCMU'] } }), 'offer').sdp as string;
  const answered = expectOk(await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(callee.address().port, 0, 'PCMU') }), 'answer').sdp as string;
  if (record) expectOk(await ng.request({ command: 'start recording', 'call-id': id, metadata: `bench call ${i}` }), 'start recording');
  const c: Call = { caller, callee, toCaller: portOf(answered), toCallee: portOf(offered), got: 0 };
  caller.on('message', () => c.got++);
  callee.on('message', () => c.got++);
  return c;
}

function tandem(mode: Mode, dir: string): ChildProcess {
  const rec = mode === 'off' ? [] : [`--recording-dir=${dir}`, `--recording-method=${mode}`];
  return spawn(process.execPath, [`${HERE}/dist/cli/tandem.js`, '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${NG_PORT}`,
    `--port-min=${PORT_BASE}`, `--port-max=${PORT_BASE + 3999}`, '--num-threads=1', '--log-level=warn', '--listen-sip=none', ...rec], { cwd: HERE, stdio: 'ignore' });
}

async function measure(mode: Mode): Promise<{ cpuPct: number; usPerPair: number; sent: number; got: number; dropped: number; bytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-rec-bench-'));
  const child = tandem(mode, dir);
  try {
    await waitForPong({ host: '127.0.0.1', port: NG_PORT }, 10_000);
    const ng = new NgClient({ host: '127.0.0.1', port: NG_PORT, timeoutMs: 2000, retries: 2 });
    const calls: Call[] = [];
    for (let i = 0; i < CALLS; i++) calls.push(await setUp(ng, i, mode !== 'off'));
    const payload = Buffer.alloc(160);
    for (let i = 0; i < 160; i++) payload[i] = (i * 37) & 0xff;
    let seq = 0;
    let sent = 0;
    const tick = (): void => {
      for (const [k, c] of calls.entries()) {
        const rtp = Buffer.alloc(172);
        rtp[0] = 0x80;
        rtp[1] = 8;
        rtp.writeUInt16BE(seq & 0xffff, 2);
        rtp.writeUInt32BE((seq * 160) >>> 0, 4);
        rtp.writeUInt32BE(0x1000 + k, 8);
        payload.copy(rtp, 12);
        c.caller.send(rtp, c.toCaller, '127.0.0.1');
        const back = Buffer.from(rtp);
        back[1] = 0;
        c.callee.send(back, c.toCallee, '127.0.0.1');
        sent++;
      }
      seq++;
    };
    const timer = setInterval(tick, 20);
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const pid = child.pid ?? 0;
    const cpu0 = processCpuSeconds(pid) ?? 0;
    const sent0 = sent;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const cpuS = (processCpuSeconds(pid) ?? 0) - cpu0;
    const cpuPct = (cpuS / ((performance.now() - t0) / 1000)) * 100;
    // Per packet pair sent in the window: the generator may fall behind on a loaded box.
    const usPerPair = (cpuS * 1e6) / Math.max(1, sent - sent0);
    clearInterval(timer);
    await new Promise((r) => setTimeout(r, 300));
    const stats = expectOk(await ng.request({ command: 'statistics' }), 'statistics');
    const total = ((stats.statistics as BDict).totalstatistics as BDict) ?? {};
    let got = 0;
    for (const [i, c] of calls.entries()) {
      got += c.got;
      await ng.request({ command: 'delete', 'call-id': `rec-bench-${i}` });
      c.caller.close();
      c.callee.close();
    }
    await ng.close();
    await new Promise((r) => setTimeout(r, 300));
    const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    return { cpuPct, usPerPair, sent, got, dropped: Number(total.recordingdropped ?? 0), bytes };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const perPair: Record<Mode, number[]> = { off: [], pcap: [], wav: [] };
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? MODES : [...MODES].reverse();
  for (const mode of order) {
    const r = await measure(mode);
    perPair[mode].push(r.usPerPair);
    process.stdout.write(
      `round ${round + 1} recording ${mode}: server CPU ${r.cpuPct.toFixed(1)} %, ${r.usPerPair.toFixed(1)} µs per packet pair ` +
        `(sent ${r.sent} each way, ${r.got} arrived; recordingdropped ${r.dropped}; ${(r.bytes / 1e6).toFixed(1)} MB written)\n`,
    );
  }
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
process.stdout.write(
  `${CALLS} calls PCMA ↔ PCMU, --num-threads=1, ${SECONDS} s per step, ${ROUNDS} rounds\n` +
    MODES.map((m) => `  ${m}: mean ${mean(perPair[m]).toFixed(1)} µs per packet pair, ÷ off ${(mean(perPair[m]) / mean(perPair.off)).toFixed(2)} (per round: ${perPair[m].map((x, i) => (x / perPair.off[i]).toFixed(2)).join(' ')})\n`).join(''),
);
