/**
 * `--pin`: the generator and the servers on disjoint CPUs (taskset, util-linux), and a check that every
 * thread of every process involved really is where it was put (a server's worker threads and child
 * processes included), read back from /proc/PID/task/TID/status.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PinCpus {
  generator: number[];
  server: number[];
}

/** "0-2,5" → [0, 1, 2, 5]; anything else is an error naming `what`. */
export function parseCpuList(s: string, what: string): number[] {
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const m = /^(\d{1,4})(?:-(\d{1,4}))?$/.exec(part.trim());
    if (!m) throw new Error(`${what} '${s}': expected CPU numbers and ranges such as 0 or 1-3,5`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`${what} '${s}': range ${part} runs backwards`);
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/** `--pin=GEN:SERVER` (e.g. 0:1 or 0:1-3): two disjoint CPU lists. */
export function parsePinValue(v: string): PinCpus {
  const parts = v.split(':');
  if (parts.length !== 2) throw new Error(`--pin=${v}: expected GENERATOR_CPUS:SERVER_CPUS, e.g. --pin=0:1`);
  const generator = parseCpuList(parts[0], '--pin generator CPUs');
  const server = parseCpuList(parts[1], '--pin server CPUs');
  const both = generator.filter((c) => server.includes(c));
  if (both.length) throw new Error(`--pin=${v}: CPU ${both.join(',')} is given to both the generator and the servers`);
  return { generator, server };
}

/** Plain `--pin`: generator on CPU 0, servers on the rest. */
export function defaultPin(cpus: number): PinCpus {
  if (cpus < 2) throw new Error(`--pin needs at least 2 CPUs (this machine has ${cpus})`);
  return { generator: [0], server: Array.from({ length: cpus - 1 }, (_, i) => i + 1) };
}

/** Every CPU of the plan exists here. */
export function checkPinFits(p: PinCpus, cpus: number): void {
  const missing = [...p.generator, ...p.server].filter((c) => c >= cpus);
  if (missing.length) throw new Error(`--pin: CPU ${missing.join(',')} does not exist (this machine has CPUs 0-${cpus - 1})`);
}

/** "1-3,5" form of a CPU list (taskset -c and reports). */
export function cpuListString(cpus: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j] + 1) j++;
    out.push(j === i ? String(cpus[i]) : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** taskset's path, or an error saying which package brings it. */
export function requireTaskset(path = process.env.PATH ?? ''): string {
  for (const dir of path.split(':')) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'taskset'), constants.X_OK);
      return join(dir, 'taskset');
    } catch {
      /* not here */
    }
  }
  throw new Error('--pin needs taskset, which is not on PATH: apt-get install util-linux');
}

/** Pins every thread of process `pid` (this one by default) to `cpus`. */
export function pinProcess(cpus: readonly number[], pid = process.pid, taskset = requireTaskset()): void {
  // -a: every thread (libuv's pool, V8's, worker threads), not just the main one; threads made later inherit it.
  execFileSync(taskset, ['-a', '-p', '-c', cpuListString(cpus), String(pid)], { stdio: 'ignore' });
}

/** The process and all its descendants (Kamailio's children, a server's helpers), from /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  }
  walk(root);
  return out;
}

export interface PinCheck {
  processes: number;
  threads: number;
  /** threads not on the expected CPUs: "pid/tid (comm): cpus" */
  wrong: string[];
}

/**
 * Reads each thread's Cpus_allowed_list of every process in `pids` and, with `descendants`, of their
 * descendants (not for the generator: the servers it starts are its children).
 */
export function checkPinned(pids: readonly number[], expected: readonly number[], descendants = true): PinCheck {
  const want = cpuListString(expected);
  const all = descendants ? [...new Set(pids.flatMap(processTree))] : [...new Set(pids)];
  const wrong: string[] = [];
  let threads = 0;
  for (const pid of all) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited
    }
    for (const tid of tids) {
      try {
        const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
        const list = /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1];
        const name = /Name:\s*(.*)/.exec(status)?.[1] ?? '?';
        threads++;
        if (list === undefined || cpuListString(parseCpuList(list, 'Cpus_allowed_list')) !== want) wrong.push(`${pid}/${tid} (${name}): ${list ?? '?'}`);
      } catch {
        /* thread gone */
      }
    }
  }
  return { processes: all.length, threads, wrong };
}
