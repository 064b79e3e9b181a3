// Runs Debian's SIPp (sip-tester 3.6) on a scenario from test/e2e/sipp/, with @TOKENS@ filled in.
// SIPp exits 0 when every call succeeded, 1 when some failed; anything else (or a timeout) is a
// harness problem. -trace_msg keeps every message SIPp saw, so a test can check the SDP each side got.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from './proc.js';
import { peerPath } from '../../helpers/peers.js';

export const SIPP_BIN = peerPath('sipp') ?? '/usr/bin/sipp';
const SCENARIOS = fileURLToPath(new URL('../sipp/', import.meta.url));

export interface SippRun {
  /** scenario file name under test/e2e/sipp */
  scenario: string;
  tokens?: Record<string, string | number>;
  /** host:port to send to (UAC); omitted for a UAS. */
  remote?: string;
  localPort: number;
  mediaPort: number;
  transport?: 'u1' | 't1';
  rtpEcho?: boolean;
  service?: string;
  /** further SIPp arguments, e.g. ['-au', 'alice', '-ap', 'secret'] for [authentication]. */
  extraArgs?: string[];
  timeoutMs: number;
}

export interface SippResult {
  exitCode: number | null;
  /** every message SIPp sent and received (its -trace_msg file). */
  messages: string;
  output: string;
}

export interface SippProcess {
  done: Promise<SippResult>;
  kill(): void;
}

export function startSipp(run: SippRun): SippProcess {
  const dir = makeTempDir('sipp');
  let text = readFileSync(join(SCENARIOS, run.scenario), 'utf8');
  for (const [k, v] of Object.entries(run.tokens ?? {})) text = text.split(`@${k}@`).join(String(v));
  const leftover = /@[A-Z0-9_]+@/.exec(text);
  if (leftover !== null) throw new Error(`${run.scenario}: token ${leftover[0]} not given`);
  const file = join(dir, run.scenario);
  writeFileSync(file, text);
  const messageFile = join(dir, 'messages.log');
  const args = [
    '-sf', file,
    '-i', '127.0.0.1',
    '-p', String(run.localPort),
    '-mp', String(run.mediaPort),
    '-m', '1',
    '-t', run.transport ?? 'u1',
    '-nostdin',
    '-trace_msg', '-message_file', messageFile,
    // SIPp's own guards, below the test's: a stuck call fails rather than hangs.
    '-timeout', `${Math.ceil(run.timeoutMs / 1000)}s`, '-timeout_error',
    '-recv_timeout', String(run.timeoutMs),
  ];
  if (run.rtpEcho === true) args.push('-rtp_echo');
  if (run.service !== undefined) args.push('-s', run.service);
  if (run.extraArgs !== undefined) args.push(...run.extraArgs);
  if (run.remote !== undefined) args.push(run.remote);
  const child = spawn(SIPP_BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  const killer = setTimeout(() => child.kill('SIGKILL'), run.timeoutMs + 5000);
  const done = new Promise<SippResult>((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ exitCode: code, messages: existsSync(messageFile) ? readFileSync(messageFile, 'utf8') : '', output });
    });
    child.once('error', (err) => {
      clearTimeout(killer);
      resolve({ exitCode: null, messages: '', output: `spawn failed: ${err.message}` });
    });
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

/** The messages of a -trace_msg log that SIPp received (not the ones it sent), start line first. */
export function receivedMessages(log: string): string[] {
  return log
    .split(/^-{20,} [^\n]*\n/m)
    .filter((block) => /^\S+ message received/.test(block))
    .map((block) => block.replace(/^[^\n]*\n\s*/, ''));
}

/** A SIPp media port: even, in 30000–31998, away from Tandem's and rtpengine's ranges. */
export function sippMediaPort(): number {
  return 30000 + 4 * Math.floor(Math.random() * 500);
}

/** What each SIPp printed and exchanged, for an assertion's message. */
export function explainSipp(results: Record<string, SippResult>): string {
  return Object.entries(results)
    .map(([who, r]) => `--- ${who}: exit ${r.exitCode}\n${r.output.slice(-1500)}\n${r.messages.slice(-3000)}`)
    .join('\n');
}
