import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { answerChallenge, parseChallenge, pickChallenge, type Challenge } from '../../../bench/lib/sip-digest.js';
import { Authenticator } from '../../../src/edge/auth.js';
import { UserStore, parseUsersFile, withPassword } from '../../../src/edge/auth-users.js';
import { parseSipMessage } from '../../../src/sip/parse.js';
import type { SipRequest } from '../../../src/sip/message.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const REALM = 'bench';
const URI = 'sip:bench-1@127.0.0.1:15060';

function invite(extra: string[]): SipRequest {
  const text = [`INVITE ${URI} SIP/2.0`, 'Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKx', 'Max-Forwards: 70', 'From: <sip:bench@127.0.0.1:40000>;tag=1', `To: <${URI}>`, 'Call-ID: c1@bench', 'CSeq: 2 INVITE', ...extra, 'Content-Length: 0', '', ''].join('\r\n');
  const r = parseSipMessage(Buffer.from(text));
  if (!r.ok || r.message.kind !== 'request') throw new Error('test request did not parse');
  return r.message;
}

describe('bench caller: digest answer', () => {
  // RFC 7616 §3.9.1: the same credentials and nonce answered with MD5 and with SHA-256.
  const rfc = {
    realm: 'http-auth@example.org',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  };
  const cred = { user: 'Mufasa', password: 'Circle of Life' };

  it('matches RFC 7616 §3.9.1 for MD5 and SHA-256 (qop=auth, nc=00000001)', () => {
    for (const [alg, expected] of [
      ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
      ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
    ] as const) {
      const c = parseChallenge(`Digest realm="${rfc.realm}", qop="auth, auth-int", algorithm=${alg}, nonce="${rfc.nonce}", opaque="${rfc.opaque}"`);
      expect(c).toMatchObject({ realm: rfc.realm, nonce: rfc.nonce, algorithm: alg, qop: ['auth', 'auth-int'], opaque: rfc.opaque, stale: false });
      const value = answerChallenge(c as Challenge, cred, { method: 'GET', uri: '/dir/index.html', cnonce: rfc.cnonce });
      expect(value).toContain(`response="${expected}"`);
      expect(value).toContain('nc=00000001');
      expect(value).toContain(`opaque="${rfc.opaque}"`);
      expect(value).toContain(`algorithm=${alg}`);
    }
  });

  it('picks the first challenge it can answer (the server\'s preference) unless told otherwise', () => {
    const values = ['Basic realm="x"', 'Digest realm="r", nonce="n", algorithm=SHA-512-256, qop="auth"', 'Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth"', 'Digest realm="r", nonce="n", algorithm=MD5, qop="auth", stale=true'];
    expect(pickChallenge(values)?.algorithm).toBe('SHA-256');
    expect(pickChallenge(values, 'MD5')).toMatchObject({ algorithm: 'MD5', stale: true });
    // no qop=auth, or no nonce: nothing to answer (RFC 2069 style digest is not supported).
    expect(pickChallenge(['Digest realm="r", nonce="n", algorithm=MD5', 'Digest realm="r", algorithm=MD5, qop="auth"'])).toBeUndefined();
    // quoted-pair and a missing algorithm (= MD5, RFC 2617 §3.2.1)
    expect(parseChallenge('Digest realm="a \\"q\\" b",nonce="n1",qop=auth')).toMatchObject({ realm: 'a "q" b', nonce: 'n1', algorithm: 'MD5', qop: ['auth'] });
  });

  it('is accepted by Tandem\'s authenticator (src/edge/auth.ts) for both algorithms; a wrong password is not', () => {
    const users = new UserStore(parseUsersFile(withPassword('', 'bench', REALM, 'pw-1'), 'users'));
    for (const prefer of ['SHA-256', 'MD5'] as const) {
      const auth = new Authenticator({ users, realm: REALM, clock: new FakeClock(1_000_000), log: pino({ level: 'silent' }) });
      const first = auth.authenticate(invite([]), '127.0.0.1', 'proxy');
      if (first.kind !== 'respond') throw new Error('expected a challenge');
      expect(first.status).toBe(407);
      const c = pickChallenge(first.headers.filter((h) => h.name === 'Proxy-Authenticate').map((h) => h.value), prefer);
      expect(c?.algorithm).toBe(prefer);
      const good = answerChallenge(c as Challenge, { user: 'bench', password: 'pw-1' }, { method: 'INVITE', uri: URI });
      expect(auth.authenticate(invite([`Proxy-Authorization: ${good}`]), '127.0.0.1', 'proxy')).toEqual({ kind: 'ok', user: 'bench' });
      const bad = answerChallenge(c as Challenge, { user: 'bench', password: 'pw-2' }, { method: 'INVITE', uri: URI, nc: 2 });
      expect(auth.authenticate(invite([`Proxy-Authorization: ${bad}`]), '127.0.0.1', 'proxy')).toMatchObject({ kind: 'respond', status: 407 });
    }
  });
});
