// Process and port helpers for e2e tests: start a child with its output in a log file, wait for
// readiness by bounded polling, stop it (and its process group) for sure, pick free ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StartOptions {
  /** Short name used in messages and the log file name. */
  name: string;
  cmd: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Directory for the log file; a new temp dir if omitted. */
  logDir?: string;
}

export interface RunningProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  logPath: string;
  /** Resolves with the exit code (or signal name) when the process exits. */
  exited: Promise<string>;
  hasExited(): boolean;
  /** Last `lines` lines of the combined stdout/stderr log. */
  tail(lines?: number): string;
  /** SIGTERM the process group, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

// Every process group we started, so that a crashing test run still kills them.
const live = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of live) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tandem-${prefix}-`));
}

export function startProcess(opts: StartOptions): RunningProcess {
  installExitHook();
  const dir = opts.logDir ?? makeTempDir(opts.name);
  const logPath = join(dir, `${opts.name}.log`);
  const fd = openSync(logPath, 'a');
  // detached: the child leads its own process group, so stop() can signal all of its children too
  // (kamailio forks workers).
  const child = spawn(opts.cmd, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${opts.name}: spawn of ${opts.cmd} failed`);
  const pid = child.pid;
  live.add(pid);
  let done = false;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(signal ?? String(code));
    });
    child.once('error', (err) => {
      done = true;
      resolve(`spawn error: ${err.message}`);
    });
  });
  const tail = (lines = 40): string => {
    if (!existsSync(logPath)) return '';
    const all = readFileSync(logPath, 'utf8').split('\n');
    return all.slice(-lines - 1).join('\n');
  };
  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      /* group already gone */
    }
  };
  const stop = async (graceMs = 3000): Promise<void> => {
    if (!done) {
      killGroup('SIGTERM');
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([exited, timer])) === 'timeout') {
        killGroup('SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
      }
    }
    // Leftover children of the group (e.g. kamailio workers) must not survive their parent.
    killGroup('SIGKILL');
    live.delete(pid);
  };
  return { name: opts.name, child, pid, logPath, exited, hasExited: () => done, tail, stop };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value other than undefined/false, at most `timeoutMs`.
 * `abort` (e.g. "the process died") is checked each round and fails fast with its message.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number; abort?: () => string | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastErr: unknown;
  for (;;) {
    const why = opts.abort?.();
    if (why) throw new Error(`waiting for ${what}: ${why}`);
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : '';
      throw new Error(`timed out after ${opts.timeoutMs ?? 10_000} ms waiting for ${what}${detail}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** A UDP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A random media port range inside [20000, 29999], `size` ports wide, starting on an even port. */
export function randomPortRange(size = 100): { min: number; max: number } {
  const slots = Math.floor((30000 - 20000 - size) / 2);
  const min = 20000 + 2 * Math.floor(Math.random() * slots);
  return { min, max: min + size - 1 };
}
