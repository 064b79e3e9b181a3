// `tandem call` and `tandem answer` (src/phone) run as the built CLI, through Tandem's B2BUA:
// to a SIPp callee that plays a known tone (dumpcap on SIPp's media port counts what each side
// sent and decodes the digits that reached it), to a `tandem answer` callee, and into the failures
// whose exit codes scripts rely on (nobody listening, 486, no media back), each beside a control
// that succeeds.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig, type TandemConfig } from '../../src/config/config.js';
import { encodeUlaw } from '../../src/media/codecs/g711.js';
import { DtmfReceiver } from '../../src/phone/dtmf.js';
import { readWav } from '../../src/phone/wav.js';
import type { PhoneSummary } from '../../src/phone/summary.js';
import { goertzelAmplitude, tone } from '../helpers/audio.js';
import { describeWithPeers } from '../helpers/peers.js';
import { TANDEM_CLI } from './helpers/media-servers.js';
import { rtpPcapFrom, startCapture } from './helpers/pcap.js';
import { freeUdpPort, makeTempDir, randomPortRange } from './helpers/proc.js';
import { explainSipp, receivedMessages, sippMediaPort, startSipp } from './helpers/sipp-run.js';

const TIMEOUT_MS = 20_000;
/** packets SIPp plays: 3 s of 1000 Hz PCMU in 20 ms packets. */
const SIPP_PACKETS = 150;

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI as a child process; `ready` resolves once stderr shows `waitFor` (the answerer's listening line). */
function cli(args: string[], waitFor?: RegExp): { done: Promise<CliRun>; ready: Promise<void> } {
  const child = spawn(process.execPath, [TANDEM_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (markReady = r));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (waitFor !== undefined && waitFor.test(stderr)) markReady();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS + 10_000);
  const done = new Promise<CliRun>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      markReady();
      resolve({ code, stdout, stderr });
    }),
  );
  return { done, ready };
}

function summaryOf(r: CliRun): PhoneSummary {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as PhoneSummary;
  } catch {
    throw new Error(`no JSON summary (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** A pcap of `count` 20 ms PCMU packets of a `hz` tone, for SIPp to play. */
function tonePcap(hz: number, count: number): string {
  const pcm = tone(hz, 8000, 160 * count, 8000);
  const payloads = Array.from({ length: count }, (_, i) => {
    const b = Buffer.alloc(160);
    encodeUlaw(pcm.subarray(i * 160, (i + 1) * 160), b);
    return b;
  });
  return rtpPcapFrom(join(makeTempDir('tone-pcap'), `tone-${hz}.pcap`), { payloadType: 0, payloads, samplesPerPacket: 160 });
}

let tandem: RunningTandem | undefined;

/** Tandem in this process with one route; the port of its UDP listener (or its TCP one). */
async function startB2bua(route: string, over: Partial<TandemConfig> = {}, protocol: 'udp' | 'tcp' | 'tls' = 'udp'): Promise<number> {
  const ports = randomPortRange(200);
  tandem = await startTandem(
    {
      ...defaultConfig(),
      listenNg: { address: '127.0.0.1', port: 0 },
      listenSip: [
        { protocol: 'udp', address: '127.0.0.1', port: 0 },
        { protocol: 'tcp', address: '127.0.0.1', port: 0 },
        ...(over.tlsCert !== undefined ? [{ protocol: 'tls' as const, address: '127.0.0.1', port: 0 }] : []),
      ],
      portMin: ports.min,
      portMax: ports.max,
      numThreads: 1,
      logLevel: 'silent',
      route,
      ...over,
    },
    pino({ level: process.env.TANDEM_TEST_LOG ?? 'silent' }),
  );
  return tandem.sip?.listeners.find((l) => l.protocol === protocol)?.port ?? 0;
}

afterEach(async () => {
  await tandem?.close();
  tandem = undefined;
});

beforeAll(() => {
  if (!existsSync(TANDEM_CLI)) throw new Error(`${TANDEM_CLI} does not exist: run \`npm run build\` first`);
});

