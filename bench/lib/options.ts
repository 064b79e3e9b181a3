/** Command line → BenchOptions (an unknown or malformed option is an error that names it). */
import { SCENARIOS, type ScenarioName } from './scenario.js';
import { parsePinValue, type PinCpus } from './pin.js';
import { C_RELAY_VARIANTS, type CRelayVariant } from './c-relay.js';

export interface BenchOptions {
  server: 'tandem' | 'rtpengine' | 'kamailio-rtpengine';
  /** How calls are set up: ng straight to the media server, or SIP through Tandem's B2BUA / Kamailio. */
  via: 'ng' | 'sip';
  /** Call-setup rate steps (calls/s), with --via sip; replaces the --calls steps. */
  cps?: number[];
  holdMs: number;
  /** SIP port of the first system under test; the bench's callee listens 100 above. */
  sipPort: number;
  kamailioChildren: number;
  ng?: { host: string; port: number };
  pid?: number;
  calls: number[];
  scenario: ScenarioName;
  durationS: number;
  warmupS: number;
  compare?: 'rtpengine' | 'kamailio-rtpengine' | 'auth';
  /** --via sip, Tandem: digest authentication on (every INVITE challenged 407 and answered). */
  auth: boolean;
  /** Tandem's --auth-algorithms when auth is on; the caller answers the first offered. */
  authAlgorithms: ('SHA-256' | 'MD5')[];
  json: boolean;
  /** --threads N; undefined: one per server CPU under --pin, else 2 (serverThreads()). */
  threads?: number;
  plc: boolean;
  /** E-model equipment impairment of the codec chain (undefined: the scenario's, 0). */
  ie?: number;
  /** Scenarios with Opus: calls whose received Opus is decoded and checked. */
  decodeCalls: number;
  /** WebRTC call-setup time: this many calls (offer → first decrypted SRTP packet) instead of load steps. */
  dtlsSetup?: number;
  /** …and how many of them at a time. */
  dtlsConcurrency: number;
  /** --dtls-setup: send ICE=remove on the offer (the usual gateway flags) or leave the key out. */
  dtlsIce: 'remove' | 'keep';
  ngPort: number;
  portBase: number;
  outDir: string;
  /** Pin the generator to CPU 0 and the servers to the other CPUs (taskset), so they do not compete. */
  pin: boolean;
  /** --pin=GEN:SERVER: the CPU lists (plain --pin: generator 0, servers the rest). */
  pinCpus?: PinCpus;
  /** Generator worker threads for the RTP legs (0: on the main thread); undefined: the default (see HELP). */
  genWorkers?: number;
  /** The generator workers' packet I/O: the bench's native addon (gen-io.c) or dgram; undefined: native when it builds. */
  genIo?: 'native' | 'dgram';
  /** relay-limit: which C relay (c-relay.ts). */
  cRelay: CRelayVariant;
  /** Extra arguments for every Tandem the bench starts (--server-arg, repeatable), e.g. --io=dgram. */
  serverArgs: string[];
  /** Search for the largest N within the criteria instead of running the --calls steps. */
  findMax: boolean;
  /** Upper bound of the --find-max search. */
  maxCalls: number;
  help: boolean;
}

