import { describe, it, expect } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, helpText } from '../../../src/config/load.js';

function config(argv: string[]): Record<string, unknown> {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config as unknown as Record<string, unknown>;
}

describe('--io', () => {
  it('is left to the default (batch when the addon loads) unless given; batch and dgram are taken; anything else names the option', () => {
    expect(config([]).io).toBeUndefined();
    expect(config(['--io=batch']).io).toBe('batch');
    expect(config(['--io=dgram']).io).toBe('dgram');
    for (const bad of ['', 'Batch', 'uring', 'batch,dgram']) expect(() => parseArgs([`--io=${bad}`])).toThrow(/--io: ".*" must be batch or dgram/);
    expect(helpText()).toContain('--io=batch|dgram');
  });

  it('is read from the config file too, with the file named in the error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-io-'));
    const file = join(dir, 'tandem.conf');
    writeFileSync(file, '[tandem]\nio = dgram\n');
    expect(config([`--config=${file}`]).io).toBe('dgram');
    writeFileSync(file, '[tandem]\nio = epoll\n');
    expect(() => parseArgs([`--config=${file}`])).toThrow(/io: "epoll" must be batch or dgram/);
  });
});
