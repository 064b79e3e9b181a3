import { describe, it, expect } from 'vitest';
import { UserStore, parseUsersFile, withPassword } from '../../../src/edge/auth-users.js';
import { ha1Of } from '../../../src/sip/digest.js';

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
