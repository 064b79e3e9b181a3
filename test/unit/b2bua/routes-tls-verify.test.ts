import { describe, it, expect } from 'vitest';
import { parseRoutes } from '../../../src/b2bua/routes.js';

/** The per-target opt-out from outbound TLS verification (issue 10, defect 6). */
const one = (target: Record<string, unknown>): ReturnType<typeof parseRoutes> => parseRoutes(JSON.stringify({ routes: [{ targets: [target] }] }), 'r.json');

describe('routes file: tlsVerify', () => {
  it('false on a TLS target is kept; left out means verified', () => {
    expect(one({ uri: 'sips:127.0.0.1:5061', tlsVerify: false }).routes[0].targets[0].tlsVerify).toBe(false);
    expect(one({ uri: 'sip:127.0.0.1:5061;transport=tls', tlsVerify: true }).routes[0].targets[0].tlsVerify).toBeUndefined();
    expect(one({ uri: 'sips:127.0.0.1:5061' }).routes[0].targets[0].tlsVerify).toBeUndefined();
  });

  it('is an error on a non-TLS target or when not a boolean, naming the key', () => {
    expect(() => one({ uri: 'sip:127.0.0.1:5060', tlsVerify: false })).toThrow(/r\.json: routes\[0\]\.targets\[0\]\.tlsVerify: only for a TLS target/);
    expect(() => one({ uri: 'sips:127.0.0.1', tlsVerify: 'no' })).toThrow(/targets\[0\]\.tlsVerify: must be true or false/);
  });
});
