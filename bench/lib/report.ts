/** Human output: the final table and the comparison ratios. */
import type { StepResult } from './step.js';
import { cpuParts } from './cps.js';

const COLS: [string, (r: StepResult) => string][] = [
  ['calls', (r) => `${r.callsUp}${r.callsUp < r.calls ? `/${r.calls}` : ''}`],
  ['server', (r) => r.server],
  ['loss a→b %', (r) => fmt(r.ab.lossPct, 3)],
  ['loss b→a %', (r) => fmt(r.ba.lossPct, 3)],
  ['jitter ms', (r) => `${fmt(r.ab.jitterMeanMs, 2)}/${fmt(r.ba.jitterMeanMs, 2)}`],
  ['lat med ms', (r) => `${fmt(r.ab.latencyMedianMs, 2)}/${fmt(r.ba.latencyMedianMs, 2)}`],
  ['lat p99 ms', (r) => `${fmt(r.ab.latencyP99Ms, 2)}/${fmt(r.ba.latencyP99Ms, 2)}`],
  ['payload ok %', (r) => `${fmt(r.ab.payloadOkPct, 2)}/${fmt(r.ba.payloadOkPct, 2)}`],
  ['MOS', (r) => fmt(r.mos, 2)],
  ['srv CPU %', (r) => fmt(r.serverCpuPct, 1)],
  ['CPU %/call', (r) => fmt(r.cpuPerCallPct, 3)],
  ['RSS MB', (r) => fmt(r.rssMb, 0)],
  ['srv pkt/CPU-s', (r) => (r.serverPktsPerCpuS === undefined ? '-' : String(r.serverPktsPerCpuS))],
  ['gen CPU %', (r) => fmt(r.genCpuPct, 0)],
  ['gen µs/pkt', (r) => fmt(r.genCpuUsPerPkt, 1)],
  ['valid', (r) => (r.valid ? 'yes' : 'INVALID')],
];

function fmt(v: number | undefined, d: number): string {
  return v === undefined || v === null || !Number.isFinite(v) ? '-' : v.toFixed(d);
}

/** Transcoded audio (Opus scenarios): median signal-to-distortion ratio of the decoded packets, per direction. */
const SDR_COL: (typeof COLS)[number] = ['SDR dB', (r) => `${fmt(r.ab.audio?.snrMedianDb, 1)}/${fmt(r.ba.audio?.snrMedianDb, 1)}`];

export function table(rows: StepResult[]): string {
  let cols: typeof COLS = COLS;
  // The parts of a multi-program system's CPU (Kamailio + rtpengine), only when some row has them.
  if (rows.some((r) => r.serverCpuParts !== undefined)) cols = [...cols.slice(0, 10), ['CPU parts %', (r) => cpuParts(r.serverCpuParts)], ...cols.slice(10)];
  if (rows.some((r) => r.ab.audio !== undefined || r.ba.audio !== undefined)) cols = [...cols.slice(0, 8), SDR_COL, ...cols.slice(8)];
  const cells = [cols.map(([h]) => h), ...rows.map((r) => cols.map(([, f]) => f(r)))];
  const w = cols.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row: string[]): string => row.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  const out = [line(cells[0]), w.map((n) => '-'.repeat(n)).join('  '), ...cells.slice(1).map(line)];
  const notes = rows.filter((r) => !r.valid).map((r) => `INVALID ${r.server} N=${r.calls}: ${r.invalidReason}`);
  out.push('', 'jitter/latency/payload columns: a→b (caller→callee) / b→a. MOS: worse direction (G.107 E-model, see bench/README.md).');
  const audio = rows.find((r) => r.ab.audio !== undefined || r.ba.audio !== undefined);
  if (audio) {
    const dec = (d: StepResult['ab']): string => (d.audio ? `${d.audio.decodedStreams} stream(s)` : 'none');
    out.push(
      `transcoded audio: payload ok % = decoded packets correlating ≥ 0.8 with what was sent; SDR = median signal-to-distortion (ρ²/(1−ρ²));`,
      `  decoded a→b ${dec(audio.ab)}, b→a ${dec(audio.ba)} per step (latency of a direction comes from its decoded streams only); Ie = ${audio.ie}.`,
    );
  }
  const g = rows.filter((r) => r.valid).map((r) => r.genPktsPerCpuS);
  if (g.length) out.push(`generator: ${Math.min(...g)}–${Math.max(...g)} packets (sent+received) per CPU-second`);
  out.push('srv pkt/CPU-s: packets the server relayed (received + sent) per CPU-second of all its threads. Was the generator the bottleneck?');
  for (const r of rows) out.push(`  ${bottleneckLine(r)}`);
  return [...out, ...notes].join('\n');
}

