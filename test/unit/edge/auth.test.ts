import { describe, it, expect, beforeEach } from 'vitest';
import { pino } from 'pino';
import { Authenticator, type AuthVerdict } from '../../../src/edge/auth.js';
import { UserStore, parseUsersFile, withPassword } from '../../../src/edge/auth-users.js';
import { digestResponse, ha1Of, type DigestAlgorithm } from '../../../src/sip/digest.js';
import { parseSipMessage } from '../../../src/sip/parse.js';
import { getHeader, headerLines, type SipRequest } from '../../../src/sip/message.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const REALM = 'tandem.test';
const URI = 'sip:100@127.0.0.1:5060';

function request(method: string, headers: string[], uri = URI): SipRequest {
  const text = [`${method} ${uri} SIP/2.0`, 'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx', 'Max-Forwards: 70', 'From: <sip:alice@127.0.0.1>;tag=1', 'To: <sip:100@127.0.0.1>', 'Call-ID: c1@test', `CSeq: 1 ${method}`, ...headers, 'Content-Length: 0', '', ''].join('\r\n');
  const r = parseSipMessage(Buffer.from(text));
  if (!r.ok || r.message.kind !== 'request') throw new Error('test request did not parse');
  return r.message;
}

function nonceOf(v: AuthVerdict): string {
  if (v.kind !== 'respond') throw new Error('not a challenge');
  const m = /nonce="([^"]+)"/.exec(v.headers[0]?.value ?? '');
  if (m === null) throw new Error('no nonce');
  return m[1];
}

/** What a client with this password sends back. */
function credentials(o: { nonce: string; user?: string; password?: string; alg?: DigestAlgorithm; nc?: string; method?: string; uri?: string; realm?: string }): string {
  const alg = o.alg ?? 'SHA-256';
  const user = o.user ?? 'alice';
  const realm = o.realm ?? REALM;
  const nc = o.nc ?? '00000001';
  const uri = o.uri ?? URI;
  const response = digestResponse(alg, ha1Of(alg, user, realm, o.password ?? 'secret'), { nonce: o.nonce, nc, cnonce: 'cn0', qop: 'auth', method: o.method ?? 'INVITE', uri });
  return `Digest username="${user}", realm="${realm}", nonce="${o.nonce}", uri="${uri}", response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="cn0"`;
}

let clock: FakeClock;
let auth: Authenticator;
let failures: [string, string | undefined][];

beforeEach(() => {
  clock = new FakeClock(1_000_000);
  failures = [];
  const users = parseUsersFile(withPassword('', 'alice', REALM, 'secret'), 'users');
  auth = new Authenticator({ users: new UserStore(users), realm: REALM, clock, log: pino({ level: 'silent' }), onFailure: (s, u) => failures.push([s, u]) });
});

