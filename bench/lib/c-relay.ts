/**
 * The C relay of `--scenario relay-limit` (bench/relay-limit.c): compiled here with `cc -O2` into a cache
 * directory keyed by the source's hash, started like a server (a ServerHandle whose CPU /proc reads), and
 * given calls through a signalling that hands out its fixed port pairs instead of talking ng.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSdp, parseSdp, PT } from './sdp.js';
import type { CallSignalling, Established } from './signalling.js';
import type { ServerHandle } from './server.js';
import type { G711Law } from './g711.js';

export const C_RELAY_SOURCE = fileURLToPath(new URL('../relay-limit.c', import.meta.url));

/** Where the compiled relay is kept between runs (one binary per source version). */
export function cRelayCacheDir(): string {
  return join(tmpdir(), 'tandem-bench');
}

/** The C compiler on PATH, or undefined. */
export function findCompiler(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(':')) {
    if (dir !== '' && existsSync(join(dir, 'cc'))) return join(dir, 'cc');
  }
  return undefined;
}

export type BuildResult = { ok: true; binary: string; cached: boolean } | { ok: false; reason: string };

/**
 * Compiles one of the bench's C files (once per source version and flags) into `cacheDir`; a missing
 * compiler or a failed build is a reason, not a throw.
 */
export function compileCached(o: { source: string; name: string; flags: string[]; libs?: string[]; suffix?: string; cacheDir?: string; path?: string }): BuildResult {
  const cc = findCompiler(o.path);
  if (cc === undefined) return { ok: false, reason: 'no C compiler (cc) on PATH: apt-get install gcc' };
  const src = readFileSync(o.source);
  const hash = createHash('sha256').update(src).update([...o.flags, ...(o.libs ?? [])].join(' ')).digest('hex').slice(0, 16);
  const dir = o.cacheDir ?? cRelayCacheDir();
  const binary = join(dir, `${o.name}-${hash}${o.suffix ?? ''}`);
  if (existsSync(binary)) return { ok: true, binary, cached: true };
  mkdirSync(dir, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  try {
    execFileSync(cc, [...o.flags, '-o', tmp, o.source, ...(o.libs ?? [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    return { ok: false, reason: `cc ${o.flags.join(' ')} ${o.source} failed: ${stderr || (e as Error).message}` };
  }
  renameSync(tmp, binary); // atomic: a concurrent run sees the whole binary or none
  return { ok: true, binary, cached: false };
}

/**
 * Which C relay (`bench --c-relay`): the yardstick (`epoll`: unconnected sockets, recvmmsg and
 * sendmmsg per ready socket), the same with connected sockets as Tandem's latched ones are, and io_uring
 * (system calls batched across sockets) in both. All built from bench/relay-limit.c.
 */
export const C_RELAY_VARIANTS = ['epoll', 'epoll-connected', 'uring', 'uring-connected'] as const;
export type CRelayVariant = (typeof C_RELAY_VARIANTS)[number];

export function cRelayUsesUring(v: CRelayVariant): boolean {
  return v === 'uring' || v === 'uring-connected';
}

export function cRelayConnects(v: CRelayVariant): boolean {
  return v === 'epoll-connected' || v === 'uring-connected';
}

/** Compiles bench/relay-limit.c (once per source version): with -DRELAY_URING and liburing for the io_uring variants. */
export function buildCRelay(o: { cacheDir?: string; path?: string; variant?: CRelayVariant } = {}): BuildResult {
  const uring = cRelayUsesUring(o.variant ?? 'epoll');
  const r = compileCached({
    source: C_RELAY_SOURCE,
    name: uring ? 'relay-limit-uring' : 'relay-limit',
    flags: uring ? ['-O2', '-Wall', '-DRELAY_URING'] : ['-O2', '-Wall'],
    libs: uring ? ['-luring'] : [],
    cacheDir: o.cacheDir,
    path: o.path,
  });
  if (!r.ok && uring && /liburing|-luring/.test(r.reason)) return { ok: false, reason: `the io_uring relay needs liburing: apt-get install liburing-dev (${r.reason.split('\n')[0]})` };
  return r;
}

export interface CRelayCounters {
  received: number;
  sent: number;
  unpaired: number;
  sendErrors: number;
}

export interface CRelayHandle extends ServerHandle {
  /** The relay's own counters, printed when it stops (undefined if it died). */
  readonly counters: () => CRelayCounters | undefined;
  /** Every side forgets its peer (SIGUSR1): the next calls on these ports are learnt afresh. */
  readonly forgetPeers: () => void;
}

/**
 * Starts the relay on 127.0.0.1, ports base .. base+2·calls−1 (call i: side A base+2i, side B base+2i+1);
 * resolves once it printed "ready". `cpus`: taskset CPU list.
 */
export async function startCRelay(o: { binary: string; basePort: number; calls: number; cpus?: string; name?: string; connect?: boolean }): Promise<CRelayHandle> {
  const args = ['127.0.0.1', String(o.basePort), String(o.calls), ...(o.connect === true ? ['connect'] : [])];
  const child = o.cpus === undefined ? spawn(o.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('taskset', ['-c', o.cpus, o.binary, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) => child.once('exit', (code, sig) => ((exited = `exited with ${code ?? sig}`), resolve())));
  const until = Date.now() + 5000;
  while (!out.includes('ready')) {
    if (exited !== undefined || Date.now() > until) {
      if (exited === undefined) child.kill('SIGKILL');
      throw new Error(`C relay did not start (${exited ?? 'no "ready" within 5 s'}): ${err.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const counters = (): CRelayCounters | undefined => {
    const m = /received (\d+) sent (\d+) unpaired (\d+) send_errors (\d+)/.exec(out);
    return m ? { received: Number(m[1]), sent: Number(m[2]), unpaired: Number(m[3]), sendErrors: Number(m[4]) } : undefined;
  };
  const forgetPeers = (): void => void (exited === undefined && child.kill('SIGUSR1'));
  const name = o.name ?? 'c-relay';
  return {
    kind: 'c-relay',
    name,
    ng: { host: '127.0.0.1', port: 0 },
    pid: child.pid,
    counters,
    // A connected side keeps its peer for good: once a step's calls have all ended, the relay forgets them.
    forgetPeers,
    signalling: async () => new CRelaySignalling(o.basePort, o.calls, forgetPeers),
    logTail: () => err.trim().split('\n').slice(-20).join('\n'),
    stop: async () => {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(t);
    },
  };
}

/**
 * Calls through the C relay: call k of a step gets the k-th free port pair. The callee is "offered" the
 * caller's SDP with the relay's side-B port (same codec: a relay), and the caller is answered with
 * the side-A port. Releasing a call frees its pair for the next step; when the last one is released,
 * `onIdle` (the relay forgets its peers).
 */
export class CRelaySignalling implements CallSignalling {
  readonly kind = 'ng';
  private readonly free: number[];

  constructor(private readonly basePort: number, private readonly calls: number, private readonly onIdle: () => void = () => undefined) {
    this.free = Array.from({ length: calls }, (_, i) => calls - 1 - i);
  }

  async establish(id: string, callerSdp: string, answer: (toCallee: string) => string): Promise<Established> {
    const pair = this.free.pop();
    if (pair === undefined) throw new Error(`C relay: no free port pair for call ${id} (started with too few calls)`);
    const offered = parseSdp(callerSdp);
    const codec = (Object.keys(PT) as (keyof typeof PT)[]).find((c) => PT[c] === offered.payloadTypes[0]);
    if (codec === undefined || codec === 'opus') throw new Error(`C relay: the caller offered payload type ${offered.payloadTypes[0]}, not G.711`);
    const law: G711Law = codec;
    const toCallee = buildSdp({ sessionId: 3000 + pair, port: this.basePort + 2 * pair + 1, codec: law, ptime: offered.ptime ?? 20 });
    const calleeSdp = parseSdp(answer(toCallee));
    const toCaller = buildSdp({ sessionId: 4000 + pair, port: this.basePort + 2 * pair, codec: law, ptime: calleeSdp.ptime ?? 20 });
    return {
      toCallee,
      toCaller,
      release: async () => {
        this.free.push(pair);
        if (this.free.length === this.calls) this.onIdle();
      },
    };
  }

  async close(): Promise<void> {}
}
