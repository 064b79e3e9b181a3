// The cost of --cdr's record per ng-only session (issue 16 follow-up): the same ng sessions (offer,
// answer, delete: plain PCMU relay, no RTP) against two in-process Tandems, one without and one with
// --cdr (a file in a temporary directory), alternating rounds in one run so both see the same
// machine. Reports per session, side by side: this process's CPU (main thread, the media worker
// and the ng client alike on both sides, so the difference is what the record adds) and the wall
// time of a session's three requests. The record is built at teardown from counters the teardown
// collects anyway, so there is nothing per packet to measure. Bounded: --rounds × --calls sessions
// each (defaults 6 × 300). Not a test.
//   npx tsx bench/ng-cdr-cost.ts [--rounds N] [--calls N]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const CALLS = arg('calls', 300);

const sdp = (port: number): string => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-cdr-bench-'));
  const file = join(dir, 'cdr.json');
  const log = pino({ level: 'silent' });
  const start = (cdr: string | undefined, base: number): Promise<RunningTandem> =>
    startTandem({ ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, listenSip: [], portMin: base, portMax: base + 3999, numThreads: 1, logLevel: 'silent', ...(cdr !== undefined ? { cdr } : {}) }, log);
  const plain = await start(undefined, 12000);
  const recorded = await start(file, 20000);
  const sides = [
    { name: 'without --cdr', t: plain, ng: new NgClient({ host: '127.0.0.1', port: plain.ngAddress.port }), cpu: [] as number[], wall: [] as number[] },
    { name: 'with --cdr', t: recorded, ng: new NgClient({ host: '127.0.0.1', port: recorded.ngAddress.port }), cpu: [] as number[], wall: [] as number[] },
  ];
  let n = 0;
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      for (let i = 0; i < CALLS; i++) {
        const id = `bench-${n++}`;
        await side.ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: sdp(40000) });
        await side.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(40002) });
        await side.ng.request({ command: 'delete', 'call-id': id });
      }
      const wall = (performance.now() - w0) / CALLS;
      await new Promise((r) => setTimeout(r, 100)); // the last records reach the file
      const c = process.cpuUsage(c0);
      if (round === 0) continue; // warm-up round, both sides
      side.cpu.push((c.user + c.system) / CALLS);
      side.wall.push(wall * 1000);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write(`${ROUNDS} rounds × ${CALLS} ng sessions each (offer + answer + delete, PCMU relay), alternating; medians per session:\n`);
  for (const s of sides) process.stdout.write(`  ${s.name.padEnd(14)} CPU ${median(s.cpu).toFixed(0).padStart(5)} µs  wall ${median(s.wall).toFixed(0).padStart(5)} µs\n`);
  const ratios = sides[1].cpu.map((c, i) => c / sides[0].cpu[i]);
  process.stdout.write(`  CPU ratio with/without: median ${median(ratios).toFixed(2)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})\n`);
  for (const s of sides) {
    await s.ng.close();
    await s.t.close();
  }
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  process.stdout.write(`  records written: ${lines.length} (expected ${(ROUNDS + 1) * CALLS}), ${Math.round(Buffer.byteLength(lines[0]))} bytes each\n`);
  rmSync(dir, { recursive: true, force: true });
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
