// End to end with SIPp from Debian (sip-tester): a PCMA-only caller playing a pcap calls a
// PCMU-only callee with -rtp_echo through Tandem's B2BUA. dumpcap records what really crossed the
// loopback, so "transcoded both ways" is checked on the wire, byte by byte. Every flow runs twice:
// with the in-process media plane, and with --media=ng: pointed at Debian's rtpengine.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig, type TandemConfig } from '../../src/config/config.js';
import { ALAW_TO_ULAW, ULAW_TO_ALAW } from '../../src/media/codecs/g711.js';
import { freeUdpPort, makeTempDir, randomPortRange } from './helpers/proc.js';
import { describeWithPeers, type PeerName } from '../helpers/peers.js';
import { startMediaServer, type MediaServer } from './helpers/media-servers.js';
import { receivedMessages, startSipp, type SippResult, sippMediaPort, explainSipp } from './helpers/sipp-run.js';
import { deriveRtpPcap, rtpPayloads, startCapture, type CapturedRtp } from './helpers/pcap.js';
import { soxG711Tables } from './helpers/rtp.js';

const G711A_PCAP = '/usr/share/sip-tester/g711a.pcap';
const PACKETS = 50; // 1.5 s of the pcap's 30 ms packets
const PLAY_MS = 1900;
const TIMEOUT_MS = 20_000;

type MediaKind = 'local' | 'rtpengine';
const kinds: MediaKind[] = ['local', 'rtpengine'];
const peersFor = (kind: MediaKind): PeerName[] => ['sipp', 'dumpcap', 'sox', ...(kind === 'rtpengine' ? (['rtpengine'] as const) : [])];

function byteTable(fn: () => Uint8Array | Buffer): Buffer {
  return Buffer.from(fn());
}