describeWithPeers('tandem call → Tandem → SIPp', ['sipp', 'dumpcap'], () => {
  let pcap1000 = '';
  beforeAll(() => {
    pcap1000 = tonePcap(1000, SIPP_PACKETS);
  });

  /** One call to a SIPp callee; dumpcap on SIPp's media port sees what it got and what it sent. */
  async function callSipp(scenario: string, callArgs: string[]) {
    const calleePort = await freeUdpPort();
    const sip = await startB2bua(`sip:127.0.0.1:${calleePort}`);
    const mediaPort = sippMediaPort();
    const cap = await startCapture({ ports: [mediaPort], timeoutMs: TIMEOUT_MS });
    const callee = startSipp({ scenario, tokens: { PCAP: pcap1000 }, localPort: calleePort, mediaPort, timeoutMs: TIMEOUT_MS });
    const call = cli([`sip:100@127.0.0.1:${sip}`, '--json', ...callArgs].reduce<string[]>((a, x, i) => (i === 0 ? ['call', x] : [...a, x]), []));
    const [c, s] = await Promise.all([call.done, callee.done]);
    const packets = await cap.stop();
    return { call: c, summary: summaryOf(c), sipp: s, toSipp: packets.filter((p) => p.dstPort === mediaPort), fromSipp: packets.filter((p) => p.srcPort === mediaPort) };
  }

  it('connects, hears SIPp\'s 1000 Hz, its digits reach SIPp as telephone-event, and the counts match the wire', async () => {
    const r = await callSipp('uas-pcmu-play.xml', ['--tone', '440', '--dtmf', '1#', '--duration', '5']);
    expect(r.sipp.exitCode, explainSipp({ callee: r.sipp })).toBe(0);
    const s = r.summary;
    expect({ code: r.call.code, reason: s.reason }).toEqual({ code: 0, reason: undefined });
    expect(s.connected).toBe(true);
    expect(s.timeline.map((e) => e.event)).toEqual(['→ INVITE', '← 100 Trying', '← 180 Ringing', '← 200 OK', '→ ACK', '→ BYE', '← 200 OK (BYE)']);
    expect(s.tone?.hz).toBeGreaterThanOrEqual(999);
    expect(s.tone?.hz).toBeLessThanOrEqual(1001);
    // SIPp's side of the wire: the events carry the PT SIPp answered (101), and they decode to the digits.
    const events = r.toSipp.filter((p) => p.payloadType === 101);
    const heard = new DtmfReceiver();
    for (const p of events) heard.push(p.payload, p.timestamp);
    expect(heard.digits).toBe('1#');
    expect(events.length).toBe(s.sent.events);
    // What we sent crossed Tandem to SIPp: Tandem relays from the first packet (it knew SIPp's
    // address from the 200 before we sent any); the last one or two may meet the BYE in Tandem's
    // worker, which then no longer relays.
    expect(r.toSipp.length).toBeLessThanOrEqual(s.sent.packets);
    expect(r.toSipp.length).toBeGreaterThanOrEqual(s.sent.packets - 2);
    // What SIPp played reached us: it starts after the ACK, when our media already runs. SIPp stops
    // playing at the BYE, and on a loaded machine it may start late enough for that to cut the
    // pcap short, or for its last packet to reach Tandem after the BYE (then it is not relayed).
    expect(r.fromSipp.length).toBeGreaterThan(SIPP_PACKETS - 20);
    expect(r.fromSipp.length).toBeLessThanOrEqual(SIPP_PACKETS);
    expect(s.received.packets).toBeLessThanOrEqual(r.fromSipp.length);
    expect(s.received.packets).toBeGreaterThanOrEqual(r.fromSipp.length - 2);
    expect(s.received.lost).toBe(0);
    expect(s.mos).toBeGreaterThan(4);
  }, 30_000);

  it('exit 5 when the callee answers but sends no media (the call above is its control, exit 0)', async () => {
    const r = await callSipp('uas-pcmu.xml', ['--duration', '2']);
    expect(r.sipp.exitCode, explainSipp({ callee: r.sipp })).toBe(0);
    expect(r.call.code).toBe(5);
    expect(r.summary.connected).toBe(true);
    expect(r.summary.reason).toMatch(/no RTP came back/);
    expect(r.summary.received.packets).toBe(0);
    // Our media did flow: it reached SIPp (but for a packet or two meeting the BYE in Tandem).
    expect(r.toSipp.length).toBeGreaterThanOrEqual(r.summary.sent.packets - 2);
    expect(r.summary.sent.packets).toBeGreaterThan(80);
  }, 30_000);

  it('exit 3 when the callee is busy (486 relayed by Tandem)', async () => {
    const r = await callSipp('uas-486.xml', ['--duration', '2']);
    expect(r.call.code).toBe(3);
    expect(r.summary).toMatchObject({ connected: false, finalStatus: 486 });
    expect(r.summary.timeline.map((e) => e.event)).toContain('← 486 Busy Here');
    expect(r.toSipp).toEqual([]);
  }, 30_000);

  /** Straight to a SIPp trunk that challenges with 401 and checks the answer with its own verifyauth. */
  async function callChallenger(password: string) {
    const calleePort = await freeUdpPort();
    const callee = startSipp({ scenario: 'uas-auth-401.xml', tokens: { USER: 'alice', PASSWORD: 'Circle of Life' }, localPort: calleePort, mediaPort: sippMediaPort(), rtpEcho: true, timeoutMs: TIMEOUT_MS });
    const call = cli(['call', `sip:100@127.0.0.1:${calleePort}`, '--user', 'alice', '--password', password, '--duration', '2', '--json']);
    const [c, s] = await Promise.all([call.done, callee.done]);
    return { call: c, summary: summaryOf(c), sipp: s, invites: receivedMessages(s.messages).filter((m) => m.startsWith('INVITE ')) };
  }

  it('answers a 401 once with --user/--password; SIPp\'s verifyauth accepts it and echoes our tone', async () => {
    const r = await callChallenger('Circle of Life');
    expect(r.sipp.exitCode, explainSipp({ callee: r.sipp })).toBe(0);
    expect(r.call.code, r.call.stdout + r.call.stderr).toBe(0);
    expect(r.invites).toHaveLength(2);
    expect(r.invites[1]).toMatch(/^Authorization: Digest username="alice", realm="trunk.e2e".*algorithm=MD5.*qop=auth, nc=00000001/m);
    expect(r.summary.timeline.map((e) => e.event).slice(0, 5)).toEqual(['→ INVITE', '← 401 Unauthorized', '→ INVITE (with credentials)', '← 200 OK', '→ ACK']);
    expect(r.summary.tone?.hz).toBe(440); // SIPp's -rtp_echo sends our own audio back
  }, 30_000);

  it('a wrong password: exit 3 after exactly two INVITEs (a second challenge is a failure, not a loop)', async () => {
    const r = await callChallenger('wrong');
    expect(r.sipp.exitCode, explainSipp({ callee: r.sipp })).toBe(0);
    expect(r.call.code).toBe(3);
    expect(r.invites).toHaveLength(2);
    expect(r.summary).toMatchObject({ connected: false, finalStatus: 401, reason: '401 Unauthorized again: our credentials were refused' });
  }, 30_000);
});