export const HELP = `npm run bench -- [options]

  --server tandem|rtpengine|kamailio-rtpengine  server the bench starts itself (default tandem;
                             kamailio-rtpengine only with --via sip)
  --via ng|sip               how calls are set up (default ng). sip: through Tandem's B2BUA
                             (--server tandem) or Kamailio + rtpengine (--server kamailio-rtpengine),
                             with the bench's own SIP caller and callee
  --compare kamailio-rtpengine   with --via sip: Tandem's B2BUA and Kamailio + rtpengine side by side
  --cps 20,50,100            with --via sip: call-setup rate steps instead of --calls steps; each call
                             is INVITE/200/ACK, held --hold-ms without media, then BYE
  --auth                     with --via sip: Tandem with digest authentication on (a users file with
                             user bench, random password; the generator is not --trusted, so every
                             INVITE gets 407 and the caller answers it: INVITE/407/ACK/INVITE/200/ACK)
  --auth-algorithms LIST     challenges Tandem offers with --auth (default SHA-256,MD5; the caller
                             answers the first)
  --compare auth             with --via sip and --cps: Tandem's B2BUA with authentication on and off,
                             the same steps alternating, and the ratios on ÷ off (the cost of a challenge)
  --hold-ms N                how long each --cps call stays up (default 1000)
  --sip-port P               SIP port of the system under test (default 15060; the callee uses P+100)
  --kamailio-children N      Kamailio UDP workers (default 4)
  --ng HOST:PORT             drive an already running ng server instead (no CPU figures unless --pid)
  --pid PID                  process to read CPU/RSS of, with --ng
  --calls 50,100,200         concurrent calls per step (default 100)
  --scenario S               transcode (PCMA↔PCMU, default) | relay (PCMU both) | ptime (20 ms ↔ 30 ms)
                             | opus (Opus caller ↔ PCMA callee, transcoded both ways)
                             | relay-limit (Tandem's relay against a minimal C relay, bench/relay-limit.c,
                             built here with cc -O2; same load, alternating; figure of merit: packets
                             per CPU-second, Tandem ÷ C relay)
  --c-relay V                relay-limit's C relay: epoll (default: the issue's yardstick, unconnected
                             sockets), epoll-connected (connect(2)ed once latched, as Tandem's are),
                             uring, uring-connected (io_uring: sends batched across sockets; needs
                             liburing-dev)
  --decode-calls N           opus: how many calls decode the Opus they receive to check it and
                             measure its latency (default 8; the others count packets only)
  --ie N                     E-model equipment impairment of the codec chain (default 0; see README)
  --dtls-setup N             WebRTC call setup instead of load steps: N calls from a browser-like
                             DTLS-SRTP/ICE offer, timed from the ng offer to the first SRTP packet the
                             browser decrypts (with --compare rtpengine: both, in alternating rounds)
  --dtls-concurrency C       --dtls-setup calls in flight at once (default 1: sequential)
  --dtls-ice remove|keep     --dtls-setup offer flags: ICE=remove (default, as a Kamailio WebRTC
                             gateway sends) or no ICE key (the server's default)
  --duration S               measured seconds per step (default 10)
  --warmup S                 excluded seconds before each step's window (default 2)
  --compare rtpengine        run every step against Tandem and rtpengine alternately, print ratios
  --threads N                media threads of each server (Tandem and rtpengine --num-threads); default:
                             one per server CPU under --pin (two threads on one core only compete),
                             else 2 for Tandem and rtpengine's own default
  --no-plc                   E-model without packet loss concealment (Bpl 4.3 instead of 25.1)
  --ng-port P                first ng port for servers the bench starts (default 19990)
  --port-base P              media port range start; each server gets 4000 ports (default 20000)
  --out DIR                  where results go (default bench/results)
  --json                     JSON lines on stdout instead of the table
  --find-max                 search the largest N with loss < 0.1 %, mean jitter < 5 ms, MOS ≥ 4.3 on a
                             valid step (starts at the first --calls value, default 50)
  --max-calls N              upper bound for --find-max (default 1000)
  --pin                      generator on CPU 0, servers on the other CPUs (taskset): on a small box
                             this keeps the generator's timers clean and gives each server the same cores;
                             every thread of the generator and of each server is checked and reported
  --pin=GEN:SERVER           the same with CPU lists of your choice, e.g. --pin=0:1 or --pin=0-1:2-7
  --gen-workers N            generator worker threads carrying the RTP legs (default 1, or one per
                             --pin generator CPU; 0: on the main thread, as the opus scenario always is)
  --gen-io native|dgram      the generator workers' packet I/O: bench/gen-io.c, a Node-API addon built
                             here with cc (default when it builds: epoll + recvmmsg, one call per batch),
                             or Node's dgram (one socket object and one call per datagram)
  --server-arg ARG           one more argument for every Tandem started (repeatable), e.g.
                             --server-arg=--io=dgram
`;

