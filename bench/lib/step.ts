/** One step: N calls against one server — set up, warm up, measure, tear down — and its result row. */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { CallSet, type LoadSet } from './calls.js';
import { WorkerCallSet } from './gen-pool.js';
import { lossPercent, mos, rFactor } from './metrics.js';
import { NgClient } from './ng.js';
import { mergeHistograms, type DirectionSummary } from './summary.js';
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
  /** packets the server relayed in the window (received + sent: what the generator sent + received) ÷ its CPU-seconds */
  serverPktsPerCpuS?: number;
  rssMb?: number;
  /** the generator process (all its threads), % of one core */
  genCpuPct: number;
  genPktsPerCpuS: number;
  /** the generator's CPU per packet it sent or received, µs, and the part of it spent in the kernel (system time) */
  genCpuUsPerPkt: number;
  genSystemUsPerPkt: number;
  /** calls one core of generator would drive at 85 % of it: at this step's CPU per packet, each call sending and receiving its nominal packet rate */
  genCallsPerCore: number;
  /** the generator workers' packet I/O (native: bench/gen-io.c; dgram: Node's sockets) */
  genIo: 'native' | 'dgram';
  /** generator worker threads (0: legs on the main thread) and the cores it may use */
  genWorkers: number;
  genCores: number;
  /** the busiest generator worker's event-loop utilisation over the window, % (absent in-process) */
  genWorkerEluMaxPct?: number;
  /** packets the generator's native I/O could not send in the window (counted as sent: they show as loss) */
  genSendErrors: number;
  /** whether the generator, not the server, may have limited the step (then the step is invalid) */
  generatorBottleneck: boolean;
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
  /** generator worker threads for the legs (0 or undefined: in-process) */
  genWorkers?: number;
  /** the compiled gen-io addon for the workers' packet I/O (undefined: dgram) */
  nativeIo?: string;
  /** cores the generator may use (1 when pinned); its CPU limit is 85 % of each */
  genCores?: number;
  progress?: (line: string) => void;
}

const GEN_CPU_LIMIT = 85; // % of one core (per core the generator may use)
const GEN_ELU_LIMIT = 0.85; // a worker's event loop busy this much of the window is saturated
const LAG_P99_LIMIT = 5; // ms

