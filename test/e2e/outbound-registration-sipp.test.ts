// End to end with SIPp from Debian (sip-tester): Tandem registering at a provider. A SIPp UAS plays
// the provider's registrar: 401 to each REGISTER, then SIPp's own verifyauth (MD5) checks Tandem's
// answer; the registration, its refresh before a brief binding ends, and, when Tandem closes, its
// removal (expires=0) all get through.
import { afterEach, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { freeUdpPort, makeTempDir, randomPortRange } from './helpers/proc.js';
import { describeWithPeers } from '../helpers/peers.js';
import { receivedMessages, startSipp, sippMediaPort, explainSipp } from './helpers/sipp-run.js';

const TIMEOUT_MS = 15_000;

describeWithPeers('SIPp registrar that challenges Tandem with 401', ['sipp'], () => {
  let tandem: RunningTandem | undefined;

  afterEach(async () => {
    await tandem?.close();
    tandem = undefined;
  });

  /** Tandem with one registration toward a SIPp registrar on `registrarPort`, asking `expires` seconds. */
  async function start(registrarPort: number, expires?: number): Promise<RunningTandem> {
    const dir = makeTempDir('sipp-outreg');
    writeFileSync(join(dir, 'provider.pw'), 'Circle of Life\n');
    const routesFile = join(dir, 'routes.json');
    writeFileSync(
      routesFile,
      JSON.stringify({ routes: [], registrations: [{ name: 'prov', registrar: `sip:127.0.0.1:${registrarPort}`, aor: 'sip:tandem@provider.e2e', auth: { username: 'tandem', passwordFile: 'provider.pw', realm: 'provider.e2e' }, ...(expires !== undefined ? { expires } : {}) }] }),
    );
    const ports = randomPortRange(200);
    return startTandem(
      { ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }], portMin: ports.min, portMax: ports.max, numThreads: 1, logLevel: 'silent', routesFile },
      pino({ level: 'silent' }),
    );
  }

  /** The REGISTERs SIPp received, one per CSeq (a UDP retransmission is not another REGISTER). */
  function registersIn(messages: string): string[] {
    const byCSeq = new Map<string, string>();
    for (const m of receivedMessages(messages)) if (m.startsWith('REGISTER ')) byCSeq.set(/^CSeq:\s*(\d+)/im.exec(m)?.[1] ?? '', m);
    return [...byCSeq.values()];
  }

  it('registers with digest credentials and unregisters on close', async () => {
    const registrarPort = await freeUdpPort();
    const registrar = startSipp({ scenario: 'uas-register-401.xml', tokens: { USER: 'tandem', PASSWORD: 'Circle of Life' }, localPort: registrarPort, mediaPort: sippMediaPort(), timeoutMs: TIMEOUT_MS });
    tandem = await start(registrarPort);
    const running = tandem;
    // Bounded wait for the 200 (SIPp may take a moment to bind before Tandem's first REGISTER; UDP retransmits).
    for (let i = 0; i < 500 && running.sip?.outboundRegistrar?.stats().registered !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(running.sip?.outboundRegistrar?.stats()).toMatchObject({ registered: 1, auth: { answered: 1, refused: 0 } });
    tandem = undefined;
    await running.close();
    const r = await registrar.done;
    expect(r.exitCode, explainSipp({ registrar: r })).toBe(0);
    expect(running.sip?.outboundRegistrar?.stats()).toMatchObject({ unregistered: 1 });
    const registers = registersIn(r.messages);
    expect(registers).toHaveLength(4);
    expect(registers[1]).toMatch(/^Authorization: Digest username="tandem", realm="provider.e2e".*algorithm=MD5/m);
    expect(registers[3]).toMatch(/^Expires: 0/m);
  });

  it('refreshes a 2 s binding before it ends (a new challenge answered), then unregisters on close', async () => {
    const registrarPort = await freeUdpPort();
    const registrar = startSipp({ scenario: 'uas-register-401-refresh.xml', tokens: { USER: 'tandem', PASSWORD: 'Circle of Life' }, localPort: registrarPort, mediaPort: sippMediaPort(), timeoutMs: TIMEOUT_MS });
    tandem = await start(registrarPort, 2);
    const running = tandem;
    // The refresh comes at 80 % of the 2 s granted; bounded wait (10 s) for its 200.
    for (let i = 0; i < 500 && (running.sip?.outboundRegistrar?.stats().registered ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(running.sip?.outboundRegistrar?.stats()).toMatchObject({ registered: 2, failed: 0, auth: { answered: 2, refused: 0 } });
    tandem = undefined;
    await running.close();
    const r = await registrar.done;
    expect(r.exitCode, explainSipp({ registrar: r })).toBe(0);
    const registers = registersIn(r.messages);
    expect(registers).toHaveLength(6);
    // One Call-ID for the registration's life; the refresh asks for the same 2 s, with credentials for the new nonce.
    expect(new Set(registers.map((m) => /^Call-ID:\s*(\S+)/im.exec(m)?.[1])).size).toBe(1);
    expect(registers[3]).toMatch(/^Expires: 2\r?$/m);
    expect(registers[3]).toMatch(/^Authorization: Digest .*nonce="\d+m/m);
    expect(registers[5]).toMatch(/^Expires: 0/m);
  });
});
