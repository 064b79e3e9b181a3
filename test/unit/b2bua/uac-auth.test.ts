import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { authorizationValue, parseChallenge, parseTargetAuth, selectChallenge, sendWithAuth, UacAuth, type Challenge } from '../../../src/b2bua/uac-auth.js';
import { createRequest } from '../../../src/sip/build.js';
import type { ClientTransactionHandler } from '../../../src/sip/transaction/types.js';
import type { SipHeader, SipRequest } from '../../../src/sip/message.js';
import { parseRoutes } from '../../../src/b2bua/routes.js';
import { mulberry32 } from '../../fuzz/prng.js';
import { mutateText } from '../../fuzz/mutate.js';
import { parseCredentials } from '../../../src/sip/digest.js';
import type { SipResponse } from '../../../src/sip/message.js';

// RFC 7616 §3.9.1: Mufasa / "Circle of Life", GET /dir/index.html.
const rfc = {
  realm: 'http-auth@example.org',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
};
const mufasa = { username: 'Mufasa', password: 'Circle of Life' };

function responseParam(value: string): string {
  const r = parseCredentials(value);
  if (!r.ok) throw new Error(r.reason);
  return r.credentials.response;
}

function challenged(status: number, values: string[]): SipResponse {
  const name = status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate';
  return { kind: 'response', version: 'SIP/2.0', status, reason: 'Unauthorized', headers: values.map((value) => ({ name, value })), body: Buffer.alloc(0) };
}

describe('UAC digest: RFC 7616 §3.9.1 values', () => {
  for (const [alg, expected] of [
    ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
    ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
  ] as const) {
    it(`computes the RFC's ${alg} response`, () => {
      const c = parseChallenge(`Digest realm="${rfc.realm}", qop="auth, auth-int", algorithm=${alg}, nonce="${rfc.nonce}", opaque="${rfc.opaque}"`);
      expect(c.ok).toBe(true);
      if (!c.ok) return;
      const v = authorizationValue(mufasa, c.challenge, { method: 'GET', uri: '/dir/index.html' }, 1, rfc.cnonce);
      expect(responseParam(v)).toBe(expected);
      expect(v).toContain('nc=00000001');
      expect(v).toContain(`opaque="${rfc.opaque}"`);
      expect(v).toContain(`algorithm=${alg}`);
    });
  }

  it('answers a challenge without qop the RFC 2069 way (no cnonce, no nc)', () => {
    const c: Challenge = { realm: 'r', nonce: 'n', algorithm: 'MD5', qop: undefined, opaque: undefined, stale: false };
    const v = authorizationValue(mufasa, c, { method: 'INVITE', uri: 'sip:x@127.0.0.1' }, 1, 'cn');
    expect(v).not.toContain('nc=');
    expect(v).not.toContain('cnonce');
  });
});

