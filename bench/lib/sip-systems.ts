/**
 * Systems under test for `--via sip`: Tandem as a B2BUA (SIP and media in one process), or Debian's
 * Kamailio (record-routing proxy, rtpengine module) in front of Debian's rtpengine. Each routes every
 * call to the bench's callee and transcodes as the scenario says; CPU and RSS add up all processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, startServer, waitForPong, type ServerHandle } from './server.js';
import { SipSignalling } from './signalling.js';
import { waitForSip } from './sip-ua.js';
import type { Scenario } from './scenario.js';
import type { DigestCredentials } from './sip-digest.js';
import type { DigestAlgorithm } from '../../src/sip/digest.js';
import { withPassword } from '../../src/edge/auth-users.js';

export type SipSystemKind = 'tandem-b2bua' | 'kamailio-rtpengine';

const TANDEM_CLI = `${REPO_ROOT}dist/cli/tandem.js`;
const KAMAILIO_BIN = '/usr/sbin/kamailio';
const BENCH_REALM = 'bench';
const KAMAILIO_CFG = fileURLToPath(new URL('../kamailio/kamailio.cfg', import.meta.url));

export interface SipSystemOptions {
  kind: SipSystemKind;
  scenario: Scenario;
  /** where the system listens for SIP (UDP). */
  sipPort: number;
  /** where the bench's callee listens; the system sends leg B there. */
  calleePort: number;
  ngPort: number;
  portMin: number;
  portMax: number;
  /** Media threads (--num-threads); undefined: Tandem 2, rtpengine its own default. */
  threads?: number;
  /** Kamailio UDP worker processes. */
  kamailioChildren: number;
  cpus?: string;
  /** tandem-b2bua: more arguments (--server-arg). */
  extraArgs?: string[];
  /**
   * tandem-b2bua only: start it with digest authentication on (a users file in a temp dir with user
   * `bench` and a random password; no --trusted, so every INVITE from the generator is challenged 407)
   * and give the bench's caller the password. `algorithms` = --auth-algorithms (default SHA-256,MD5).
   */
  auth?: { algorithms: DigestAlgorithm[] };
}

/** The users file a bench run gives Tandem: user `bench`, a random password, both hashes. */
export function benchUsersFile(realm: string): { path: string; credentials: DigestCredentials } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-auth-'));
  const path = join(dir, 'users');
  const password = randomBytes(12).toString('base64url');
  writeFileSync(path, withPassword('', 'bench', realm, password), { mode: 0o600 });
  return { path, credentials: { user: 'bench', password } };
}

function spawnPinned(cpus: string | undefined, bin: string, args: string[]): ChildProcess {
  const opts = { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], detached: true };
  return cpus === undefined ? spawn(bin, args, opts) : spawn('taskset', ['-c', cpus, bin, ...args], opts);
}

/** Every process in a process group (Kamailio forks its workers into the group of the main process). */
function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'latin1');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

function watch(child: ChildProcess, name: string): { tail: () => string; exited: () => string | undefined; stop: () => Promise<void> } {
  const lines: string[] = [];
  const keep = (d: Buffer): void => {
    for (const l of d.toString().split('\n')) if (l.trim()) lines.push(l);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: string | undefined;
  const done = new Promise<void>((r) => child.once('exit', (code, sig) => {
    exited = `${name} exited with ${code ?? sig}`;
    r();
  }));
  return {
    tail: () => lines.join('\n'),
    exited: () => exited,
    stop: async () => {
      if (exited !== undefined || child.pid === undefined) return;
      // The whole group: Kamailio's workers too.
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-(child.pid ?? 0), 'SIGKILL'); } catch { /* gone */ } }, 3000);
      await done;
      clearTimeout(t);
    },
  };
}

/** Kamailio's rtpengine flags for a scenario: what a Kamailio user writes for the same job. */
function kamailioOfferFlags(sc: Scenario): string {
  const f = ['replace-origin', 'replace-session-connection'];
  if (sc.callerCodec !== sc.calleeCodec) f.push(`codec-mask=${sc.callerCodec}`, `codec-transcode=${sc.calleeCodec}`);
  if (sc.calleePtime !== sc.callerPtime) f.push(`ptime=${sc.calleePtime}`);
  return f.join(' ');
}

