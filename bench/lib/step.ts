/** One step: N calls against one server — set up, warm up, measure, tear down — and its result row. */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { AudioReceiver } from './audio-leg.js';
import { CallSet } from './calls.js';
import { lossPercent, mos, rFactor } from './metrics.js';
import { NgClient } from './ng.js';
import type { DirectionStats } from './rtp-leg.js';
import type { Scenario } from './scenario.js';
import { processCpuSeconds, processRssMb, type ServerHandle } from './server.js';
import { NgSignalling } from './signalling.js';

/** CPU seconds of all the system's processes (undefined when none can be read). */
export function systemCpuSeconds(server: ServerHandle): number | undefined {
  const pids = server.pids?.() ?? (server.pid !== undefined ? [server.pid] : []);
  const each = pids.map(processCpuSeconds).filter((x): x is number => x !== undefined);
  return each.length === 0 ? undefined : each.reduce((a, b) => a + b, 0);
}

/** CPU seconds per part of a multi-program system (undefined for a single program). */
export function partsCpuSeconds(server: ServerHandle): Record<string, number> | undefined {
  const parts = server.parts?.();
  if (parts === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(parts)) out[name] = pids.map(processCpuSeconds).reduce<number>((a, b) => a + (b ?? 0), 0);
  return out;
}

/** Per-part CPU % of one core over `wallS`, from two partsCpuSeconds samples. */
export function partsCpuPct(before: Record<string, number> | undefined, after: Record<string, number> | undefined, wallS: number): Record<string, number> | undefined {
  if (before === undefined || after === undefined || wallS <= 0) return undefined;
  const out: Record<string, number> = {};
  for (const [name, s] of Object.entries(after)) out[name] = Math.round((1000 * (s - (before[name] ?? 0))) / wallS) / 10;
  return out;
}

export function systemRssMb(server: ServerHandle): number | undefined {
  const pids = server.pids?.() ?? (server.pid !== undefined ? [server.pid] : []);
  const each = pids.map(processRssMb).filter((x): x is number => x !== undefined);
  return each.length === 0 ? undefined : each.reduce((a, b) => a + b, 0);
}

export interface DirectionResult {
  sent: number;
  received: number;
  expected: number;
  lost: number;
  lossPct: number;
  duplicates: number;
  reordered: number;
  jitterMeanMs: number;
  jitterMaxMs: number;
  latencyMedianMs: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  payloadLenMean: number;
  payloadExactPct: number; // bytes equal to the reference conversion
  payloadOkPct: number; // exact or within one quantisation step
  unlocated: number;
  resyncs: number;
  rtcp: number;
  /** Transcoded audio (scenarios with Opus): streams decoded and compared, packets compared, % with
   * correlation ≥ 0.8 (also in payloadOkPct), signal-to-distortion ratio median and 5th percentile. */
  audio?: { decodedStreams: number; checked: number; okPct: number; snrMedianDb: number; snrP05Db: number };
  r: number;
  mos: number;
}

export interface StepResult {
  type: 'step';
  server: string;
  scenario: string;
  calls: number;
  callsUp: number;
  durationS: number;
  ab: DirectionResult;
  ba: DirectionResult;
  mos: number; // worse direction
  /** the codec chain's equipment impairment Ie used, and the MOS it allows with no loss and no delay */
  ie: number;
  mosCeiling: number;
  serverCpuPct?: number;
  /** the parts of serverCpuPct for a multi-program system (kamailio+rtpengine: {kamailio, rtpengine}). */
  serverCpuParts?: Record<string, number>;
  cpuPerCallPct?: number;
  rssMb?: number;
  genCpuPct: number;
  genPktsPerCpuS: number;
  timerLagP99Ms: number;
  timerLagP50Ms: number;
  timerLagMaxMs: number;
  eventLoopDelayP99Ms: number; // perf_hooks.monitorEventLoopDelay: how long the loop was blocked
  valid: boolean;
  invalidReason?: string;
  setupErrors: string[];
  startedAt: string;
}

export interface StepOptions {
  scenario: Scenario;
  calls: number;
  durationS: number;
  warmupS: number;
  plc: boolean;
  /** the codec chain's Ie for the E-model (default 0: G.711; see README "MOS" for Opus) */
  ie?: number;
  /** scenarios with Opus: how many calls decode received Opus (default 8) */
  decodeCalls?: number;
  runId: string;
  progress?: (line: string) => void;
}