describeWithPeers('tandem call → Tandem → tandem answer', [], () => {
  it('digits, tones and counts agree on both ends, and the recording holds the caller\'s tone', async () => {
    const port = await freeUdpPort();
    const sip = await startB2bua(`sip:127.0.0.1:${port}`);
    const out = join(makeTempDir('answer'), 'out.wav');
    const answer = cli(['answer', '--listen', `udp:127.0.0.1:${port}`, '--tone', '1000', '--record', out, '--answer-timeout', '15', '--json'], /listening on/);
    await answer.ready;
    const call = cli(['call', `sip:100@127.0.0.1:${sip}`, '--tone', '440', '--dtmf', '1#', '--duration', '3', '--json']);
    const [c, a] = await Promise.all([call.done, answer.done]);
    const caller = summaryOf(c);
    const callee = summaryOf(a);
    expect({ caller: c.code, callee: a.code }, `${c.stdout}${c.stderr}\n${a.stdout}${a.stderr}`).toEqual({ caller: 0, callee: 0 });
    expect(callee.received.digits).toBe('1#');
    expect(callee.received.events).toBe(16); // 2 digits × (5 updates + 3 end packets)
    expect(caller.tone?.hz).toBe(1000);
    expect(callee.tone?.hz).toBe(440);
    // The file on its own: 440 Hz dominates 1000 Hz by far (the answerer's own tone is not in it).
    const rec = readWav(out, 'out.wav');
    expect(rec.sampleRate).toBe(8000);
    expect(rec.samples.length).toBeGreaterThan(8000 * 2);
    const mid = rec.samples.subarray(8000, 8000 * 2);
    expect(goertzelAmplitude(mid, 440, 8000)).toBeGreaterThan(20 * goertzelAmplitude(mid, 1000, 8000));
    // Counts: what one sent the other received, but for a few at each end: the answerer sends from
    // its 200, before the caller has the answer (the caller drops those), and each keeps sending
    // until the BYE reaches it, after the other stopped counting.
    expect(Math.abs(caller.sent.packets - callee.received.packets)).toBeLessThanOrEqual(5);
    expect(Math.abs(callee.sent.packets - caller.received.packets)).toBeLessThanOrEqual(5);
    expect(caller.sent.packets).toBeGreaterThan(140);
    expect(callee.timeline.map((e) => e.event)).toEqual(['← INVITE', '→ 180 Ringing', '→ 200 OK', '← ACK', '← BYE', '→ 200 OK (BYE)']);
  }, 30_000);

  it('over TCP both ways (caller → Tandem → answerer)', async () => {
    const port = await freeUdpPort();
    const sip = await startB2bua(`sip:127.0.0.1:${port};transport=tcp`, {}, 'tcp');
    const answer = cli(['answer', '--listen', `tcp:127.0.0.1:${port}`, '--answer-timeout', '15', '--json'], /listening on/);
    await answer.ready;
    const call = cli(['call', `sip:100@127.0.0.1:${sip}`, '--transport', 'tcp', '--duration', '2', '--json']);
    const [c, a] = await Promise.all([call.done, answer.done]);
    expect({ caller: c.code, callee: a.code }, `${c.stdout}${c.stderr}\n${a.stdout}${a.stderr}`).toEqual({ caller: 0, callee: 0 });
    expect(summaryOf(c).tone?.hz).toBe(1000);
    expect(summaryOf(a).tone?.hz).toBe(440);
  }, 30_000);

  it('Opus toward Tandem, PCMA toward the answerer: transcoded both ways, digits converted from 48 kHz to 8 kHz events', async () => {
    const port = await freeUdpPort();
    const sip = await startB2bua(`sip:127.0.0.1:${port}`, { bCodecs: ['PCMA'] });
    const answer = cli(['answer', '--listen', `udp:127.0.0.1:${port}`, '--codecs', 'PCMA', '--answer-timeout', '15', '--json'], /listening on/);
    await answer.ready;
    const call = cli(['call', `sip:100@127.0.0.1:${sip}`, '--codecs', 'opus', '--tone', '600', '--dtmf', '7', '--duration', '3', '--json']);
    const [c, a] = await Promise.all([call.done, answer.done]);
    const caller = summaryOf(c);
    const callee = summaryOf(a);
    expect({ caller: c.code, callee: a.code }, `${c.stdout}${c.stderr}\n${a.stdout}${a.stderr}`).toEqual({ caller: 0, callee: 0 });
    expect(caller.codec).toMatchObject({ name: 'opus', clockRate: 48000 });
    expect(callee.codec).toMatchObject({ name: 'PCMA', clockRate: 8000 });
    expect(caller.tone?.hz).toBeGreaterThanOrEqual(999);
    expect(caller.tone?.hz).toBeLessThanOrEqual(1001);
    expect(callee.tone?.hz).toBeGreaterThanOrEqual(599);
    expect(callee.tone?.hz).toBeLessThanOrEqual(601);
    expect(callee.received.digits).toBe('7');
  }, 30_000);

  it('exit 4 when nothing listens at the target (a closed port), with the INVITE in the timeline', async () => {
    const dead = await freeUdpPort();
    const r = await cli(['call', `sip:100@127.0.0.1:${dead}`, '--answer-timeout', '2', '--json']).done;
    expect(r.code).toBe(4);
    const s = summaryOf(r);
    expect(s).toMatchObject({ connected: false, reason: 'no response within 2 s' });
    expect(s.timeline.map((e) => e.event)).toEqual(['→ INVITE']);
  }, 30_000);

  it('exit 2 with a message naming the option for bad input', async () => {
    const cases: [string[], RegExp][] = [
      [['call', 'sip:100@127.0.0.1', '--play', '/nonexistent.wav'], /--play \/nonexistent.wav: cannot read/],
      [['call', 'sip:100@127.0.0.1', '--play', TANDEM_CLI], /not a WAV file/],
      [['call', 'http://example.com/'], /only sip: and sips: URIs/],
      [['call', 'sip:100@127.0.0.1', '--duration', 'ten'], /--duration: "ten" is not a whole number/],
      [['answer', '--listen', 'udp:127.0.0.1'], /--listen: "udp:127.0.0.1" is not udp:IP:PORT/],
    ];
    for (const [args, why] of cases) {
      const r = await cli(args).done;
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(why);
    }
  }, 30_000);
});

