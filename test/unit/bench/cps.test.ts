import { describe, it, expect } from 'vitest';
import { schedule, cpsTable, type CpsResult } from '../../../bench/lib/cps.js';

describe('call-rate steps', () => {
  it('schedules rate × duration calls at even intervals', () => {
    expect(schedule(4, 1)).toEqual([0, 250, 500, 750]);
    expect(schedule(50, 10)).toHaveLength(500);
    expect(schedule(3, 0.5)).toEqual([0]);
  });

  it('reports the highest rate with no failure and a valid generator as sustained', () => {
    const row = (server: string, rate: number, failed: number, valid = true): CpsResult => ({
      type: 'cps', server, rate, durationS: 10, holdMs: 1000, attempted: rate * 10, succeeded: rate * 10 - failed, failed,
      failures: failed ? ['INVITE timed out'] : [], setupMedianMs: 1, setupP99Ms: 2, serverCpuPct: 10, genCpuPct: 5, valid,
    });
    const text = cpsTable([row('a', 20, 0), row('a', 50, 0), row('a', 100, 3), row('b', 20, 0), row('b', 50, 0, false)]);
    expect(text).toContain('sustained with zero failed calls: a ≥ 50 calls/s');
    expect(text).toContain('sustained with zero failed calls: b ≥ 20 calls/s');
    expect(text).toContain('a @100/s failures: INVITE timed out');
  });
});

describe('call-rate steps: CPU of a multi-program system', () => {
  it('reports each part beside the sum and the per-rate CPU ratio of two systems', async () => {
    const { partsCpuPct } = await import('../../../bench/lib/step.js');
    expect(partsCpuPct({ kamailio: 1, rtpengine: 2 }, { kamailio: 1.5, rtpengine: 2.25 }, 5)).toEqual({ kamailio: 10, rtpengine: 5 });
    expect(partsCpuPct(undefined, { a: 1 }, 5)).toBeUndefined();
    const row = (server: string, rate: number, cpu: number, parts?: Record<string, number>): CpsResult => ({
      type: 'cps', server, rate, durationS: 10, holdMs: 1000, attempted: 10, succeeded: 10, failed: 0, failures: [],
      setupMedianMs: 1, setupP99Ms: 2, serverCpuPct: cpu, serverCpuParts: parts, genCpuPct: 5, valid: true,
    });
    const text = cpsTable([row('tandem-b2bua', 50, 30), row('kamailio+rtpengine', 50, 15, { kamailio: 10, rtpengine: 5 })]);
    expect(text).toContain('kamailio 10.0 + rtpengine 5.0');
    expect(text).toContain('server CPU tandem-b2bua ÷ kamailio+rtpengine: 50/s 2.00');
  });
});

describe('call-rate steps: --compare auth', () => {
  it('shows the challenges answered, CPU per call and the on ÷ off ratios', () => {
    const row = (server: string, rate: number, cpu: number, setup: number, challenges: number, failed = 0): CpsResult => ({
      type: 'cps', server, rate, durationS: 10, holdMs: 1000, attempted: rate * 10, succeeded: rate * 10 - failed, failed, failures: failed ? ['INVITE timed out'] : [],
      setupMedianMs: setup, setupP99Ms: 2 * setup, serverCpuPct: cpu, serverCpuMsPerCall: cpu / rate * 10, challenges, genCpuPct: 5, valid: true,
    });
    const text = cpsTable([row('tandem-b2bua+auth', 50, 30, 3, 500), row('tandem-b2bua', 50, 20, 2, 0), row('tandem-b2bua', 100, 40, 2, 0), row('tandem-b2bua+auth', 100, 60, 4, 990, 10)]);
    expect(text.split('\n')[0]).toMatch(/failed\s+407s\s+setup med ms.*srv CPU %\s+CPU ms\/call/);
    expect(text).toMatch(/tandem-b2bua\+auth\s+500\s+500\s+0\s+500\s+3\.00\s+6\.00\s+30\.0\s+6\.00/);
    expect(text).toContain('server CPU tandem-b2bua+auth ÷ tandem-b2bua: 50/s 1.50, 100/s 1.50');
    expect(text).toContain('setup median tandem-b2bua+auth ÷ tandem-b2bua: 50/s 1.50, 100/s 2.00');
    expect(text).toContain('sustained calls/s tandem-b2bua+auth ÷ tandem-b2bua: 50 ÷ 100 = 0.50');
  });
});
