/** Command line → BenchOptions (an unknown or malformed option is an error that names it). */
import type { ScenarioName } from './scenario.js';

export interface BenchOptions {
  server: 'tandem' | 'rtpengine';
  ng?: { host: string; port: number };
  pid?: number;
  calls: number[];
  scenario: ScenarioName;
  durationS: number;
  warmupS: number;
  compare?: 'rtpengine';
  json: boolean;
  threads: number;
  plc: boolean;
  ngPort: number;
  portBase: number;
  outDir: string;
  /** Pin the generator to CPU 0 and the servers to the other CPUs (taskset), so they do not compete. */
  pin: boolean;
  /** Search for the largest N within the criteria instead of running the --calls steps. */
  findMax: boolean;
  /** Upper bound of the --find-max search. */
  maxCalls: number;
  help: boolean;
}

export const HELP = `npm run bench -- [options]

  --server tandem|rtpengine  server the bench starts itself (default tandem)
  --ng HOST:PORT             drive an already running ng server instead (no CPU figures unless --pid)
  --pid PID                  process to read CPU/RSS of, with --ng
  --calls 50,100,200         concurrent calls per step (default 100)
  --scenario S               transcode (PCMA↔PCMU, default) | relay (PCMU both) | ptime (20 ms ↔ 30 ms)
  --duration S               measured seconds per step (default 10)
  --warmup S                 excluded seconds before each step's window (default 2)
  --compare rtpengine        run every step against Tandem and rtpengine alternately, print ratios
  --threads N                Tandem --num-threads (default 2)
  --no-plc                   E-model without packet loss concealment (Bpl 4.3 instead of 25.1)
  --ng-port P                first ng port for servers the bench starts (default 19990)
  --port-base P              media port range start; each server gets 4000 ports (default 20000)
  --out DIR                  where results go (default bench/results)
  --json                     JSON lines on stdout instead of the table
  --find-max                 search the largest N with loss < 0.1 %, mean jitter < 5 ms, MOS ≥ 4.3 on a
                             valid step (starts at the first --calls value, default 50)
  --max-calls N              upper bound for --find-max (default 1000)
  --pin                      generator on CPU 0, servers on the other CPUs (taskset): on a small box
                             this keeps the generator's timers clean and gives each server the same cores
`;

export function parseOptions(argv: string[], defaultOut: string): BenchOptions {
  const o: BenchOptions = {
    server: 'tandem',
    calls: [100],
    scenario: 'transcode',
    durationS: 10,
    warmupS: 2,
    json: false,
    threads: 2,
    plc: true,
    ngPort: 19990,
    portBase: 20000,
    outDir: defaultOut,
    pin: false,
    findMax: false,
    maxCalls: 1000,
    help: false,
  };
  let callsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    const num = (min: number, max: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${name} ${v}: expected a number in ${min}..${max}`);
      return n;
    };
    switch (name) {
      case '-h':
      case '--help':
        o.help = true;
        break;
      case '--server': {
        const v = value();
        if (v !== 'tandem' && v !== 'rtpengine') throw new Error(`--server ${v}: expected tandem or rtpengine`);
        o.server = v;
        break;
      }
      case '--ng': {
        const m = /^([\w.-]+):(\d+)$/.exec(value());
        if (!m) throw new Error(`--ng expects HOST:PORT`);
        o.ng = { host: m[1], port: Number(m[2]) };
        break;
      }
      case '--pid':
        o.pid = num(1, 2 ** 22);
        break;
      case '--calls': {
        const v = value();
        const list = v.split(',').map((s) => Number(s.trim()));
        if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1 || n > 2000)) {
          throw new Error(`--calls ${v}: expected a comma-separated list of integers 1..2000`);
        }
        o.calls = list;
        callsGiven = true;
        break;
      }
      case '--scenario': {
        const v = value();
        if (v !== 'transcode' && v !== 'relay' && v !== 'ptime') throw new Error(`--scenario ${v}: expected transcode, relay or ptime`);
        o.scenario = v;
        break;
      }
      case '--duration':
        o.durationS = num(1, 3600);
        break;
      case '--warmup':
        o.warmupS = num(0, 600);
        break;
      case '--compare': {
        const v = value();
        if (v !== 'rtpengine') throw new Error(`--compare ${v}: only rtpengine is supported`);
        o.compare = v;
        break;
      }
      case '--threads':
        o.threads = num(1, 64);
        break;
      case '--no-plc':
        o.plc = false;
        break;
      case '--ng-port':
        o.ngPort = num(1024, 65000);
        break;
      case '--port-base':
        o.portBase = num(1024, 56000);
        break;
      case '--out':
        o.outDir = value();
        break;
      case '--json':
        o.json = true;
        break;
      case '--pin':
        o.pin = true;
        break;
      case '--find-max':
        o.findMax = true;
        break;
      case '--max-calls':
        o.maxCalls = num(1, 2000);
        break;
      default:
        throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  if (o.findMax && !callsGiven) o.calls = [50];
  if (o.ng && o.compare) throw new Error('--ng and --compare cannot be combined: --compare starts both servers itself');
  return o;
}