const GEN_CPU_LIMIT = 85; // % of one core
const LAG_P99_LIMIT = 5; // ms

export async function runStep(server: ServerHandle, o: StepOptions): Promise<StepResult> {
  const startedAt = new Date().toISOString();
  const signalling = server.signalling !== undefined
    ? await server.signalling(o.scenario.offerFlags)
    : new NgSignalling(new NgClient({ ...server.ng, timeoutMs: 1000, retries: 4 }), o.scenario.offerFlags);
  const set = new CallSet({ signalling, scenario: o.scenario, calls: o.calls, runId: `${o.runId}-${server.name}-${o.calls}`, decodeCalls: o.decodeCalls });
  const ie = o.ie ?? 0;
  try {
    await set.setup();
    if (set.calls.length === 0) throw new Error(`no call could be set up on ${server.name}: ${set.setupErrors.slice(0, 3).join('; ')}`);
    set.start();
    const label = `${server.name} ${o.scenario.name} N=${o.calls}`;
    await sleepWithProgress(o.warmupS * 1000, (t) => o.progress?.(`${label} warm-up ${t.toFixed(0)}/${o.warmupS}s`));

    set.startWindow();
    const senderBase = new Map<object, number>();
    for (const c of set.calls) for (const l of [c.caller, c.callee]) senderBase.set(l.sender, l.sender.packets);
    const srvCpu0 = systemCpuSeconds(server);
    const parts0 = partsCpuSeconds(server);
    const gen0 = process.cpuUsage();
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const t0 = performance.now();
    let rssMax = 0;
    await sleepWithProgress(o.durationS * 1000, (t) => {
      rssMax = Math.max(rssMax, systemRssMb(server) ?? 0);
      const d = set.dirs;
      o.progress?.(
        `${label} ${t.toFixed(0)}/${o.durationS}s  sent ${d.ab.sent + d.ba.sent}  recv ${d.ab.received + d.ba.received}  lag p99 ${set.timerLag.quantile(0.99).toFixed(1)}ms`,
      );
    });
    const wallS = (performance.now() - t0) / 1000;
    const gen = process.cpuUsage(gen0);
    const srvCpu1 = systemCpuSeconds(server);
    const parts1 = partsCpuSeconds(server);
    rssMax = Math.max(rssMax, systemRssMb(server) ?? 0);
    set.stopWindow();
    loop.disable();

    const ab = direction(set.dirs.ab, set, 'ab', senderBase, o.plc, ie);
    const ba = direction(set.dirs.ba, set, 'ba', senderBase, o.plc, ie);
    const genCpuS = (gen.user + gen.system) / 1e6;
    const genCpuPct = (100 * genCpuS) / wallS;
    const serverCpuPct = srvCpu0 !== undefined && srvCpu1 !== undefined ? (100 * (srvCpu1 - srvCpu0)) / wallS : undefined;
    const lagP99 = set.timerLag.quantile(0.99);
    const reasons: string[] = [];
    if (genCpuPct > GEN_CPU_LIMIT) reasons.push(`generator CPU ${genCpuPct.toFixed(0)}% > ${GEN_CPU_LIMIT}%`);
    if (lagP99 > LAG_P99_LIMIT) reasons.push(`generator timer lag p99 ${lagP99.toFixed(1)} ms > ${LAG_P99_LIMIT} ms`);
    if (set.calls.length < o.calls) reasons.push(`only ${set.calls.length}/${o.calls} calls set up`);
    const pkts = set.dirs.ab.sent + set.dirs.ba.sent + set.dirs.ab.received + set.dirs.ba.received;
    return {
      type: 'step',
      server: server.name,
      scenario: o.scenario.name,
      calls: o.calls,
      callsUp: set.calls.length,
      durationS: round(wallS, 2),
      ab,
      ba,
      mos: Math.min(ab.mos, ba.mos),
      ie,
      mosCeiling: round(mos({ lossPercent: 0, oneWayDelayMs: 0, ie }), 3),
      serverCpuPct: serverCpuPct === undefined ? undefined : round(serverCpuPct, 1),
      serverCpuParts: partsCpuPct(parts0, parts1, wallS),
      cpuPerCallPct: serverCpuPct === undefined ? undefined : round(serverCpuPct / set.calls.length, 3),
      rssMb: rssMax ? round(rssMax, 1) : undefined,
      genCpuPct: round(genCpuPct, 1),
      genPktsPerCpuS: Math.round(pkts / Math.max(genCpuS, 1e-6)),
      timerLagP99Ms: round(lagP99, 2),
      timerLagP50Ms: round(set.timerLag.quantile(0.5), 2),
      timerLagMaxMs: round(set.timerLag.max, 2),
      eventLoopDelayP99Ms: round(loop.percentile(99) / 1e6, 2),
      valid: reasons.length === 0,
      invalidReason: reasons.length ? reasons.join('; ') : undefined,
      setupErrors: set.setupErrors.slice(0, 5),
      startedAt,
    };
  } finally {
    await set.teardown();
    await signalling.close();
  }
}

