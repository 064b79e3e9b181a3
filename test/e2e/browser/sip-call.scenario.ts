// Scenario (run inside a private network namespace by webrtc-browser.test.ts):
// JsSIP in Chromium calls over WSS through Tandem's B2BUA to a SIPp callee that speaks PCMU over
// UDP. Leg A is held to Opus (DTLS-SRTP, ICE-lite, rtcp-mux toward the browser) and leg B to
// plain PCMU, so the media plane transcodes Opus ↔ PCMU. The browser's microphone plays 1000 Hz,
// SIPp plays a 440 Hz PCMU pcap; dumpcap records what reaches SIPp.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestTandem } from '../../helpers/tandem.js';
import { goertzelAmplitude, tone } from '../../helpers/audio.js';
import { decodeUlaw, encodeUlaw } from '../../../src/media/codecs/g711.js';
import { rtpPcapFrom, startCapture } from '../helpers/pcap.js';
import { startSipp, type SippResult } from '../helpers/sipp-run.js';
import { startBrowser, writeToneWav, type Listened, type RtcState } from './browser.js';

export interface SipCallResult {
  /** the SDP the browser sent and the one it got back (from JsSIP's RTCPeerConnection). */
  browserOffer: string;
  browserAnswer: string;
  /** the INVITE SIPp received (leg B). */
  legBInvite: string;
  callee: { exitCode: number | null; packets: number; payloadTypes: number[]; amp: Record<string, number> };
  browser: { heard: Listened; state: RtcState; hangup: string };
  callsLeft: number;
  log: string[];
}

const BROWSER_HZ = 1000;
const CALLEE_HZ = 440;
const CALLEE_SIP = 5070;
const CALLEE_MEDIA = 6000;
const log = (m: string): void => void process.stderr.write(`[sip-call] ${m}\n`);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-wss-'));
  const wav = join(dir, 'mic.wav');
  writeToneWav(wav, { hz: BROWSER_HZ, rate: 48000, seconds: 10, amplitude: 0.3 });
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const routes = join(dir, 'routes.json');
  writeFileSync(routes, JSON.stringify({
    routes: [{
      name: 'browser-to-phone',
      match: {},
      targets: [{ uri: `sip:127.0.0.1:${CALLEE_SIP}` }],
      policy: { a: { codecs: ['opus'] }, b: { codecs: ['PCMU'], transcode: true, srtp: 'none' } },
    }],
  }));
  const payloads = Array.from({ length: 400 }, (_, i) => {
    const b = new Uint8Array(160);
    encodeUlaw(tone(CALLEE_HZ, 8000, 160, 8000, i * 160), b);
    return Buffer.from(b);
  });
  const pcap = rtpPcapFrom(join(dir, 'callee-440.pcap'), { payloadType: 0, payloads, samplesPerPacket: 160 });

  const tandem = await startTestTandem({
    listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }, { protocol: 'wss', address: '127.0.0.1', port: 0 }],
    routesFile: routes,
    tlsCert: cert,
    tlsKey: key,
  });
  const wss = tandem.t.sip?.listeners.find((l) => l.protocol === 'wss');
  if (wss === undefined) throw new Error('no WSS listener');
  const capture = await startCapture({ ports: [CALLEE_MEDIA], timeoutMs: 40_000 });
  const callee = startSipp({ scenario: 'uas-pcmu-play.xml', tokens: { PCAP: pcap }, localPort: CALLEE_SIP, mediaPort: CALLEE_MEDIA, timeoutMs: 30_000 });
  const browser = await startBrowser({ wav });
  let sipp: SippResult | undefined;
  try {
    const call = (await browser.page.evaluate(`sipCall(${JSON.stringify(`wss://127.0.0.1:${wss.port}`)}, 'sip:callee@127.0.0.1')`)) as { offer: string; answer: string };
    log('call confirmed');
    await new Promise((r) => setTimeout(r, 1500));
    const heard = (await browser.page.evaluate(`listen(2500, [${CALLEE_HZ}, ${BROWSER_HZ}])`)) as Listened;
    const state = (await browser.page.evaluate('rtcState()')) as RtcState;
    const hangup = String(await browser.page.evaluate('sipHangup()'));
    sipp = await callee.done;
    const captured = await capture.stop();
    const toCallee = captured.filter((p) => p.dstPort === CALLEE_MEDIA);
    const tail = toCallee.filter((p) => p.payloadType === 0).slice(-100);
    const samples = new Int16Array(tail.length * 160);
    tail.forEach((p, i) => decodeUlaw(new Uint8Array(p.payload.buffer, p.payload.byteOffset, Math.min(p.payload.length, 160)), samples.subarray(i * 160, i * 160 + 160)));
    const amp: Record<string, number> = {};
    for (const f of [CALLEE_HZ, BROWSER_HZ, 1500, 2500]) amp[f] = goertzelAmplitude(samples, f, 8000);
    const invite = sipp.messages.split(/-{10,}/).find((m) => /^\s*INVITE /m.test(m) && /received/i.test(m)) ?? sipp.messages.slice(0, 3000);
    // BYE went both ways; the media plane lets the call go.
    const deadline = Date.now() + 3000;
    while ((await tandem.t.media.list()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const result: SipCallResult = {
      browserOffer: call.offer,
      browserAnswer: call.answer,
      legBInvite: invite,
      callee: { exitCode: sipp.exitCode, packets: toCallee.length, payloadTypes: [...new Set(toCallee.map((p) => p.payloadType))], amp },
      browser: { heard, state, hangup },
      callsLeft: (await tandem.t.media.list()).length,
      log: browser.log,
    };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    callee.kill();
    if (sipp === undefined) log(`sipp: ${(await callee.done).output.slice(-2000)}`);
    await capture.stop().catch(() => []);
    await browser.close();
    await tandem.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
