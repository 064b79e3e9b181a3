import { describe, it, expect } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, helpText } from '../../../src/config/load.js';

describe('command line and config file', () => {
  it('defaults to loopback, ng on 22222 and media ports 30000–40000', () => {
    const r = parseArgs([]);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config.interface).toBe('127.0.0.1');
    expect(r.config.listenNg).toEqual({ address: '127.0.0.1', port: 22222 });
    expect([r.config.portMin, r.config.portMax]).toEqual([30000, 40000]);
    expect(r.config.numThreads).toBeGreaterThan(0);
  });

  it('takes rtpengine spellings, with = or a separate value', () => {
    const r = parseArgs(['--interface=127.0.0.2', '--listen-ng', '127.0.0.1:2223', '--port-min=20000', '--port-max=20099', '--num-threads=3', '--log-level=warn', '--timeout=5']);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config).toMatchObject({ interface: '127.0.0.2', listenNg: { address: '127.0.0.1', port: 2223 }, portMin: 20000, portMax: 20099, numThreads: 3, logLevel: 'warn', timeout: 5 });
  });

  it('names the option in every error', () => {
    expect(() => parseArgs(['--port-min=abc'])).toThrow(/--port-min/);
    expect(() => parseArgs(['--interface=nowhere'])).toThrow(/--interface/);
    expect(() => parseArgs(['--listen-ng=127.0.0.1'])).toThrow(/--listen-ng/);
    expect(() => parseArgs(['--num-threads=0'])).toThrow(/--num-threads/);
    expect(() => parseArgs(['--log-level=loud'])).toThrow(/--log-level/);
    expect(() => parseArgs(['--frobnicate=1'])).toThrow(/--frobnicate/);
    expect(() => parseArgs(['--port-min=40000', '--port-max=30000'])).toThrow(/--port-min/);
    expect(() => parseArgs(['--port-max'])).toThrow(/--port-max: needs a value/);
  });

  it('reads a [tandem] config file; the command line wins; errors name file, line and key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-cfg-'));
    const good = join(dir, 'good.conf');
    writeFileSync(good, '# comment\n[tandem]\ninterface = 127.0.0.3\nport-min = 31000\nport_max = 31999\n');
    const r = parseArgs([`--config=${good}`, '--port-max=32000']);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config).toMatchObject({ interface: '127.0.0.3', portMin: 31000, portMax: 32000 });
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, '[tandem]\nport-min = lots\n');
    expect(() => parseArgs([`--config=${bad}`])).toThrow(/bad\.conf:2: port-min/);
    expect(() => parseArgs([`--config=${join(dir, 'missing.conf')}`])).toThrow(/--config: cannot read/);
  });

  it('lists every option in --help', () => {
    expect(parseArgs(['--help']).kind).toBe('help');
    for (const o of ['--interface', '--listen-ng', '--port-min', '--port-max', '--num-threads', '--config', '--log-level']) expect(helpText()).toContain(o);
  });
});