describe('Authenticator', () => {
  it('challenges a request without credentials: 407 with SHA-256 then MD5, one nonce, qop auth', () => {
    const v = auth.authenticate(request('INVITE', []), '192.0.2.1', 'proxy');
    expect(v.kind).toBe('respond');
    if (v.kind !== 'respond') return;
    expect(v.status).toBe(407);
    expect(v.headers.map((h) => h.name)).toEqual(['Proxy-Authenticate', 'Proxy-Authenticate']);
    expect(v.headers[0].value).toMatch(/^Digest realm="tandem.test", nonce="[^"]+", algorithm=SHA-256, qop="auth"$/);
    expect(v.headers[1].value).toMatch(/algorithm=MD5/);
    expect(failures).toEqual([]);
  });

  it('as a registrar: 401 with WWW-Authenticate, and Authorization is read', () => {
    const c = auth.authenticate(request('REGISTER', []), '192.0.2.1', 'registrar');
    expect(c.kind === 'respond' && c.status).toBe(401);
    expect(c.kind === 'respond' && c.headers[0].name).toBe('WWW-Authenticate');
    const req = request('REGISTER', [`Authorization: ${credentials({ nonce: nonceOf(c), method: 'REGISTER' })}`]);
    expect(auth.authenticate(req, '192.0.2.1', 'registrar')).toEqual({ kind: 'ok', user: 'alice' });
  });

  for (const alg of ['SHA-256', 'MD5'] as const)
    it(`accepts the right ${alg} answer and removes the credentials from the request`, () => {
      const req = request('INVITE', [`Proxy-Authorization: ${credentials({ nonce: nonceOf(auth.authenticate(request('INVITE', []), 'x', 'proxy')), alg })}`]);
      expect(auth.authenticate(req, '192.0.2.1', 'proxy')).toEqual({ kind: 'ok', user: 'alice' });
      expect(headerLines(req, 'Proxy-Authorization')).toEqual([]);
      expect(auth.stats().successes).toBe(1);
    });

  it('a wrong password and an unknown user get the same answer (status, header names, all but the nonce)', () => {
    const ask = (user: string, password: string): AuthVerdict => {
      const nonce = nonceOf(auth.challenge('proxy', false));
      return auth.authenticate(request('INVITE', [`Proxy-Authorization: ${credentials({ nonce, user, password })}`]), '192.0.2.9', 'proxy');
    };
    const wrong = ask('alice', 'guess');
    const nobody = ask('mallory', 'guess');
    const shape = (v: AuthVerdict) => (v.kind === 'respond' ? { status: v.status, reason: v.reason, headers: v.headers.map((h) => ({ name: h.name, value: h.value.replace(/nonce="[^"]+"/, 'nonce=…') })) } : v);
    expect(shape(nobody)).toEqual(shape(wrong));
    expect(shape(wrong)).toMatchObject({ status: 407 });
    expect(failures).toEqual([['192.0.2.9', 'alice'], ['192.0.2.9', 'mallory']]);
    const s = auth.stats();
    expect(s).toMatchObject({ failures: 2, unknownUsers: 1, failuresBySource: { '192.0.2.9': 2 }, failuresByUser: { alice: 1, mallory: 1 } });
  });

  it('an expired nonce with the right answer is challenged again with stale=true (manual clock); before expiry it is fine', () => {
    const nonce = nonceOf(auth.challenge('proxy', false));
    clock.advance(299_000);
    expect(auth.authenticate(request('INVITE', [`Proxy-Authorization: ${credentials({ nonce })}`]), 'x', 'proxy').kind).toBe('ok');
    clock.advance(2_000);
    const v = auth.authenticate(request('INVITE', [`Proxy-Authorization: ${credentials({ nonce, nc: '00000002' })}`]), 'x', 'proxy');
    expect(v.kind === 'respond' && v.status).toBe(407);
    expect(v.kind === 'respond' && v.headers.every((h) => h.value.endsWith(', stale=true'))).toBe(true);
    expect(auth.stats()).toMatchObject({ stale: 1, failures: 0 });
  });

  it('an expired nonce with a wrong answer is a failure, not stale (stale=true only for a right answer)', () => {
    const nonce = nonceOf(auth.challenge('proxy', false));
    clock.advance(301_000);
    const v = auth.authenticate(request('INVITE', [`Proxy-Authorization: ${credentials({ nonce, password: 'guess' })}`]), 'x', 'proxy');
    expect(v.kind === 'respond' && v.headers.some((h) => h.value.includes('stale'))).toBe(false);
    expect(auth.stats().failures).toBe(1);
  });

  it('nc replay: the same nc again, or a lower one, is refused; a higher one passes', () => {
    const nonce = nonceOf(auth.challenge('proxy', false));
    const send = (nc: string) => auth.authenticate(request('INVITE', [`Proxy-Authorization: ${credentials({ nonce, nc })}`]), '192.0.2.7', 'proxy');
    expect(send('00000002').kind).toBe('ok');
    expect(send('00000002').kind).toBe('respond');
    expect(send('00000001').kind).toBe('respond');
    expect(send('00000003').kind).toBe('ok');
    expect(auth.stats()).toMatchObject({ replays: 2, failures: 2, successes: 2 });
  });

  it('a nonce we did not issue (altered, or from before a restart) is never accepted: stale=true for a right answer, a failure for a wrong one', () => {
    const nonce = nonceOf(auth.challenge('proxy', false));
    const forged = `${nonce.slice(0, -2)}${nonce.endsWith('AA') ? 'AB' : 'AA'}`;
    const before = new Authenticator({ users: new UserStore(parseUsersFile(withPassword('', 'alice', REALM, 'secret'), 'u')), realm: REALM, clock, log: pino({ level: 'silent' }) });
    for (const n of [forged, 'dcd98b7102dd2f0e8b11d0f600bfb0c093', nonceOf(before.challenge('proxy', false))]) {
      const v = auth.authenticate(request('INVITE', [`Proxy-Authorization: ${credentials({ nonce: n })}`]), 'x', 'proxy');
      expect(v.kind === 'respond' && v.headers[0].value).toMatch(/stale=true$/);
    }
    expect(auth.stats()).toMatchObject({ failures: 0, stale: 3, successes: 0 });
    const wrong = auth.authenticate(request('INVITE', [`Proxy-Authorization: ${credentials({ nonce: forged, password: 'guess' })}`]), 'x', 'proxy');
    expect(wrong.kind === 'respond' && wrong.headers[0].value).not.toMatch(/stale/);
    expect(auth.stats().failures).toBe(1);
  });

  it('a nonce pushed out of the bounded nc map is stale, never fresh again', () => {
    const small = new Authenticator({ users: new UserStore(parseUsersFile(withPassword('', 'alice', REALM, 'secret'), 'u')), realm: REALM, clock, log: pino({ level: 'silent' }), maxNonces: 2 });
    const nonces = [0, 1, 2].map(() => {
      clock.advance(10);
      return nonceOf(small.challenge('proxy', false));
    });
    for (const nonce of nonces) expect(small.authenticate(request('INVITE', [`Proxy-Authorization: ${credentials({ nonce })}`]), 'x', 'proxy').kind).toBe('ok');
    const again = small.authenticate(request('INVITE', [`Proxy-Authorization: ${credentials({ nonce: nonces[0], nc: '00000001' })}`]), 'x', 'proxy');
    expect(again.kind === 'respond' && again.headers[0].value).toMatch(/stale=true/);
    expect(small.stats().nonces).toMatchObject({ evicted: 1, inUse: 2 });
  });

  describe('hostile credentials: a 400 with a reason or a fresh challenge, never a throw', () => {
    const cases: [string, (nonce: string) => string[], number, RegExp?][] = [
      ['unbalanced quotes', () => ['Proxy-Authorization: Digest username="alice, realm="tandem.test'], 400, /unbalanced|expected/],
      ['a huge value', () => [`Proxy-Authorization: Digest username="${'a'.repeat(5000)}"`], 400, /longer than/],
      ['no username', (n) => [`Proxy-Authorization: Digest realm="${REALM}", nonce="${n}", uri="${URI}", response="00"`], 400, /missing username/],
      ['no response', (n) => [`Proxy-Authorization: Digest username="alice", realm="${REALM}", nonce="${n}", uri="${URI}"`], 400, /missing response/],
      ['no uri', (n) => [`Proxy-Authorization: Digest username="alice", realm="${REALM}", nonce="${n}", response="00"`], 400, /missing uri/],
      ['no qop (RFC 2069 style)', (n) => [`Proxy-Authorization: ${credentials({ nonce: n }).replace(', qop=auth', '')}`], 400, /qop=auth/],
      ['a bad nc', (n) => [`Proxy-Authorization: ${credentials({ nonce: n }).replace('nc=00000001', 'nc=1')}`], 400, /nc must be/],
      ['a uri that is not the Request-URI', (n) => [`Proxy-Authorization: ${credentials({ nonce: n, uri: 'sip:900@127.0.0.1:5060' })}`], 400, /does not match/],
      ['two credentials for our realm', (n) => [`Proxy-Authorization: ${credentials({ nonce: n })}`, `Proxy-Authorization: ${credentials({ nonce: n })}`], 400, /several/],
      ['a wrong realm', (n) => [`Proxy-Authorization: ${credentials({ nonce: n, realm: 'elsewhere' })}`], 407],
      ['a wrong algorithm', (n) => [`Proxy-Authorization: ${credentials({ nonce: n }).replace('algorithm=SHA-256', 'algorithm=SHA-512-256')}`], 407],
      ['MD5-sess (not offered)', (n) => [`Proxy-Authorization: ${credentials({ nonce: n, alg: 'MD5' }).replace('algorithm=MD5', 'algorithm=MD5-sess')}`], 407],
      ['Basic', () => ['Proxy-Authorization: Basic YWxpY2U6c2VjcmV0'], 400, /not Digest/],
      ['a response of non-ASCII characters', (n) => [`Proxy-Authorization: ${credentials({ nonce: n }).replace(/response="[0-9a-f]+"/, `response="${'é€'.repeat(32)}"`)}`], 407],
      ['a nonce of non-ASCII characters', () => [`Proxy-Authorization: ${credentials({ nonce: 'ñ'.repeat(40) })}`], 407],
      ['a response of the wrong length', (n) => [`Proxy-Authorization: ${credentials({ nonce: n }).replace(/response="[0-9a-f]+"/, 'response="abc"')}`], 407],
    ];
    for (const [name, headers, status, reason] of cases)
      it(name, () => {
        const nonce = nonceOf(auth.challenge('proxy', false));
        const req = request('INVITE', headers(nonce));
        let v: AuthVerdict | undefined;
        expect(() => (v = auth.authenticate(req, '198.51.100.1', 'proxy'))).not.toThrow();
        expect(v?.kind).toBe('respond');
        if (v?.kind !== 'respond') return;
        expect(v.status).toBe(status);
        if (reason !== undefined) expect(v.reason).toMatch(reason);
        expect(v.reason).toMatch(/^[\x20-\x7e]+$/);
        expect(getHeader(req, 'Proxy-Authorization')).toBeDefined();
      });
  });
});

describe('mutated credentials (seeded, bounded): never a throw, only ok, a challenge or a 400', () => {
  it('3000 mutations of a valid answer', async () => {
    const { mulberry32 } = await import('../../fuzz/prng.js');
    const rand = mulberry32(12);
    const nonce = nonceOf(auth.challenge('proxy', false));
    const valid = credentials({ nonce });
    const alphabet = ['"', '\\', ',', '=', ' ', '\t', 'a', '0', 'é', '\u0000', 'Digest', 'nc=', 'realm="x"', 'username='];
    const seen = new Set<number | string>();
    for (let i = 0; i < 3000; i++) {
      let s = valid;
      for (let k = 0, n = 1 + rand.int(4); k < n; k++) {
        const at = rand.int(s.length + 1);
        const op = rand.int(3);
        if (op === 0) s = s.slice(0, at) + rand.pick(alphabet) + s.slice(at);
        else if (op === 1) s = s.slice(0, at) + s.slice(at + 1 + rand.int(8));
        else s = s.slice(0, at) + s.slice(at).repeat(1 + rand.int(3));
      }
      let v: AuthVerdict | undefined;
      try {
        v = auth.authenticate(request('INVITE', [`Proxy-Authorization: ${s.replace(/[\r\n]/g, ' ')}`]), '203.0.113.5', 'proxy');
      } catch (err) {
        throw new Error(`seed 12 case ${i} threw on ${JSON.stringify(s)}: ${String(err)}`);
      }
      seen.add(v.kind === 'ok' ? 'ok' : v.status);
    }
    expect([...seen].every((x) => x === 'ok' || x === 400 || x === 407)).toBe(true);
    expect(seen.has(400) && seen.has(407)).toBe(true);
  });
});
