// The BYEs a drain timeout sends are reliable, end to end: the real `tandem` command
// (dist/cli/tandem.js) with one call up between two scripted UDP peers (no SIPp) gets SIGTERM with a
// short --drain-timeout, so it hangs the call up itself. A peer that drops the first BYE sees it again
// (same Via branch: Timer E), answers it, and only then does the process exit 0; the peer that
// answers at once is the positive control (exactly one BYE). A peer that never answers does not keep
// the process: it exits after --shutdown-grace (or Timer F, if that comes first) and its log names
// each unanswered BYE by call-id.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { getCSeq, getCallId, getHeader, type SipMessage } from '../../src/sip/message.js';
import { SipPeer, sdpOffer, type Received } from '../helpers/sip-peer.js';
import { answerByes, type ByeAnswerer, type ByeMode } from '../helpers/bye-answerer.js';
import { TANDEM_CLI, REPO_ROOT } from './helpers/media-servers.js';
import { freeUdpPort, makeTempDir, randomPortRange, startProcess, waitFor, type RunningProcess } from './helpers/proc.js';

const WAIT_MS = 10_000;

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const isByeOf = (callId: string) => (m: SipMessage): boolean => m.kind === 'request' && m.method === 'BYE' && getCallId(m) === callId;
const contactOf = (r: Received): string => /<([^>]+)>/.exec(getHeader(r.msg, 'Contact') ?? '')?.[1] ?? '';

/** Exit code, or 'still running' after `ms` (a bound on the wait, not a timing assertion). */
const exitWithin = (p: RunningProcess, ms: number): Promise<string> => Promise.race([p.exited, new Promise<string>((r) => setTimeout(() => r('still running'), ms))]);