export async function startSipSystem(o: SipSystemOptions): Promise<ServerHandle> {
  const sip = { address: '127.0.0.1', port: o.sipPort };
  if (o.auth !== undefined && o.kind !== 'tandem-b2bua') throw new Error('--auth: only for Tandem\'s B2BUA');
  const users = o.auth !== undefined ? benchUsersFile(BENCH_REALM) : undefined;
  const signalling = (): Promise<SipSignalling> => SipSignalling.open(sip, o.calleePort, users?.credentials);
  if (o.kind === 'tandem-b2bua') {
    if (!existsSync(TANDEM_CLI)) throw new Error(`${TANDEM_CLI} does not exist: run \`npm run build\` first`);
    const args = [
      TANDEM_CLI,
      '--interface=127.0.0.1',
      `--listen-ng=127.0.0.1:${o.ngPort}`,
      `--listen-sip=udp:127.0.0.1:${o.sipPort}`,
      // Several benches (and tests) may run side by side: no admin listener on the fixed default port.
      '--listen-http=off',
      `--route=sip:127.0.0.1:${o.calleePort}`,
      `--b-codecs=${o.scenario.calleeCodec}`,
      ...(o.scenario.calleePtime !== o.scenario.callerPtime ? [`--b-ptime=${o.scenario.calleePtime}`] : []),
      `--port-min=${o.portMin}`,
      `--port-max=${o.portMax}`,
      `--num-threads=${o.threads ?? 2}`,
      '--log-level=warn',
      // The generator runs on 127.0.0.1, which --flood-exempt leaves out of pike and the per-source
      // limits by default; it is not --trusted, so with auth every INVITE is challenged.
      ...(users !== undefined && o.auth !== undefined ? [`--auth-users=${users.path}`, `--realm=${BENCH_REALM}`, `--auth-algorithms=${o.auth.algorithms.join(',')}`] : []),
      ...(o.extraArgs ?? []),
    ];
    const child = spawnPinned(o.cpus, process.execPath, args);
    const w = watch(child, 'tandem');
    const handle: ServerHandle = {
      kind: 'tandem-b2bua',
      name: users !== undefined ? 'tandem-b2bua+auth' : 'tandem-b2bua',
      ng: { host: '127.0.0.1', port: o.ngPort },
      pid: child.pid,
      signalling,
      logTail: w.tail,
      stop: async () => {
        await w.stop();
        if (users !== undefined) rmSync(dirname(users.path), { recursive: true, force: true });
      },
    };
    try {
      await waitForSip(sip, 10_000, w.exited);
    } catch (e) {
      await w.stop();
      throw new Error(`tandem B2BUA did not come up: ${(e as Error).message}\n${w.tail()}`);
    }
    return handle;
  }
  if (!existsSync(KAMAILIO_BIN)) throw new Error(`${KAMAILIO_BIN} not installed (apt-get install kamailio)`);
  const rtpengine = await startServer({ kind: 'rtpengine', ngPort: o.ngPort, portMin: o.portMin, portMax: o.portMax, threads: o.threads, cpus: o.cpus });
  const run = mkdtempSync(join(tmpdir(), 'bench-kamailio-'));
  const defines: Record<string, string> = {
    SIP_LISTEN: `udp:127.0.0.1:${o.sipPort}`,
    NG_SOCK: `"udp:127.0.0.1:${o.ngPort}"`,
    CALLEE_URI: `"sip:127.0.0.1:${o.calleePort}"`,
    OFFER_FLAGS: `"${kamailioOfferFlags(o.scenario)}"`,
    // Warnings only, as Tandem and rtpengine run: per-call info lines would cost Kamailio CPU.
    LOG_LEVEL: '1',
  };
  const args = [
    '-f', KAMAILIO_CFG, '-DD', '-E', '-P', join(run, 'kamailio.pid'), '-Y', run, '-w', run,
    '-m', '256', '-M', '16', '-n', String(o.kamailioChildren),
    ...Object.entries(defines).flatMap(([k, v]) => ['-A', `${k}=${v}`]),
  ];
  const child = spawnPinned(o.cpus, KAMAILIO_BIN, args);
  const w = watch(child, 'kamailio');
  const handle: ServerHandle = {
    kind: 'kamailio-rtpengine',
    name: 'kamailio+rtpengine',
    ng: rtpengine.ng,
    pid: child.pid,
    pids: () => [...(child.pid !== undefined ? groupPids(child.pid) : []), ...(rtpengine.pid !== undefined ? [rtpengine.pid] : [])],
    parts: () => ({ kamailio: child.pid !== undefined ? groupPids(child.pid) : [], rtpengine: rtpengine.pid !== undefined ? [rtpengine.pid] : [] }),
    signalling,
    logTail: () => `${w.tail()}\n--- rtpengine ---\n${rtpengine.logTail()}`,
    stop: async () => {
      await w.stop();
      await rtpengine.stop();
    },
  };
  try {
    await waitForPong(rtpengine.ng, 10_000);
    await waitForSip(sip, 10_000, w.exited);
  } catch (e) {
    await handle.stop();
    throw new Error(`kamailio+rtpengine did not come up: ${(e as Error).message}\n${handle.logTail()}`);
  }
  return handle;
}
