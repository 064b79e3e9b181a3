import { describe, it, expect } from 'vitest';
import { resolve } from 'node:path';
import { parseArgs, helpText } from '../../../src/config/load.js';

const config = (argv: string[]) => {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config;
};

describe('recording options', () => {
  it('--recording-dir, --recording-method, --recording-queue: off by default, errors name the option, listed in --help', () => {
    expect(config([]).recordingDir).toBeUndefined();
    expect(config([])).toMatchObject({ recordingMethod: 'pcap', recordingQueue: 4096 });
    expect(config(['--recording-dir=/var/spool/tandem', '--recording-method=WAV', '--recording-queue=100'])).toMatchObject({
      recordingDir: '/var/spool/tandem', recordingMethod: 'wav', recordingQueue: 100,
    });
    expect(config(['--recording-dir=rec']).recordingDir).toBe(resolve('rec'));
    expect(() => parseArgs(['--recording-dir='])).toThrow(/--recording-dir/);
    for (const bad of ['proc', 'mp3', '']) expect(() => parseArgs([`--recording-method=${bad}`])).toThrow(/--recording-method/);
    for (const bad of ['0', '15', 'x', '-1', '1000001']) expect(() => parseArgs([`--recording-queue=${bad}`])).toThrow(/--recording-queue/);
    for (const o of ['--recording-dir', '--recording-method', '--recording-queue']) expect(helpText()).toContain(o);
  });
});
