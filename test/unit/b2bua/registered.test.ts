import { describe, it, expect } from 'vitest';
import { createLogger } from '../../../src/common/log.js';
import { parseRoutes } from '../../../src/b2bua/routes.js';
import { bindingTargets } from '../../../src/b2bua/registered.js';
import { allowOutOfDialog } from '../../../src/b2bua/methods.js';
import type { Binding } from '../../../src/edge/location.js';

const binding = (over: Partial<Binding>): Binding => ({
  aor: 'sip:alice@example.com', contact: 'sip:alice@10.0.0.1:5060', q: 1000, expiresAt: 1e12, callId: 'c', cseq: 1, path: [],
  flow: { protocol: 'tcp', address: '127.0.0.1', port: 40000 }, connectionBound: true, ...over,
});

describe('routes file: target "registered"', () => {
  it('marks the route and takes no static targets', () => {
    const t = parseRoutes(JSON.stringify({ routes: [{ name: 'users', match: { domain: 'example.com' }, targets: [{ uri: 'registered' }] }] }), 'r.json');
    expect(t.routes[0]).toMatchObject({ registered: true, targets: [] });
  });

  it('must be the only target, without other keys', () => {
    expect(() => parseRoutes(JSON.stringify({ routes: [{ targets: [{ uri: 'registered' }, { uri: 'sip:127.0.0.1:5080' }] }] }), 'r.json')).toThrow(/routes\[0\]\.targets: "registered" must be the only target/);
    expect(() => parseRoutes(JSON.stringify({ routes: [{ targets: [{ uri: 'registered', weight: 2 }] }] }), 'r.json')).toThrow(/routes\[0\]\.targets\[0\]\.weight: unknown key/);
  });
});

describe('bindingTargets', () => {
  const log = createLogger({ level: 'silent' });
  it('sends to the flow without Path, to the first Path hop with the Path as route set otherwise', () => {
    const [flow, path] = bindingTargets([binding({}), binding({ contact: 'sip:bob@10.0.0.2', path: ['sip:127.0.0.1:5090;transport=tcp;lr', 'sip:127.0.0.3;lr'] })], log);
    expect(flow).toMatchObject({ uri: 'sip:alice@10.0.0.1:5060', endpoint: { protocol: 'tcp', address: '127.0.0.1', port: 40000 }, flow: true });
    expect(path).toMatchObject({ uri: 'sip:bob@10.0.0.2', endpoint: { protocol: 'tcp', address: '127.0.0.1', port: 5090 }, routeSet: ['sip:127.0.0.1:5090;transport=tcp;lr', 'sip:127.0.0.3;lr'] });
    expect(path.flow).toBeUndefined();
  });

  it('skips a contact whose Path names a host (no DNS)', () => {
    expect(bindingTargets([binding({ path: ['sip:proxy.example.com;lr'] })], log)).toEqual([]);
  });
});

describe('Allow outside a dialog', () => {
  it('lists REGISTER only when the registrar is on', () => {
    expect(allowOutOfDialog(false)).not.toContain('REGISTER');
    expect(allowOutOfDialog(true)).toContain('REGISTER');
  });
});