function direction(d: DirectionStats, set: CallSet, which: 'ab' | 'ba', base: Map<object, number>, plc: boolean, ie: number): DirectionResult {
  let decodedStreams = 0;
  let expected = 0;
  let lost = 0;
  let duplicates = 0;
  let reordered = 0;
  let jitterMax = 0;
  for (const c of set.calls) {
    const recv = which === 'ab' ? c.callee.receiver : c.caller.receiver;
    const peer = recv.peer;
    const t = recv.seq;
    if (t.received === 0) {
      // Nothing arrived in the window: everything the peer sent is lost (in the peer's packet units).
      const sent = peer.packets - (base.get(peer) ?? 0);
      expected += sent;
      lost += sent;
    } else {
      expected += t.expected;
      lost += Math.max(0, t.lost);
    }
    duplicates += t.duplicates;
    reordered += t.reordered;
    jitterMax = Math.max(jitterMax, recv.jitterMs());
    if (recv instanceof AudioReceiver && recv.decode !== 'none') decodedStreams++;
  }
  const lossPct = lossPercent(expected, lost);
  const latencyMedianMs = d.latency.quantile(0.5);
  const oneWay = Number.isFinite(latencyMedianMs) ? latencyMedianMs : 0;
  const r = rFactor({ lossPercent: lossPct, oneWayDelayMs: oneWay, plc, ie });
  const audio =
    d.audioChecked > 0 || decodedStreams > 0
      ? {
          decodedStreams,
          checked: d.audioChecked,
          okPct: round(d.audioChecked ? (100 * d.audioOk) / d.audioChecked : NaN, 3),
          snrMedianDb: round(d.snrDb.quantile(0.5), 1),
          snrP05Db: round(d.snrDb.quantile(0.05), 1),
        }
      : undefined;
  return {
    sent: d.sent,
    received: d.received,
    expected,
    lost,
    lossPct: round(lossPct, 4),
    duplicates,
    reordered,
    jitterMeanMs: round(d.jitterN ? d.jitterSum / d.jitterN / 8 : NaN, 3),
    jitterMaxMs: round(jitterMax, 3),
    latencyMedianMs: round(latencyMedianMs, 3),
    latencyP99Ms: round(d.latency.quantile(0.99), 3),
    latencyMeanMs: round(d.latency.mean, 3),
    payloadLenMean: round(d.received ? d.payloadLenSum / d.received : NaN, 1),
    payloadExactPct: round(d.payloadBytes ? (100 * d.exactBytes) / d.payloadBytes : NaN, 3),
    payloadOkPct: audio ? audio.okPct : round(d.payloadBytes ? (100 * (d.exactBytes + d.nearBytes)) / d.payloadBytes : NaN, 3),
    unlocated: d.unlocated,
    resyncs: d.resyncs,
    rtcp: d.rtcp,
    audio,
    r: round(r, 2),
    mos: round(mos({ lossPercent: lossPct, oneWayDelayMs: oneWay, plc, ie }), 3),
  };
}

function round(v: number, digits: number): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

async function sleepWithProgress(ms: number, tick: (elapsedS: number) => void): Promise<void> {
  const start = performance.now();
  for (;;) {
    const left = start + ms - performance.now();
    if (left <= 0) return;
    await new Promise((r) => setTimeout(r, Math.min(1000, left)));
    tick((performance.now() - start) / 1000);
  }
}
