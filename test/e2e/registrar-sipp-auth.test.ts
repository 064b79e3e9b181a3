// Issue 12 end to end with SIPp from Debian (sip-tester): a UA REGISTERs at Tandem answering the 401
// with its own [authentication] (-au/-ap), then answers, as a SIPp UAS on the port it registered
// from, a call that a SIPp UAC places through a route whose target is "registered".
//
// The caller authenticates too (as another user, 200), rather than coming from --trusted: this is
// the internet-facing configuration, where nobody on the network is trusted; --trusted would also
// let identity headers through and lift the per-source limits, which a phone should not get.
// SIPp 3.6 answers only the first challenge and only MD5, hence --auth-algorithms=MD5.
import { afterEach, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { withPassword } from '../../src/edge/auth-users.js';
import { freeUdpPort, makeTempDir, randomPortRange } from './helpers/proc.js';
import { describeWithPeers } from '../helpers/peers.js';
import { receivedMessages, startSipp, type SippResult, explainSipp, sippMediaPort } from './helpers/sipp-run.js';

const G711A_PCAP = '/usr/share/sip-tester/g711a.pcap';
const TIMEOUT_MS = 15_000;
const REALM = 'tandem.e2e';
const CALLEE = { user: '100', password: 'callee-Pw-1' };
const CALLER = { user: '200', password: 'caller-Pw-2' };

/** SIPp media ports: even, in 30000–31998, away from Tandem's range. */

describeWithPeers('SIPp registers at Tandem with digest authentication, then receives a call through a "registered" route', ['sipp'], () => {
  let tandem: RunningTandem | undefined;

  afterEach(async () => {
    await tandem?.close();
    tandem = undefined;
  });

  it('a wrong password binds nothing; the right one gets 200, and an authenticated caller reaches the SIPp UAS at its registered address', async () => {
    const dir = makeTempDir('registrar-sipp-auth');
    const users = join(dir, 'users');
    writeFileSync(users, withPassword(withPassword('', CALLEE.user, REALM, CALLEE.password), CALLER.user, REALM, CALLER.password));
    const routes = join(dir, 'routes.json');
    // No "trusted": loopback is just another source here.
    writeFileSync(routes, JSON.stringify({ routes: [{ name: 'users', targets: [{ uri: 'registered' }] }] }));
    const ports = randomPortRange(200);
    tandem = await startTandem(
      {
        ...defaultConfig(),
        listenNg: { address: '127.0.0.1', port: 0 },
        listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
        portMin: ports.min,
        portMax: ports.max,
        numThreads: 1,
        logLevel: 'silent',
        routesFile: routes,
        // --auth-users turns the registrar on.
        authUsers: users,
        realm: REALM,
        authAlgorithms: ['MD5'],
      },
      pino({ level: process.env.TANDEM_TEST_LOG ?? 'silent' }),
    );
    expect(tandem.sip?.registrar).toBeDefined();
    const sipPort = tandem.sip?.listeners.find((l) => l.protocol === 'udp')?.port ?? 0;
    const remote = `127.0.0.1:${sipPort}`;
    const uaPort = await freeUdpPort();

    // A wrong password: the answered REGISTER is refused, so the scenario (which wants 200) fails,
    // and nothing is bound.
    const wrong = await startSipp({ scenario: 'uac-register-auth.xml', remote, localPort: uaPort, mediaPort: sippMediaPort(), service: CALLEE.user, extraArgs: ['-au', CALLEE.user, '-ap', 'not-the-password'], timeoutMs: 5000 }).done;
    expect(wrong.exitCode, explainSipp({ wrong })).toBe(1);
    expect(receivedMessages(wrong.messages).filter((m) => /^SIP\/2\.0 (401|403)/.test(m)), explainSipp({ wrong })).toHaveLength(2);
    expect(await tandem.sip?.registrar?.lookup(CALLEE.user, '127.0.0.1')).toEqual([]);

    const reg = await startSipp({ scenario: 'uac-register-auth.xml', remote, localPort: uaPort, mediaPort: sippMediaPort(), service: CALLEE.user, extraArgs: ['-au', CALLEE.user, '-ap', CALLEE.password], timeoutMs: TIMEOUT_MS }).done;
    expect(reg.exitCode, explainSipp({ register: reg })).toBe(0);
    const answers = receivedMessages(reg.messages);
    expect(answers.find((m) => m.startsWith('SIP/2.0 401'))).toMatch(new RegExp(`^WWW-Authenticate: Digest realm="${REALM}".*algorithm=MD5`, 'm'));
    expect(answers.find((m) => m.startsWith('SIP/2.0 200'))).toMatch(new RegExp(`^Contact: <sip:${CALLEE.user}@127\\.0\\.0\\.1:${uaPort};transport=UDP>;expires=\\d+`, 'm'));
    expect(await tandem.sip?.registrar?.lookup(CALLEE.user, '127.0.0.1')).toHaveLength(1);

    const calleeMedia = 32000 + 4 * Math.floor(Math.random() * 500);
    const callee = startSipp({ scenario: 'uas-pcmu.xml', localPort: uaPort, mediaPort: calleeMedia, rtpEcho: true, timeoutMs: TIMEOUT_MS });
    const caller = startSipp({
      scenario: 'uac-auth.xml',
      remote,
      localPort: await freeUdpPort(),
      mediaPort: calleeMedia + 2000,
      service: CALLEE.user,
      // The digest uri must be the Request-URI (RFC 3261 §22.4); SIPp's default is sip:HOST:PORT.
      extraArgs: ['-au', CALLER.user, '-ap', CALLER.password, '-auth_uri', `${CALLEE.user}@${remote}`],
      timeoutMs: TIMEOUT_MS,
    });
    const [a, b] = await Promise.all([caller.done, callee.done]);
    expect({ caller: a.exitCode, callee: b.exitCode }, explainSipp({ caller: a, callee: b })).toEqual({ caller: 0, callee: 0 });
    expect(receivedMessages(a.messages).find((m) => m.startsWith('SIP/2.0 407'))).toMatch(new RegExp(`^Proxy-Authenticate: Digest realm="${REALM}"`, 'm'));
    const invites = receivedMessages(b.messages).filter((m) => m.startsWith('INVITE '));
    expect(invites).toHaveLength(1);
    expect(invites[0]).toMatch(new RegExp(`^INVITE sip:${CALLEE.user}@127\\.0\\.0\\.1:${uaPort};transport=UDP SIP/2\\.0`));
    // Our realm's credentials never leave Tandem.
    expect(invites[0]).not.toMatch(/^(Proxy-)?Authorization:/im);
    expect(tandem.sip?.auth?.stats()).toMatchObject({ successes: 2, failures: 1, failuresByUser: { [CALLEE.user]: 1 } });
    await expect.poll(async () => (await tandem?.sip?.media.list(1000)) ?? [], { timeout: 3000 }).toEqual([]);
  }, 60_000);
});
