// End to end with SIPp from Debian (sip-tester): digest authentication at Tandem's edge. A SIPp
// caller answers the 407 with its own [authentication] (-au/-ap) and completes a call to a SIPp
// callee through Tandem; a caller without credentials gets 407 and never reaches the callee.
// SIPp's digest uri is sip:HOST:PORT unless told (-auth_uri, without "sip:"); Tandem wants the Request-URI
// there (RFC 3261 §22.4), so the test gives it.
import { afterEach, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { withPassword } from '../../src/edge/auth-users.js';
import { freeUdpPort, makeTempDir, randomPortRange } from './helpers/proc.js';
import { describeWithPeers } from '../helpers/peers.js';
import { receivedMessages, startSipp, type SippResult, sippMediaPort, explainSipp } from './helpers/sipp-run.js';

const TIMEOUT_MS = 15_000;
const REALM = 'tandem.e2e';

describeWithPeers('SIPp through the B2BUA with digest authentication', ['sipp'], () => {
  let tandem: RunningTandem | undefined;

  afterEach(async () => {
    await tandem?.close();
    tandem = undefined;
  });

  async function start(calleePort: number, algorithms: ('SHA-256' | 'MD5')[], trusted: string[] = []): Promise<number> {
    const dir = makeTempDir('sipp-auth');
    const users = join(dir, 'users');
    writeFileSync(users, withPassword('', 'alice', REALM, 'Circle of Life'));
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
        route: `sip:127.0.0.1:${calleePort}`,
        authUsers: users,
        realm: REALM,
        // SIPp 3.6 answers only the first challenge, and only MD5 (it refuses SHA-256 outright).
        authAlgorithms: algorithms,
        trusted,
      },
      pino({ level: process.env.TANDEM_TEST_LOG ?? 'silent' }),
    );
    return tandem.sip?.listeners.find((l) => l.protocol === 'udp')?.port ?? 0;
  }

  it('unauthenticated INVITE: 407, nothing at the callee; then the authenticating caller completes a call there', async () => {
    const calleePort = await freeUdpPort();
    const sip = await start(calleePort, ['MD5']);
    const callee = startSipp({ scenario: 'uas-pcmu.xml', localPort: calleePort, mediaPort: sippMediaPort(), rtpEcho: true, timeoutMs: TIMEOUT_MS });
    const intruder = await startSipp({ scenario: 'uac-noauth.xml', remote: `127.0.0.1:${sip}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', timeoutMs: TIMEOUT_MS }).done;
    expect(intruder.exitCode, explainSipp({ intruder })).toBe(0);
    expect(receivedMessages(intruder.messages).find((m) => m.startsWith('SIP/2.0 407'))).toMatch(/^Proxy-Authenticate: Digest realm="tandem.e2e"/m);
    // Positive control: the callee is up and reachable through Tandem by a caller that authenticates.
    const caller = startSipp({ scenario: 'uac-auth.xml', remote: `127.0.0.1:${sip}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', extraArgs: ['-au', 'alice', '-ap', 'Circle of Life', '-auth_uri', `100@127.0.0.1:${sip}`], timeoutMs: TIMEOUT_MS });
    const [a, b] = await Promise.all([caller.done, callee.done]);
    expect({ caller: a.exitCode, callee: b.exitCode }, explainSipp({ caller: a, callee: b })).toEqual({ caller: 0, callee: 0 });
    const invites = receivedMessages(b.messages).filter((m) => m.startsWith('INVITE '));
    expect(invites).toHaveLength(1);
    expect(invites[0]).not.toMatch(/^Proxy-Authorization:/im);
    expect(tandem?.sip?.auth?.stats()).toMatchObject({ successes: 1, failures: 0 });
  });

  it('a trusted trunk (--trusted) calls without a challenge, while the same call from an untrusted address gets 407', async () => {
    const calleePort = await freeUdpPort();
    const sip = await start(calleePort, ['MD5'], ['127.0.0.1/32']);
    // The untrusted source first: 127.0.0.2 has no credentials and gets the challenge (positive control for "no challenge").
    const intruder = await startSipp({ scenario: 'uac-noauth.xml', remote: `127.0.0.1:${sip}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', extraArgs: ['-i', '127.0.0.2'], timeoutMs: TIMEOUT_MS }).done;
    expect(intruder.exitCode, explainSipp({ intruder })).toBe(0);
    expect(receivedMessages(intruder.messages).some((m) => m.startsWith('SIP/2.0 407'))).toBe(true);
    const callee = startSipp({ scenario: 'uas-pcmu.xml', localPort: calleePort, mediaPort: sippMediaPort(), rtpEcho: true, timeoutMs: TIMEOUT_MS });
    const trunk = startSipp({ scenario: 'uac-pcma.xml', tokens: { PCAP: '/usr/share/sip-tester/g711a.pcap', PLAY_MS: 200 }, remote: `127.0.0.1:${sip}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', timeoutMs: TIMEOUT_MS });
    const [a, b] = await Promise.all([trunk.done, callee.done]);
    expect({ trunk: a.exitCode, callee: b.exitCode }, explainSipp({ trunk: a, callee: b })).toEqual({ trunk: 0, callee: 0 });
    expect(receivedMessages(a.messages).some((m) => /^SIP\/2\.0 40[17]/.test(m))).toBe(false);
    expect(receivedMessages(b.messages).filter((m) => m.startsWith('INVITE '))).toHaveLength(1);
    expect(tandem?.sip?.auth?.stats()).toMatchObject({ successes: 0, failures: 0 });
  });
});
