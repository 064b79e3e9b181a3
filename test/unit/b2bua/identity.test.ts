import { describe, it, expect } from 'vitest';
import { parseArgs, helpText } from '../../../src/config/load.js';
import { headersToCopy } from '../../../src/b2bua/identity.js';
import { isTrustedProxy, isTrustedSource, parseRoutes } from '../../../src/b2bua/routes.js';
import { exposedListeners } from '../../../src/b2bua/exposure.js';

/** Issue 10, defect 4: who is trusted with identity headers, and how it is configured. */

describe('identity headers', () => {
  it('cross only when trusted; names compare case-insensitively; other headers always cross', () => {
    const list = ['Subject', 'p-asserted-identity', 'Privacy', 'P-Preferred-Identity', 'Remote-Party-ID'];
    expect(headersToCopy(list, true)).toEqual({ copy: list, withheld: [] });
    expect(headersToCopy(list, false)).toEqual({ copy: ['Subject'], withheld: ['p-asserted-identity', 'Privacy', 'P-Preferred-Identity', 'Remote-Party-ID'] });
  });
});

describe('trusted sources', () => {
  it('routes file: "trusted" and "trustedProxySources"; a trusted proxy is trusted, a trusted source is not a proxy', () => {
    const t = parseRoutes('{"routes": [], "trusted": ["10.0.0.0/8", "fd00::/8"], "trustedProxySources": ["192.168.1.1"]}', 'r.json');
    expect(t.trusted).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(isTrustedSource(t, '10.1.2.3')).toBe(true);
    expect(isTrustedSource(t, 'fd00::1')).toBe(true);
    expect(isTrustedSource(t, '192.168.1.1')).toBe(true);
    expect(isTrustedSource(t, '127.0.0.1')).toBe(false);
    expect(isTrustedProxy(t, '10.1.2.3')).toBe(false);
    expect(isTrustedProxy(t, '192.168.1.1')).toBe(true);
  });

  it('routes file errors name the key', () => {
    expect(() => parseRoutes('{"routes": [], "trusted": ["nope"]}', 'r.json')).toThrow(/^r\.json: trusted\[0\]: "nope" is not an IP address or CIDR/);
    expect(() => parseRoutes('{"routes": [], "trusted": "10.0.0.1"}', 'r.json')).toThrow(/^r\.json: trusted: must be a list/);
  });

  it('--trusted and --trusted-proxy take IPs and CIDRs; a bad one is an error naming the option; default none', () => {
    const r = parseArgs(['--trusted=10.0.0.0/8,::1', '--trusted-proxy=127.0.0.1']);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config.trusted).toEqual(['10.0.0.0/8', '::1']);
    expect(r.config.trustedProxies).toEqual(['127.0.0.1']);
    const d = parseArgs([]);
    if (d.kind !== 'run') throw new Error('expected run');
    expect(d.config.trusted).toEqual([]);
    expect(() => parseArgs(['--trusted=example.com'])).toThrow(/--trusted: "example.com"/);
    expect(() => parseArgs(['--trusted=10.0.0.0/33'])).toThrow(/--trusted: "10.0.0.0\/33"/);
    expect(() => parseArgs(['--trusted-proxy=10.0.0.0/x'])).toThrow(/--trusted-proxy: "10.0.0.0\/x"/);
    expect(helpText()).toContain('--trusted=LIST');
  });
});

describe('listeners beyond loopback (the start warns: no authentication yet)', () => {
  it('names every listener not on 127.0.0.0/8 or ::1', () => {
    expect(
      exposedListeners([
        { protocol: 'udp', address: '127.0.0.1', port: 5060 },
        { protocol: 'tcp', address: '127.1.2.3', port: 5060 },
        { protocol: 'ws', address: '::1', port: 8080 },
        { protocol: 'udp', address: '0.0.0.0', port: 5060 },
        { protocol: 'tls', address: '192.0.2.10', port: 5061 },
        { protocol: 'tcp', address: '::', port: 5060 },
      ]),
    ).toEqual(['udp:0.0.0.0:5060', 'tls:192.0.2.10:5061', 'tcp:[::]:5060']);
  });
});