describe('drain timeout: the BYEs Tandem sends are retransmitted and waited for', () => {
  let proc: RunningProcess | undefined;
  const peers: SipPeer[] = [];
  const answerers: ByeAnswerer[] = [];

  afterEach(async () => {
    for (const a of answerers.splice(0)) a.stop();
    for (const p of peers.splice(0)) p.close();
    await proc?.stop(500);
    proc = undefined;
  });

  /** The tandem command routing to `callee`, one call up from `caller`; resolves with both legs' Call-IDs. */
  async function callUp(extraArgs: string[]): Promise<{ p: RunningProcess; caller: SipPeer; callee: SipPeer; aCallId: string; bCallId: string }> {
    expect(existsSync(TANDEM_CLI), `${TANDEM_CLI} missing: run npm run build`).toBe(true);
    const caller = await SipPeer.udp();
    const callee = await SipPeer.udp();
    peers.push(caller, callee);
    const sipPort = await freeUdpPort();
    const httpPort = await freeTcpPort();
    const ports = randomPortRange(100);
    const p = startProcess({
      name: 'tandem-drain-bye',
      cmd: process.execPath,
      args: [TANDEM_CLI, '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${await freeUdpPort()}`, `--listen-sip=udp:127.0.0.1:${sipPort}`, `--listen-http=127.0.0.1:${httpPort}`, `--route=sip:127.0.0.1:${callee.port}`, '--b-codecs=PCMU', `--port-min=${ports.min}`, `--port-max=${ports.max}`, '--num-threads=1', '--drain-timeout=1', '--log-level=info', '--overload-lag=0', ...extraArgs],
      cwd: REPO_ROOT,
      logDir: makeTempDir('drain-bye'),
    });
    proc = p;
    await waitFor('tandem /healthz', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, { timeoutMs: 15_000, abort: () => (p.hasExited() ? `tandem exited:\n${p.tail()}` : undefined) });
    const sip = { address: '127.0.0.1', port: sipPort };
    const aCallId = `drain-bye-${Math.random().toString(36).slice(2)}@127.0.0.1`;
    caller.send([`INVITE sip:100@127.0.0.1:${sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`, 'Max-Forwards: 70', `From: <sip:alice@127.0.0.1>;tag=${caller.tag}`, 'To: <sip:100@127.0.0.1>', `Call-ID: ${aCallId}`, 'CSeq: 1 INVITE', `Contact: <sip:alice@127.0.0.1:${caller.port}>`, 'Content-Type: application/sdp', '', sdpOffer(40000, [{ pt: 8, name: 'PCMA' }])].join('\n'), sip);
    const bInvite = await callee.next((m) => m.kind === 'request' && m.method === 'INVITE', WAIT_MS);
    callee.reply(bInvite, 200, { reason: 'OK', sdp: sdpOffer(40002, [{ pt: 0, name: 'PCMU' }]) });
    const ok = await caller.next((m) => m.kind === 'response' && m.status === 200 && getCSeq(m)?.method === 'INVITE', WAIT_MS);
    caller.send([`ACK ${contactOf(ok)} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`, 'Max-Forwards: 70', `From: ${getHeader(ok.msg, 'From') ?? ''}`, `To: ${getHeader(ok.msg, 'To') ?? ''}`, `Call-ID: ${aCallId}`, 'CSeq: 1 ACK', '', ''].join('\n'), sip);
    // leg B's ACK (from Tandem) says the call is confirmed on both sides.
    await callee.next((m) => m.kind === 'request' && m.method === 'ACK', WAIT_MS);
    return { p, caller, callee, aCallId, bCallId: getCallId(bInvite.msg) ?? '' };
  }

  it('a BYE dropped once is retransmitted (same branch) and answered; both legs get their 200 before the process exits 0', async () => {
    const { p, caller, callee, aCallId, bCallId } = await callUp([]);
    const exitedWhenAnswered: boolean[] = [];
    const note = (): void => void exitedWhenAnswered.push(p.hasExited());
    const dropper = answerByes(caller, 'drop-first', note);
    const control = answerByes(callee, 'answer', note);
    answerers.push(dropper, control);
    p.child.kill('SIGTERM');

    await caller.next(isByeOf(aCallId), WAIT_MS);
    await callee.next(isByeOf(bCallId), WAIT_MS);
    const code = await exitWithin(p, 20_000);
    expect(code, p.tail()).toBe('0');
    // The dropped BYE came again with the same branch and was answered; the answered one came once.
    const dropped = dropper.branches();
    expect(dropped.length, p.tail()).toBeGreaterThanOrEqual(2);
    expect(new Set(dropped).size).toBe(1);
    expect(dropper.answered()).toBeGreaterThanOrEqual(1);
    expect(control.branches()).toHaveLength(1);
    expect(control.answered()).toBe(1);
    // Every 200 went out while the process was still there to receive it.
    expect(exitedWhenAnswered.length).toBeGreaterThanOrEqual(2);
    expect(exitedWhenAnswered.every((e) => !e)).toBe(true);
    const log = p.tail(400);
    expect(log).toContain('drain timeout: hanging up the calls left');
    expect(log).not.toContain('no final response within the grace');
    expect(log).toMatch(/"inFlight":2,"unanswered":0,"waitedMs":\d+,"msg":"shutdown: done waiting for the requests in flight"/);
  }, 40_000);

  it.each<[string, string[], RegExp]>([
    ['--shutdown-grace', ['--shutdown-grace=1'], /shutdown: no final response within the grace; giving up on it/],
    ['Timer F', ['--shutdown-grace=30', '--sip-t1=20', '--sip-t2=80'], /BYE timed out/],
  ])('peers that never answer do not keep the process: it exits 0 after %s, and the log names each unanswered BYE', async (_what, args, line) => {
    const { p, caller, callee, aCallId, bCallId } = await callUp(args);
    const silent: [SipPeer, ByeMode][] = [[caller, 'never'], [callee, 'never']];
    for (const [peer, mode] of silent) answerers.push(answerByes(peer, mode));
    p.child.kill('SIGTERM');
    await caller.next(isByeOf(aCallId), WAIT_MS);
    await callee.next(isByeOf(bCallId), WAIT_MS);
    const code = await exitWithin(p, 25_000);
    expect(code, p.tail()).toBe('0');
    // Retransmitted while it waited (Timer E), same branch each time.
    for (const a of answerers) {
      expect(a.branches().length).toBeGreaterThanOrEqual(2);
      expect(new Set(a.branches()).size).toBe(1);
    }
    const unanswered = p
      .tail(400)
      .split('\n')
      .filter((l) => line.test(l));
    // One line per leg: the grace's names the BYE's own Call-ID and destination, Timer F's the leg.
    const legA = unanswered.filter((l) => l.includes(`"to":"udp:127.0.0.1:${caller.port}"`) && l.includes(aCallId));
    const legB = unanswered.filter((l) => l.includes(`"to":"udp:127.0.0.1:${callee.port}"`) && l.includes(bCallId));
    expect({ a: legA.length, b: legB.length }, p.tail()).toEqual({ a: 1, b: 1 });
  }, 60_000);
});
