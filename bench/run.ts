/**
 * Tandem bench: a load generator for ng media servers (issue 3). Runs as its own process:
 *   npm run bench -- --server rtpengine --calls 50,100,200 --duration 10 --scenario transcode
 * See bench/README.md.
 */
import { mkdirSync, appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { HELP, parseOptions, serverThreads, type BenchOptions } from './lib/options.js';
import { ratios, table } from './lib/report.js';
import { scenario } from './lib/scenario.js';
import { externalServer, startServer, tandemIo, type ServerHandle } from './lib/server.js';
import { checkPinFits, checkPinned, cpuListString, defaultPin, pinProcess, requireTaskset, type PinCpus } from './lib/pin.js';
import { relayLimitLines, startRelayLimitPeer } from './lib/relay-limit.js';
import { buildGenIo } from './lib/gen-native.js';
import { runStep, type StepResult } from './lib/step.js';
import { chartSvg } from './lib/svg.js';
import { findMax, type FindMaxResult } from './lib/find-max.js';
import { startSipSystem } from './lib/sip-systems.js';
import { cpsTable, cpuParts, runCpsStep, type CpsResult } from './lib/cps.js';
import { createDtlsCertificate, warmUpGenerator, runSetupRound, setupResult, setupTable, type DtlsSetupResult, type SetupTimes } from './lib/webrtc-setup.js';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const PORTS_PER_SERVER = 4000;

async function main(): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseOptions(process.argv.slice(2), RESULTS);
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const tty = process.stdout.isTTY && !o.json;
  const progress = tty ? (l: string): void => void process.stdout.write(`\r\x1b[K${l}`) : undefined;
  const say = (l: string): void => void (o.json ? process.stderr : process.stdout).write(`${tty ? '\r\x1b[K' : ''}${l}\n`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  mkdirSync(o.outDir, { recursive: true });
  const base = join(o.outDir, `bench-${stamp}-${o.via === 'sip' ? 'sip-' : ''}${o.dtlsSetup !== undefined ? 'dtls-setup' : o.cps ? 'cps' : o.scenario}`);
  const jsonl = `${base}.jsonl`;

  const servers: ServerHandle[] = [];
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    for (const s of servers.splice(0)) await s.stop().catch(() => undefined);
  };
  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let serverCpus: string | undefined;
  let pin: PinCpus | undefined;
  if (o.pin) {
    try {
      pin = o.pinCpus ?? defaultPin(availableParallelism());
      checkPinFits(pin, availableParallelism());
      pinProcess(pin.generator, process.pid, requireTaskset());
    } catch (e) {
      say(`bench: ${(e as Error).message}`);
      return 2;
    }
    serverCpus = cpuListString(pin.server);
    say(`pinned: generator on CPU ${cpuListString(pin.generator)}, servers on CPU ${serverCpus}${o.threads === undefined ? ` (${pin.server.length} media thread${pin.server.length > 1 ? 's' : ''} each)` : ''}`);
  }
  // The generator's legs on worker threads (not for Opus, whose receivers stay on the main thread).
  const genWorkers = o.genWorkers ?? (o.scenario === 'opus' ? 0 : pin ? pin.generator.length : 1);
  const genCores = pin ? pin.generator.length : Math.max(1, Math.min(genWorkers, availableParallelism()));
  const io = tandemIo(o.serverArgs, o.scenario === 'relay-limit');
  const threads = serverThreads(o, pin?.server.length);
  // The workers' packet I/O: the bench's addon unless told otherwise or it cannot be built.
  let nativeIo: string | undefined;
  if (genWorkers > 0 && o.genIo !== 'dgram' && o.dtlsSetup === undefined && o.cps === undefined) {
    const built = buildGenIo();
    if (built.ok) nativeIo = built.binary;
    else if (o.genIo === 'native') {
      say(`bench: --gen-io native: ${built.reason}`);
      return 1;
    } else say(`generator: dgram packet I/O (the native addon did not build: ${built.reason})`);
  }
  if (genWorkers > 0) say(`generator: ${genWorkers} worker thread${genWorkers > 1 ? 's' : ''}, ${nativeIo ? `native packet I/O (${nativeIo})` : 'dgram packet I/O'}`);
  const pinning: Record<string, string> = {};

  const rows: StepResult[] = [];
  const cpsRows: CpsResult[] = [];
  const capacities: FindMaxResult[] = [];
  try {
    const sc = scenario(o.scenario);
    if (o.ng) servers.push(externalServer(o.ng, o.pid));
    else if (o.via === 'sip') {
      // --compare auth: the same B2BUA twice, authentication on and off (on first, so the ratio line reads on ÷ off).
      const systems: { kind: 'tandem-b2bua' | 'kamailio-rtpengine'; auth: boolean }[] =
        o.compare === 'kamailio-rtpengine' ? [{ kind: 'tandem-b2bua', auth: o.auth }, { kind: 'kamailio-rtpengine', auth: false }]
        : o.compare === 'auth' ? [{ kind: 'tandem-b2bua', auth: true }, { kind: 'tandem-b2bua', auth: false }]
        : [{ kind: o.server === 'kamailio-rtpengine' ? 'kamailio-rtpengine' : 'tandem-b2bua', auth: o.auth }];
      for (const [i, { kind, auth }] of systems.entries()) {
        const sipPort = o.sipPort + i;
        say(`starting ${kind}${auth ? ` with --auth (${o.authAlgorithms.join(',')})` : ''} (SIP udp 127.0.0.1:${sipPort} → callee :${sipPort + 100}, ng ${o.ngPort + i}, ports ${o.portBase + i * PORTS_PER_SERVER}-${o.portBase + (i + 1) * PORTS_PER_SERVER - 1})`);
        servers.push(
          await startSipSystem({
            kind,
            scenario: sc,
            sipPort,
            calleePort: sipPort + 100,
            ngPort: o.ngPort + i,
            portMin: o.portBase + i * PORTS_PER_SERVER,
            portMax: o.portBase + (i + 1) * PORTS_PER_SERVER - 1,
            threads,
            kamailioChildren: o.kamailioChildren,
            cpus: serverCpus,
            extraArgs: io.args,
            ...(auth ? { auth: { algorithms: o.authAlgorithms } } : {}),
          }),
        );
      }
    } else {
      const kinds: ('tandem' | 'rtpengine')[] = o.compare === 'rtpengine' ? ['tandem', 'rtpengine'] : [o.server === 'rtpengine' ? 'rtpengine' : 'tandem'];
      for (const [i, kind] of kinds.entries()) {
        say(`starting ${kind} (ng 127.0.0.1:${o.ngPort + i}, ports ${o.portBase + i * PORTS_PER_SERVER}-${o.portBase + (i + 1) * PORTS_PER_SERVER - 1}${kind === 'tandem' ? `, io ${io.io}` : ''})`);
        servers.push(
          await startServer({
            kind,
            ngPort: o.ngPort + i,
            portMin: o.portBase + i * PORTS_PER_SERVER,
            portMax: o.portBase + (i + 1) * PORTS_PER_SERVER - 1,
            threads,
            cpus: serverCpus,
            extraArgs: kind === 'tandem' ? io.args : undefined,
          }),
        );
      }
      if (o.scenario === 'relay-limit') {
        const most = Math.min(PORTS_PER_SERVER / 2, Math.max(...o.calls, o.findMax ? o.maxCalls : 0));
        const peer = await startRelayLimitPeer({ basePort: o.portBase + PORTS_PER_SERVER, calls: most, cpus: serverCpus, variant: o.cRelay, say });
        if (peer) servers.push(peer);
      }
    }
    if (pin) {
      // Every thread where it was put: the generator's (workers inherit it) and each server's process tree.
      const checks = [
        { name: 'generator', pids: [process.pid], cpus: pin.generator, tree: false },
        ...servers.map((s) => ({ name: s.name, pids: s.pids?.() ?? (s.pid === undefined ? [] : [s.pid]), cpus: pin.server, tree: true })),
      ];
      for (const c of checks) {
        if (c.pids.length === 0) continue;
        const r = checkPinned(c.pids, c.cpus, c.tree);
        pinning[c.name] = `CPU ${cpuListString(c.cpus)}: ${r.threads} threads in ${r.processes} process${r.processes > 1 ? 'es' : ''}${r.wrong.length ? `, ${r.wrong.length} NOT pinned (${r.wrong.slice(0, 3).join('; ')})` : ', all pinned'}`;
        say(`pin check: ${c.name} ${pinning[c.name]}`);
        if (r.wrong.length) throw new Error(`--pin: ${c.name} has threads outside CPU ${cpuListString(c.cpus)}: ${r.wrong.slice(0, 3).join('; ')}`);
      }
    }
    const runId = `bench${process.pid}${Date.now().toString(36)}`;
    appendFileSync(jsonl, JSON.stringify({ type: 'run', startedAt: new Date().toISOString(), argv: process.argv.slice(2), options: o, node: process.version, genWorkers, genCores, genIo: nativeIo ? 'native' : 'dgram', tandemIo: io.io, pinning }) + '\n');
    const measure = async (srv: ServerHandle, n: number): Promise<StepResult> => {
      let row: StepResult;
      try {
        row = await runStep(srv, { scenario: sc, calls: n, durationS: o.durationS, warmupS: o.warmupS, plc: o.plc, ie: o.ie, decodeCalls: o.decodeCalls, runId, progress, genWorkers, genCores, nativeIo });
      } catch (e) {
        const tail = srv.logTail();
        throw new Error(`${srv.name} N=${n}: ${(e as Error).message}${tail ? `\n--- ${srv.name} log tail ---\n${tail}` : ''}`);
      }
      rows.push(row);
      appendFileSync(jsonl, JSON.stringify(row) + '\n');
      if (o.json) process.stdout.write(JSON.stringify(row) + '\n');
      else
        say(
          `${row.server} N=${row.calls}: loss ${row.ab.lossPct}%/${row.ba.lossPct}%  lat p50 ${row.ab.latencyMedianMs}/${row.ba.latencyMedianMs} ms  MOS ${row.mos}  server CPU ${row.serverCpuPct ?? '-'}%${row.serverCpuParts ? ` (${cpuParts(row.serverCpuParts)})` : ''} ${row.serverPktsPerCpuS ?? '-'} pkt/CPU-s  gen CPU ${row.genCpuPct}% (${row.genCpuUsPerPkt} µs/pkt)${row.valid ? '' : `  INVALID: ${row.invalidReason}`}`,
        );
      return row;
    };
    if (o.dtlsSetup !== undefined) {
      const total = o.dtlsSetup;
      // Rounds of up to 10 calls per server, alternating which goes first, so both see the same box.
      const cert = await createDtlsCertificate();
      await warmUpGenerator(cert);
      const acc = new Map(servers.map((s) => [s, { times: [] as SetupTimes[], failures: [] as string[], attempted: 0 }]));
      const startedAt = new Date().toISOString();
      const per = Math.max(10, o.dtlsConcurrency);
      for (let round = 0, done = 0; done < total; round++) {
        const n = Math.min(per, total - done);
        for (const srv of round % 2 === 0 ? servers : [...servers].reverse()) {
          if (stopping) return 130;
          await runSetupRound(srv, { calls: n, concurrency: o.dtlsConcurrency, runId, round, ice: o.dtlsIce }, cert, acc.get(srv) ?? { times: [], failures: [], attempted: 0 });
          progress?.(`dtls-setup: ${done + n}/${total} calls per server`);
        }
        done += n;
      }
      const results: DtlsSetupResult[] = servers.map((s) => setupResult(s.name, o.dtlsConcurrency, acc.get(s) ?? { times: [], failures: [], attempted: 0 }, startedAt));
      for (const r of results) {
        appendFileSync(jsonl, JSON.stringify(r) + '\n');
        if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
      }
      if (!o.json) say('\n' + setupTable(results));
      say(`\nresults: ${jsonl}`);
      return results.every((r) => r.ok === r.attempted) ? 0 : 3;
    } else if (o.cps) {
      for (const [k, rate] of o.cps.entries()) {
        const order = k % 2 === 0 ? servers : [...servers].reverse();
        for (const srv of order) {
          if (stopping) return 130;
          const row = await runCpsStep(srv, { scenario: sc, rate, durationS: o.durationS, holdMs: o.holdMs, runId, progress });
          cpsRows.push(row);
          appendFileSync(jsonl, JSON.stringify(row) + '\n');
          if (o.json) process.stdout.write(JSON.stringify(row) + '\n');
          else say(`${row.server} ${row.rate} calls/s: ${row.succeeded}/${row.attempted} ok, ${row.failed} failed, setup p50 ${row.setupMedianMs} ms p99 ${row.setupP99Ms} ms, server CPU ${row.serverCpuPct ?? '-'}%${row.serverCpuParts ? ` (${cpuParts(row.serverCpuParts)})` : ''}${row.valid ? '' : `  INVALID: ${row.invalidReason}`}`);
        }
      }
    } else if (o.findMax) {
      for (const srv of servers) {
        if (stopping) return 130;
        const r = await findMax(srv.name, { start: o.calls[0], ceiling: o.maxCalls, resolution: 0.1 }, (n) => measure(srv, n));
        capacities.push(r);
        appendFileSync(jsonl, JSON.stringify({ type: 'capacity', ...r }) + '\n');
      }
    } else {
      for (const [k, n] of o.calls.entries()) {
        // Alternate which server goes first so neither always runs on a box the other just warmed.
        // (relay-limit: Tandem and the C relay the same way.)
        const order = k % 2 === 0 ? servers : [...servers].reverse();
        for (const srv of order) {
          if (stopping) return 130;
          await measure(srv, n).catch((e: unknown) => say((e as Error).message));
        }
      }
    }
  } catch (e) {
    say(`bench: ${(e as Error).message}`);
    return 1;
  } finally {
    await stopAll();
  }
  if (cpsRows.length > 0) {
    if (!o.json) say('\n' + cpsTable(cpsRows));
    say(`\nresults: ${jsonl}`);
    return cpsRows.every((r) => r.valid && r.failed === 0) ? 0 : 3;
  }
  if (!rows.length) return 1;
  const title = `${o.scenario}: ${[...new Set(rows.map((r) => r.server))].join(' vs ')} — ${o.durationS}s per step${pin ? `, pinned (generator CPU ${cpuListString(pin.generator)}, servers CPU ${serverCpus})` : ''}${o.findMax ? ', find-max' : ''}`;
  writeFileSync(`${base}.svg`, chartSvg(rows, title));
  if (!o.json) {
    say('\n' + table(rows));
    if (o.compare && !o.findMax) say('\n' + ratios(rows));
    if (pin) say(`\npinned: ${Object.entries(pinning).map(([k, v]) => `${k} ${v}`).join('; ')}`);
    if (o.scenario === 'relay-limit') say('\n' + relayLimitLines(rows) + `\nTandem's io: ${io.io}; C relay: ${o.cRelay}`);
    if (capacities.length) say('\n' + capacityLines(capacities));
  }
  say(`\nresults: ${jsonl}\nchart:   ${base}.svg`);
  if (o.findMax) return capacities.length === servers.length ? 0 : 1;
  return rows.every((r) => r.valid) ? 0 : 3;
}

function capacityLines(caps: FindMaxResult[]): string {
  const why = { server: 'server limit', generator: 'generator saturated first: the server carries at least this', ceiling: '--max-calls reached' };
  const lines = caps.map((c) => `capacity ${c.server}: ${c.maxCalls} calls (${why[c.limit]}${c.firstFailure ? `; ${c.firstFailure} did not pass` : ''})`);
  const t = caps.find((c) => c.server === 'tandem');
  const r = caps.find((c) => c.server === 'rtpengine');
  if (t && r && r.maxCalls > 0) lines.push(`capacity tandem ÷ rtpengine: ${(t.maxCalls / r.maxCalls).toFixed(2)}`);
  return lines.join('\n');
}

void main().then((code) => {
  process.exitCode = code;
});