export async function runStep(server: ServerHandle, o: StepOptions): Promise<StepResult> {
  const startedAt = new Date().toISOString();
  const signalling = server.signalling !== undefined
    ? await server.signalling(o.scenario.offerFlags)
    : new NgSignalling(new NgClient({ ...server.ng, timeoutMs: 1000, retries: 4 }), o.scenario.offerFlags);
  const setOptions = { signalling, scenario: o.scenario, calls: o.calls, runId: `${o.runId}-${server.name}-${o.calls}`, decodeCalls: o.decodeCalls };
  const genWorkers = o.genWorkers ?? 0;
  const set: LoadSet = genWorkers > 0 ? new WorkerCallSet({ ...setOptions, workers: genWorkers, nativeIo: o.nativeIo }) : new CallSet(setOptions);
  const genCores = o.genCores ?? 1;
  const ie = o.ie ?? 0;
  try {
    await set.setup();
    if (set.callsUp === 0) throw new Error(`no call could be set up on ${server.name}: ${set.setupErrors.slice(0, 3).join('; ')}`);
    set.start();
    const label = `${server.name} ${o.scenario.name} N=${o.calls}`;
    await sleepWithProgress(o.warmupS * 1000, (t) => o.progress?.(`${label} warm-up ${t.toFixed(0)}/${o.warmupS}s`));

    await set.startWindow();
    const srvCpu0 = systemCpuSeconds(server);
    const parts0 = partsCpuSeconds(server);
    const gen0 = process.cpuUsage();
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const t0 = performance.now();
    let rssMax = 0;
    await sleepWithProgress(o.durationS * 1000, (t) => {
      rssMax = Math.max(rssMax, systemRssMb(server) ?? 0);
      const p = set.progress();
      o.progress?.(`${label} ${t.toFixed(0)}/${o.durationS}s  sent ${p.sent}  recv ${p.received}  lag p99 ${p.lagP99Ms.toFixed(1)}ms`);
    });
    const wallS = (performance.now() - t0) / 1000;
    const gen = process.cpuUsage(gen0);
    const srvCpu1 = systemCpuSeconds(server);
    const parts1 = partsCpuSeconds(server);
    rssMax = Math.max(rssMax, systemRssMb(server) ?? 0);
    const load = await set.collect();
    loop.disable();

    const ab = direction(load.ab, o.plc, ie);
    const ba = direction(load.ba, o.plc, ie);
    const genCpuS = (gen.user + gen.system) / 1e6;
    const genCpuPct = (100 * genCpuS) / wallS;
    const serverCpuS = srvCpu0 !== undefined && srvCpu1 !== undefined ? srvCpu1 - srvCpu0 : undefined;
    const serverCpuPct = serverCpuS === undefined ? undefined : (100 * serverCpuS) / wallS;
    const timerLag = mergeHistograms([load.timerLag], load.timerLag.binWidth, load.timerLag.bins.length);
    const lagP99 = timerLag.quantile(0.99);
    const eluMax = load.workerElu.length ? Math.max(...load.workerElu) : undefined;
    const reasons: string[] = [];
    const genLimit = GEN_CPU_LIMIT * genCores;
    if (genCpuPct > genLimit) reasons.push(`generator CPU ${genCpuPct.toFixed(0)}% > ${genLimit}%${genCores > 1 ? ` (${genCores} cores)` : ''}`);
    if (eluMax !== undefined && eluMax > GEN_ELU_LIMIT) reasons.push(`a generator worker's event loop busy ${(100 * eluMax).toFixed(0)}% > ${100 * GEN_ELU_LIMIT}%`);
    if (lagP99 > LAG_P99_LIMIT) reasons.push(`generator timer lag p99 ${lagP99.toFixed(1)} ms > ${LAG_P99_LIMIT} ms`);
    if (load.sendErrors > 0) reasons.push(`the generator could not send ${load.sendErrors} packets`);
    const generatorBottleneck = reasons.length > 0;
    if (set.callsUp < o.calls) reasons.push(`only ${set.callsUp}/${o.calls} calls set up`);
    const pkts = load.ab.sent + load.ba.sent + load.ab.received + load.ba.received;
    return {
      type: 'step',
      server: server.name,
      scenario: o.scenario.name,
      calls: o.calls,
      callsUp: set.callsUp,
      durationS: round(wallS, 2),
      ab,
      ba,
      mos: Math.min(ab.mos, ba.mos),
      ie,
      mosCeiling: round(mos({ lossPercent: 0, oneWayDelayMs: 0, ie }), 3),
      serverCpuPct: serverCpuPct === undefined ? undefined : round(serverCpuPct, 1),
      serverCpuParts: partsCpuPct(parts0, parts1, wallS),
      cpuPerCallPct: serverCpuPct === undefined ? undefined : round(serverCpuPct / set.callsUp, 3),
      serverPktsPerCpuS: serverCpuS === undefined || serverCpuS <= 0 ? undefined : Math.round(pkts / serverCpuS),
      rssMb: rssMax ? round(rssMax, 1) : undefined,
      genCpuPct: round(genCpuPct, 1),
      genPktsPerCpuS: Math.round(pkts / Math.max(genCpuS, 1e-6)),
      genCpuUsPerPkt: round((1e6 * genCpuS) / Math.max(1, pkts), 2),
      genSystemUsPerPkt: round(gen.system / Math.max(1, pkts), 2),
      // At the packet rate a call should have (a generator that fell behind sent fewer packets per call).
      genCallsPerCore: Math.round((GEN_CPU_LIMIT / 100) * 1e6 / Math.max(1e-6, ((1e6 * genCpuS) / Math.max(1, pkts)) * 2 * (1000 / o.scenario.callerPtime + 1000 / o.scenario.calleePtime))),
      genIo: genWorkers > 0 && o.nativeIo !== undefined ? 'native' : 'dgram',
      genWorkers,
      genCores,
      genWorkerEluMaxPct: eluMax === undefined ? undefined : round(100 * eluMax, 1),
      genSendErrors: load.sendErrors,
      generatorBottleneck,
      timerLagP99Ms: round(lagP99, 2),
      timerLagP50Ms: round(timerLag.quantile(0.5), 2),
      timerLagMaxMs: round(timerLag.max, 2),
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

function direction(d: DirectionSummary, plc: boolean, ie: number): DirectionResult {
  const { expected, lost, duplicates, reordered, decodedStreams } = d;
  const latency = mergeHistograms([d.latency], d.latency.binWidth, d.latency.bins.length);
  const snrDb = mergeHistograms([d.snrDb], d.snrDb.binWidth, d.snrDb.bins.length);
  const lossPct = lossPercent(expected, lost);
  const latencyMedianMs = latency.quantile(0.5);
  const oneWay = Number.isFinite(latencyMedianMs) ? latencyMedianMs : 0;
  const r = rFactor({ lossPercent: lossPct, oneWayDelayMs: oneWay, plc, ie });
  const audio =
    d.audioChecked > 0 || decodedStreams > 0
      ? {
          decodedStreams,
          checked: d.audioChecked,
          okPct: round(d.audioChecked ? (100 * d.audioOk) / d.audioChecked : NaN, 3),
          snrMedianDb: round(snrDb.quantile(0.5), 1),
          snrP05Db: round(snrDb.quantile(0.05), 1),
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
    jitterMaxMs: round(d.jitterMaxMs, 3),
    latencyMedianMs: round(latencyMedianMs, 3),
    latencyP99Ms: round(latency.quantile(0.99), 3),
    latencyMeanMs: round(latency.mean, 3),
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
