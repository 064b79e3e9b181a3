// SRTP through a real Tandem worker (issue 14): N calls bridged plain RTP/AVP (caller) ↔ SDES
// RTP/SAVP (callee), so per call and 20 ms the worker protects one packet and unprotects one. Two
// Tandem builds are run alternately, same load, and the server's CPU (utime+stime from /proc) is
// compared: this repository's and another checkout's (--other DIR, e.g. main's, built there).
// Not a test: numbers for the README. Bounded: --rounds × 2 servers × (--warmup + --seconds).
//   npx tsx bench/srtp-relay.ts --other /tmp/tandem-main [--calls 50] [--seconds 5] [--rounds 3]
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SrtpContext } from '../src/media/rtp/srtp.js';
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
const CALLS = whole('calls', 50, 500);
const SECONDS = whole('seconds', 5, 60);
const WARMUP = whole('warmup', 2, 30);
const ROUNDS = whole('rounds', 3, 10);
const NG_PORT = whole('ng-port', 31990, 65535);
const PORT_BASE = whole('port-base', 44000, 60000);
const OTHER = argOf('other');
if (OTHER === undefined) throw new Error('--other DIR: a built checkout to compare with (its dist/cli/tandem.js)');
const HERE = fileURLToPath(new URL('../', import.meta.url));
for (const root of [HERE, OTHER]) if (!existsSync(`${root}/dist/cli/tandem.js`)) throw new Error(`${root}/dist/cli/tandem.js missing: npm run build there`);

const sdp = (port: number, proto: string, extra: string[] = []): string =>
  ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=bench', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} ${proto} 0`, 'a=rtpmap:0 PCMU/8000', ...extra, 'a=sendrecv', ''].join('\r\n');
const portOf = (s: string): number => Number(/^m=audio (\d+) /m.exec(s)?.[1]);

interface Call {
  caller: dgram.Socket;
  callee: dgram.Socket;
  toCaller: number; // Tandem's port facing the caller
  toCallee: number;
  calleeTx: SrtpContext;
  calleeRx: SrtpContext;
  got: { caller: number; callee: number; bad: number };
}

async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

async function setUp(ng: NgClient, i: number): Promise<Call> {
  const caller = await udp();
  const callee = await udp();
  const id = `srtp-relay-${i}`;
  const offer = expectOk(
    await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: sdp(caller.address().port, 'RTP/AVP'), 'transport-protocol': 'RTP/SAVP', replace: ['origin'] }),
    'offer',
  );
  const offered = offer.sdp as string;
  const m = /^a=crypto:(\d+) AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)/m.exec(offered);
  if (m === null) throw new Error(`no AES_CM_128_HMAC_SHA1_80 key in the offer:\n${offered}`);
  const theirs = Buffer.from(m[2], 'base64');
  const ours = randomBytes(30);
  const answered = expectOk(
    await ng.request({
      command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b',
      sdp: sdp(callee.address().port, 'RTP/SAVP', [`a=crypto:${m[1]} AES_CM_128_HMAC_SHA1_80 inline:${ours.toString('base64')}`]),
    }),
    'answer',
  ).sdp as string;
  const c: Call = {
    caller, callee, toCaller: portOf(answered), toCallee: portOf(offered),
    calleeTx: new SrtpContext('AES_CM_128_HMAC_SHA1_80', ours.subarray(0, 16), ours.subarray(16)),
    calleeRx: new SrtpContext('AES_CM_128_HMAC_SHA1_80', theirs.subarray(0, 16), theirs.subarray(16)),
    got: { caller: 0, callee: 0, bad: 0 },
  };
  caller.on('message', () => c.got.caller++);
  callee.on('message', (msg) => {
    if (c.calleeRx.unprotectRtpInPlace(msg, msg.length) >= 0) c.got.callee++;
    else c.got.bad++;
  });
  return c;
}

