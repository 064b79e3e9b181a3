import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningTandem } from '../../src/main.js';
import { getCallId, getCSeq, headerLines, type SipMessage } from '../../src/sip/message.js';
import { parseSipMessage } from '../../src/sip/parse.js';
import { digestResponse, ha1Of } from '../../src/sip/digest.js';
import { withPassword } from '../../src/edge/auth-users.js';
import { startB2bua } from '../helpers/b2bua-env.js';

/**
 * Issue 12, --max-registrations-per-source through a real Tandem on loopback: authenticated UAs
 * on 127.0.0.2 hold at most 2 bindings; the third is refused 403 while 127.0.0.3 (the positive
 * control) still registers, and an unregister gives the slot back. With authentication on, so the
 * sources are not --trusted (trusted sources are not limited).
 */
const REALM = 'tandem.test';
const USERS = ['u1', 'u2', 'u3', 'u4'];
let tandem: RunningTandem;
let sip: { address: string; port: number };
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tandem-reglimit-'));
  const users = join(dir, 'users');
  writeFileSync(users, USERS.reduce((text, u) => withPassword(text, u, REALM, `pw-${u}`), ''));
  const routes = join(dir, 'routes.json');
  writeFileSync(routes, JSON.stringify({ routes: [{ name: 'users', targets: [{ uri: 'registered' }] }] }));
  ({ tandem, sip } = await startB2bua({ routesFile: routes, authUsers: users, realm: REALM, maxRegistrationsPerSource: 2 }));
});

afterAll(async () => {
  await tandem?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A UDP UA bound to `address` (127.0.0.x) that awaits the final response of each request it sends. */
async function ua(address: string): Promise<{ port: number; request(text: (port: number) => string, callId: string, cseq: number): Promise<SipMessage>; close(): void }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, address, () => res()));
  const port = s.address().port;
  const waiting = new Map<string, (m: SipMessage) => void>();
  s.on('message', (buf) => {
    const r = parseSipMessage(buf);
    if (!r.ok || r.message.kind !== 'response' || r.message.status < 200) return;
    const key = `${getCallId(r.message) ?? ''} ${getCSeq(r.message)?.seq ?? 0}`;
    waiting.get(key)?.(r.message);
    waiting.delete(key);
  });
  return {
    port,
    request: (text, callId, cseq) =>
      new Promise<SipMessage>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no final response to ${callId} CSeq ${cseq}`)), 3000);
        waiting.set(`${callId} ${cseq}`, (m) => {
          clearTimeout(t);
          resolve(m);
        });
        s.send(Buffer.from(text(port).replace(/\n/g, '\r\n')), sip.port, sip.address);
      }),
    close: () => s.close(),
  };
}

let cseq = 1;
/** REGISTER of `user` from `u`, answering the 401 challenge with the user's password. */
async function register(u: Awaited<ReturnType<typeof ua>>, address: string, user: string, expires = 600): Promise<SipMessage> {
  const callId = `lim-${user}-${address}-${Math.random().toString(36).slice(2)}`;
  const text = (seq: number, extra: string[]) => (port: number): string =>
    [
      `REGISTER sip:127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP ${address}:${port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
      'Max-Forwards: 70',
      `From: <sip:${user}@127.0.0.1>;tag=t${seq}`,
      `To: <sip:${user}@127.0.0.1>`,
      `Call-ID: ${callId}`,
      `CSeq: ${seq} REGISTER`,
      `Contact: <sip:${user}@${address}:${port}>`,
      `Expires: ${expires}`,
      ...extra,
      'Content-Length: 0',
      '',
      '',
    ].join('\n');
  const first = cseq++;
  const challenge = await u.request(text(first, []), callId, first);
  if (challenge.kind !== 'response' || challenge.status !== 401) return challenge;
  const nonce = /nonce="([^"]+)"/.exec(headerLines(challenge, 'WWW-Authenticate')[0] ?? '')?.[1] ?? '';
  const response = digestResponse('SHA-256', ha1Of('SHA-256', user, REALM, `pw-${user}`), { nonce, nc: '00000001', cnonce: 'c1', qop: 'auth', method: 'REGISTER', uri: 'sip:127.0.0.1' });
  const auth = `Authorization: Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="sip:127.0.0.1", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c1"`;
  const second = cseq++;
  return u.request(text(second, [auth]), callId, second);
}

const status = (m: SipMessage): string => (m.kind === 'response' ? `${m.status} ${m.reason}` : 'request');

describe('registrar: --max-registrations-per-source over real UDP', () => {
  it('the third binding from one source is refused 403; another source still registers; an unregister frees a slot', async () => {
    const a = await ua('127.0.0.2');
    const b = await ua('127.0.0.3');
    try {
      expect(status(await register(a, '127.0.0.2', 'u1'))).toBe('200 OK');
      expect(status(await register(a, '127.0.0.2', 'u2'))).toBe('200 OK');
      expect(status(await register(a, '127.0.0.2', 'u3'))).toBe('403 Too Many Registrations From This Source');
      // Positive control: the limit is this source's, not the registrar's.
      expect(status(await register(b, '127.0.0.3', 'u3'))).toBe('200 OK');
      const registrar = tandem.sip?.registrar;
      expect(registrar?.counters.sourceLimit).toBe(1);
      expect(tandem.sip?.edge.sourceLimits.counters.refusedRegistrations).toBe(1);
      expect(tandem.sip?.edge.sourceLimits.count('registration', '127.0.0.2')).toBe(2);
      expect(await registrar?.lookup('u3', '127.0.0.1')).toHaveLength(1);
      // u1 unregisters from 127.0.0.2: its slot is free again, and u4 takes it.
      expect(status(await register(a, '127.0.0.2', 'u1', 0))).toBe('200 OK');
      expect(tandem.sip?.edge.sourceLimits.count('registration', '127.0.0.2')).toBe(1);
      expect(status(await register(a, '127.0.0.2', 'u4'))).toBe('200 OK');
      expect(await registrar?.store.size()).toBe(3);
    } finally {
      a.close();
      b.close();
    }
  });
});
