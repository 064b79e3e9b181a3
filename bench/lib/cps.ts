/**
 * Call-setup rate through a SIP system: calls start at a fixed rate for a bounded time, each one
 * INVITE → 200 → ACK, held `holdMs` without media, then BYE → 200. A call fails on any non-2xx, a
 * timeout (64·T1), or a BYE that is not answered 200. "Sustained calls/s" is the highest rate with
 * no failed call.
 */
import { performance } from 'node:perf_hooks';
import { Histogram } from './metrics.js';
import { buildSdp } from './sdp.js';
import type { Scenario } from './scenario.js';
import type { ServerHandle } from './server.js';
import { partsCpuPct, partsCpuSeconds, systemCpuSeconds } from './step.js';

export interface CpsResult {
  type: 'cps';
  server: string;
  rate: number;
  durationS: number;
  holdMs: number;
  attempted: number;
  succeeded: number;
  failed: number;
  failures: string[];
  setupMedianMs: number;
  setupP99Ms: number;
  serverCpuPct?: number;
  /** the parts of serverCpuPct for a multi-program system (kamailio+rtpengine: {kamailio, rtpengine}). */
  serverCpuParts?: Record<string, number>;
  genCpuPct: number;
  /** server CPU milliseconds per attempted call (serverCpuPct × duration ÷ calls): the cost of one call's setup and teardown. */
  serverCpuMsPerCall?: number;
  /** digest challenges (401/407) the caller answered: one per call with --auth, 0 without. */
  challenges?: number;
  /** the generator kept the schedule (start lag p99 under 20 ms) and stayed under 85 % CPU. */
  valid: boolean;
  invalidReason?: string;
}

/** Start times of a constant-rate schedule: call k at k/rate seconds, for durationS seconds. */
export function schedule(rate: number, durationS: number): number[] {
  const n = Math.floor(rate * durationS);
  return Array.from({ length: n }, (_, k) => (k * 1000) / rate);
}

export async function runCpsStep(server: ServerHandle, o: { scenario: Scenario; rate: number; durationS: number; holdMs: number; runId: string; progress?: (l: string) => void }): Promise<CpsResult> {
  if (server.signalling === undefined) throw new Error(`${server.name}: call-rate steps need --via sip`);
  const signalling = await server.signalling(o.scenario.offerFlags);
  const setup = new Histogram(0.05, 200_000);
  const lag = new Histogram(0.05, 200_000);
  const failures: string[] = [];
  let succeeded = 0;
  let started = 0;
  let failedCount = 0;
  const cpu0 = systemCpuSeconds(server);
  const parts0 = partsCpuSeconds(server);
  const gen0 = process.cpuUsage();
  const t0 = performance.now() + 50;
  const sdp = (port: number, codec: Scenario['callerCodec'], ptime: number): string => buildSdp({ sessionId: port, port, codec, ptime });
  const one = async (k: number): Promise<void> => {
    const t = performance.now();
    try {
      // No media: the discard port (9) in both SDPs; the media servers still allocate and free ports.
      const call = await signalling.establish(`${o.runId}-${o.rate}-${k}`, sdp(9, o.scenario.callerCodec, o.scenario.callerPtime), () => sdp(9, o.scenario.calleeCodec, o.scenario.calleePtime));
      setup.add(performance.now() - t);
      await new Promise((r) => setTimeout(r, o.holdMs));
      await call.release();
      succeeded++;
    } catch (e) {
      if (failures.length < 5) failures.push((e as Error).message);
      failedCount++;
    }
  };
  const running: Promise<void>[] = [];
  for (const [k, at] of schedule(o.rate, o.durationS).entries()) {
    const wait = t0 + at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    lag.add(Math.max(0, performance.now() - (t0 + at)));
    started++;
    running.push(one(k));
    if (k % o.rate === 0) o.progress?.(`${server.name} ${o.rate} calls/s: ${started} started, ${succeeded} done, ${failedCount} failed`);
  }
  await Promise.all(running);
  const wallS = (performance.now() - t0) / 1000;
  const cpu1 = systemCpuSeconds(server);
  const parts1 = partsCpuSeconds(server);
  const gen = process.cpuUsage(gen0);
  const challenges = signalling.challenges ?? 0;
  await signalling.close();
  const genCpuPct = (100 * (gen.user + gen.system)) / 1e6 / wallS;
  const reasons: string[] = [];
  if (genCpuPct > 85) reasons.push(`generator CPU ${genCpuPct.toFixed(0)}% > 85%`);
  if (lag.quantile(0.99) > 20) reasons.push(`generator start lag p99 ${lag.quantile(0.99).toFixed(1)} ms > 20 ms`);
  const r = (v: number, d: number): number => Math.round(v * 10 ** d) / 10 ** d;
  return {
    type: 'cps',
    server: server.name,
    rate: o.rate,
    durationS: o.durationS,
    holdMs: o.holdMs,
    attempted: started,
    succeeded,
    failed: failedCount,
    failures,
    setupMedianMs: r(setup.quantile(0.5), 2),
    setupP99Ms: r(setup.quantile(0.99), 2),
    serverCpuPct: cpu0 !== undefined && cpu1 !== undefined ? r((100 * (cpu1 - cpu0)) / wallS, 1) : undefined,
    serverCpuMsPerCall: cpu0 !== undefined && cpu1 !== undefined && started > 0 ? r((1000 * (cpu1 - cpu0)) / started, 2) : undefined,
    challenges,
    serverCpuParts: partsCpuPct(parts0, parts1, wallS),
    genCpuPct: r(genCpuPct, 1),
    valid: reasons.length === 0,
    ...(reasons.length > 0 ? { invalidReason: reasons.join('; ') } : {}),
  };
}

