import { describe, it, expect } from 'vitest';
import { parseArgs, helpText } from '../../../src/config/load.js';
import type { TandemConfig } from '../../../src/config/config.js';

function run(argv: string[]): TandemConfig {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config;
}

describe('--registrar and its limits', () => {
  it('is off unless asked; the intervals default to 60/3600/3600 s, 10 % jitter, 10 per AOR', () => {
    const c = run([]);
    expect(c.registrar).toBeUndefined();
    expect(c).toMatchObject({ registrarMinExpires: 60, registrarMaxExpires: 3600, registrarDefaultExpires: 3600, registrarExpiryJitter: 10, registrarMaxBindingsPerAor: 10, registrarMaxBindings: 100_000 });
    expect(run(['--registrar=on']).registrar).toBe(true);
    expect(run(['--registrar=off']).registrar).toBe(false);
  });

  it('a bad value is an error naming the option', () => {
    expect(() => parseArgs(['--registrar=maybe'])).toThrow(/--registrar:/);
    expect(() => parseArgs(['--registrar-min-expires=0'])).toThrow(/--registrar-min-expires/);
    expect(() => parseArgs(['--registrar-expiry-jitter=60'])).toThrow(/--registrar-expiry-jitter/);
    expect(() => parseArgs(['--registrar-max-bindings-per-aor=x'])).toThrow(/--registrar-max-bindings-per-aor/);
    expect(() => parseArgs(['--registrar-min-expires=600', '--registrar-max-expires=300', '--registrar-default-expires=300'])).toThrow(/--registrar-min-expires \(600\) is above/);
    expect(() => parseArgs(['--registrar-default-expires=30'])).toThrow(/--registrar-default-expires/);
  });

  it('is in --help', () => {
    for (const o of ['--registrar=on|off', '--registrar-min-expires=SECONDS', '--registrar-max-bindings=INT']) expect(helpText()).toContain(o);
  });
});
