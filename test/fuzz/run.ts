/**
 * `npm run fuzz`: the fuzz targets with fresh random seeds, round after round, until --minutes or
 * --iterations is reached. Progress goes to stdout; every failure is printed with its seed and
 * input (hex) and written to --out (one .bin with the bytes sent, one .txt with the report).
 *
 *   npm run fuzz                                  # all targets, 10 minutes
 *   npm run fuzz -- --minutes 60 --target media
 *   npm run fuzz -- --iterations 5000 --seed 42   # a reproducible run
 *   npm run fuzz -- --target sip-tcp --seed 3163318238 --replay   # one case again
 *
 * Each target has its own Tandem for the whole run (state accumulates, as in production). Exit
 * code 1 if anything failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { randomInt } from 'node:crypto';
import { startTestTandem, type TestTandem } from '../helpers/tandem.js';
import { fuzzNg } from './ng-target.js';
import { fuzzSip, startSipFuzzEnv, type SipFuzzEnv } from './sip-target.js';
import { fuzzMedia } from './media-target.js';
import { describeFailure, type Failure, type TargetResult } from './harness.js';

const TARGETS = ['ng', 'sip-udp', 'sip-tcp', 'media'] as const;
type Target = (typeof TARGETS)[number];
/** iterations per round and target: a round of all four takes a few seconds */
const ROUND: Record<Target, number> = { ng: 400, 'sip-udp': 60, 'sip-tcp': 60, media: 3000 };

interface Args {
  minutes: number;
  iterations: number | undefined;
  seed: number | undefined;
  targets: Target[];
  replay: boolean;
  out: string;
}

const HELP = `npm run fuzz -- [options]
  --minutes M       stop after M minutes (default 10; ignored with --iterations alone)
  --iterations N    stop after N cases per target
  --seed S          first run seed (default: random); rounds use S, S+1, …
  --target T        ng | sip | sip-udp | sip-tcp | media | all (default all); may be repeated
  --replay          run the single case whose seed is --seed (as printed by a failure)
  --out DIR         where failing inputs are written (default $TMPDIR/tandem-fuzz)`;

function parseArgs(argv: string[]): Args {
  const a: Args = { minutes: 10, iterations: undefined, seed: undefined, targets: [], replay: false, out: join(tmpdir(), 'tandem-fuzz') };
  let minutesGiven = false;
  const num = (opt: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n)) throw new Error(`${opt}: expected a number, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i];
    if (opt === '--minutes') ((a.minutes = num(opt, argv[++i])), (minutesGiven = true));
    else if (opt === '--iterations') a.iterations = Math.floor(num(opt, argv[++i]));
    else if (opt === '--seed') a.seed = Math.floor(num(opt, argv[++i])) >>> 0;
    else if (opt === '--replay') a.replay = true;
    else if (opt === '--out') a.out = argv[++i] ?? a.out;
    else if (opt === '--target') {
      const t = argv[++i];
      if (t === 'all') a.targets.push(...TARGETS);
      else if (t === 'sip') a.targets.push('sip-udp', 'sip-tcp');
      else if ((TARGETS as readonly string[]).includes(t ?? '')) a.targets.push(t as Target);
      else throw new Error(`--target: expected ${[...TARGETS, 'sip', 'all'].join(', ')}, got ${JSON.stringify(t)}`);
    } else if (opt === '--help' || opt === '-h') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${opt}\n${HELP}`);
  }
  if (a.targets.length === 0) a.targets = [...TARGETS];
  if (a.iterations !== undefined && !minutesGiven) a.minutes = Infinity;
  if (a.replay && a.seed === undefined) throw new Error('--replay needs --seed');
  return a;
}

interface Envs {
  ng?: TestTandem;
  media?: TestTandem;
  sip?: SipFuzzEnv;
}

async function runTarget(t: Target, envs: Envs, iterations: number, seed: number, only: number | undefined): Promise<TargetResult> {
  if (t === 'ng') return fuzzNg((envs.ng ??= await startTestTandem({ numThreads: 1 })), { iterations, seed, only });
  if (t === 'media') return fuzzMedia((envs.media ??= await startTestTandem({ numThreads: 1 })), { iterations, seed, only });
  return fuzzSip((envs.sip ??= await startSipFuzzEnv()), { iterations, seed, only, transports: [t === 'sip-udp' ? 'udp' : 'tcp'] });
}

function save(out: string, f: Failure, n: number): void {
  mkdirSync(out, { recursive: true });
  const base = join(out, `${f.case.target}-${f.case.seed}-${n}`);
  writeFileSync(`${base}.bin`, f.case.input);
  writeFileSync(`${base}.txt`, `${describeFailure(f)}\n`);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const out = resolve(args.out);
  const envs: Envs = {};
  const deadline = Date.now() + args.minutes * 60_000;
  const done = new Map<Target, number>(args.targets.map((t) => [t, 0]));
  let failures = 0;
  let round = 0;
  let seed = args.seed ?? randomInt(0, 2 ** 32 - 1);
  process.stdout.write(`fuzz: targets ${args.targets.join(', ')}; ${args.replay ? `replaying seed ${seed}` : `first seed ${seed}, ${Number.isFinite(args.minutes) ? `${args.minutes} min` : 'no time limit'}${args.iterations !== undefined ? `, ${args.iterations} cases per target` : ''}`}; failures to ${out}\n`);
  try {
    for (;;) {
      for (const t of args.targets) {
        const left = args.iterations === undefined ? Infinity : args.iterations - (done.get(t) ?? 0);
        if (left <= 0 || Date.now() >= deadline) continue;
        const n = args.replay ? 1 : Math.min(ROUND[t], left);
        const res = await runTarget(t, envs, n, seed, args.replay ? seed : undefined);
        done.set(t, (done.get(t) ?? 0) + n);
        for (const f of res.failures) {
          save(out, f, ++failures);
          process.stdout.write(`${describeFailure(f)}\n`);
        }
        const attacks = [...res.attacks].map(([id, n]) => `${id}×${n}`).join(' ');
        process.stdout.write(`round ${round} ${t} seed ${seed}: ${res.cases} cases, ${res.failures.length} failures${attacks !== '' ? `, issue-10 attacks: ${attacks}` : ''} (total ${[...done].map(([k, v]) => `${k} ${v}`).join(', ')})\n`);
      }
      round++;
      seed = (seed + 1) >>> 0;
      const allDone = args.iterations !== undefined && [...done.values()].every((v) => v >= (args.iterations ?? 0));
      if (args.replay || allDone || Date.now() >= deadline) break;
    }
  } finally {
    await envs.ng?.close();
    await envs.media?.close();
    await envs.sip?.close();
  }
  process.stdout.write(`fuzz: ${failures} failure(s)${failures > 0 ? `, inputs in ${out}` : ''}\n`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fuzz: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
