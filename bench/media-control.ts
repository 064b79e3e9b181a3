/**
 * What ng media control costs on the relay path, measured side by side in one run: the same calls
 * streaming PCMU both ways, Tandem's CPU measured in three windows per round:
 *   plain    no control was ever applied (BridgeSide.emit: one null check and a reference kept);
 *   control  after `unblock DTMF` on every call: each side has a SideControl that sees every packet
 *            (PT check, stream tracking), but changes nothing;
 *   silence  after `silence media` on every call: every audio payload rewritten in place;
 *   playing  after `play media` of a 60 s WAV to every callee: its packets are Tandem's own (the
 *            caller's are dropped), a G.711 frame encoded per 20 ms from the worker's timer.
 * Rounds repeat the four with fresh calls, so drift on a shared box shows as round-to-round spread.
 *
 *   npm run build && npx tsx bench/media-control.ts --calls 100 --seconds 5 --rounds 2
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NgClient } from './lib/ng.js';
import { CallSet } from './lib/calls.js';
import { NgSignalling } from './lib/signalling.js';
import { scenario } from './lib/scenario.js';
import { processCpuSeconds, startServer } from './lib/server.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1 || v > 10_000) throw new Error(`--${name} must be an integer from 1 to 10000`);
  return v;
}

const calls = arg('calls', 100);
const seconds = Math.min(arg('seconds', 5), 60);
const rounds = Math.min(arg('rounds', 2), 10);
const out = (s: string): void => void process.stdout.write(`${s}\n`);

const server = await startServer({ kind: 'tandem', ngPort: 22990, portMin: 40000, portMax: 40000 + calls * 4 + 400, threads: 1 });
const pid = server.pid ?? 0;
const ng = new NgClient({ ...server.ng, timeoutMs: 2000, retries: 2 });
const sc = scenario('relay');
type Row = { round: number; window: string; cpuPct: number; received: number; sent: number };

/** 60 s of a 440 Hz tone, 16-bit mono 8 kHz WAV: longer than any window, so it plays throughout. */
const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-mc-'));
const wavFile = join(dir, 'tone.wav');
{
  const n = 8000 * 60;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)), 44 + i * 2);
  writeFileSync(wavFile, b);
}
const rows: Row[] = [];

async function window(set: CallSet, round: number, name: string): Promise<void> {
  await sleep(1000); // let the change settle
  set.startWindow();
  const sent0 = set.dirs.ab.sent + set.dirs.ba.sent;
  const c0 = processCpuSeconds(pid) ?? 0;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = (processCpuSeconds(pid) ?? 0) - c0;
  const wall = (performance.now() - t0) / 1000;
  const row = { round, window: name, cpuPct: (100 * cpu) / wall, received: set.dirs.ab.received + set.dirs.ba.received, sent: set.dirs.ab.sent + set.dirs.ba.sent - sent0 };
  rows.push(row);
  out(`round ${round} ${name.padEnd(8)} CPU ${row.cpuPct.toFixed(1)}%  packets sent ${row.sent}, received ${row.received}`);
}

try {
  for (let round = 1; round <= rounds; round++) {
    const set = new CallSet({ signalling: new NgSignalling(ng, sc.offerFlags), scenario: sc, calls, runId: `mc-${process.pid}-${round}` });
    await set.setup();
    if (set.calls.length < calls) throw new Error(`only ${set.calls.length}/${calls} calls: ${set.setupErrors.slice(0, 2).join('; ')}`);
    set.start();
    await sleep(1000);
    await window(set, round, 'plain');
    for (const c of set.calls) await ng.request({ command: 'unblock DTMF', 'call-id': c.callId });
    await window(set, round, 'control');
    for (const c of set.calls) await ng.request({ command: 'silence media', 'call-id': c.callId });
    await window(set, round, 'silence');
    for (const c of set.calls) await ng.request({ command: 'unsilence media', 'call-id': c.callId });
    for (const c of set.calls) {
      const r = await ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': `b-${c.callId}`, file: wavFile });
      if (r.result !== 'ok') throw new Error(`play media: ${JSON.stringify(r)}`);
    }
    await window(set, round, 'playing');
    await set.teardown();
  }
  const mean = (w: string): number => {
    const r = rows.filter((x) => x.window === w);
    return r.reduce((a, x) => a + x.cpuPct, 0) / r.length;
  };
  out(`\n${calls} calls, PCMU relay, 50 pps each way, ${rounds} rounds of ${seconds} s windows, 1 worker thread`);
  const ratio = (w: string): string => (mean(w) / mean('plain')).toFixed(3);
  out(`control ÷ plain: ${ratio('control')}   silence ÷ plain: ${ratio('silence')}   playing ÷ plain: ${ratio('playing')}`);
  for (let r = 1; r <= rounds; r++) {
    const get = (w: string): number => rows.find((x) => x.round === r && x.window === w)?.cpuPct ?? NaN;
    const each = ['control', 'silence', 'playing'].map((w) => `${w} ÷ plain ${(get(w) / get('plain')).toFixed(3)}`).join(', ');
    out(`  round ${r}: ${each}`);
  }
} finally {
  await ng.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
