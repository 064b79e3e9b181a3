import type { RunningTandem } from '../../src/main.js';
import { ISSUE_10_ATTACKS, type KnownAttack } from './attacks.js';

/**
 * What every target shares: the case a mutator made (enough to replay it), the failures a target
 * found, and the process-level watch (media worker exits, unhandled rejections).
 */
export interface FuzzCase {
  target: string;
  /** the iteration's own seed: `npm run fuzz -- --target T --seed S --iterations 1` replays it */
  seed: number;
  kind: string;
  ops: string[];
  /** the bytes that went on the wire */
  input: Buffer;
  /** the SDP inside, when there is one (the known-defect predicates look at it) */
  sdp?: string;
}

export interface Failure {
  case: FuzzCase;
  problem: string;
}

export interface TargetResult {
  cases: number;
  failures: Failure[];
  /** attack id (attacks.ts) → how many cases sent were that attack */
  attacks: Map<string, number>;
  /** what the cases came to (answered, dropped, relayed…): shows the oracle was not vacuous */
  tally: Record<string, number>;
}

export function count(res: TargetResult, what: string): void {
  res.tally[what] = (res.tally[what] ?? 0) + 1;
}

export function newResult(): TargetResult {
  return { cases: 0, failures: [], attacks: new Map(), tally: {} };
}

/** The issue-10 attack this case is, if any. */
export function attackOf(c: FuzzCase, list: readonly KnownAttack[] = ISSUE_10_ATTACKS): KnownAttack | undefined {
  return list.find((d) => d.targets.includes(c.target) && d.matches(c));
}

/** Records the case (and which known attack it is); every case is sent. */
export function admit(res: TargetResult, c: FuzzCase): boolean {
  const d = attackOf(c);
  if (d !== undefined) res.attacks.set(d.id, (res.attacks.get(d.id) ?? 0) + 1);
  res.cases++;
  return true;
}

const HEX_LIMIT = 8192;

export function describeFailure(f: Failure): string {
  const hex = f.case.input.toString('hex');
  return [
    `FUZZ FAILURE target=${f.case.target} seed=${f.case.seed} kind=${f.case.kind} ops=${f.case.ops.join(',')}`,
    `  problem: ${f.problem}`,
    `  replay: npm run fuzz -- --target ${f.case.target} --seed ${f.case.seed} --replay`,
    `  input (${f.case.input.length} bytes, hex${hex.length > HEX_LIMIT ? `, first ${HEX_LIMIT / 2} bytes` : ''}): ${hex.slice(0, HEX_LIMIT)}`,
  ].join('\n');
}

/**
 * Watches the process while a target runs: a media worker that exits (the pool replaces it, so
 * only the event shows it) or a promise rejection nobody handled is a failure of the whole run.
 */
export class ProcessWatch {
  readonly workerExits: { index: number; code: number }[] = [];
  readonly rejections: unknown[] = [];
  private readonly onExit = (index: number, code: number): void => {
    this.workerExits.push({ index, code });
  };
  private readonly onRejection = (reason: unknown): void => {
    this.rejections.push(reason);
  };

  constructor(private readonly t: RunningTandem) {
    t.media.pool.on('worker-exit', this.onExit);
    process.on('unhandledRejection', this.onRejection);
  }

  /** Problems since the last call (and forgets them). */
  take(): string[] {
    const out = [
      ...this.workerExits.map((e) => `media worker ${e.index} exited with code ${e.code}`),
      ...this.rejections.map((r) => `unhandled rejection: ${r instanceof Error ? (r.stack ?? r.message) : String(r)}`),
    ];
    this.workerExits.length = 0;
    this.rejections.length = 0;
    return out;
  }

  close(): void {
    this.t.media.pool.off('worker-exit', this.onExit);
    process.off('unhandledRejection', this.onRejection);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}
