import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { FakeClock } from '../../helpers/fake-clock.js';
import { Pike, type PikeOptions } from '../../../src/edge/pike.js';

interface Line {
  msg: string;
  source?: string;
  durationMs?: number;
  rate?: number;
  why?: string;
}

function pike(over: Partial<PikeOptions> = {}): { p: Pike; clock: FakeClock; lines: Line[] } {
  const clock = new FakeClock(1_000_000);
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Line) });
  const p = new Pike({ limit: 10, windowMs: 1000, banMs: 5000, maxBanMs: 20_000, maxSources: 1000, clock, log, ...over });
  return { p, clock, lines };
}

/** Sends n requests from `source`; returns how many were let through. */
function send(p: Pike, source: string, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (p.check(source)) ok++;
  return ok;
}

describe('Pike (flood defence)', () => {
  it('lets a source through up to the limit per window, bans it on the next request and drops it silently for the ban', () => {
    const { p, clock, lines } = pike();
    expect(send(p, '192.0.2.1', 10)).toBe(10);
    expect(p.check('192.0.2.1')).toBe(false);
    expect(p.counters.bans).toBe(1);
    expect(lines.find((l) => l.msg === 'flood: source banned')).toMatchObject({ source: '192.0.2.1', rate: 11, durationMs: 5000 });
    clock.advance(4999);
    expect(p.check('192.0.2.1', 0)).toBe(false);
    expect(p.bans()).toEqual([expect.objectContaining({ source: '192.0.2.1', remainingMs: 1, offences: 1 })]);
    clock.advance(1);
    expect(p.check('192.0.2.1')).toBe(true);
    expect(lines.find((l) => l.msg === 'flood: ban ended')).toMatchObject({ source: '192.0.2.1', why: 'expired', durationMs: 5000 });
    expect(p.bans()).toEqual([]);
  });

  it('slides: the previous window counts by how much of it still overlaps', () => {
    const { p, clock } = pike();
    expect(send(p, '192.0.2.1', 10)).toBe(10); // at t=0 of window 1
    clock.advance(1500); // half of window 1 still overlaps: 5 + 5 new = 10, the 6th new one is too many
    expect(send(p, '192.0.2.1', 5)).toBe(5);
    expect(p.check('192.0.2.1')).toBe(false);
    // a steady rate under the limit never trips (the estimate assumes the older window's requests
    // were spread evenly, so it is approximate near the limit: 8/s against 10/s here)
    const { p: q, clock: c2 } = pike();
    for (let i = 0; i < 200; i++) {
      expect(q.check('192.0.2.9')).toBe(true);
      c2.advance(125);
    }
    expect(q.counters.bans).toBe(0);
  });

  it('doubles the ban for each repeat offence, capped at maxBanMs', () => {
    const { p, clock } = pike();
    const durations: number[] = [];
    for (let round = 0; round < 5; round++) {
      send(p, '192.0.2.1', 11);
      const ban = p.bans()[0];
      durations.push(ban.durationMs);
      clock.advance(ban.durationMs);
      p.sweep();
    }
    expect(durations).toEqual([5000, 10_000, 20_000, 20_000, 20_000]);
  });

  it('does not count trusted sources, and a penalty weighs like several requests', () => {
    const { p } = pike({ isTrusted: (a) => a === '10.0.0.1' });
    expect(send(p, '10.0.0.1', 1000)).toBe(1000);
    expect(p.size).toBe(0);
    p.penalize('192.0.2.7', 8);
    expect(send(p, '192.0.2.7', 3)).toBe(2);
    expect(p.bans().map((b) => b.source)).toEqual(['192.0.2.7']);
  });

  it('lift() ends a ban at once, logged, and forgets the offence', () => {
    const { p, lines } = pike();
    send(p, '192.0.2.1', 11);
    expect(p.lift('192.0.2.1')).toBe(true);
    expect(p.lift('192.0.2.1')).toBe(false);
    expect(p.check('192.0.2.1')).toBe(true);
    expect(lines.filter((l) => l.msg === 'flood: ban ended').map((l) => l.why)).toEqual(['lifted']);
    send(p, '192.0.2.1', 11);
    expect(p.bans()[0].durationMs).toBe(5000);
    expect(p.counters.lifted).toBe(1);
  });

  it('keeps the table under its cap: a spoofed flood of new sources evicts quiet ones, bans stay, sweep forgets the rest', () => {
    const { p, clock } = pike({ maxSources: 100 });
    send(p, '192.0.2.1', 11); // banned: must survive the flood
    for (let i = 0; i < 5000; i++) p.check(`198.51.${i >> 8}.${i & 255}`);
    expect(p.size).toBeLessThanOrEqual(100);
    expect(p.counters.evicted).toBeGreaterThan(4000);
    expect(p.check('192.0.2.1', 0)).toBe(false);
    clock.advance(2000);
    p.sweep();
    // only the offender is remembered (for escalation), the quiet spoofed sources are gone
    expect(p.size).toBe(1);
    clock.advance(20_000);
    p.sweep();
    expect(p.bans()).toEqual([]);
    expect(p.size).toBe(1); // the ban ended; the offence is remembered maxBanMs for escalation
    clock.advance(20_000);
    p.sweep();
    expect(p.size).toBe(0);
  });

  it('lets a new source through uncounted when the table is full of bans (fails open, counted)', () => {
    const { p } = pike({ maxSources: 16 });
    for (let i = 0; i < 16; i++) send(p, `192.0.2.${i}`, 11);
    expect(p.bans()).toHaveLength(16);
    expect(p.check('203.0.113.1')).toBe(true);
    expect(p.counters.untracked).toBe(1);
  });
});
