import { describe, it, expect } from 'vitest';
import { DnsFailure, type SipLookup } from '../../../src/sip/dns.js';
import { needsDns, resolveSetup } from '../../../src/b2bua/resolve.js';
import { parseTargetUri, type RouteTarget } from '../../../src/b2bua/routes.js';
import type { CallSetup } from '../../../src/b2bua/call-core.js';

const target = (uri: string, priority: number): RouteTarget => {
  const t = parseTargetUri(uri, 'test', { dns: true });
  return { uri: t.uri, endpoint: t.endpoint, ...(t.lookup !== undefined ? { lookup: t.lookup } : {}), weight: 1, priority };
};
const setupOf = (targets: RouteTarget[]): CallSetup => ({ targets }) as unknown as CallSetup;

/** Names → endpoints; a name it lacks fails as sip/dns.ts would. */
const fake = {
  resolve: async (l: SipLookup) => {
    if (l.host === 'trunk.test') return [{ protocol: 'udp' as const, address: '192.0.2.1', port: 5060 }, { protocol: 'udp' as const, address: '192.0.2.2', port: 5062 }];
    if (l.host === 'tls.test') return [{ protocol: 'tls' as const, address: '192.0.2.3', port: 5061 }];
    throw new DnsFailure(l.host, 'no usable address record');
  },
};

describe('per-call resolution of named targets', () => {
  it('a named target expands in its place into its endpoints, in order, keeping its URI (the Request-URI keeps the name)', async () => {
    const targets = [target('sip:127.0.0.1:5070', 1), target('sip:trunk.test', 2), target('sip:127.0.0.1:5071', 3)];
    expect(needsDns(targets)).toBe(true);
    expect(needsDns([targets[0]])).toBe(false);
    const s = await resolveSetup(setupOf(targets), fake);
    expect(s.targets.map((t) => `${t.uri} → ${t.endpoint.address}:${t.endpoint.port}`)).toEqual([
      'sip:127.0.0.1:5070 → 127.0.0.1:5070',
      'sip:trunk.test → 192.0.2.1:5060',
      'sip:trunk.test → 192.0.2.2:5062',
      'sip:127.0.0.1:5071 → 127.0.0.1:5071',
    ]);
    expect(s.targets.every((t) => t.lookup === undefined)).toBe(true);
  });

  it('a name that fails is skipped while another target is left; when none is, its DnsFailure goes up; no resolver = a DnsFailure too', async () => {
    const s = await resolveSetup(setupOf([target('sip:gone.test', 1), target('sip:127.0.0.1:5070', 2)]), fake);
    expect(s.targets.map((t) => t.endpoint.address)).toEqual(['127.0.0.1']);
    await expect(resolveSetup(setupOf([target('sip:gone.test', 1)]), fake)).rejects.toBeInstanceOf(DnsFailure);
    await expect(resolveSetup(setupOf([target('sip:trunk.test', 1)]), undefined)).rejects.toThrow(/trunk\.test did not resolve: DNS is off/);
  });

  it('all names of a call are asked at once (a slow one does not hold up the start of the others), and the targets keep the order of the route', async () => {
    const waiting = new Map<string, (e: { protocol: 'udp'; address: string; port: number }[]) => void>();
    const slow = { resolve: (l: SipLookup) => new Promise<{ protocol: 'udp'; address: string; port: number }[]>((res) => waiting.set(l.host, res)) };
    const done = resolveSetup(setupOf([target('sip:a.test', 1), target('sip:b.test', 2)]), slow, { host: 'proxy.test', secure: false });
    await Promise.resolve();
    expect([...waiting.keys()].sort()).toEqual(['a.test', 'b.test', 'proxy.test']);
    // Answers in reverse order: the targets still come out in the route's.
    waiting.get('proxy.test')?.([{ protocol: 'udp', address: '192.0.2.9', port: 5060 }]);
    waiting.get('b.test')?.([{ protocol: 'udp', address: '192.0.2.20', port: 5060 }]);
    waiting.get('a.test')?.([{ protocol: 'udp', address: '192.0.2.10', port: 5060 }]);
    const s = await done;
    expect(s.targets.map((t) => t.endpoint.address)).toEqual(['192.0.2.10', '192.0.2.20']);
    expect(s.targets.map((t) => t.nextHop?.address)).toEqual(['192.0.2.9', '192.0.2.9']);
  });

  it('TLS endpoints carry the name the certificate must show (RFC 5922), X-Outbound-Proxy\'s too', async () => {
    const s = await resolveSetup(setupOf([target('sips:tls.test', 1)]), fake, { host: 'tls.test', secure: true });
    expect(s.targets[0].endpoint).toEqual({ protocol: 'tls', address: '192.0.2.3', port: 5061, serverName: 'tls.test' });
    expect(s.targets[0].nextHop).toEqual({ protocol: 'tls', address: '192.0.2.3', port: 5061, serverName: 'tls.test' });
  });

  it('X-Outbound-Proxy by name: each target is tried through every proxy address in turn (target by target); the IP-literal hop it replaces is gone', async () => {
    const proxied = { ...setupOf([target('sip:127.0.0.1:5070', 1), target('sip:127.0.0.1:5071', 2)]), nextHop: { protocol: 'udp', address: 'trunk.test', port: 5060 } } as CallSetup;
    const s = await resolveSetup(proxied, fake, { host: 'trunk.test', secure: false });
    expect(s.targets.map((t) => `${t.endpoint.port} via ${t.nextHop?.address}:${t.nextHop?.port}`)).toEqual(['5070 via 192.0.2.1:5060', '5070 via 192.0.2.2:5062', '5071 via 192.0.2.1:5060', '5071 via 192.0.2.2:5062']);
    expect(s.nextHop).toBeUndefined();
    // Without a proxy name the targets carry no hop of their own.
    expect((await resolveSetup(setupOf([target('sip:trunk.test', 1)]), fake)).targets.every((t) => t.nextHop === undefined)).toBe(true);
    await expect(resolveSetup(setupOf([target('sip:127.0.0.1', 1)]), fake, { host: 'gone.test', secure: false })).rejects.toThrow(/gone\.test did not resolve/);
  });
});
