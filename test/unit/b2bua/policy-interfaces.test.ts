import { describe, it, expect } from 'vitest';
import { defaultLegPolicy, offerMediaOptions, resolveLegInterfaces, type CallPolicy } from '../../../src/b2bua/policy.js';
import { parseRoutes } from '../../../src/b2bua/routes.js';

const policy = (a?: string, b?: string): CallPolicy => ({
  a: { ...defaultLegPolicy(), ...(a !== undefined ? { interface: a } : {}) },
  b: { ...defaultLegPolicy(), ...(b !== undefined ? { interface: b } : {}) },
});

describe('leg interfaces (routes file "interface")', () => {
  it('is read from a leg policy, and must be a non-empty string', () => {
    const t = parseRoutes('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "policy": {"a": {"interface": "priv"}, "b": {"interface": "pub"}}}]}', 'r.json');
    expect([t.routes[0].policy.a.interface, t.routes[0].policy.b.interface]).toEqual(['priv', 'pub']);
    expect(() => parseRoutes('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "policy": {"b": {"interface": 7}}}]}', 'r.json')).toThrow(/r\.json: routes\[0\]\.policy\.b\.interface: must be a non-empty string/);
  });

  it('becomes ng direction [facing the offerer, facing the receiver] in either direction', () => {
    expect(offerMediaOptions(policy('priv', 'pub'), 'a-to-b').direction).toEqual(['priv', 'pub']);
    expect(offerMediaOptions(policy('priv', 'pub'), 'b-to-a').direction).toEqual(['pub', 'priv']);
    expect(offerMediaOptions(policy(), 'a-to-b').direction).toBeUndefined();
  });

  it('gives an unnamed leg the first interface, and refuses a name not configured', () => {
    const p = policy(undefined, 'pub');
    resolveLegInterfaces(p, ['priv', 'pub'], 'r.json: route trunk');
    expect([p.a.interface, p.b.interface]).toEqual(['priv', 'pub']);
    const none = policy();
    resolveLegInterfaces(none, ['priv', 'pub'], 'x');
    expect(none.a.interface).toBeUndefined();
    expect(() => resolveLegInterfaces(policy('lan'), ['priv', 'pub'], 'r.json: route trunk')).toThrow('r.json: route trunk: policy.a.interface "lan" is not a configured --interface name (priv, pub)');
  });
});