export function parseOptions(argv: string[], defaultOut: string): BenchOptions {
  const o: BenchOptions = {
    server: 'tandem',
    via: 'ng',
    holdMs: 1000,
    sipPort: 15060,
    kamailioChildren: 4,
    calls: [100],
    scenario: 'transcode',
    durationS: 10,
    warmupS: 2,
    json: false,
    auth: false,
    authAlgorithms: ['SHA-256', 'MD5'],
    plc: true,
    decodeCalls: 8,
    dtlsConcurrency: 1,
    dtlsIce: 'remove',
    ngPort: 19990,
    portBase: 20000,
    outDir: defaultOut,
    pin: false,
    cRelay: 'epoll',
    serverArgs: [],
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
        if (v !== 'tandem' && v !== 'rtpengine' && v !== 'kamailio-rtpengine') throw new Error(`--server ${v}: expected tandem, rtpengine or kamailio-rtpengine`);
        o.server = v;
        break;
      }
      case '--via': {
        const v = value();
        if (v !== 'ng' && v !== 'sip') throw new Error(`--via ${v}: expected ng or sip`);
        o.via = v;
        break;
      }
      case '--cps': {
        const v = value();
        const list = v.split(',').map((x) => Number(x.trim()));
        if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1 || n > 2000)) throw new Error(`--cps ${v}: expected a comma-separated list of integers 1..2000`);
        o.cps = list;
        break;
      }
      case '--auth':
        o.auth = true;
        break;
      case '--auth-algorithms': {
        const v = value();
        const list = v.split(',').map((x) => x.trim().toUpperCase());
        if (list.length === 0 || list.some((x) => x !== 'SHA-256' && x !== 'MD5') || new Set(list).size !== list.length) throw new Error(`--auth-algorithms ${v}: expected SHA-256 and/or MD5, comma-separated, each once`);
        o.authAlgorithms = list as ('SHA-256' | 'MD5')[];
        break;
      }
      case '--hold-ms':
        o.holdMs = num(0, 600_000);
        break;
      case '--sip-port':
        o.sipPort = num(1024, 65000);
        break;
      case '--kamailio-children':
        o.kamailioChildren = num(1, 64);
        break;
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
        const name = SCENARIOS.find((x) => x === v);
        if (name === undefined) throw new Error(`--scenario ${v}: expected ${SCENARIOS.join(', ')}`);
        o.scenario = name;
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
        if (v !== 'rtpengine' && v !== 'kamailio-rtpengine' && v !== 'auth') throw new Error(`--compare ${v}: expected rtpengine (with --via ng), kamailio-rtpengine or auth (with --via sip)`);
        o.compare = v;
        break;
      }
      case '--threads':
        o.threads = num(1, 64);
        break;
      case '--no-plc':
        o.plc = false;
        break;
      case '--ie':
        o.ie = num(0, 95);
        break;
      case '--decode-calls':
        o.decodeCalls = num(0, 2000);
        break;
      case '--dtls-setup':
        o.dtlsSetup = num(1, 2000);
        break;
      case '--dtls-concurrency':
        o.dtlsConcurrency = num(1, 50);
        break;
      case '--dtls-ice': {
        const v = value();
        if (v !== 'remove' && v !== 'keep') throw new Error(`--dtls-ice ${v}: expected remove or keep`);
        o.dtlsIce = v;
        break;
      }
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
        // Only --pin=VALUE takes a value: a bare --pin is often followed by another option.
        o.pin = true;
        if (eq > 0) o.pinCpus = parsePinValue(a.slice(eq + 1));
        break;
      case '--gen-workers':
        o.genWorkers = num(0, 64);
        if (!Number.isInteger(o.genWorkers)) throw new Error(`--gen-workers ${o.genWorkers}: expected a whole number`);
        break;
      case '--c-relay': {
        const v = value();
        const known = C_RELAY_VARIANTS.find((k) => k === v);
        if (known === undefined) throw new Error(`--c-relay ${v}: expected ${C_RELAY_VARIANTS.join(', ')}`);
        o.cRelay = known;
        break;
      }
      case '--gen-io': {
        const v = value();
        if (v !== 'native' && v !== 'dgram') throw new Error(`--gen-io ${v}: expected native or dgram`);
        o.genIo = v;
        break;
      }
      case '--server-arg': {
        const v = value();
        if (!v.startsWith('--')) throw new Error(`--server-arg ${v}: expected a Tandem option such as --io=dgram`);
        o.serverArgs.push(v);
        break;
      }
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
  if (o.scenario === 'opus' && o.genWorkers !== undefined && o.genWorkers > 0) throw new Error('--gen-workers: the opus scenario runs its legs on the main thread (--gen-workers 0)');
  if (o.genIo === 'native' && o.genWorkers === 0) throw new Error('--gen-io native runs in generator workers: not with --gen-workers 0');
  if (o.cRelay !== 'epoll' && o.scenario !== 'relay-limit') throw new Error(`--c-relay ${o.cRelay}: only with --scenario relay-limit`);
  if (o.scenario === 'relay-limit') {
    if (o.via === 'sip' || o.ng || o.compare || o.server !== 'tandem' || o.dtlsSetup !== undefined) throw new Error('--scenario relay-limit starts Tandem and the C relay itself: not with --via sip, --ng, --compare, --server or --dtls-setup');
  }
  if (o.ng && o.compare) throw new Error('--ng and --compare cannot be combined: --compare starts both servers itself');
  if (o.dtlsSetup !== undefined) {
    if (o.via === 'sip') throw new Error('--dtls-setup runs over ng: not with --via sip');
    if (o.findMax) throw new Error('--dtls-setup and --find-max are different runs');
  }
  if (o.via === 'sip') {
    if (o.ng) throw new Error('--via sip starts its systems itself: --ng does not apply');
    if (o.server === 'rtpengine') throw new Error('--via sip: rtpengine has no SIP side; use --server kamailio-rtpengine');
    if (o.compare === 'rtpengine') throw new Error('--via sip: compare with --compare kamailio-rtpengine');
    if (o.findMax) throw new Error('--via sip: --find-max is for --via ng');
    if ((o.auth || o.compare === 'auth') && (o.server === 'kamailio-rtpengine' || o.compare === 'kamailio-rtpengine')) throw new Error('--auth / --compare auth: only for Tandem\'s B2BUA (Kamailio + rtpengine is run without authentication)');
    if (o.auth && o.compare === 'auth') throw new Error('--compare auth already runs with and without --auth');
    // A challenge is a call-setup cost; --calls steps measure the media window, where auth does nothing.
    if (o.compare === 'auth' && o.cps === undefined) throw new Error('--compare auth needs --cps (a challenge costs at call setup, not during media)');
  } else {
    if (o.auth || o.compare === 'auth') throw new Error('--auth / --compare auth need --via sip');
    if (o.server === 'kamailio-rtpengine' || o.compare === 'kamailio-rtpengine') throw new Error('kamailio-rtpengine needs --via sip');
    if (o.cps) throw new Error('--cps needs --via sip');
  }
  return o;
}

/** The media threads each server gets: --threads, else one per pinned server CPU, else undefined (the server's own default; Tandem 2). */
export function serverThreads(o: Pick<BenchOptions, 'threads'>, pinnedServerCpus: number | undefined): number | undefined {
  return o.threads ?? pinnedServerCpus;
}
