import { describe, it, expect } from 'vitest';
import { parseArgs, helpText } from '../../../src/config/load.js';

const config = (argv: string[]) => {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config;
};

describe('DTMF options', () => {
  it('--dtmf-no-suppress: off by default, yes/no, an error names the option, listed in --help', () => {
    expect(config([]).dtmfNoSuppress).toBe(false);
    expect(config(['--dtmf-no-suppress=yes']).dtmfNoSuppress).toBe(true);
    expect(config(['--dtmf-no-suppress=off']).dtmfNoSuppress).toBe(false);
    for (const bad of ['', 'maybe', '2']) expect(() => parseArgs([`--dtmf-no-suppress=${bad}`])).toThrow(/--dtmf-no-suppress/);
    expect(helpText()).toContain('--dtmf-no-suppress');
  });
});
