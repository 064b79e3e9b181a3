import { describe, it, expect } from 'vitest';
import { parseArgs, helpText } from '../../../src/config/load.js';

describe('--server-header', () => {
  it('is absent by default; TEXT sets it; none clears it; a bad value is an error naming the option', () => {
    const run = (argv: string[]) => {
      const r = parseArgs(argv);
      if (r.kind !== 'run') throw new Error('expected run');
      return r.config.serverHeader;
    };
    expect(run([])).toBeUndefined();
    expect(run(['--server-header=Tandem'])).toBe('Tandem');
    expect(run(['--server-header=PBX (edge) 1.0'])).toBe('PBX (edge) 1.0');
    expect(run(['--server-header=Tandem', '--server-header=none'])).toBeUndefined();
    expect(() => parseArgs(['--server-header=Tandem\r\nX-Evil: 1'])).toThrow(/--server-header/);
    expect(() => parseArgs([`--server-header=${'x'.repeat(129)}`])).toThrow(/--server-header/);
    expect(() => parseArgs(['--server-header=Tändem'])).toThrow(/--server-header/);
    expect(helpText()).toContain('--server-header=TEXT|none');
  });
});

describe('--sip-timer-c', () => {
  it('defaults to 3 minutes (RFC 3261 Timer C); a bad value is an error naming the option', () => {
    const r = parseArgs(['--sip-timer-c=1000']);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config.sipTimerC).toBe(1000);
    const d = parseArgs([]);
    if (d.kind !== 'run') throw new Error('expected run');
    expect(d.config.sipTimerC).toBe(180_000);
    expect(() => parseArgs(['--sip-timer-c=0'])).toThrow(/--sip-timer-c/);
    expect(() => parseArgs(['--sip-timer-c=soon'])).toThrow(/--sip-timer-c/);
  });
});
