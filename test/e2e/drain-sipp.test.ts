// Issue 16's graceful drain end to end: the real `tandem` command (dist/cli/tandem.js) between a
// SIPp caller and a SIPp callee (sip-tester from Debian). 50 calls are up, playing PCMA that the
// callee echoes, when Tandem gets SIGTERM: every call must finish normally (its BYE answered, SIPp
// counts it successful), media must keep flowing meanwhile (Tandem's own packet counters, scraped
// from /metrics, still move), a new INVITE must get 503 with Retry-After, /readyz 503, and the
// process must exit 0 once the last call has ended. A second SIGTERM stops at once.
import { afterEach, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import dgram from 'node:dgram';
import { getHeader, getCallId, getCSeq } from '../../src/sip/message.js';
import { describeWithPeers } from '../helpers/peers.js';
import { SipPeer, sdpOffer } from '../helpers/sip-peer.js';
import { sample } from '../helpers/ops-env.js';
import { TANDEM_CLI, REPO_ROOT } from './helpers/media-servers.js';
import { freeUdpPort, makeTempDir, randomPortRange, startProcess, waitFor, type RunningProcess } from './helpers/proc.js';
import { startSipp, sippMediaPort, explainSipp, type SippProcess } from './helpers/sipp-run.js';
import { deriveRtpPcap } from './helpers/pcap.js';

const CALLS = 50;
const PLAY_MS = 6000;
const G711A_PCAP = '/usr/share/sip-tester/g711a.pcap';

/**
 * A media port range no other process on this box is using right now: suites running beside this
 * one (other worktrees' tests included) hold whole blocks of the shared 20000–29999 band, and a
 * range inside such a block fails every call with EADDRINUSE. Every 5th port is probed.
 */
async function quietPortRange(size: number): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = randomPortRange(size);
    const probes: dgram.Socket[] = [];
    let busy = false;
    for (let p = r.min; p <= r.max && !busy; p += 5) {
      const s = dgram.createSocket('udp4');
      probes.push(s);
      busy = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(true));
        s.bind(p, '127.0.0.1', () => resolve(false));
      });
    }
    for (const s of probes) s.close();
    if (!busy) return r;
  }
  throw new Error('no quiet media port range found in 20 tries');
}

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describeWithPeers('graceful drain of the tandem command (SIPp)', ['sipp'], () => {
  const procs: (RunningProcess | SippProcess)[] = [];
  let peer: SipPeer | undefined;

  afterEach(async () => {
    peer?.close();
    peer = undefined;
    for (const p of procs.splice(0)) {
      if ('stop' in p) await p.stop(500);
      else p.kill();
    }
  });

  async function startCli(uasPort: number): Promise<{ proc: RunningProcess; sipPort: number; admin: string }> {
    expect(existsSync(TANDEM_CLI), `${TANDEM_CLI} missing: run npm run build`).toBe(true);
    const sipPort = await freeUdpPort();
    const httpPort = await freeTcpPort();
    const ports = await quietPortRange(1000);
    const proc = startProcess({
      name: 'tandem-drain',
      cmd: process.execPath,
      args: [TANDEM_CLI, '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${await freeUdpPort()}`, `--listen-sip=udp:127.0.0.1:${sipPort}`, `--listen-http=127.0.0.1:${httpPort}`, `--route=sip:127.0.0.1:${uasPort}`, '--b-codecs=PCMU', `--port-min=${ports.min}`, `--port-max=${ports.max}`, '--num-threads=1', '--drain-timeout=60', '--log-level=info', '--overload-lag=0'],
      cwd: REPO_ROOT,
      logDir: makeTempDir('drain'),
    });
    procs.push(proc);
    const admin = `http://127.0.0.1:${httpPort}`;
    await waitFor('tandem /healthz', async () => (await fetch(`${admin}/healthz`)).ok, { timeoutMs: 15_000, abort: () => (proc.hasExited() ? `tandem exited:\n${proc.tail()}` : undefined) });
    return { proc, sipPort, admin };
  }

  const metrics = async (admin: string): Promise<string> => (await fetch(`${admin}/metrics`)).text();

  it(`SIGTERM with ${CALLS} calls up: each ends normally with media to the end, new INVITEs get 503 + Retry-After, exit 0 after the last`, async () => {
    const uasPort = await freeUdpPort();
    const { proc, sipPort, admin } = await startCli(uasPort);
    const callee = startSipp({ scenario: 'uas-pcmu.xml', localPort: uasPort, mediaPort: sippMediaPort(), rtpEcho: true, extraArgs: ['-m', String(CALLS)], timeoutMs: 40_000 });
    procs.push(callee);
    const pcap = deriveRtpPcap(G711A_PCAP, { count: 200 });
    const caller = startSipp({ scenario: 'uac-pcma.xml', tokens: { PCAP: pcap, PLAY_MS }, remote: `127.0.0.1:${sipPort}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', extraArgs: ['-m', String(CALLS), '-r', '25', '-l', String(CALLS)], timeoutMs: 40_000 });
    procs.push(caller);

    await waitFor(`${CALLS} confirmed calls`, async () => sample(await metrics(admin), 'tandem_calls{state="confirmed"}') === CALLS, { timeoutMs: 15_000, intervalMs: 200 });
    proc.child.kill('SIGTERM');
    await waitFor('/readyz 503', async () => (await fetch(`${admin}/readyz`)).status === 503, { timeoutMs: 5000 });

    // A new call is refused, with Retry-After.
    peer = await SipPeer.udp();
    const callId = `drain-new-${Date.now()}@127.0.0.1`;
    peer.send([`INVITE sip:100@127.0.0.1:${sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bKdrain${Date.now()};rport`, 'Max-Forwards: 70', `From: <sip:late@127.0.0.1>;tag=${peer.tag}`, 'To: <sip:100@127.0.0.1>', `Call-ID: ${callId}`, 'CSeq: 1 INVITE', `Contact: <sip:late@127.0.0.1:${peer.port}>`, 'Content-Type: application/sdp', '', sdpOffer(40100, [{ pt: 8, name: 'PCMA' }])].join('\n'), { address: '127.0.0.1', port: sipPort });
    const refused = await peer.next((m) => m.kind === 'response' && m.status >= 200 && getCallId(m) === callId && getCSeq(m)?.method === 'INVITE', 5000);
    expect(refused.msg.kind === 'response' && refused.msg.status).toBe(503);
    expect(Number(getHeader(refused.msg, 'Retry-After'))).toBeGreaterThan(0);

    // Media keeps flowing during the drain: Tandem's packet counter moves between two scrapes.
    const packets = async (): Promise<number> => sample(await metrics(admin), 'tandem_media_packets_total{direction="from_offerer",kind="rtp"}') ?? 0;
    const p0 = await packets();
    await new Promise((r) => setTimeout(r, 1000));
    const p1 = await packets();
    expect(p1).toBeGreaterThan(p0);
    expect(proc.hasExited()).toBe(false);

    const [a, b] = await Promise.all([caller.done, callee.done]);
    expect({ caller: a.exitCode, callee: b.exitCode }, explainSipp({ caller: a, callee: b })).toEqual({ caller: 0, callee: 0 });
    expect(a.output).toMatch(new RegExp(`Successful call\\s+\\|\\s+\\d+\\s+\\|\\s+${CALLS}\\b`));
    // Drained: the process exits 0 on its own once the last call ended.
    const code = await Promise.race([proc.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
    expect(code, proc.tail()).toBe('0');
    expect(proc.tail(200)).toContain('drained: the last call ended');
  }, 60_000);

  it('a second SIGTERM stops at once (exit 0) with a call still up', async () => {
    const uasPort = await freeUdpPort();
    const { proc, sipPort, admin } = await startCli(uasPort);
    const callee = startSipp({ scenario: 'uas-pcmu.xml', localPort: uasPort, mediaPort: sippMediaPort(), timeoutMs: 30_000 });
    procs.push(callee);
    const caller = startSipp({ scenario: 'uac-pcma.xml', tokens: { PCAP: deriveRtpPcap(G711A_PCAP, { count: 50 }), PLAY_MS: 20_000 }, remote: `127.0.0.1:${sipPort}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', timeoutMs: 30_000 });
    procs.push(caller);
    await waitFor('a confirmed call', async () => sample(await metrics(admin), 'tandem_calls{state="confirmed"}') === 1, { timeoutMs: 10_000, intervalMs: 200 });
    proc.child.kill('SIGTERM');
    await waitFor('/readyz 503', async () => (await fetch(`${admin}/readyz`)).status === 503, { timeoutMs: 5000 });
    expect(proc.hasExited()).toBe(false);
    proc.child.kill('SIGTERM');
    const code = await Promise.race([proc.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
    expect(code, proc.tail()).toBe('0');
    expect(proc.tail(200)).toContain('SIGTERM (second)');
  }, 45_000);
});
