// The first call after a start against the second (issue 13's follow-up): the real CLI
// (`node dist/cli/tandem.js`, run `npm run build` first) is started --starts times with the media
// workers' warm-up and as many times without it (TANDEM_WARMUP=off), alternating, in one run on the
// same machine. Each start is timed from spawn to its "tandem ready" line, then two calls are made,
// one after the other, each a PCMA caller transcoded to an Opus callee over ng: offer, answer, and
// one 20 ms PCMA frame from the caller until the callee receives it as Opus (the call's
// time-to-first-audio, where any one-time set-up of the media plane lands), then delete.
// Reports medians per mode and the ratios measured side by side. Bounded: 2 × --starts starts,
// every wait capped at 10 s. Not a test.
//   npx tsx bench/first-call.ts [--starts N]
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { encode, decode, type BDict } from '../src/control/bencode.js';
import { encodeAlaw } from '../src/media/codecs/g711.js';

const starts = ((): number => {
  const i = process.argv.indexOf('--starts');
  const v = i >= 0 ? Number(process.argv[i + 1]) : 3;
  if (!Number.isInteger(v) || v < 1 || v > 50) throw new Error('--starts must be a whole number from 1 to 50');
  return v;
})();
const CLI = fileURLToPath(new URL('../dist/cli/tandem.js', import.meta.url));
const WAIT_MS = 10_000;

interface Run {
  readyMs: number;
  /** Per call: ng offer + answer, and offer sent → first transcoded packet received (ms). */
  calls: { signalMs: number; audioMs: number }[];
}

function withDeadline<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

function sdp(port: number, media: string, extra: string[] = []): string {
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP ${media}`, ...extra, 'a=sendrecv', ''].join('\r\n');
}

function start(warmUp: boolean, ngPort: number, portMin: number): { child: ChildProcess; ready: Promise<void> } {
  const args = [CLI, '--listen-http=off', '--listen-sip=none', `--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${portMin}`, `--port-max=${portMin + 199}`, '--num-threads=2', '--log-level=info'];
  const env = { ...process.env };
  if (warmUp) delete env.TANDEM_WARMUP;
  else env.TANDEM_WARMUP = 'off';
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let seen = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('"msg":"tandem ready"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tandem exited (${code}) before ready: ${seen.slice(-500)}`)));
  });
  return { child, ready };
}

async function oneCall(ng: dgram.Socket, ngPort: number, callId: string): Promise<{ signalMs: number; audioMs: number }> {
  let cookie = 0;
  const request = (dict: BDict): Promise<BDict> =>
    withDeadline(
      new Promise<BDict>((resolve) => {
        const c = `${callId}-${++cookie}`;
        const on = (m: Buffer): void => {
          const sp = m.indexOf(0x20);
          if (m.subarray(0, sp).toString() !== c) return;
          ng.off('message', on);
          resolve(decode(m.subarray(sp + 1)) as BDict);
        };
        ng.on('message', on);
        ng.send(Buffer.concat([Buffer.from(`${c} `), encode(dict)]), ngPort, '127.0.0.1');
      }),
      `ng ${String(dict.command)}`,
    );
  const caller = await udp();
  const callee = await udp();
  try {
    const t0 = performance.now();
    const offer = await request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdp(caller.address().port, '8'), codec: { transcode: ['opus'] } });
    const answer = await request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(callee.address().port, '111', ['a=rtpmap:111 opus/48000/2']) });
    const signalMs = performance.now() - t0;
    if (offer.result !== 'ok' || answer.result !== 'ok') throw new Error(`ng refused the call: ${String(offer['error-reason'] ?? answer['error-reason'])}`);
    const target = Number(/^m=audio (\d+)/m.exec(String(answer.sdp))?.[1]);
    const heard = withDeadline(new Promise<void>((r) => callee.once('message', () => r())), 'first transcoded packet');
    const rtp = Buffer.alloc(12 + 160);
    rtp[0] = 0x80;
    rtp[1] = 8;
    rtp.writeUInt32BE(7, 8);
    encodeAlaw(new Int16Array(160), rtp.subarray(12));
    caller.send(rtp, target, '127.0.0.1');
    await heard;
    const audioMs = performance.now() - t0;
    await request({ command: 'delete', 'call-id': callId, 'from-tag': 'a' });
    return { signalMs, audioMs };
  } finally {
    caller.close();
    callee.close();
  }
}

async function run(warmUp: boolean, k: number): Promise<Run> {
  const ngPort = 23000 + Math.floor(Math.random() * 2000);
  const t0 = performance.now();
  const { child, ready } = start(warmUp, ngPort, 43000 + Math.floor(Math.random() * 40) * 200);
  const ng = await udp();
  try {
    await withDeadline(ready, 'tandem ready');
    const readyMs = performance.now() - t0;
    const calls = [await oneCall(ng, ngPort, `fc-${k}-1`), await oneCall(ng, ngPort, `fc-${k}-2`)];
    return { readyMs, calls };
  } finally {
    ng.close();
    child.kill('SIGKILL');
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (x: number): string => x.toFixed(1).padStart(8);

const results: Record<'warm' | 'cold', Run[]> = { warm: [], cold: [] };
for (let k = 0; k < starts; k++) {
  results.warm.push(await run(true, k));
  results.cold.push(await run(false, k));
}
const row = (mode: 'warm' | 'cold'): { ready: number; first: number; second: number; sig1: number; sig2: number } => {
  const rs = results[mode];
  return {
    ready: median(rs.map((r) => r.readyMs)),
    first: median(rs.map((r) => r.calls[0].audioMs)),
    second: median(rs.map((r) => r.calls[1].audioMs)),
    sig1: median(rs.map((r) => r.calls[0].signalMs)),
    sig2: median(rs.map((r) => r.calls[1].signalMs)),
  };
};
const warm = row('warm');
const cold = row('cold');
process.stdout.write(`first call after a start, medians of ${starts} starts each (ms), 2 media workers, PCMA → Opus\n`);
process.stdout.write('mode                      spawn→ready  1st: ng  1st: audio  2nd: ng  2nd: audio  1st/2nd audio\n');
for (const [name, r] of [['warm-up (default)', warm], ['TANDEM_WARMUP=off', cold]] as const) {
  process.stdout.write(`${name.padEnd(24)} ${f(r.ready)}    ${f(r.sig1)} ${f(r.first)}   ${f(r.sig2)} ${f(r.second)}   ${(r.first / r.second).toFixed(1).padStart(8)}×\n`);
}
process.stdout.write(`first call's time-to-audio, without / with the warm-up: ${(cold.first / warm.first).toFixed(1)}×; start to ready, with / without: ${(warm.ready / cold.ready).toFixed(1)}×\n`);