describeWithPeers('tandem call over TLS → Tandem → tandem answer', ['openssl'], () => {
  let cert = '';
  let key = '';
  beforeAll(() => {
    const dir = makeTempDir('call-tls');
    cert = join(dir, 'tandem.pem');
    key = join(dir, 'tandem.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=tandem', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  });

  it('connects with --tls-ca naming Tandem\'s certificate; without it the certificate is refused (exit 4)', async () => {
    const port = await freeUdpPort();
    const sip = await startB2bua(`sip:127.0.0.1:${port}`, { tlsCert: cert, tlsKey: key }, 'tls');
    const refused = await cli(['call', `sips:100@127.0.0.1:${sip}`, '--answer-timeout', '5', '--json']).done;
    expect(refused.code).toBe(4);
    expect(summaryOf(refused).reason).toMatch(/transport error: tls connect to 127\.0\.0\.1:\d+ failed/);
    const answer = cli(['answer', '--listen', `udp:127.0.0.1:${port}`, '--answer-timeout', '15', '--json'], /listening on/);
    await answer.ready;
    const call = cli(['call', `sip:100@127.0.0.1:${sip}`, '--transport', 'tls', '--tls-ca', cert, '--duration', '2', '--json']);
    const [c, a] = await Promise.all([call.done, answer.done]);
    expect({ caller: c.code, callee: a.code }, `${c.stdout}${c.stderr}\n${a.stdout}${a.stderr}`).toEqual({ caller: 0, callee: 0 });
    expect(summaryOf(c).tone?.hz).toBe(1000);
  }, 30_000);
});
