// End to end with SIPp from Debian (sip-tester): Tandem as the digest client of a trunk. A SIPp UAS
// plays the provider: 401 to the first INVITE, then SIPp's own verifyauth (MD5) checks Tandem's
// answer. Good credentials: the call connects and media crosses Tandem's media plane; a wrong
// password: the caller gets 403 and the trunk sees exactly two INVITEs (no retry loop).
import { afterEach, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { freeUdpPort, makeTempDir, randomPortRange } from './helpers/proc.js';
import { describeWithPeers } from '../helpers/peers.js';
import { receivedMessages, startSipp, sippMediaPort, explainSipp } from './helpers/sipp-run.js';
import { deriveRtpPcap } from './helpers/pcap.js';

const TIMEOUT_MS = 15_000;
const PACKETS = 30; // 0.9 s of the pcap's 30 ms packets

describeWithPeers('SIPp trunk that challenges Tandem with 401', ['sipp'], () => {
  let tandem: RunningTandem | undefined;
  /** Tandem's log lines (JSON), to read the media plane's packet count of the call. */
  let lines: Record<string, unknown>[] = [];

  afterEach(async () => {
    await tandem?.close();
    tandem = undefined;
  });

  async function start(calleePort: number, password: string): Promise<number> {
    const dir = makeTempDir('sipp-uac-auth');
    writeFileSync(join(dir, 'trunk.pw'), `${password}\n`);
    const routesFile = join(dir, 'routes.json');
    writeFileSync(routesFile, JSON.stringify({ routes: [{ targets: [{ uri: `sip:127.0.0.1:${calleePort}`, auth: { username: 'tandem', passwordFile: 'trunk.pw', realm: 'trunk.e2e' } }] }] }));
    lines = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb): void {
        for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const ports = randomPortRange(200);
    tandem = await startTandem(
      {
        ...defaultConfig(),
        listenNg: { address: '127.0.0.1', port: 0 },
        listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
        portMin: ports.min,
        portMax: ports.max,
        numThreads: 1,
        logLevel: 'info',
        routesFile,
      },
      pino({ level: 'info' }, sink),
    );
    return tandem.sip?.listeners.find((l) => l.protocol === 'udp')?.port ?? 0;
  }

  it('the call connects after the 401 and media flows through Tandem', async () => {
    const calleePort = await freeUdpPort();
    const sip = await start(calleePort, 'Circle of Life');
    const callee = startSipp({ scenario: 'uas-auth-401.xml', tokens: { USER: 'tandem', PASSWORD: 'Circle of Life' }, localPort: calleePort, mediaPort: sippMediaPort(), rtpEcho: true, timeoutMs: TIMEOUT_MS });
    const caller = startSipp({ scenario: 'uac-pcma.xml', tokens: { PCAP: deriveRtpPcap('/usr/share/sip-tester/g711a.pcap', { count: PACKETS }), PLAY_MS: 1500 }, remote: `127.0.0.1:${sip}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', timeoutMs: TIMEOUT_MS });
    const [a, b] = await Promise.all([caller.done, callee.done]);
    expect({ caller: a.exitCode, callee: b.exitCode }, explainSipp({ caller: a, callee: b })).toEqual({ caller: 0, callee: 0 });
    const invites = receivedMessages(b.messages).filter((m) => m.startsWith('INVITE '));
    expect(invites).toHaveLength(2);
    expect(invites[1]).toMatch(/^Authorization: Digest username="tandem", realm="trunk.e2e".*algorithm=MD5.*qop=auth, nc=00000001/m);
    // The caller's packets went to the echoing callee and back, through Tandem's media plane: more
    // packets crossed it than the caller alone sent.
    await expect.poll(() => lines.find((l) => l.msg === 'call deleted')?.packets, { timeout: 3000 }).toBeGreaterThan(PACKETS);
  });

  it('a wrong password: the caller gets 403, the trunk sees exactly two INVITEs', async () => {
    const calleePort = await freeUdpPort();
    const sip = await start(calleePort, 'wrong');
    const callee = startSipp({ scenario: 'uas-auth-401.xml', tokens: { USER: 'tandem', PASSWORD: 'Circle of Life' }, localPort: calleePort, mediaPort: sippMediaPort(), timeoutMs: TIMEOUT_MS });
    const caller = startSipp({ scenario: 'uac-expect-403.xml', remote: `127.0.0.1:${sip}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', timeoutMs: TIMEOUT_MS });
    const [a, b] = await Promise.all([caller.done, callee.done]);
    expect({ caller: a.exitCode, callee: b.exitCode }, explainSipp({ caller: a, callee: b })).toEqual({ caller: 0, callee: 0 });
    expect(receivedMessages(a.messages).find((m) => m.startsWith('SIP/2.0 403'))).toMatch(/^Warning: 399 tandem ".*refused our credentials/m);
    expect(receivedMessages(b.messages).filter((m) => m.startsWith('INVITE '))).toHaveLength(2);
    expect(lines.some((l) => l.msg === 'leg B: trunk authentication failed' && typeof l.callId === 'string')).toBe(true);
  });
});
