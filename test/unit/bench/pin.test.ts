import { describe, it, expect } from 'vitest';
import { checkPinFits, checkPinned, cpuListString, defaultPin, parseCpuList, parsePinValue, requireTaskset } from '../../../bench/lib/pin.js';
import { parseOptions, serverThreads } from '../../../bench/lib/options.js';
import { tandemIo } from '../../../bench/lib/server.js';
import { readFileSync } from 'node:fs';

const parse = (s: string): ReturnType<typeof parseOptions> => parseOptions(s.split(' ').filter(Boolean), '/tmp/out');

describe('bench --pin', () => {
  it('parses CPU lists and GEN:SERVER', () => {
    expect(parseCpuList('0', 'x')).toEqual([0]);
    expect(parseCpuList('3,1-2,2', 'x')).toEqual([1, 2, 3]);
    expect(cpuListString([0, 1, 2, 5, 7, 8])).toBe('0-2,5,7-8');
    expect(parsePinValue('0:1')).toEqual({ generator: [0], server: [1] });
    expect(parsePinValue('0-1:2-3')).toEqual({ generator: [0, 1], server: [2, 3] });
    expect(defaultPin(2)).toEqual({ generator: [0], server: [1] });
    expect(defaultPin(4)).toEqual({ generator: [0], server: [1, 2, 3] });
  });

  it('refuses what cannot be pinned, naming the fault', () => {
    expect(() => parsePinValue('0')).toThrow(/--pin=0: expected GENERATOR_CPUS:SERVER_CPUS/);
    expect(() => parsePinValue('0:0')).toThrow(/CPU 0 is given to both/);
    expect(() => parsePinValue('a:1')).toThrow(/--pin generator CPUs 'a'/);
    expect(() => parsePinValue('0:3-1')).toThrow(/runs backwards/);
    expect(() => defaultPin(1)).toThrow(/at least 2 CPUs/);
    expect(() => checkPinFits({ generator: [0], server: [1, 2] }, 2)).toThrow(/CPU 2 does not exist/);
  });

  it('through the command line: --pin alone, --pin=GEN:SERVER; a bare --pin takes no value', () => {
    expect(parse('--pin')).toMatchObject({ pin: true });
    expect(parse('--pin').pinCpus).toBeUndefined();
    expect(parse('--pin=0:1')).toMatchObject({ pin: true, pinCpus: { generator: [0], server: [1] } });
    expect(parse('--pin --calls 10')).toMatchObject({ pin: true, calls: [10] });
    expect(() => parse('--pin=1:1')).toThrow(/given to both/);
  });

  it('says which package brings taskset when it is missing', () => {
    expect(() => requireTaskset('/nonexistent:')).toThrow(/--pin needs taskset.*apt-get install util-linux/);
  });

  it('reads every thread\'s affinity back from /proc', () => {
    const mine = parseCpuList(/Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'latin1'))?.[1] ?? '', 'self');
    const ok = checkPinned([process.pid], mine, false);
    expect(ok.processes).toBe(1);
    expect(ok.threads).toBeGreaterThan(1); // node has helper threads
    expect(ok.wrong).toEqual([]);
    const elsewhere = checkPinned([process.pid], [9999], false); // positive control: a mismatch is seen
    expect(elsewhere.wrong).toHaveLength(elsewhere.threads);
  });
});

describe('bench options: media threads per server', () => {
  it('--threads wins; otherwise one per pinned server CPU; unpinned, each server its own default', () => {
    expect(parse('').threads).toBeUndefined();
    expect(serverThreads(parse(''), undefined)).toBeUndefined();
    expect(serverThreads(parse(''), 1)).toBe(1);
    expect(serverThreads(parse(''), 3)).toBe(3);
    expect(serverThreads(parse('--threads 4'), 1)).toBe(4);
    expect(() => parse('--threads 0')).toThrow();
  });
});

describe('bench options: generator workers, server args, relay-limit', () => {
  it('parses them', () => {
    expect(parse('--gen-workers 2 --server-arg=--io=dgram --server-arg --num-threads=1')).toMatchObject({ genWorkers: 2, serverArgs: ['--io=dgram', '--num-threads=1'] });
    expect(parse('')).toMatchObject({ serverArgs: [] });
    expect(parse('').genWorkers).toBeUndefined();
    expect(parse('--scenario relay-limit --calls 200,400')).toMatchObject({ scenario: 'relay-limit', calls: [200, 400] });
    expect(parse('--gen-io dgram')).toMatchObject({ genIo: 'dgram' });
    expect(parse('--gen-io=native --gen-workers 2')).toMatchObject({ genIo: 'native', genWorkers: 2 });
    expect(parse('--scenario relay-limit').cRelay).toBe('epoll');
    expect(parse('--scenario relay-limit --c-relay uring-connected').cRelay).toBe('uring-connected');
    expect(() => parse('--scenario relay-limit --c-relay xdp')).toThrow(/--c-relay xdp: expected epoll, epoll-connected, uring, uring-connected/);
    expect(() => parse('--scenario relay --c-relay uring')).toThrow(/only with --scenario relay-limit/);
  });

  it('rejects what means nothing', () => {
    expect(() => parse('--gen-workers 1.5')).toThrow(/--gen-workers 1.5: expected a whole number/);
    expect(() => parse('--gen-workers -1')).toThrow(/--gen-workers/);
    expect(() => parse('--gen-io uring')).toThrow(/--gen-io uring: expected native or dgram/);
    expect(() => parse('--gen-io native --gen-workers 0')).toThrow(/runs in generator workers/);
    expect(() => parse('--server-arg io=dgram')).toThrow(/--server-arg io=dgram: expected a Tandem option/);
    expect(() => parse('--scenario opus --gen-workers 2')).toThrow(/opus scenario runs its legs on the main thread/);
    expect(() => parse('--scenario relay-limit --compare rtpengine')).toThrow(/relay-limit starts Tandem and the C relay itself/);
    expect(() => parse('--scenario relay-limit --via sip')).toThrow(/relay-limit/);
  });

  it('reports which io Tandem runs: passed through, asked for when offered, or dgram', () => {
    const withIo = (): string => '  --io=batch|dgram   media socket layer';
    const without = (): string => '  --num-threads=N';
    expect(tandemIo(['--io=dgram'], true, withIo)).toEqual({ args: ['--io=dgram'], io: 'dgram (--server-arg)' });
    expect(tandemIo([], true, withIo)).toMatchObject({ args: ['--io=batch'], io: expect.stringMatching(/^batch/) });
    expect(tandemIo([], false, withIo)).toEqual({ args: [], io: "Tandem's default" });
    expect(tandemIo([], true, without)).toEqual({ args: [], io: 'dgram (this Tandem has no --io option)' });
  });
});
