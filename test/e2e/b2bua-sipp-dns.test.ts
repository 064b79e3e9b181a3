// End to end with SIPp (sip-tester) and dnsmasq from Debian: a route whose target is a name
// (RFC 3263). dnsmasq on loopback serves trunk.test's NAPTR (SIP+D2U) and the SRV pair it points
// at: priority 10 is a SIPp callee that answers 503, priority 20 a SIPp callee that answers 200 and
// echoes RTP. A SIPp caller's call must fail over within the call and carry media both ways; a
// route to a name that does not resolve must give the caller a final 503 that says why.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { freeUdpPort, makeTempDir, randomPortRange } from './helpers/proc.js';
import { describeWithPeers } from '../helpers/peers.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { deriveRtpPcap } from './helpers/pcap.js';
import { receivedMessages, startSipp, sippMediaPort, explainSipp } from './helpers/sipp-run.js';

const TIMEOUT_MS = 15_000;
const PACKETS = 30; // 0.9 s of the pcap's 30 ms packets
const PLAY_MS = 1500;

describeWithPeers('SIPp callees found by NAPTR/SRV on dnsmasq', ['sipp', 'dnsmasq'], () => {
  let dns: Dnsmasq;
  let tandem: RunningTandem;
  let sip = 0;
  let down = 0;
  let up = 0;
  /** Tandem's log lines (JSON): the media plane's packet count of the call, the DNS failure's call-id. */
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    down = await freeUdpPort();
    up = await freeUdpPort();
    dns = await startDnsmasq(() => [
      '--naptr-record=trunk.test,10,10,S,SIP+D2U,,_sip._udp.trunk.test',
      `--srv-host=_sip._udp.trunk.test,down.trunk.test,${down},10,0`,
      `--srv-host=_sip._udp.trunk.test,up.trunk.test,${up},20,0`,
      '--host-record=down.trunk.test,127.0.0.1',
      '--host-record=up.trunk.test,127.0.0.1',
    ]);
    const dir = makeTempDir('sipp-dns');
    const routesFile = join(dir, 'routes.json');
    writeFileSync(
      routesFile,
      JSON.stringify({
        routes: [
          { name: 'trunk', match: { userPrefix: '1' }, targets: [{ uri: 'sip:trunk.test' }], policy: { b: { codecs: ['PCMU'] } } },
          { name: 'nowhere', match: { userPrefix: '9' }, targets: [{ uri: 'sip:nowhere.test' }] },
        ],
      }),
    );
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
        dnsServers: [`127.0.0.1:${dns.port}`],
      },
      pino({ level: 'info' }, sink),
    );
    sip = tandem.sip?.listeners.find((l) => l.protocol === 'udp')?.port ?? 0;
  }, 20_000);

  afterAll(async () => {
    await tandem?.close();
    dns?.stop();
  });

  it('sip:trunk.test: the priority-10 callee answers 503 once, the priority-20 callee takes the call and media flows both ways', async () => {
    const pcap = deriveRtpPcap('/usr/share/sip-tester/g711a.pcap', { count: PACKETS });
    // The 503 callee stays up past the whole call, so a second INVITE toward it would be seen.
    const first = startSipp({ scenario: 'uas-503-hold.xml', tokens: { HOLD_MS: PLAY_MS + 2000 }, localPort: down, mediaPort: sippMediaPort(), timeoutMs: TIMEOUT_MS });
    const second = startSipp({ scenario: 'uas-pcmu.xml', localPort: up, mediaPort: sippMediaPort(), rtpEcho: true, timeoutMs: TIMEOUT_MS });
    const caller = startSipp({ scenario: 'uac-pcma.xml', tokens: { PCAP: pcap, PLAY_MS }, remote: `127.0.0.1:${sip}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', timeoutMs: TIMEOUT_MS });
    const [a, d, u] = await Promise.all([caller.done, first.done, second.done]);
    expect({ caller: a.exitCode, first: d.exitCode, second: u.exitCode }, explainSipp({ caller: a, first: d, second: u })).toEqual({ caller: 0, first: 0, second: 0 });
    const invitesTo = (log: string): string[] => receivedMessages(log).filter((m) => m.startsWith('INVITE '));
    expect(invitesTo(d.messages)).toHaveLength(1);
    expect(invitesTo(u.messages)).toHaveLength(1);
    // Both INVITEs keep the name in the Request-URI: the provider sees its own domain.
    for (const inv of [...invitesTo(d.messages), ...invitesTo(u.messages)]) expect(inv).toMatch(/^INVITE sip:100@trunk\.test SIP\/2\.0/);
    // Media crossed both ways: the media plane counted more packets than the caller alone sent (the callee echoes them).
    await expect.poll(() => lines.find((l) => l.msg === 'call deleted')?.packets, { timeout: 3000 }).toBeGreaterThan(PACKETS);
  }, 30_000);

  it('a name that does not resolve: the caller gets 503 Service Unavailable with a Warning naming the name, and the log line has the call-id', async () => {
    const caller = startSipp({ scenario: 'uac-expect-status.xml', tokens: { STATUS: 503 }, remote: `127.0.0.1:${sip}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '900', timeoutMs: TIMEOUT_MS });
    const a = await caller.done;
    expect(a.exitCode, explainSipp({ caller: a })).toBe(0);
    const final = receivedMessages(a.messages).find((m) => m.startsWith('SIP/2.0 503'));
    expect(final).toMatch(/^SIP\/2\.0 503 Service Unavailable\r?$/m);
    expect(final).toMatch(/^Warning: 399 \S+ "DNS: nowhere\.test did not resolve: no such name \(NXDOMAIN\): nowhere\.test"\r?$/m);
    const callId = /^Call-ID: (\S+)/m.exec(final ?? '')?.[1];
    expect(lines.some((l) => l.msg === 'request rejected' && l.status === 503 && l.callId === callId && /nowhere\.test/.test(String(l.why)))).toBe(true);
  }, 30_000);
});
