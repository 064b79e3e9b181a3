import { describe, it, expect } from 'vitest';
import { UserStore, parseUsersFile, withPassword } from '../../../src/edge/auth-users.js';
import { ha1Of } from '../../../src/edge/auth-digest.js';
import { gateRequest } from '../../../src/edge/auth-gate.js';
import { Authenticator } from '../../../src/edge/auth.js';
import { parseSipMessage } from '../../../src/sip/parse.js';
import type { SipRequest } from '../../../src/sip/message.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { pino } from 'pino';

const MD5 = '939e7578ed9e3c518a452acee763bce9'; // htdigest's Mufasa:testrealm@host.com:Circle Of Life
const SHA = ha1Of('SHA-256', 'bob', 'b.example', 'pw');

describe('users file', () => {
  it('reads htdigest MD5 lines and SHA-256 lines, several realms, comments and blank lines', () => {
    const entries = parseUsersFile(`# users\n\nMufasa:testrealm@host.com:${MD5}\r\nbob:b.example:SHA-256:${SHA.toUpperCase()}\nbob:a.example:${MD5}\n`, 'u.txt');
    expect(entries).toEqual([
      { user: 'Mufasa', realm: 'testrealm@host.com', algorithm: 'MD5', ha1: MD5 },
      { user: 'bob', realm: 'b.example', algorithm: 'SHA-256', ha1: SHA },
      { user: 'bob', realm: 'a.example', algorithm: 'MD5', ha1: MD5 },
    ]);
    expect(ha1Of('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life')).toBe(MD5);
    const store = new UserStore(entries);
    expect(store.ha1('SHA-256', 'b.example', 'bob')).toBe(SHA);
    expect(store.ha1('MD5', 'b.example', 'bob')).toBeUndefined();
  });

  const bad: [string, RegExp][] = [
    ['alice:r', /u\.txt:2: expected user:realm:HA1/],
    [`alice:r:SHA-512:${SHA}`, /u\.txt:2: algorithm "SHA-512"/],
    ['alice:r:xyz', /u\.txt:2: the MD5 HA1 must be 32 hex digits/],
    [`alice:r:SHA-256:${MD5}`, /u\.txt:2: the SHA-256 HA1 must be 64 hex digits/],
    [`:r:${MD5}`, /u\.txt:2: empty user name/],
    [`alice::${MD5}`, /u\.txt:2: empty realm/],
    [`Mufasa:testrealm@host.com:${MD5}`, /u\.txt:2: .*listed twice/],
    [`a:b:c:d:${MD5}`, /u\.txt:2: expected/],
  ];
  for (const [line, err] of bad)
    it(`names the line of an error: ${line.slice(0, 30)}`, () => {
      expect(() => parseUsersFile(`Mufasa:testrealm@host.com:${MD5}\n${line}\n`, 'u.txt')).toThrow(err);
    });

  it('tandem passwd text: replaces both lines of the user in that realm, keeps the rest', () => {
    const before = `# keep me\nalice:r1:${MD5}\nalice:r2:${MD5}\nbob:r1:${MD5}\n`;
    const after = withPassword(before, 'alice', 'r1', 'new');
    const entries = parseUsersFile(after, 'u');
    expect(after.startsWith('# keep me\n')).toBe(true);
    expect(entries.filter((e) => e.user === 'alice' && e.realm === 'r1')).toEqual([
      { user: 'alice', realm: 'r1', algorithm: 'MD5', ha1: ha1Of('MD5', 'alice', 'r1', 'new') },
      { user: 'alice', realm: 'r1', algorithm: 'SHA-256', ha1: ha1Of('SHA-256', 'alice', 'r1', 'new') },
    ]);
    expect(entries.filter((e) => e.realm === 'r2' || e.user === 'bob')).toHaveLength(2);
    expect(parseUsersFile(withPassword(after, 'alice', 'r1', 'again'), 'u')).toHaveLength(entries.length);
    expect(() => withPassword('', 'a:b', 'r', 'p')).toThrow(/user name/);
    expect(() => withPassword('', 'a', 'r\n', 'p')).toThrow(/realm/);
  });
});

describe('gateRequest: who must authenticate', () => {
  type R = { name: string; auth?: 'required' | 'none'; user?: string };
  const req = (): SipRequest => {
    const r = parseSipMessage(Buffer.from('INVITE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:1@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n'));
    if (!r.ok || r.message.kind !== 'request') throw new Error('parse');
    return r.message;
  };
  const auth = new Authenticator({ users: new UserStore([]), realm: 'r', clock: new FakeClock(), log: pino({ level: 'silent' }) });
  const table = (routes: R[]) => ({ select: (u: string | undefined) => routes.find((r) => r.user === undefined || r.user === u), authOf: (r: R) => r.auth });

  it('without an authenticator: routes pass as before, but an "auth": "required" route is never taken', () => {
    expect(gateRequest(undefined, { req: req(), source: 's', trusted: false, ...table([{ name: 'a' }]) })).toEqual({ kind: 'pass', route: { name: 'a' } });
    expect(gateRequest(undefined, { req: req(), source: 's', trusted: true, ...table([{ name: 'a', auth: 'required' }]) })).toEqual({ kind: 'pass', route: undefined });
  });

  it('with one: untrusted are challenged, trusted pass, "none" routes pass, "required" challenges even the trusted', () => {
    expect(gateRequest(auth, { req: req(), source: 's', trusted: false, ...table([{ name: 'a' }]) })).toMatchObject({ kind: 'respond', status: 407 });
    expect(gateRequest(auth, { req: req(), source: 's', trusted: true, ...table([{ name: 'a' }]) })).toEqual({ kind: 'pass', route: { name: 'a' } });
    expect(gateRequest(auth, { req: req(), source: 's', trusted: false, ...table([{ name: 'a', auth: 'none' }]) })).toEqual({ kind: 'pass', route: { name: 'a', auth: 'none' } });
    expect(gateRequest(auth, { req: req(), source: 's', trusted: true, ...table([{ name: 'a', auth: 'required' }]) })).toMatchObject({ kind: 'respond', status: 407 });
    // Credentials for our realm never go on unchecked; another realm's are left alone.
    const r = parseSipMessage(Buffer.from('INVITE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:1@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nProxy-Authorization: Digest username="a", realm="r", nonce="n", uri="u", response="x"\r\nProxy-Authorization: Digest username="a", realm="other", nonce="n", uri="u", response="x"\r\nContent-Length: 0\r\n\r\n'));
    if (!r.ok || r.message.kind !== 'request') throw new Error('parse');
    expect(gateRequest(auth, { req: r.message, source: 's', trusted: true, ...table([{ name: 'a' }]) }).kind).toBe('pass');
    expect(r.message.headers.filter((h) => h.name === 'Proxy-Authorization').map((h) => h.value)).toEqual(['Digest username="a", realm="other", nonce="n", uri="u", response="x"']);
    // Only a user's route exists: challenge first, so an unauthenticated caller learns nothing of routes.
    expect(gateRequest(auth, { req: req(), source: 's', trusted: false, ...table([{ name: 'a', user: 'alice' }]) })).toMatchObject({ kind: 'respond', status: 407 });
  });
});
