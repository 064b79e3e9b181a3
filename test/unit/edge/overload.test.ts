import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { OverloadControl, OVERLOAD_DEFAULTS, LagSampler } from '../../../src/edge/overload.js';

function control(random = () => 0.5) {
  const inputs = { lag: 0, txns: 0, ports: 1000 as number | undefined };
  const lines: { msg: string; why?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as { msg: string }) });
  const c = new OverloadControl(
    { ...OVERLOAD_DEFAULTS, maxLagMs: 100, maxServerTransactions: 50, minFreePorts: 10, retryAfterMin: 5, retryAfterMax: 15 },
    { lagMs: () => inputs.lag, serverTransactions: () => inputs.txns, freePorts: () => inputs.ports },
    log,
    random,
  );
  return { c, inputs, lines };
}

describe('OverloadControl', () => {
  it('admits while every input is under its threshold', () => {
    const { c, inputs } = control();
    inputs.lag = 99;
    inputs.txns = 49;
    inputs.ports = 10;
    expect(c.refuse()).toBeUndefined();
    expect(c.counters).toEqual({ refused: 0, episodes: 0 });
  });

  it.each([
    ['event-loop delay', { lag: 100 }, /event loop delay 100 ms/],
    ['transactions in flight', { txns: 50 }, /50 server transactions/],
    ['media ports', { ports: 9 }, /9 media port pairs free/],
  ])('refuses with 503 and a Retry-After on %s, logging the start and the end once', (_name, set, why) => {
    const { c, inputs, lines } = control();
    Object.assign(inputs, set);
    for (let i = 0; i < 5; i++) expect(c.refuse()).toEqual({ status: 503, reason: 'Service Unavailable', retryAfter: 10 });
    expect(c.active).toBe(true);
    Object.assign(inputs, { lag: 0, txns: 0, ports: 1000 });
    expect(c.refuse()).toBeUndefined();
    expect(c.counters).toEqual({ refused: 5, episodes: 1 });
    expect(lines.map((l) => l.msg)).toEqual(['overload: refusing new calls and registrations (503)', 'overload ended']);
    expect(lines[0].why).toMatch(why);
  });

  it('spreads Retry-After over the whole range, ends included', () => {
    const { c: lo, inputs: a } = control(() => 0);
    const { c: hi, inputs: b } = control(() => 0.999999);
    a.txns = b.txns = 1000;
    expect(lo.refuse()?.retryAfter).toBe(5);
    expect(hi.refuse()?.retryAfter).toBe(15);
  });

  it('does not read the media ports when they are not ours (--media=ng), and a 0 threshold is off', () => {
    const { c, inputs } = control();
    inputs.ports = undefined;
    expect(c.refuse()).toBeUndefined();
    const off = new OverloadControl({ ...OVERLOAD_DEFAULTS, maxLagMs: 0, maxServerTransactions: 0, minFreePorts: 0 }, { lagMs: () => 1e9, serverTransactions: () => 1e9, freePorts: () => 0 }, pino({ level: 'silent' }));
    expect(off.refuse()).toBeUndefined();
  });

  it('LagSampler reports the event-loop delay of the last period', async () => {
    const s = new LagSampler(100);
    try {
      const until = Date.now() + 2000;
      // a loop kept busy in 60 ms slices for a period must show up as delay
      while (s.lagMs() < 10 && Date.now() < until) {
        const t = Date.now();
        while (Date.now() - t < 60);
        await new Promise((r) => setImmediate(r));
      }
      expect(s.lagMs()).toBeGreaterThanOrEqual(10);
    } finally {
      s.close();
    }
  });
});
