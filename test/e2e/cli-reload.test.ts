// SIGHUP to the real `tandem` command (dist/cli/tandem.js): the routes file is read again; a broken
// one is refused with the error in the log and the process keeps running on the old routes; then
// `tandem ctl reload` (the same, through the admin API) and `tandem ctl drain` on an idle Tandem,
// which exits 0. Then --auth-users and --sip-acl-file: a user added and SIGHUP, a REGISTER over
// real UDP that now passes digest authentication; a broken users file refused, naming file:line.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runCtl } from '../../src/cli/ctl.js';
import { headerLines, type SipMessage } from '../../src/sip/message.js';
import { digestResponse, ha1Of } from '../../src/sip/digest.js';
import { withPassword } from '../../src/edge/auth-users.js';
import { SipPeer } from '../helpers/sip-peer.js';
import { TANDEM_CLI, REPO_ROOT } from './helpers/media-servers.js';
import { freeUdpPort, makeTempDir, randomPortRange, startProcess, waitFor, type RunningProcess } from './helpers/proc.js';

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const routes = (name: string): string => JSON.stringify({ routes: [{ name, match: {}, targets: [{ uri: 'sip:127.0.0.1:5999' }] }] });

describe('the tandem command: SIGHUP reload and ctl drain', () => {
  let proc: RunningProcess | undefined;

  afterEach(async () => {
    await proc?.stop(500);
    proc = undefined;
  });

  it('SIGHUP reloads the routes file, refuses a broken one and keeps running; ctl drain on an idle Tandem exits 0', async () => {
    expect(existsSync(TANDEM_CLI), `${TANDEM_CLI} missing: run npm run build`).toBe(true);
    const dir = makeTempDir('reload');
    const file = join(dir, 'routes.json');
    writeFileSync(file, routes('first'));
    const httpPort = await freeTcpPort();
    const ports = randomPortRange(100);
    proc = startProcess({
      name: 'tandem-reload',
      cmd: process.execPath,
      args: [TANDEM_CLI, `--listen-ng=127.0.0.1:${await freeUdpPort()}`, `--listen-sip=udp:127.0.0.1:${await freeUdpPort()}`, `--listen-http=127.0.0.1:${httpPort}`, `--routes-file=${file}`, `--port-min=${ports.min}`, `--port-max=${ports.max}`, '--num-threads=1', '--log-level=info'],
      cwd: REPO_ROOT,
      logDir: dir,
    });
    const p = proc;
    const log = (): string => readFileSync(p.logPath, 'utf8');
    await waitFor('admin listener', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, { timeoutMs: 15_000, abort: () => (p.hasExited() ? p.tail() : undefined) });

    writeFileSync(file, routes('second'));
    p.child.kill('SIGHUP');
    await waitFor('routes reloaded', () => /"reloaded":\{"routes":1\},"routes":\["second"\],"msg":"reloaded"/.test(log()), { timeoutMs: 5000 });

    writeFileSync(file, '{ "routes": [ { "name": "broken" ');
    p.child.kill('SIGHUP');
    await waitFor('reload refused', () => log().includes('reload refused; every old setting stays'), { timeoutMs: 5000 });
    expect(log()).toMatch(/routes\.json: not valid JSON/);
    expect(p.hasExited()).toBe(false);

    let out = '';
    let err = '';
    expect(await runCtl([`--url=http://127.0.0.1:${httpPort}`, 'reload'], (s) => (out += s), (s) => (err += s))).toBe(1);
    expect(err).toContain('not valid JSON');
    writeFileSync(file, routes('third'));
    expect(await runCtl([`--url=http://127.0.0.1:${httpPort}`, 'reload'], (s) => (out += s), (s) => (err += s))).toBe(0);
    expect(out).toContain('routes: ["third"]');

    expect(await runCtl([`--url=http://127.0.0.1:${httpPort}`, 'drain'], (s) => (out += s), (s) => (err += s))).toBe(0);
    const code = await Promise.race([p.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
    expect(code, p.tail()).toBe('0');
  }, 40_000);

  it('SIGHUP reads the users file and the access list again: a new user registers, a broken users file is refused with file:line and the old users still register', async () => {
    const REALM = 'tandem.test';
    const dir = makeTempDir('reload-users');
    const users = join(dir, 'users');
    const acl = join(dir, 'acl');
    writeFileSync(users, withPassword('', 'alice', REALM, 'secret'));
    writeFileSync(acl, 'allow 127.0.0.0/8\n');
    const sipPort = await freeUdpPort();
    const ports = randomPortRange(100);
    proc = startProcess({
      name: 'tandem-reload-users',
      cmd: process.execPath,
      args: [TANDEM_CLI, `--listen-ng=127.0.0.1:${await freeUdpPort()}`, `--listen-sip=udp:127.0.0.1:${sipPort}`, `--auth-users=${users}`, `--realm=${REALM}`, `--sip-acl-file=${acl}`, `--port-min=${ports.min}`, `--port-max=${ports.max}`, '--num-threads=1', '--log-level=info'],
      cwd: REPO_ROOT,
      logDir: dir,
    });
    const p = proc;
    const log = (): string => readFileSync(p.logPath, 'utf8');
    await waitFor('SIP ready', () => log().includes('"msg":"SIP ready"'), { timeoutMs: 15_000, abort: () => (p.hasExited() ? p.tail() : undefined) });
    const phone = await SipPeer.udp();
    try {
      const sip = { address: '127.0.0.1', port: sipPort };
      let cseq = 1;
      const register = async (user: string, extra: string[]): Promise<SipMessage> => {
        const from = phone.inbox.length;
        phone.send([
          'REGISTER sip:127.0.0.1 SIP/2.0',
          `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
          'Max-Forwards: 70',
          `From: <sip:${user}@127.0.0.1>;tag=t${user}`,
          `To: <sip:${user}@127.0.0.1>`,
          `Call-ID: cli-reload-${user}`,
          `CSeq: ${cseq++} REGISTER`,
          `Contact: <sip:${user}@127.0.0.1:${phone.port}>`,
          'Expires: 600',
          ...extra,
          '',
          '',
        ].join('\n'), sip);
        return (await phone.next((m) => m.kind === 'response' && m.status >= 200, 3000, from)).msg;
      };
      /** REGISTER, the 401, then the answer with `password`: the status of that answer. */
      const registerWith = async (user: string, password: string): Promise<number> => {
        const challenge = await register(user, []);
        expect(challenge.kind === 'response' && challenge.status).toBe(401);
        const nonce = /nonce="([^"]+)"/.exec(headerLines(challenge, 'WWW-Authenticate')[0] ?? '')?.[1] ?? '';
        const response = digestResponse('SHA-256', ha1Of('SHA-256', user, REALM, password), { nonce, nc: '00000001', cnonce: 'e2e', qop: 'auth', method: 'REGISTER', uri: 'sip:127.0.0.1' });
        const r = await register(user, [`Authorization: Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="sip:127.0.0.1", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="e2e"`]);
        return r.kind === 'response' ? r.status : 0;
      };
      expect(await registerWith('alice', 'secret')).toBe(200);
      // Positive control: carol's right password, before she is in the file, is refused (a fresh 401).
      expect(await registerWith('carol', 'pw-carol')).toBe(401);

      writeFileSync(users, withPassword(withPassword('', 'alice', REALM, 'secret'), 'carol', REALM, 'pw-carol'));
      p.child.kill('SIGHUP');
      await waitFor('users reloaded', () => /"reloaded":\{"users":2,"acl":1\},"msg":"reloaded"/.test(log()), { timeoutMs: 5000 });
      expect(await registerWith('carol', 'pw-carol')).toBe(200);

      writeFileSync(users, `${withPassword('', 'alice', REALM, 'secret')}dave:${REALM}\n`);
      p.child.kill('SIGHUP');
      await waitFor('reload refused', () => log().includes('reload refused; every old setting stays'), { timeoutMs: 5000 });
      expect(log()).toContain(`${users}:3: expected user:realm:HA1`);
      expect(p.hasExited()).toBe(false);
      // The old file still holds: alice and carol register.
      expect(await registerWith('alice', 'secret')).toBe(200);
      expect(await registerWith('carol', 'pw-carol')).toBe(200);
    } finally {
      phone.close();
    }
  }, 40_000);
});
