import { describe, it, expect } from 'vitest';
import { parseArgs, helpText } from '../../../src/config/load.js';

const config = (argv: string[]) => {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config;
};

describe('DNS options', () => {
  it('--dns-server, --dns-cache-size, --dns-max-endpoints: system resolvers by default, errors name the option, listed in --help', () => {
    expect(config([]).dnsServers).toBeUndefined();
    expect(config([])).toMatchObject({ dnsCacheSize: 1000, dnsMaxEndpoints: 16 });
    expect(config(['--dns-server=127.0.0.1:5353, 10.0.0.1,[::1]:53,2001:db8::1']).dnsServers).toEqual(['127.0.0.1:5353', '10.0.0.1', '[::1]:53', '2001:db8::1']);
    expect(config(['--dns-cache-size=5', '--dns-max-endpoints=4'])).toMatchObject({ dnsCacheSize: 5, dnsMaxEndpoints: 4 });
    for (const bad of ['', 'dns.example.com', '127.0.0.1:0', '127.0.0.1:70000', '[127.0.0.1]:53', '::1:53:x']) expect(() => parseArgs([`--dns-server=${bad}`])).toThrow(/--dns-server/);
    for (const bad of ['0', 'x', '-1']) expect(() => parseArgs([`--dns-cache-size=${bad}`])).toThrow(/--dns-cache-size/);
    for (const bad of ['0', '65']) expect(() => parseArgs([`--dns-max-endpoints=${bad}`])).toThrow(/--dns-max-endpoints/);
    for (const o of ['--dns-server', '--dns-cache-size', '--dns-max-endpoints']) expect(helpText()).toContain(o);
  });
});
