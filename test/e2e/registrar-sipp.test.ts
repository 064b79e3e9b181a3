// End to end with SIPp from Debian (sip-tester): a UA REGISTERs at Tandem, then answers, as a
// SIPp UAS on the port it registered from, a call a SIPp UAC places through a route whose target
// is "registered". The callee's INVITE must carry the registered contact as Request-URI.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { freeUdpPort, makeTempDir, randomPortRange } from './helpers/proc.js';
import { describeWithPeers } from '../helpers/peers.js';
import { receivedMessages, startSipp, type SippResult, explainSipp } from './helpers/sipp-run.js';

const G711A_PCAP = '/usr/share/sip-tester/g711a.pcap';
const TIMEOUT_MS = 15_000;

describeWithPeers('SIPp registers at Tandem, then receives a call through a "registered" route', ['sipp'], () => {
  let tandem: RunningTandem | undefined;

  afterEach(async () => {
    await tandem?.close();
    tandem = undefined;
  });

  it('REGISTER from a trusted source, then a call from a SIPp UAC reaches the SIPp UAS at its registered address', async () => {
    const dir = makeTempDir('registrar-sipp');
    const routes = join(dir, 'routes.json');
    writeFileSync(routes, JSON.stringify({ routes: [{ name: 'users', targets: [{ uri: 'registered' }] }], trusted: ['127.0.0.1'] }));
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
        registrar: true,
      },
      pino({ level: process.env.TANDEM_TEST_LOG ?? 'silent' }),
    );
    const sipPort = tandem.sip?.listeners.find((l) => l.protocol === 'udp')?.port ?? 0;
    const uaPort = await freeUdpPort();
    const reg = await startSipp({ scenario: 'uac-register.xml', remote: `127.0.0.1:${sipPort}`, localPort: uaPort, mediaPort: 30000 + 4 * Math.floor(Math.random() * 500), service: 'alice', timeoutMs: TIMEOUT_MS }).done;
    expect(reg.exitCode, explainSipp({ register: reg })).toBe(0);
    expect(receivedMessages(reg.messages).find((m) => m.startsWith('SIP/2.0 200'))).toMatch(new RegExp(`^Contact: <sip:alice@127\\.0\\.0\\.1:${uaPort};transport=UDP>;expires=\\d+`, 'm'));
    expect(await tandem.sip?.registrar?.lookup('alice', '127.0.0.1')).toHaveLength(1);

    const calleeMedia = 32000 + 4 * Math.floor(Math.random() * 500);
    const callee = startSipp({ scenario: 'uas-pcmu.xml', localPort: uaPort, mediaPort: calleeMedia, rtpEcho: true, timeoutMs: TIMEOUT_MS });
    const caller = startSipp({
      scenario: 'uac-pcma.xml',
      tokens: { PCAP: G711A_PCAP, PLAY_MS: 300 },
      remote: `127.0.0.1:${sipPort}`,
      localPort: await freeUdpPort(),
      mediaPort: calleeMedia + 2000,
      service: 'alice',
      timeoutMs: TIMEOUT_MS,
    });
    const [a, b] = await Promise.all([caller.done, callee.done]);
    expect({ caller: a.exitCode, callee: b.exitCode }, explainSipp({ caller: a, callee: b })).toEqual({ caller: 0, callee: 0 });
    const invite = receivedMessages(b.messages).find((m) => m.startsWith('INVITE '));
    expect(invite).toMatch(new RegExp(`^INVITE sip:alice@127\\.0\\.0\\.1:${uaPort};transport=UDP SIP/2\\.0`));
    await expect.poll(async () => (await tandem?.sip?.media.list(1000)) ?? [], { timeout: 3000 }).toEqual([]);
  }, 40_000);
});
