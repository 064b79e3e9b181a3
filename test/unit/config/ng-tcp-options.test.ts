import { describe, it, expect } from 'vitest';
import { parseArgs, helpText } from '../../../src/config/load.js';

const config = (argv: string[]) => {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config;
};

describe('ng over TCP options', () => {
  it('--listen-tcp-ng is off by default; a bare port or localhost binds loopback, as in rtpengine', () => {
    expect(config([]).listenTcpNg).toBeUndefined();
    expect(config(['--listen-tcp-ng=2224']).listenTcpNg).toEqual({ address: '127.0.0.1', port: 2224 });
    expect(config(['--listen-tcp-ng=localhost:2224']).listenTcpNg).toEqual({ address: '127.0.0.1', port: 2224 });
    expect(config(['--listen-tcp-ng=10.0.0.5:2224']).listenTcpNg).toEqual({ address: '10.0.0.5', port: 2224 });
    expect(config(['--listen-tcp-ng=[::1]:2224']).listenTcpNg).toEqual({ address: '::1', port: 2224 });
    // --listen-ng reads the same spelling.
    expect(config(['--listen-ng=localhost:2223']).listenNg).toEqual({ address: '127.0.0.1', port: 2223 });
    for (const bad of ['', 'host.example:1', '127.0.0.1', '127.0.0.1:70000', 'x:y']) expect(() => parseArgs([`--listen-tcp-ng=${bad}`])).toThrow(/--listen-tcp-ng/);
  });

  it('limits have defaults, take whole numbers in range, and a bad value names the option', () => {
    expect(config([])).toMatchObject({ ngTcpMaxConnections: 128, ngTcpMaxMessage: 262144, ngTcpIdleTimeout: 600000, ngTcpMessageTimeout: 10000 });
    expect(config(['--ng-tcp-max-connections=4', '--ng-tcp-max-message=8192', '--ng-tcp-idle-timeout=0', '--ng-tcp-message-timeout=500'])).toMatchObject({ ngTcpMaxConnections: 4, ngTcpMaxMessage: 8192, ngTcpIdleTimeout: 0, ngTcpMessageTimeout: 500 });
    for (const [o, bad] of [['ng-tcp-max-connections', '0'], ['ng-tcp-max-message', '100'], ['ng-tcp-max-message', '99999999'], ['ng-tcp-idle-timeout', '-1'], ['ng-tcp-message-timeout', 'soon']])
      expect(() => parseArgs([`--${o}=${bad}`])).toThrow(new RegExp(`--${o}`));
    for (const o of ['--listen-tcp-ng', '--ng-tcp-max-connections', '--ng-tcp-max-message', '--ng-tcp-idle-timeout', '--ng-tcp-message-timeout']) expect(helpText()).toContain(o);
  });
});
