import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { UserStore, parseUsersFile, withPassword } from '../../../src/edge/auth-users.js';
import { digestResponse, ha1Of } from '../../../src/sip/digest.js';
import { gateRequest, registerAuthorizer } from '../../../src/edge/auth-gate.js';
import { Authenticator } from '../../../src/edge/auth.js';
import { parseSipMessage } from '../../../src/sip/parse.js';
import type { SipRequest } from '../../../src/sip/message.js';
import { FakeClock } from '../../helpers/fake-clock.js';

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

describe('registerAuthorizer: REGISTER for the registrar', () => {
  const register = (extra = ''): SipRequest => {
    const r = parseSipMessage(Buffer.from(`REGISTER sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:alice@h>;tag=1\r\nTo: <sip:alice@h>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n${extra}Content-Length: 0\r\n\r\n`));
    if (!r.ok || r.message.kind !== 'request') throw new Error('parse');
    return r.message;
  };
  const users = new UserStore(parseUsersFile(withPassword('', 'alice', 'r', 'pw'), 'u'));
  const auth = new Authenticator({ users, realm: 'r', clock: new FakeClock(), log: pino({ level: 'silent' }) });
  const source = { protocol: 'udp' as const, address: '192.0.2.1', port: 5060 };

  it('401 with WWW-Authenticate until answered; the answer gives the user to check against the AOR', async () => {
    const authorizer = registerAuthorizer(auth);
    const c = await authorizer.authorize(register(), source);
    expect(c).toMatchObject({ ok: false, status: 401, reason: 'Unauthorized' });
    const challenge = c.ok ? '' : (c.headers?.[0]?.value ?? '');
    expect(c.ok ? '' : c.headers?.[0]?.name).toBe('WWW-Authenticate');
    const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const response = digestResponse('SHA-256', ha1Of('SHA-256', 'alice', 'r', 'pw'), { nonce, nc: '00000001', cnonce: 'k', qop: 'auth', method: 'REGISTER', uri: 'sip:h' });
    const answered = register(`Authorization: Digest username="alice", realm="r", nonce="${nonce}", uri="sip:h", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="k"\r\n`);
    expect(await authorizer.authorize(answered, source)).toEqual({ ok: true, user: 'alice' });
  });
});