for (const kind of kinds) describeWithPeers(`SIPp through the B2BUA, media plane: ${kind}`, peersFor(kind), () => {
  let rtpengine: MediaServer | undefined;
  let tandem: RunningTandem | undefined;
  let pcapA = '';
  let pcapU = '';
  const PCMU_SSRC = 0x00c0de01;
  let pcapLong = '';
  const A2U = byteTable(ALAW_TO_ULAW);
  const U2A = byteTable(ULAW_TO_ALAW);
  const logDir = makeTempDir(`sipp-${kind}`);

  beforeAll(async () => {
    pcapA = deriveRtpPcap(G711A_PCAP, { count: PACKETS });
    pcapU = deriveRtpPcap(G711A_PCAP, { count: PACKETS, table: A2U, payloadType: 0, ssrc: PCMU_SSRC });
    pcapLong = deriveRtpPcap(G711A_PCAP, { count: 130 });
    if (kind === 'rtpengine') rtpengine = await startMediaServer('rtpengine', logDir);
    return async () => {
      await rtpengine?.stop();
    };
  });

  afterEach(async () => {
    await tandem?.close();
    tandem = undefined;
  });

  async function startB2bua(over: Partial<TandemConfig>): Promise<{ udp: number; tcp: number }> {
    const ports = randomPortRange(200);
    tandem = await startTandem(
      {
        ...defaultConfig(),
        listenNg: { address: '127.0.0.1', port: 0 },
        listenSip: [
          { protocol: 'udp', address: '127.0.0.1', port: 0 },
          { protocol: 'tcp', address: '127.0.0.1', port: 0 },
        ],
        portMin: ports.min,
        portMax: ports.max,
        numThreads: 1,
        logLevel: 'silent',
        media: kind === 'rtpengine' && rtpengine !== undefined ? { kind: 'ng', address: rtpengine.ng.host, port: rtpengine.ng.port } : { kind: 'local' },
        ...over,
      },
      pino({ level: process.env.TANDEM_TEST_LOG ?? 'silent' }),
    );
    const l = tandem.sip?.listeners ?? [];
    return { udp: l.find((x) => x.protocol === 'udp')?.port ?? 0, tcp: l.find((x) => x.protocol === 'tcp')?.port ?? 0 };
  }

  /** What the media plane the B2BUA uses still holds (must be nothing after a call). */
  async function mediaCalls(): Promise<string[]> {
    return (await tandem?.sip?.media.list(1000)) ?? [];
  }

  function sdpOfFirst(r: SippResult, startLine: RegExp): string {
    const m = receivedMessages(r.messages).find((x) => startLine.test(x.trimStart()));
    return m ?? '';
  }

  /** Byte-exact: every received payload equals the expected one (Tandem's tables equal sox's). */
  function expectPayloads(got: CapturedRtp[], want: Buffer[]): void {
    expect(got.length).toBeGreaterThanOrEqual(want.length - 2);
    const differing: string[] = [];
    for (let i = 0; i < Math.min(got.length, want.length); i++)
      if (!got[i].payload.equals(want[i])) differing.push(`#${i}/${want.length} pt=${got[i].payloadType} seq=${got[i].seq} ts=${got[i].timestamp} at=${got[i].atMs.toFixed(1)}ms equals want[${want.findIndex((w) => w.equals(got[i].payload))}]`);
    expect(differing, 'packets whose payload differs').toEqual([]);
  }

  /**
   * A→µ→A round trip as rtpengine does it: each hop may use sox's rounding or the nearest level
   * (ffmpeg's tables; they differ by one step on 46 µ-law codes), so each byte must be one of
   * those outcomes. Tandem itself is held to sox exactly (expectPayloads).
   */
  function expectRoundTripEitherRounding(got: CapturedRtp[], played: Buffer[]): void {
    const t = soxG711Tables();
    expect(got.length).toBeGreaterThanOrEqual(played.length - 2);
    let bad = 0;
    for (let i = 0; i < Math.min(got.length, played.length); i++) {
      for (let j = 0; j < played[i].length; j++) {
        const c = played[i][j];
        const firstHop = new Set([A2U[c], ...t.alawToUlawNearest[c]]);
        const ok = new Set([...firstHop].flatMap((u) => [U2A[u], ...t.ulawToAlawNearest[u]]));
        if (!ok.has(got[i].payload[j])) bad++;
      }
    }
    expect(bad, 'bytes that are no G.711 round trip of what was played').toBe(0);
  }

  /**
   * One call through the B2BUA: the callee (with -rtp_echo) starts first, then the caller; dumpcap
   * watches both media ports. Both SIPp runs must succeed; returns what each saw and what crossed the wire.
   */
  async function callThrough(o: {
    to: number;
    transport?: 'u1' | 't1';
    calleePort: number;
    caller: { scenario: string; tokens?: Record<string, string | number> };
    callee: { scenario: string; tokens?: Record<string, string | number> };
  }): Promise<{ caller: SippResult; callee: SippResult; toCallee: CapturedRtp[]; toCaller: CapturedRtp[] }> {
    const callerMedia = sippMediaPort();
    const calleeMedia = callerMedia + 2000;
    const cap = await startCapture({ ports: [callerMedia, calleeMedia], timeoutMs: TIMEOUT_MS });
    const callee = startSipp({ ...o.callee, localPort: o.calleePort, mediaPort: calleeMedia, rtpEcho: true, timeoutMs: TIMEOUT_MS });
    const caller = startSipp({
      ...o.caller,
      remote: `127.0.0.1:${o.to}`,
      ...(o.transport !== undefined ? { transport: o.transport } : {}),
      localPort: await freeUdpPort(),
      mediaPort: callerMedia,
      service: '100',
      timeoutMs: TIMEOUT_MS,
    });
    const [a, b] = await Promise.all([caller.done, callee.done]);
    const packets = await cap.stop();
    expect({ caller: a.exitCode, callee: b.exitCode }, explainSipp({ caller: a, callee: b })).toEqual({ caller: 0, callee: 0 });
    return { caller: a, callee: b, toCallee: packets.filter((p) => p.dstPort === calleeMedia), toCaller: packets.filter((p) => p.dstPort === callerMedia) };
  }

  it('PCMA caller ↔ PCMU callee: call connects, media is transcoded both ways, BYE tears down, media freed', async () => {
    const calleePort = await freeUdpPort();
    const sip = await startB2bua({ route: `sip:127.0.0.1:${calleePort}`, bCodecs: ['PCMU'] });
    const { caller: a, callee: b, toCallee, toCaller } = await callThrough({
      to: sip.udp,
      calleePort,
      callee: { scenario: 'uas-pcmu.xml' },
      caller: { scenario: 'uac-pcma.xml', tokens: { PCAP: pcapA, PLAY_MS } },
    });

    // Each side saw only its own codec in the SDP it received.
    const calleeInvite = sdpOfFirst(b, /^INVITE /);
    expect(calleeInvite).toMatch(/m=audio \d+ RTP\/AVP 0 101/);
    expect(calleeInvite).not.toMatch(/PCMA/);
    expect(calleeInvite).toMatch(/^Subject: Tandem e2e/m);
    expect(calleeInvite).not.toMatch(/^User-Agent: SIPp caller/m);
    const callerOk = sdpOfFirst(a, /^SIP\/2\.0 200 OK[\s\S]*CSeq: 1 INVITE/);
    expect(callerOk).toMatch(/m=audio \d+ RTP\/AVP 8 101/);

    // On the wire: the caller's PCMA arrives at the callee as PCMU (A→µ table), and the callee's
    // echo comes back to the caller as PCMA again (µ→A table).
    const played = rtpPayloads(pcapA);
    expect(new Set(toCallee.map((p) => p.payloadType))).toEqual(new Set([0]));
    expect(new Set(toCaller.map((p) => p.payloadType))).toEqual(new Set([8]));
    expectPayloads(toCallee, played.map((x) => Buffer.from(x.map((c) => A2U[c]))));
    if (kind === 'local') expectPayloads(toCaller, played.map((x) => Buffer.from(x.map((c) => U2A[A2U[c]]))));
    else expectRoundTripEitherRounding(toCaller, played);

    await expect.poll(mediaCalls, { timeout: 3000 }).toEqual([]);
    if (kind === 'local') expect((await tandem?.media.statistics())?.sessions).toBe(0);
  }, 30_000);

  it('CANCEL before answer: 487 to the caller, CANCEL reaches the callee, nothing left in the media plane', async () => {
    const calleePort = await freeUdpPort();
    const sip = await startB2bua({ route: `sip:127.0.0.1:${calleePort}` });
    const callee = startSipp({ scenario: 'uas-ring.xml', localPort: calleePort, mediaPort: sippMediaPort(), timeoutMs: TIMEOUT_MS });
    const caller = startSipp({ scenario: 'uac-cancel.xml', remote: `127.0.0.1:${sip.udp}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', timeoutMs: TIMEOUT_MS });
    const [a, b] = await Promise.all([caller.done, callee.done]);
    expect({ caller: a.exitCode, callee: b.exitCode }, explainSipp({ caller: a, callee: b })).toEqual({ caller: 0, callee: 0 });
    await expect.poll(mediaCalls, { timeout: 3000 }).toEqual([]);
  }, 30_000);

  it('re-INVITEs from the caller (hold, resume, codec change to PCMU): media flows after each', async () => {
    const calleePort = await freeUdpPort();
    const sip = await startB2bua({ route: `sip:127.0.0.1:${calleePort}`, bCodecs: ['PCMU'] });
    const { callee: b, toCallee, toCaller } = await callThrough({
      to: sip.udp,
      calleePort,
      callee: { scenario: 'uas-pcmu.xml' },
      caller: { scenario: 'uac-reinvite.xml', tokens: { PCAP: pcapA, PCAP2: pcapU, PLAY_MS, STEP_MS: 300 } },
    });
    const invites = receivedMessages(b.messages).filter((m) => /^\s*INVITE /.test(m));
    expect(invites).toHaveLength(4);
    expect(invites[1]).toMatch(/a=sendonly/);
    expect(invites[2]).toMatch(/a=sendrecv/);
    // Leg B keeps its policy through every re-INVITE: PCMU only.
    for (const inv of invites) expect(inv).toMatch(/m=audio \d+ RTP\/AVP 0 101/);
    // After the codec change the caller sends PCMU: it now passes through untouched to the callee.
    // The PCMU play has an SSRC of its own: on a loaded machine SIPp may send the BYE before its
    // last packet, so "the last N packets" could reach back into the first (PCMA) play.
    const pcmuPlayed = rtpPayloads(pcapU);
    expectPayloads(toCallee.filter((p) => p.ssrc === PCMU_SSRC), pcmuPlayed);
    expect(toCaller.slice(-10).every((p) => p.payloadType === 0)).toBe(true);
    await expect.poll(mediaCalls, { timeout: 3000 }).toEqual([]);
  }, 30_000);

  it('re-INVITEs from the callee (hold, resume, codec change to PCMA): the caller keeps PCMA, media flows after each', async () => {
    const calleePort = await freeUdpPort();
    const sip = await startB2bua({ route: `sip:127.0.0.1:${calleePort}`, bCodecs: ['PCMU'] });
    const { caller: a, toCallee } = await callThrough({
      to: sip.udp,
      calleePort,
      callee: { scenario: 'uas-reinvite.xml', tokens: { STEP_MS: 400, PLAY_MS: 1500 } },
      caller: { scenario: 'uac-answer-reinvites.xml', tokens: { PCAP: pcapLong } },
    });
    const reinvites = receivedMessages(a.messages).filter((m) => /^\s*INVITE /.test(m));
    expect(reinvites).toHaveLength(3);
    expect(reinvites[0]).toMatch(/a=sendonly/);
    expect(reinvites[1]).toMatch(/a=sendrecv/);
    // The caller never sees a codec it did not offer: PCMA (and DTMF) in every re-offer.
    for (const inv of reinvites) expect(inv).toMatch(/m=audio \d+ RTP\/AVP 8 101/);
    // Media keeps flowing to the callee after the last re-INVITE, now as PCMA (its new codec).
    const tail = toCallee.slice(-10);
    expect(tail).toHaveLength(10);
    expect(tail.every((p) => p.payloadType === 8)).toBe(true);
    await expect.poll(mediaCalls, { timeout: 3000 }).toEqual([]);
  }, 30_000);

  it('fails over: the first target answers 503, the second takes the call', async () => {
    const first = await freeUdpPort();
    const second = await freeUdpPort();
    const routes = join(logDir, `routes-${first}.json`);
    writeFileSync(
      routes,
      JSON.stringify({
        routes: [
          {
            name: 'pair',
            targets: [
              { uri: `sip:127.0.0.1:${first}`, priority: 1 },
              { uri: `sip:127.0.0.1:${second}`, priority: 2 },
            ],
            policy: { b: { codecs: ['PCMU'] } },
          },
        ],
      }),
    );
    const sip = await startB2bua({ routesFile: routes });
    const down = startSipp({ scenario: 'uas-503.xml', localPort: first, mediaPort: sippMediaPort(), timeoutMs: TIMEOUT_MS });
    const up = startSipp({ scenario: 'uas-pcmu.xml', localPort: second, mediaPort: sippMediaPort(), rtpEcho: true, timeoutMs: TIMEOUT_MS });
    const caller = startSipp({ scenario: 'uac-pcma.xml', tokens: { PCAP: pcapA, PLAY_MS: 500 }, remote: `127.0.0.1:${sip.udp}`, localPort: await freeUdpPort(), mediaPort: sippMediaPort(), service: '100', timeoutMs: TIMEOUT_MS });
    const [a, d, u] = await Promise.all([caller.done, down.done, up.done]);
    expect({ caller: a.exitCode, first: d.exitCode, second: u.exitCode }, explainSipp({ caller: a, first: d, second: u })).toEqual({ caller: 0, first: 0, second: 0 });
    await expect.poll(mediaCalls, { timeout: 3000 }).toEqual([]);
  }, 30_000);

  it('a TCP caller reaches a UDP callee, with media transcoded', async () => {
    const calleePort = await freeUdpPort();
    const sip = await startB2bua({ route: `sip:127.0.0.1:${calleePort};transport=udp`, bCodecs: ['PCMU'] });
    const { caller: a, callee: b, toCallee } = await callThrough({
      to: sip.tcp,
      transport: 't1',
      calleePort,
      callee: { scenario: 'uas-pcmu.xml' },
      caller: { scenario: 'uac-pcma.xml', tokens: { PCAP: pcapA, PLAY_MS } },
    });
    expect(a.messages).toMatch(/TCP message received/);
    expect(b.messages).toMatch(/UDP message received/);
    expectPayloads(toCallee, rtpPayloads(pcapA).map((x) => Buffer.from(x.map((c) => A2U[c]))));
    await expect.poll(mediaCalls, { timeout: 3000 }).toEqual([]);
  }, 30_000);
});