/** "kamailio 9.1 + rtpengine 4.8", or "-" for a single-program system. */
export function cpuParts(parts: Record<string, number> | undefined): string {
  if (parts === undefined) return '-';
  return Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(' + ');
}

export function cpsTable(rows: CpsResult[]): string {
  const head = ['rate/s', 'server', 'attempted', 'ok', 'failed', '407s', 'setup med ms', 'setup p99 ms', 'srv CPU %', 'CPU ms/call', 'CPU parts %', 'gen CPU %', 'valid'];
  const cells = [
    head,
    ...rows.map((x) => [String(x.rate), x.server, String(x.attempted), String(x.succeeded), String(x.failed), String(x.challenges ?? 0), x.setupMedianMs.toFixed(2), x.setupP99Ms.toFixed(2), x.serverCpuPct?.toFixed(1) ?? '-', x.serverCpuMsPerCall?.toFixed(2) ?? '-', cpuParts(x.serverCpuParts), x.genCpuPct.toFixed(0), x.valid ? 'yes' : 'INVALID']),
  ];
  const w = head.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const lines = cells.map((c) => c.map((v, i) => (i === 1 ? v.padEnd(w[i]) : v.padStart(w[i]))).join('  '));
  lines.splice(1, 0, w.map((n) => '-'.repeat(n)).join('  '));
  const bySrv = new Map<string, number>();
  for (const x of rows) if (x.failed === 0 && x.valid) bySrv.set(x.server, Math.max(bySrv.get(x.server) ?? 0, x.rate));
  for (const [srv, rate] of bySrv) lines.push(`sustained with zero failed calls: ${srv} ≥ ${rate} calls/s`);
  const servers = [...new Set(rows.map((x) => x.server))];
  if (servers.length === 2) {
    // Server CPU of the first system ÷ the second's, per rate (both runs of a rate must have it).
    const ratios: string[] = [];
    for (const rate of [...new Set(rows.map((x) => x.rate))].sort((a, b) => a - b)) {
      const [a, b] = servers.map((srv) => rows.find((x) => x.server === srv && x.rate === rate)?.serverCpuPct);
      if (a !== undefined && b !== undefined && b > 0) ratios.push(`${rate}/s ${(a / b).toFixed(2)}`);
    }
    if (ratios.length > 0) lines.push(`server CPU ${servers[0]} ÷ ${servers[1]}: ${ratios.join(', ')}`);
    const setups: string[] = [];
    for (const rate of [...new Set(rows.map((x) => x.rate))].sort((a, b) => a - b)) {
      const [a, b] = servers.map((srv) => rows.find((x) => x.server === srv && x.rate === rate));
      if (a !== undefined && b !== undefined && b.setupMedianMs > 0) setups.push(`${rate}/s ${(a.setupMedianMs / b.setupMedianMs).toFixed(2)}`);
    }
    if (setups.length > 0) lines.push(`setup median ${servers[0]} ÷ ${servers[1]}: ${setups.join(', ')}`);
    const [sa, sb] = servers.map((srv) => bySrv.get(srv));
    if (sa !== undefined && sb !== undefined) lines.push(`sustained calls/s ${servers[0]} ÷ ${servers[1]}: ${sa} ÷ ${sb} = ${(sa / sb).toFixed(2)} (each the highest zero-failure step run: a lower bound)`);
  }
  for (const x of rows) if (!x.valid) lines.push(`INVALID ${x.server} @${x.rate}/s: ${x.invalidReason ?? ''}`);
  for (const x of rows) if (x.failures.length > 0) lines.push(`${x.server} @${x.rate}/s failures: ${x.failures.join(' | ')}`);
  return lines.join('\n');
}