/** Tandem ÷ rtpengine per step: CPU per call, loss, latency. */
export function ratios(rows: StepResult[]): string {
  const byN = new Map<number, { t?: StepResult; r?: StepResult }>();
  for (const row of rows) {
    const e = byN.get(row.calls) ?? {};
    if (row.server === 'tandem' || row.server === 'tandem-b2bua') e.t = row;
    if (row.server === 'rtpengine' || row.server === 'kamailio+rtpengine') e.r = row;
    byN.set(row.calls, e);
  }
  const names = [...new Set(rows.map((r) => r.server))];
  const out = [`${names[0] ?? 'Tandem'} ÷ ${names[1] ?? 'rtpengine'} (below 1 = Tandem better):`, 'calls  CPU/call  loss a→b  loss b→a  lat med  lat p99  valid'];
  const ratio = (a?: number, b?: number): string =>
    a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) ? '-' : b === 0 ? (a === 0 ? '1 (0/0)' : 'inf') : (a / b).toFixed(2);
  for (const [n, { t, r }] of [...byN.entries()].sort((x, y) => x[0] - y[0])) {
    if (!t || !r) continue;
    const lat = (s: StepResult, k: 'latencyMedianMs' | 'latencyP99Ms'): number => Math.max(s.ab[k], s.ba[k]);
    out.push(
      [
        String(n).padEnd(5),
        ratio(t.cpuPerCallPct, r.cpuPerCallPct).padStart(8),
        ratio(t.ab.lossPct, r.ab.lossPct).padStart(9),
        ratio(t.ba.lossPct, r.ba.lossPct).padStart(9),
        ratio(lat(t, 'latencyMedianMs'), lat(r, 'latencyMedianMs')).padStart(7),
        ratio(lat(t, 'latencyP99Ms'), lat(r, 'latencyP99Ms')).padStart(7),
        `  ${t.valid && r.valid ? 'yes' : 'no'}`,
      ].join('  '),
    );
  }
  return out.join('\n');
}

/** One step's answer to "could the generator, rather than the server, have set the limit?", with both CPU figures. */
export function bottleneckLine(r: StepResult): string {
  const where = r.genWorkers > 0 ? `${r.genWorkers} worker thread${r.genWorkers > 1 ? 's' : ''}, ${r.genIo}` : 'main thread, dgram';
  const elu = r.genWorkerEluMaxPct === undefined ? '' : `, busiest worker loop ${fmt(r.genWorkerEluMaxPct, 0)}% busy`;
  const verdict = r.generatorBottleneck ? 'YES, the generator may have been the bottleneck (step invalid)' : 'no';
  return `${r.server} N=${r.calls}: ${verdict} — generator ${fmt(r.genCpuPct, 0)}% CPU (${where}, ${r.genCores} core${r.genCores > 1 ? 's' : ''}, ${fmt(r.genCpuUsPerPkt, 1)} µs/packet of which ${fmt(r.genSystemUsPerPkt, 1)} in the kernel, so ~${r.genCallsPerCore} calls per generator core at 85 %${elu}, timer lag p99 ${fmt(r.timerLagP99Ms, 1)} ms) beside the server's ${fmt(r.serverCpuPct, 0)}%`;
}
