import { describe, it, expect } from 'vitest';
import { bottleneckLine } from '../../../bench/lib/report.js';
import { relayLimitLines } from '../../../bench/lib/relay-limit.js';
import type { StepResult } from '../../../bench/lib/step.js';

/** Only the fields these lines read; the rest of a StepResult does not matter here. */
function row(o: Partial<StepResult>): StepResult {
  return {
    server: 'tandem', calls: 400, valid: true, genWorkers: 1, genIo: 'native', genCores: 1, genCpuPct: 40, genCpuUsPerPkt: 3, genSystemUsPerPkt: 2,
    genCallsPerCore: 1400, generatorBottleneck: false, timerLagP99Ms: 1.2, serverCpuPct: 50, ...o,
  } as StepResult;
}

describe('bench report: relay-limit ratio and the generator verdict', () => {
  it('divides Tandem\'s packets per CPU-second by the C relay\'s per step', () => {
    const out = relayLimitLines([
      row({ server: 'tandem', calls: 200, serverPktsPerCpuS: 150_000 }),
      row({ server: 'c-relay', calls: 200, serverPktsPerCpuS: 300_000 }),
      row({ server: 'tandem', calls: 400, serverPktsPerCpuS: 180_000, valid: false }),
      row({ server: 'c-relay', calls: 400, serverPktsPerCpuS: 360_000 }),
      row({ server: 'tandem', calls: 800, serverPktsPerCpuS: 200_000 }), // the C relay's step is missing
    ]).split('\n');
    expect(out[2]).toMatch(/^200\s+150000\s+300000\s+0\.50\s+yes$/);
    expect(out[3]).toMatch(/^400\s+180000\s+360000\s+0\.50\s+no$/);
    expect(out[4]).toMatch(/^800\s+200000\s+-\s+-\s+no$/);
  });

  it('says whether the generator may have been the bottleneck, with its CPU beside the server\'s', () => {
    expect(bottleneckLine(row({}))).toMatch(/^tandem N=400: no — generator 40% CPU \(1 worker thread, native, 1 core, 3\.0 µs\/packet of which 2\.0 in the kernel, so ~1400 calls per generator core at 85 %.*beside the server's 50%$/);
    expect(bottleneckLine(row({ generatorBottleneck: true, genWorkers: 0, genIo: 'dgram' }))).toMatch(/YES, the generator may have been the bottleneck \(step invalid\) — generator 40% CPU \(main thread, dgram/);
  });
});
