import { describe, it, expect } from 'vitest';
import { parseArgs, helpText } from '../../../src/config/load.js';
import type { TandemConfig } from '../../../src/config/config.js';
import { redactUrl } from '../../../src/state/redis-state.js';

function run(argv: string[]): TandemConfig {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config;
}

describe('--redis', () => {
  it('takes redis:// and rediss:// URLs, and none', () => {
    expect(run([]).redis).toBeUndefined();
    expect(run(['--redis=redis://127.0.0.1:6379']).redis).toBe('redis://127.0.0.1:6379');
    expect(run(['--redis=rediss://:pw@10.0.0.5:6380/2']).redis).toBe('rediss://:pw@10.0.0.5:6380/2');
    expect(run(['--redis=redis://127.0.0.1:6379', '--redis=none']).redis).toBeUndefined();
    expect(helpText()).toMatch(/--redis=URL/);
  });

  it('refuses what is not a Redis URL, naming the option', () => {
    for (const [arg, why] of [
      ['--redis=127.0.0.1:6379', /--redis: "127.0.0.1:6379" is not a URL/],
      ['--redis=nothing', /--redis: "nothing" is not a URL/],
      ['--redis=http://127.0.0.1:6379', /--redis: "http:" must be redis: or rediss:/],
      ['--redis=redis://127.0.0.1:6379/db', /--redis: "\/db" must be a database number/],
      ['--redis=redis://', /--redis: needs a host/],
    ] as const) expect(() => run([arg]), arg).toThrow(why);
  });

  it('never shows a password in what it logs', () => {
    expect(redactUrl('redis://user:secret@10.0.0.1:6379/0')).toBe('redis://user:***@10.0.0.1:6379/0');
    expect(redactUrl('redis://:secret@10.0.0.1')).toBe('redis://:***@10.0.0.1');
    expect(redactUrl('redis://10.0.0.1:6379')).toBe('redis://10.0.0.1:6379');
  });
});
