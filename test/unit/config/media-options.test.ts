import { describe, it, expect } from 'vitest';
import { parseArgs, helpText } from '../../../src/config/load.js';
import type { TandemConfig } from '../../../src/config/config.js';

function run(argv: string[]): TandemConfig {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config;
}

describe('--media with several nodes and --media-node-retry', () => {
  it('keeps one node as before, and makes a weighted set of several', () => {
    expect(run([]).media).toEqual({ kind: 'local' });
    expect(run(['--media=local']).media).toEqual({ kind: 'local' });
    expect(run(['--media=ng:127.0.0.1:2223']).media).toEqual({ kind: 'ng', address: '127.0.0.1', port: 2223 });
    expect(run(['--media=local=1,ng:127.0.0.1:2224=3']).media).toEqual({
      kind: 'set',
      nodes: [{ kind: 'local', weight: 1 }, { kind: 'ng', address: '127.0.0.1', port: 2224, weight: 3 }],
    });
    expect(run(['--media=ng:127.0.0.2:2223, ng:[::1]:2223=2']).media).toEqual({
      kind: 'set',
      nodes: [{ kind: 'ng', address: '127.0.0.2', port: 2223, weight: 1 }, { kind: 'ng', address: '::1', port: 2223, weight: 2 }],
    });
    // A weight on a single node asks for the set's health checks too.
    expect(run(['--media=ng:127.0.0.1:2223=5']).media).toMatchObject({ kind: 'set' });
    expect(run([]).mediaNodeRetry).toBe(60);
    expect(run(['--media-node-retry=5']).mediaNodeRetry).toBe(5);
  });

  it('refuses malformed node lists with an error naming the option', () => {
    for (const [arg, why] of [
      ['--media=local=1,,ng:127.0.0.1:2224=3', /--media: .* has an empty node/],
      ['--media=local=x', /--media weight of local: "x" is not a whole number/],
      ['--media=local=-1', /--media weight of local/],
      ['--media=local=1001', /--media weight of local: 1001 is outside 0–1000/],
      ['--media=local=1,local=2', /--media: local is listed twice/],
      ['--media=ng:127.0.0.1:2223=1,ng:127.0.0.1:2223=2', /--media: ng:127.0.0.1:2223 is listed twice/],
      ['--media=local=0,ng:127.0.0.1:2223=0', /--media: every node has weight 0/],
      ['--media=ng:127.0.0.1:0=1', /--media: 0 is outside 1–65535/],
      ['--media=ng:127.0.0.1:99999', /--media: 99999 is outside/],
      ['--media=ng:host.example:2223=1,local', /--media: "ng:host.example:2223=1" must be local or ng:IP:PORT/],
      ['--media=rtpengine:127.0.0.1:2223', /--media: .* must be local or ng:IP:PORT/],
      ['--media=ng:0.0.0.0:2223=1,local', /--media: "0.0.0.0" is not an address/],
      ['--media=', /--media/],
      ['--media-node-retry=0', /--media-node-retry: 0 is outside 1–86400/],
      ['--media-node-retry=soon', /--media-node-retry: "soon" is not a whole number/],
    ] as const) expect(() => run([arg]), arg).toThrow(why);
  });

  it('is in --help', () => {
    expect(helpText()).toMatch(/--media=NODE\[=WEIGHT\],…/);
    expect(helpText()).toMatch(/--media-node-retry=SECONDS/);
  });
});
