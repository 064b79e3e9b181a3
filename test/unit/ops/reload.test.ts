import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { Reloader, type ReloadPart } from '../../../src/ops/reload.js';

/** A part whose file reads as `read` (a throw for a bad file); commits are recorded in `applied`. */
function part(name: string, read: () => number, applied: string[]): ReloadPart {
  return { name, prepare: () => { const n = read(); return { count: n, commit: () => applied.push(`${name}=${n}`) }; } };
}

describe('Reloader', () => {
  it('commits every part only when every file reads, and says what it read', () => {
    const applied: string[] = [];
    const r = new Reloader([part('routes', () => 2, applied), part('users', () => 5, applied), part('acl', () => 3, applied)], pino({ level: 'silent' }));
    expect(r.reload()).toEqual({ ok: true, reloaded: { routes: 2, users: 5, acl: 3 } });
    expect(applied).toEqual(['routes=2', 'users=5', 'acl=3']);
    expect(r.counters).toEqual({ ok: 1, failed: {} });
  });

  it('a bad file anywhere (even the last) refuses the whole reload: nothing is committed, the failure is counted by part', () => {
    const applied: string[] = [];
    let broken = true;
    const r = new Reloader([part('routes', () => 2, applied), part('users', () => 5, applied), part('acl', () => { if (broken) throw new Error('acl:7: "x" is not an IP address or CIDR'); return 1; }, applied)], pino({ level: 'silent' }));
    expect(r.reload()).toEqual({ ok: false, error: 'acl:7: "x" is not an IP address or CIDR', failed: 'acl' });
    expect(applied).toEqual([]);
    expect(r.counters).toEqual({ ok: 0, failed: { acl: 1 } });
    broken = false;
    expect(r.reload().ok).toBe(true);
    expect(applied).toHaveLength(3);
    expect(r.counters).toEqual({ ok: 1, failed: { acl: 1 } });
  });
});