describe('UAC digest: challenge selection', () => {
  const md5 = 'Digest realm="trunk", nonce="a", algorithm=MD5, qop="auth"';
  const sha = 'Digest realm="trunk", nonce="b", algorithm=SHA-256, qop="auth"';
  it('prefers SHA-256 when offered, whatever the order', () => {
    for (const list of [[md5, sha], [sha, md5]]) {
      const r = selectChallenge(list);
      expect(r.ok && r.challenge.algorithm).toBe('SHA-256');
    }
  });
  it('falls back to MD5, and to the first supported when others are not', () => {
    const r = selectChallenge(['Digest realm="trunk", nonce="c", algorithm=SHA-512-256', md5]);
    expect(r.ok && r.challenge.nonce).toBe('a');
  });
  it('an absent algorithm is MD5; stale=TRUE is stale', () => {
    const r = parseChallenge('Digest realm="t", nonce="n", stale=TRUE');
    expect(r.ok && r.challenge.algorithm).toBe('MD5');
    expect(r.ok && r.challenge.stale).toBe(true);
  });
  it('answers only the configured realm', () => {
    const r = selectChallenge([md5], 'other');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/realm "trunk" is not ours/);
  });
  it('hostile or unusable challenges give a reason, never a throw', () => {
    const hostile = [
      '',
      'Basic realm="x"',
      'Digest',
      'Digest ',
      'Digest realm="unterminated, nonce="n"',
      'Digest realm="r"',
      'Digest nonce="n"',
      'Digest realm="r", nonce=""',
      'Digest realm="r", nonce="n", nonce="m"',
      'Digest realm="r", nonce="n", algorithm=MD5-sess',
      'Digest realm="r", nonce="n", algorithm=SHA-512-256',
      'Digest realm="r", nonce="n", qop="auth-int"',
      'Digest realm="r" nonce="n"',
      'Digest =x',
      'Digest realm=, nonce=n',
      `Digest realm="${'r'.repeat(5000)}", nonce="n"`,
      `Digest realm="r", nonce="${'n'.repeat(2000)}"`,
      'Digest realm="r", nonce="n",,,',
      'Digest realm="\\', 
      'Digest \u0000realm="r", nonce="n"',
      'Digest realm="r", nonce="n", qop=',
      'Digest realm="r\r\nX-Injected: 1", nonce="n"',
      'Digest realm="r", nonce="n\u0007"',
    ];
    for (const h of hostile) {
      const r = parseChallenge(h);
      expect(r.ok, h.slice(0, 60)).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
    expect(selectChallenge(hostile).ok).toBe(false);
    expect(selectChallenge([]).ok).toBe(false);
  });
  it('2000 seeded mutations of a real challenge: a result every time, never a throw; an answer only from a challenge that parsed', () => {
    const r = mulberry32(13);
    const seed = 'Digest realm="trunk", nonce="abc\\"def", algorithm=SHA-256, qop="auth,auth-int", opaque="o", stale=false';
    for (let i = 0; i < 2000; i++) {
      const text = mutateText(seed, r).value;
      const res = new UacAuth(mufasa).answer(challenged(407, [text]), { method: 'INVITE', uri: 'sip:x@127.0.0.1' }, false, false);
      expect(res.ok).toBe(parseChallenge(text).ok);
      if (res.ok) expect(res.header.value).not.toMatch(/[\r\n]/);
    }
  });
});

describe('UacAuth: one dialog', () => {
  const req = { method: 'INVITE', uri: 'sip:bob@127.0.0.1' };
  const sha = 'Digest realm="trunk", nonce="n1", algorithm=SHA-256, qop="auth"';
  it('answers 407 in Proxy-Authorization, 401 in Authorization', () => {
    const a = new UacAuth(mufasa);
    const r = a.answer(challenged(407, [sha]), req, false, false);
    expect(r.ok && r.header.name).toBe('Proxy-Authorization');
    const r2 = new UacAuth(mufasa).answer(challenged(401, [sha]), req, false, false);
    expect(r2.ok && r2.header.name).toBe('Authorization');
  });
  it('a second challenge for a request that carried credentials is a failure, stale=true earns one retry', () => {
    const a = new UacAuth(mufasa);
    expect(a.answer(challenged(407, [sha]), req, false, false).ok).toBe(true);
    const again = a.answer(challenged(407, [sha]), req, true, false);
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.reason).toMatch(/refused our credentials/);
    const stale = `${sha.replace('n1', 'n2')}, stale=true`;
    const r = a.answer(challenged(407, [stale]), req, true, false);
    expect(r.ok && r.stale).toBe(true);
    expect(a.answer(challenged(407, [stale]), req, true, true).ok).toBe(false);
  });
  it('the same nonce again (a later in-dialog request) counts nc up; a new nonce starts at 1', () => {
    const a = new UacAuth(mufasa);
    const nc = (r: ReturnType<UacAuth['answer']>): string | undefined => (r.ok ? /nc=([0-9a-f]+)/.exec(r.header.value)?.[1] : undefined);
    expect(nc(a.answer(challenged(407, [sha]), req, false, false))).toBe('00000001');
    expect(nc(a.answer(challenged(407, [sha]), { method: 'BYE', uri: req.uri }, false, false))).toBe('00000002');
    expect(nc(a.answer(challenged(407, [sha.replace('n1', 'n9')]), req, false, false))).toBe('00000001');
  });
});

