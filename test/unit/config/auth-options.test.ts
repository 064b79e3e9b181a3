import { describe, it, expect } from 'vitest';
import { parseArgs, helpText } from '../../../src/config/load.js';
import { parseRoutes, selectRoute } from '../../../src/b2bua/routes.js';

const config = (argv: string[]) => {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config;
};

describe('authentication options', () => {
  it('--auth-users, --realm, --auth-algorithms: off by default, errors name the option, listed in --help', () => {
    expect(config([])).toMatchObject({ authAlgorithms: ['SHA-256', 'MD5'] });
    expect(config([]).authUsers).toBeUndefined();
    expect(config(['--auth-users=users.txt', '--realm=example.com', '--auth-algorithms=md5']))
      .toMatchObject({ authUsers: 'users.txt', realm: 'example.com', authAlgorithms: ['MD5'] });
    expect(() => parseArgs(['--auth-users='])).toThrow(/--auth-users/);
    for (const bad of ['a:b', 'a"b', 'a\\b', ' ', 'x'.repeat(200)]) expect(() => parseArgs([`--realm=${bad}`])).toThrow(/--realm/);
    for (const bad of ['SHA-1', 'MD5,MD5', 'none', 'SHA-512-256']) expect(() => parseArgs([`--auth-algorithms=${bad}`])).toThrow(/--auth-algorithms/);
    for (const o of ['--auth-users', '--realm', '--auth-algorithms']) expect(helpText()).toContain(o);
  });
});

describe('routes file: "auth" and match.user', () => {
  const text = JSON.stringify({
    routes: [
      { name: 'alice', match: { user: 'alice' }, auth: 'required', targets: [{ uri: 'sip:127.0.0.1:5080' }] },
      { name: 'free', match: { userPrefix: '0800' }, auth: 'none', targets: [{ uri: 'sip:127.0.0.1:5081' }] },
      { name: 'rest', targets: [{ uri: 'sip:127.0.0.1:5082' }] },
    ],
  });

  it('reads them; a route with match.user is taken only by that authenticated user', () => {
    const t = parseRoutes(text, 'r.json');
    expect(t.routes.map((r) => r.auth)).toEqual(['required', 'none', undefined]);
    expect(selectRoute(t, { user: '100', source: '127.0.0.1' })?.name).toBe('rest');
    expect(selectRoute(t, { user: '100', source: '127.0.0.1', authUser: 'alice' })?.name).toBe('alice');
    expect(selectRoute(t, { user: '100', source: '127.0.0.1', authUser: 'bob' })?.name).toBe('rest');
  });

  it('refuses a bad value with the key path', () => {
    const bad = (route: object) => JSON.stringify({ routes: [{ targets: [{ uri: 'sip:127.0.0.1:5080' }], ...route }] });
    expect(() => parseRoutes(bad({ auth: 'maybe' }), 'r.json')).toThrow(/r\.json: routes\[0\]\.auth: must be "required" or "none"/);
    expect(() => parseRoutes(bad({ match: { user: '' } }), 'r.json')).toThrow(/routes\[0\]\.match\.user/);
  });
});