function tandem(root: string): ChildProcess {
  return spawn(process.execPath, [`${root}/dist/cli/tandem.js`, '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${NG_PORT}`,
    `--port-min=${PORT_BASE}`, `--port-max=${PORT_BASE + 3999}`, '--num-threads=1', '--log-level=warn', '--listen-sip=none'], { cwd: root, stdio: 'ignore' });
}

/** One server: calls up, stream WARMUP + SECONDS, CPU over the last SECONDS; returns CPU % and packet counts. */
async function measure(root: string): Promise<{ cpuPct: number; usPerPair: number; sent: number; atCaller: number; atCallee: number; bad: number }> {
  const child = tandem(root);
  try {
    await waitForPong({ host: '127.0.0.1', port: NG_PORT }, 10_000);
    const ng = new NgClient({ host: '127.0.0.1', port: NG_PORT, timeoutMs: 2000, retries: 2 });
    const calls: Call[] = [];
    for (let i = 0; i < CALLS; i++) calls.push(await setUp(ng, i));
    const payload = Buffer.alloc(160, 0xd5);
    let seq = 0;
    let sent = 0;
    const tick = (): void => {
      for (const [k, c] of calls.entries()) {
        const rtp = Buffer.alloc(172);
        rtp[0] = 0x80;
        rtp.writeUInt16BE(seq & 0xffff, 2);
        rtp.writeUInt32BE((seq * 160) >>> 0, 4);
        rtp.writeUInt32BE(0x1000 + k, 8);
        payload.copy(rtp, 12);
        c.caller.send(rtp, c.toCaller, '127.0.0.1');
        c.callee.send(c.calleeTx.protectRtp(rtp), c.toCallee, '127.0.0.1');
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
    // Server CPU per packet pair (one protected, one unprotected) sent in the window: the generator
    // may fall behind on a loaded box, so this, not CPU %, is comparable between runs.
    const usPerPair = (cpuS * 1e6) / Math.max(1, sent - sent0);
    clearInterval(timer);
    await new Promise((r) => setTimeout(r, 200));
    const r = { cpuPct, usPerPair, sent, atCaller: 0, atCallee: 0, bad: 0 };
    for (const c of calls) {
      r.atCaller += c.got.caller;
      r.atCallee += c.got.callee;
      r.bad += c.got.bad;
      c.caller.close();
      c.callee.close();
    }
    await ng.close();
    return r;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const roots = [HERE, OTHER];
const names = ['this tree', OTHER];
const cpu: number[][] = [[], []];
const perPair: number[][] = [[], []];
const lines: string[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const k of round % 2 === 0 ? [1, 0] : [0, 1]) {
    const r = await measure(roots[k]);
    cpu[k].push(r.cpuPct);
    perPair[k].push(r.usPerPair);
    const line = `round ${round + 1} ${names[k]}: server CPU ${r.cpuPct.toFixed(1)} %, ${r.usPerPair.toFixed(1)} µs per packet pair (sent ${r.sent} each way; caller got ${r.atCaller}, callee decrypted ${r.atCallee}, failed ${r.bad})`;
    lines.push(line);
    process.stdout.write(`${line}\n`);
  }
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
process.stdout.write(
  `${CALLS} calls plain ↔ SDES-SRTP, --num-threads=1, ${SECONDS} s per step, ${ROUNDS} rounds\n` +
    `  this tree: mean ${mean(cpu[0]).toFixed(1)} % CPU, ${mean(perPair[0]).toFixed(1)} µs per packet pair\n` +
    `  ${OTHER}: mean ${mean(cpu[1]).toFixed(1)} % CPU, ${mean(perPair[1]).toFixed(1)} µs per packet pair\n` +
    `  this ÷ other, CPU per packet pair: ${(mean(perPair[0]) / mean(perPair[1])).toFixed(2)} (per round: ${perPair[0].map((x, i) => (x / perPair[1][i]).toFixed(2)).join(' ')})\n`,
);
