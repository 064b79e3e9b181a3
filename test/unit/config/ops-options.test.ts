import { describe, it, expect } from 'vitest';
import { parseArgs } from '../../../src/config/load.js';
import { defaultConfig } from '../../../src/config/config.js';

const run = (args: string[]) => {
  const r = parseArgs(args);
  if (r.kind !== 'run') throw new Error('expected a run');
  return r.config;
};

describe('operations options', () => {
  it('the tandem command has its admin listener on 127.0.0.1:9900; in-process starts choose their own', () => {
    expect(run([]).listenHttp).toEqual({ address: '127.0.0.1', port: 9900 });
    expect(defaultConfig().listenHttp).toBeUndefined();
    // The same for the wait for the last BYEs at close(): 5 s for the command, none unless asked in-process.
    expect(defaultConfig().shutdownGrace).toBe(0);
    expect(run(['--listen-http=off']).listenHttp).toBeUndefined();
    // rtpengine's spelling (its config file says `listen-http = localhost:2225`): localhost and a bare port are loopback.
    expect(run(['--listen-http=localhost:2225']).listenHttp).toEqual({ address: '127.0.0.1', port: 2225 });
    expect(run(['--listen-http=9902']).listenHttp).toEqual({ address: '127.0.0.1', port: 9902 });
    expect(run(['--listen-http=[::1]:9901']).listenHttp).toEqual({ address: '::1', port: 9901 });
    expect(run(['--max-transcodes=50', '--drain-timeout=600', '--cdr=/var/log/tandem/cdr.json'])).toMatchObject({ maxTranscodes: 50, drainTimeout: 600, cdr: '/var/log/tandem/cdr.json' });
    expect(run([])).toMatchObject({ maxTranscodes: 0, drainTimeout: 3600, shutdownGrace: 5 });
    expect(run(['--shutdown-grace=0']).shutdownGrace).toBe(0);
    expect(run(['--shutdown-grace=30']).shutdownGrace).toBe(30);
    expect(run(['--cdr-url=https://cdr.example.net/in']).cdrUrl).toBe('https://cdr.example.net/in');
  });

  it.each([
    ['--listen-http=example.com:9900', /--listen-http: "example.com" is not an IP address \(or localhost\)/],
    ['--listen-http=127.0.0.1', /--listen-http: "127.0.0.1" must be \[IP:\]PORT/],
    ['--listen-http=127.0.0.1:70000', /--listen-http: 70000 is outside 0–65535/],
    ['--max-transcodes=-1', /--max-transcodes: "-1" is not a whole number/],
    ['--max-transcodes=lots', /--max-transcodes: "lots" is not a whole number/],
    ['--drain-timeout=999999999', /--drain-timeout: 999999999 is outside 0–604800/],
    ['--shutdown-grace=4000', /--shutdown-grace: 4000 is outside 0–3600/],
    ['--shutdown-grace=2.5', /--shutdown-grace: "2.5" is not a whole number/],
    ['--cdr=', /--cdr: needs a file name/],
    ['--cdr-url=ftp://x/y', /--cdr-url: "ftp:\/\/x\/y" must be an http:\/\/ or https:\/\/ URL without credentials/],
    ['--cdr-url=http://user:pw@x/', /--cdr-url: .* without credentials/],
    ['--cdr-url=not a url', /--cdr-url: "not a url" must be/],
  ])('%s is refused naming the option', (arg, why) => {
    expect(() => parseArgs([arg])).toThrow(why);
  });
});
