/**
 * `--scenario relay-limit`: Tandem's relay (set up over ng as the relay scenario) against the minimal C
 * relay (c-relay.ts), the same calls in the same run, alternating which goes first; the figure of merit
 * is packets per CPU-second, Tandem ÷ C relay.
 */
import { buildCRelay, cRelayConnects, startCRelay, type CRelayVariant } from './c-relay.js';
import type { ServerHandle } from './server.js';
import type { StepResult } from './step.js';

/** Builds and starts the C relay for up to `calls` calls, or says why it cannot (no compiler, build error). */
export async function startRelayLimitPeer(o: { basePort: number; calls: number; cpus?: string; variant: CRelayVariant; say: (l: string) => void }): Promise<ServerHandle | undefined> {
  const built = buildCRelay({ variant: o.variant });
  if (!built.ok) {
    o.say(`relay-limit: skipping the C relay: ${built.reason}; Tandem runs alone (no ratio)`);
    return undefined;
  }
  o.say(`relay-limit: C relay (${o.variant}) ${built.cached ? 'cached' : 'built'} at ${built.binary} (ports ${o.basePort}-${o.basePort + 2 * o.calls - 1})`);
  return startCRelay({ binary: built.binary, basePort: o.basePort, calls: o.calls, cpus: o.cpus, connect: cRelayConnects(o.variant) });
}

/** Per step: both servers' packets per CPU-second and Tandem ÷ C relay (the figure of merit; ≥ 0.70 is issue 14's goal). */
export function relayLimitLines(rows: readonly StepResult[]): string {
  const byN = new Map<number, { t?: StepResult; c?: StepResult }>();
  for (const r of rows) {
    const e = byN.get(r.calls) ?? {};
    if (r.server === 'tandem') e.t = r;
    if (r.server === 'c-relay') e.c = r;
    byN.set(r.calls, e);
  }
  const out = ['relay-limit: packets per CPU-second (received + sent ÷ CPU-seconds of all threads), Tandem ÷ C relay:', 'calls  tandem   c-relay  ratio  valid'];
  for (const [n, { t, c }] of [...byN.entries()].sort((a, b) => a[0] - b[0])) {
    const tp = t?.serverPktsPerCpuS;
    const cp = c?.serverPktsPerCpuS;
    const ratio = tp !== undefined && cp !== undefined && cp > 0 ? (tp / cp).toFixed(2) : '-';
    out.push(`${String(n).padEnd(5)}  ${String(tp ?? '-').padStart(7)}  ${String(cp ?? '-').padStart(7)}  ${ratio.padStart(5)}  ${t?.valid && c?.valid ? 'yes' : 'no'}`);
  }
  return out.join('\n');
}
