/**
 * Media servers under test: start Tandem's CLI or Debian's rtpengine with the same flags, wait for ng
 * `pong`, sample their CPU (utime+stime of all threads, /proc/PID/stat) and RSS (/proc/PID/status), stop them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NgClient } from './ng.js';
import type { BDict } from '../../src/control/bencode.js';
import type { CallSignalling } from './signalling.js';

export type ServerKind = 'tandem' | 'rtpengine' | 'external' | 'tandem-b2bua' | 'kamailio-rtpengine' | 'c-relay';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TANDEM_CLI = `${REPO_ROOT}dist/cli/tandem.js`;
const RTPENGINE_BIN = '/usr/bin/rtpengine';
/** USER_HZ: /proc/PID/stat counts CPU time in these ticks (100 on Linux x86-64 and arm64). */
const CLK_TCK = 100;

export interface ServerHandle {
  kind: ServerKind;
  name: string; // label in reports
  ng: { host: string; port: number };
  pid?: number;
  /** Every process whose CPU and RSS count as the system's (e.g. Kamailio's workers and rtpengine); default [pid]. */
  pids?: () => number[];
  /** For a system of several programs: each part's processes (e.g. kamailio: its group, rtpengine: its pid), reported beside the sum. */
  parts?: () => Record<string, number[]>;
  /** How calls are set up; default: ng offer/answer/delete to `ng`. */
  signalling?: (offerFlags: BDict) => Promise<CallSignalling>;
  /** Last lines the server wrote on stderr (for error reports). */
  logTail(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  kind: 'tandem' | 'rtpengine';
  ngPort: number;
  portMin: number;
  portMax: number;
  /** Media threads (--num-threads); undefined: Tandem 2, rtpengine its own default. */
  threads?: number;
  /** CPU list for taskset (e.g. "1" or "1-3"); the server and all its threads stay there. */
  cpus?: string;
  /** Tandem: more arguments (--server-arg), after the bench's own. */
  extraArgs?: string[];
}

/**
 * Which packet I/O a Tandem will use (issue 14's --io=batch|dgram): the --io the bench passes through,
 * else --io=batch when this build's --help offers the option (`preferBatch`), else plain dgram.
 */
export function tandemIo(extraArgs: readonly string[], preferBatch: boolean, help = tandemHelp): { args: string[]; io: string } {
  const given = [...extraArgs].reverse().find((a) => a.startsWith('--io='));
  if (given !== undefined) return { args: [...extraArgs], io: `${given.slice(5)} (--server-arg)` };
  if (!/--io[= ]/.test(help())) return { args: [...extraArgs], io: 'dgram (this Tandem has no --io option)' };
  if (preferBatch) return { args: [...extraArgs, '--io=batch'], io: 'batch (asked for; Tandem falls back to dgram with a warning if its addon does not load)' };
  return { args: [...extraArgs], io: "Tandem's default" };
}

let helpText: string | undefined;
function tandemHelp(): string {
  if (helpText === undefined) {
    try {
      helpText = execFileSync(process.execPath, [TANDEM_CLI, '--help'], { encoding: 'utf8', timeout: 10_000 });
    } catch (e) {
      helpText = String((e as { stdout?: string }).stdout ?? '');
    }
  }
  return helpText;
}

/** Runs `bin args` under taskset when a CPU list is given (taskset execs it: same pid). */
function spawnPinned(cpus: string | undefined, bin: string, args: string[], opts: Parameters<typeof spawn>[2]): ChildProcess {
  return cpus === undefined ? spawn(bin, args, opts) : spawn('taskset', ['-c', cpus, bin, ...args], opts);
}

export async function startServer(o: StartOptions): Promise<ServerHandle> {
  const common = [
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${o.ngPort}`,
    `--port-min=${o.portMin}`,
    `--port-max=${o.portMax}`,
  ];
  let child: ChildProcess;
  if (o.kind === 'tandem') {
    if (!existsSync(TANDEM_CLI)) throw new Error(`${TANDEM_CLI} does not exist: run \`npm run build\` first`);
    child = spawnPinned(o.cpus, process.execPath, [TANDEM_CLI, ...common, `--num-threads=${o.threads ?? 2}`, '--log-level=warn', '--listen-sip=none', '--listen-http=off', ...(o.extraArgs ?? [])], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } else {
    if (!existsSync(RTPENGINE_BIN)) throw new Error(`${RTPENGINE_BIN} not installed (apt-get install rtpengine-daemon)`);
    // --delete-delay=0: rtpengine otherwise keeps deleted calls (and their ports) for 30 s, across steps.
    // --log-level=4 (warning) matches Tandem's --log-level=warn so neither pays for per-call info logs.
    child = spawnPinned(
      o.cpus,
      RTPENGINE_BIN,
      ['--config-file=none', ...common, ...(o.threads !== undefined ? [`--num-threads=${o.threads}`] : []), '--table=-1', '--delete-delay=0', '--log-level=4', '--foreground', '--log-stderr'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  }
  const tail: string[] = [];
  const keep = (d: Buffer): void => {
    for (const l of d.toString().split('\n')) if (l.trim()) tail.push(l);
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: string | undefined;
  const exitP = new Promise<void>((r) =>
    child.once('exit', (code, sig) => {
      exited = `exited with ${code ?? sig}`;
      r();
    }),
  );
  const handle: ServerHandle = {
    kind: o.kind,
    name: o.kind,
    ng: { host: '127.0.0.1', port: o.ngPort },
    pid: child.pid,
    logTail: () => tail.join('\n'),
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitP;
      clearTimeout(t);
    },
  };
  try {
    await waitForPong(handle.ng, 10_000, () => exited);
  } catch (e) {
    await handle.stop();
    throw new Error(`${o.kind} did not answer ng ping: ${(e as Error).message}\n${handle.logTail()}`);
  }
  return handle;
}

export function externalServer(ng: { host: string; port: number }, pid?: number): ServerHandle {
  return { kind: 'external', name: `ng ${ng.host}:${ng.port}`, ng, pid, logTail: () => '', stop: async () => undefined };
}

export async function waitForPong(ng: { host: string; port: number }, timeoutMs: number, abort?: () => string | undefined): Promise<void> {
  const client = new NgClient({ ...ng, timeoutMs: 200, retries: 1 });
  const until = Date.now() + timeoutMs;
  try {
    for (;;) {
      const why = abort?.();
      if (why) throw new Error(why);
      try {
        const r = await client.request({ command: 'ping' });
        if (r.result === 'pong') return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > until) throw new Error(`no pong within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    void client.close();
  }
}

/** CPU seconds (user+system, all threads) of a process; undefined when it cannot be read. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Resident set size in MB (VmRSS), undefined when it cannot be read. */
export function processRssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
