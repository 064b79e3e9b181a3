// Issue 12 end to end with SIPp from Debian (sip-tester): a SIPp caller floods INVITEs from
// 127.0.0.2 while another places calls at 10/s from 127.0.0.1, both through Tandem's B2BUA to a
// SIPp callee. The flooding source must be banned; every legitimate call must succeed.
import { afterEach, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { freeUdpPort, makeTempDir, randomPortRange } from './helpers/proc.js';
import { describeWithPeers } from '../helpers/peers.js';
import { SIPP_BIN } from './helpers/sipp-run.js';

interface Sipp {
  done: Promise<{ code: number | null; output: string }>;
  kill(): void;
}

/** SIPp with a built-in scenario (`uac`/`uas`); bounded by -m and by its own and our timeouts. */
function sipp(args: string[], timeoutMs: number): Sipp {
  const child = spawn(SIPP_BIN, [...args, '-nostdin', '-timeout', `${Math.ceil(timeoutMs / 1000)}s`], { cwd: makeTempDir('sipp-flood'), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-6000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 5000);
  const done = new Promise<{ code: number | null; output: string }>((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, output });
    });
    child.once('error', (err) => {
      clearTimeout(killer);
      resolve({ code: null, output: `spawn failed: ${err.message}` });
    });
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

/** SIPp media ports: even, in 30000–31998, away from Tandem's range. */
const sippMediaPort = (): number => 30000 + 4 * Math.floor(Math.random() * 500);

describeWithPeers('SIPp flood through the B2BUA (pike)', ['sipp'], () => {
  let tandem: RunningTandem | undefined;
  const procs: Sipp[] = [];

  afterEach(async () => {
    for (const p of procs.splice(0)) p.kill();
    await tandem?.close();
    tandem = undefined;
  });

  it('a SIPp flood from 127.0.0.2 is banned while a SIPp caller at 10 calls/s from 127.0.0.1 completes every call', async () => {
    const uasPort = await freeUdpPort();
    const ports = randomPortRange(2000);
    tandem = await startTandem(
      {
        ...defaultConfig(),
        listenNg: { address: '127.0.0.1', port: 0 },
        listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
        portMin: ports.min,
        portMax: ports.max,
        numThreads: 1,
        logLevel: 'silent',
        route: `sip:127.0.0.1:${uasPort}`,
        // Nobody exempt: the legitimate caller is counted too, and stays under 100 per 2 s
        // (10 calls/s = 20 requests/s: INVITE and BYE; ACKs do not count).
        floodExempt: [],
        pike: { limit: 100, windowMs: 2000 },
      },
      pino({ level: process.env.TANDEM_TEST_LOG ?? 'silent' }),
    );
    const sip = tandem.sip?.listeners.find((l) => l.protocol === 'udp');
    if (sip === undefined) throw new Error('no UDP listener');
    const target = `127.0.0.1:${sip.port}`;

    const uas = sipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort), '-mp', String(sippMediaPort())], 30_000);
    procs.push(uas);
    await new Promise((r) => setTimeout(r, 300));
    const legit = sipp(['-sn', 'uac', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-mp', String(sippMediaPort()), '-r', '10', '-m', '40', '-timeout_error', target], 25_000);
    procs.push(legit);
    // The flood: 400 calls/s for 2 s, which SIPp retransmits when unanswered (its calls then fail).
    const flood = sipp(['-sn', 'uac', '-i', '127.0.0.2', '-p', String(await freeUdpPort()), '-mp', String(sippMediaPort()), '-r', '400', '-m', '800', '-recv_timeout', '3000', target], 20_000);
    procs.push(flood);

    const [l, f] = await Promise.all([legit.done, flood.done]);
    expect(l.code, l.output).toBe(0);
    expect(f.code).not.toBe(0);
    const pike = tandem.sip?.edge.pike;
    expect(pike?.bans().map((b) => b.source)).toEqual(['127.0.0.2']);
    expect(pike?.counters.bans).toBe(1);
    expect(pike?.counters.dropped).toBeGreaterThan(500);
  }, 40_000);
});
