import { describe, it, expect } from 'vitest';
import { challengeValue, digestResponse, ha1Of, knownAlgorithm, parseCredentials, MAX_CREDENTIALS_LENGTH } from '../../../src/sip/digest.js';

describe('digest computation', () => {
  // RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
  const rfc7616 = { nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', qop: 'auth', method: 'GET', uri: '/dir/index.html' };

  it('RFC 7616 §3.9.1 SHA-256 (Mufasa, "Circle of Life")', () => {
    const ha1 = ha1Of('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(digestResponse('SHA-256', ha1, rfc7616)).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  it('RFC 7616 §3.9.1 MD5', () => {
    const ha1 = ha1Of('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(digestResponse('MD5', ha1, rfc7616)).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });

  it('RFC 2617 §3.5 (MD5, "Circle Of Life")', () => {
    const ha1 = ha1Of('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    expect(digestResponse('MD5', ha1, { nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', nc: '00000001', cnonce: '0a4f113b', qop: 'auth', method: 'GET', uri: '/dir/index.html' })).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('the challenge quotes realm and nonce, names the algorithm, offers qop auth', () => {
    expect(challengeValue('SHA-256', 'a "b" \\c', 'N', true)).toBe('Digest realm="a \\"b\\" \\\\c", nonce="N", algorithm=SHA-256, qop="auth", stale=true');
    expect(knownAlgorithm(undefined)).toBe('MD5');
    expect(knownAlgorithm('sha-256')).toBe('SHA-256');
    expect(knownAlgorithm('MD5-sess')).toBeUndefined();
  });
});

describe('parseCredentials', () => {
  it('reads quoted strings with escapes and commas inside, tokens, any case of names', () => {
    const r = parseCredentials('Digest username="Mu\\"fa,sa", Realm="r, x",nonce="n" , uri="sip:100@h", response="abc", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c\\\\"');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.credentials).toMatchObject({ username: 'Mu"fa,sa', realm: 'r, x', nonce: 'n', uri: 'sip:100@h', response: 'abc', algorithm: 'SHA-256', qop: 'auth', nc: '00000001', cnonce: 'c\\' });
  });

  const hostile: [string, string, RegExp][] = [
    ['unbalanced quote', 'Digest username="a", realm="r", nonce="n", uri="u", response="x', /unbalanced quote/],
    ['a quote that swallows the next parameter', 'Digest username="alice, realm="r", nonce="n", uri="u", response="x"', /expected ","/],
    ['an escape at the very end', 'Digest username="a\\', /unbalanced quote/],
    ['huge header', `Digest username="${'a'.repeat(MAX_CREDENTIALS_LENGTH)}"`, /longer than/],
    ['huge value', `Digest username="${'a'.repeat(2000)}", realm="r", nonce="n", uri="u", response="x"`, /username longer/],
    ['missing username', 'Digest realm="r", nonce="n", uri="u", response="x"', /missing username/],
    ['missing response', 'Digest username="a", realm="r", nonce="n", uri="u"', /missing response/],
    ['missing uri', 'Digest username="a", realm="r", nonce="n", response="x"', /missing uri/],
    ['duplicate parameter', 'Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x"', /duplicate parameter username/],
    ['another scheme', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l', /not Digest/],
    ['no scheme', '=', /no authentication scheme/],
    ['empty', '', /no authentication scheme/],
    ['parameter without value', 'Digest username', /no value/],
    ['garbage between params', 'Digest username="a" realm="r"', /expected ","/],
    ['trailing comma', 'Digest username="a",', /parameter name/],
    ['control bytes', 'Digest \u0000\u0001=1', /parameter name/],
  ];
  for (const [name, value, reason] of hostile)
    it(`refuses ${name} with a reason, without throwing`, () => {
      const r = parseCredentials(value);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(reason);
    });
});