describe('a route target\'s "auth"', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uac-auth-'));
  const file = join(dir, 'routes.json');
  writeFileSync(join(dir, 'trunk.pw'), 's3cret\nignored second line\n');
  it('takes password or passwordFile (relative to the routes file, first line) and realm', () => {
    expect(parseTargetAuth(file, 'p', { username: 'u', password: 'x' })).toEqual({ username: 'u', password: 'x' });
    expect(parseTargetAuth(file, 'p', { username: 'u', passwordFile: 'trunk.pw', realm: 'r' })).toEqual({ username: 'u', password: 's3cret', realm: 'r' });
    const t = parseRoutes(JSON.stringify({ routes: [{ targets: [{ uri: 'sip:127.0.0.1:5080', auth: { username: 'u', password: 'p' } }] }] }), file);
    expect(t.routes[0].targets[0].auth).toEqual({ username: 'u', password: 'p' });
  });
  it('errors name the key', () => {
    const bad: [unknown, RegExp][] = [
      ['x', /targets\[0\]\.auth: must be an object/],
      [{ password: 'p' }, /auth\.username: missing/],
      [{ username: 'u' }, /auth\.password: missing/],
      [{ username: 'u', password: 'p', passwordFile: 'trunk.pw' }, /auth\.passwordFile: give/],
      [{ username: 'u', passwordFile: 'nope.pw' }, /auth\.passwordFile: cannot read .*ENOENT/],
      [{ username: 'u', password: 'p', user: 'x' }, /auth\.user: unknown key/],
      [{ username: 'u\r\nX: y', password: 'p' }, /auth\.username: must not contain/],
      [{ username: 'u', password: 5 }, /auth\.password: must be a non-empty string/],
    ];
    for (const [auth, re] of bad) {
      expect(() => parseRoutes(JSON.stringify({ routes: [{ targets: [{ uri: 'sip:127.0.0.1:5080', auth }] }] }), file)).toThrow(re);
    }
  });
});

describe('sendWithAuth: an in-dialog request', () => {
  const challenge = 'Digest realm="trunk", nonce="n1", algorithm=MD5, qop="auth"';
  function harness(auth: UacAuth | undefined): { sent: SipRequest[]; handlers: ClientTransactionHandler[]; finals: number[] } {
    const sent: SipRequest[] = [];
    const handlers: ClientTransactionHandler[] = [];
    const finals: number[] = [];
    let seq = 10;
    sendWithAuth({
      auth,
      build: (extra: SipHeader[]) => createRequest('BYE', 'sip:peer@127.0.0.1', [{ name: 'CSeq', value: `${++seq} BYE` }, ...extra]),
      send: (req, h) => {
        sent.push(req);
        handlers.push(h);
      },
      handler: { onFinal: (res) => finals.push(res.status), onTimeout: () => undefined, onTransportError: () => undefined },
      log: pino({ level: 'silent' }),
    });
    return { sent, handlers, finals };
  }
  it('is sent again with credentials once (no onResend needed), and a second challenge reaches the handler', () => {
    const h = harness(new UacAuth(mufasa));
    h.handlers[0].onFinal(challenged(407, [challenge]));
    expect(h.sent).toHaveLength(2);
    expect(h.sent[1].headers.find((x) => x.name === 'CSeq')?.value).toBe('12 BYE');
    expect(h.sent[1].headers.some((x) => x.name === 'Proxy-Authorization')).toBe(true);
    h.handlers[1].onFinal(challenged(407, [challenge]));
    expect(h.sent).toHaveLength(2);
    expect(h.finals).toEqual([407]);
  });
  it('a leg without credentials hands the challenge on as it is', () => {
    const h = harness(undefined);
    h.handlers[0].onFinal(challenged(401, [challenge]));
    expect(h.sent).toHaveLength(1);
    expect(h.finals).toEqual([401]);
  });
});
