// Scenario (run inside a private network namespace by webrtc-browser.test.ts):
// JsSIP in Chromium registers at Tandem's registrar over WSS, then a SIPp caller that speaks PCMU
// over UDP calls its address-of-record. The route's target is "registered", so Tandem sends the
// INVITE back over the browser's own WebSocket (its flow). Leg A (SIPp) is held to plain PCMU,
// leg B (the browser) to Opus with DTLS-SRTP: Tandem offers the browser WebRTC and transcodes.
// The browser's microphone plays 1000 Hz, SIPp plays a 440 Hz PCMU pcap; dumpcap records what
// reaches SIPp. The browser hangs up; SIPp answers the BYE and exits.
// With the argument `untrusted`, 127.0.0.0/8 is not --trusted and there is no authentication: the
// REGISTER must be refused 403 and nothing bound (then no call is placed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestTandem } from '../../helpers/tandem.js';
import { goertzelAmplitude, tone } from '../../helpers/audio.js';
import { decodeUlaw, encodeUlaw } from '../../../src/media/codecs/g711.js';
import { rtpPcapFrom, startCapture } from '../helpers/pcap.js';
import { receivedMessages, startSipp, type SippResult } from '../helpers/sipp-run.js';
import { startBrowser, writeToneWav, type Listened, type RtcState } from './browser.js';

export interface SipRegisteredResult {
  /** what the REGISTER came to, as JsSIP saw it (`registered` or `registrationFailed`). */
  register: { status: number; contact?: string; cause?: string };
  /** Tandem's bindings of the AOR after the REGISTER and after the call. */
  bindings: { contact: string; flowProtocol: string; connectionBound: boolean }[];
  bindingsAfterCall: number;
  /** after Chromium is closed without unregistering: its WebSocket is gone, so must its binding be. */
  bindingsAfterBrowserGone: number;
  registrarCounters: Record<string, number>;
  /** the incoming call as the browser got it: Tandem's offer, its answer, the Request-URI. */
  browserOffer: string;
  browserAnswer: string;
  browserRuri: string;
  /** the 200 OK SIPp received for its INVITE (leg A's answer). */
  callerAnswer: string;
  caller: { exitCode: number | null; packets: number; payloadTypes: number[]; amp: Record<string, number> };
  browser: { heard: Listened; state: RtcState; hangup: string };
  callsLeft: number;
  log: string[];
}

/** What the scenario reports when the REGISTER did not bind (no call is placed then). */
export type SipRegisterRefused = Pick<SipRegisteredResult, 'register' | 'bindings' | 'registrarCounters' | 'log'>;

const BROWSER_HZ = 1000;
const CALLER_HZ = 440;
const CALLER_SIP = 5080;
const CALLER_MEDIA = 6000;
const AOR_USER = 'browser';
const log = (m: string): void => void process.stderr.write(`[sip-registered] ${m}\n`);

async function main(): Promise<void> {
  const trusted = process.argv[2] !== 'untrusted';
  const dir = mkdtempSync(join(tmpdir(), 'tandem-reg-'));
  const wav = join(dir, 'mic.wav');
  writeToneWav(wav, { hz: BROWSER_HZ, rate: 48000, seconds: 10, amplitude: 0.3 });
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const routes = join(dir, 'routes.json');
  writeFileSync(routes, JSON.stringify({
    routes: [{
      name: 'phone-to-browser',
      match: {},
      targets: [{ uri: 'registered' }],
      policy: { a: { codecs: ['PCMU'], srtp: 'none' }, b: { codecs: ['opus'], srtp: 'dtls' } },
    }],
  }));
  const payloads = Array.from({ length: 400 }, (_, i) => {
    const b = new Uint8Array(160);
    encodeUlaw(tone(CALLER_HZ, 8000, 160, 8000, i * 160), b);
    return Buffer.from(b);
  });
  const pcap = rtpPcapFrom(join(dir, 'caller-440.pcap'), { payloadType: 0, payloads, samplesPerPacket: 160 });

  const tandem = await startTestTandem({
    listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }, { protocol: 'wss', address: '127.0.0.1', port: 0 }],
    routesFile: routes,
    tlsCert: cert,
    tlsKey: key,
    registrar: true,
    // Until digest authentication lands, only a trusted source may register. With it, drop this
    // line, give Tandem the browser's credentials and the page's UA its password (sipRegister).
    trusted: trusted ? ['127.0.0.0/8'] : [],
  });
  const registrar = tandem.t.sip?.registrar;
  const wss = tandem.t.sip?.listeners.find((l) => l.protocol === 'wss');
  const udp = tandem.t.sip?.listeners.find((l) => l.protocol === 'udp');
  if (registrar === undefined || wss === undefined || udp === undefined) throw new Error('Tandem has no registrar, WSS or UDP listener');
  const browser = await startBrowser({ wav });
  let browserOpen = true;
  let capture: Awaited<ReturnType<typeof startCapture>> | undefined;
  let caller: ReturnType<typeof startSipp> | undefined;
  let sipp: SippResult | undefined;
  try {
    const register = (await browser.page.evaluate(`sipRegister(${JSON.stringify(`wss://127.0.0.1:${wss.port}`)}, 'sip:${AOR_USER}@127.0.0.1')`)) as SipRegisteredResult['register'];
    log(`REGISTER: ${JSON.stringify(register)}`);
    const bindings = (await registrar.lookup(AOR_USER, '127.0.0.1')).map((b) => ({ contact: b.contact, flowProtocol: b.flow.protocol, connectionBound: b.connectionBound }));
    if (register.status !== 200 || bindings.length === 0) {
      // Nothing to call: report what happened rather than wait for a call that cannot come.
      const refused: SipRegisterRefused = { register, bindings, registrarCounters: { ...registrar.counters }, log: browser.log };
      process.stdout.write(`RESULT ${JSON.stringify(refused)}\n`);
      return;
    }
    capture = await startCapture({ ports: [CALLER_MEDIA], timeoutMs: 40_000 });
    caller = startSipp({
      scenario: 'uac-pcmu-play-wait-bye.xml',
      tokens: { PCAP: pcap },
      remote: `127.0.0.1:${udp.port}`,
      localPort: CALLER_SIP,
      mediaPort: CALLER_MEDIA,
      service: AOR_USER,
      timeoutMs: 30_000,
    });
    const call = (await browser.page.evaluate('sipAnswered(15000)')) as { offer: string; answer: string; ruri: string };
    log('call confirmed');
    await new Promise((r) => setTimeout(r, 1500));
    const heard = (await browser.page.evaluate(`listen(2500, [${CALLER_HZ}, ${BROWSER_HZ}])`)) as Listened;
    const state = (await browser.page.evaluate('rtcState()')) as RtcState;
    const hangup = String(await browser.page.evaluate('sipHangup()'));
    sipp = await caller.done;
    const captured = await capture.stop();
    const toCaller = captured.filter((p) => p.dstPort === CALLER_MEDIA);
    const tail = toCaller.filter((p) => p.payloadType === 0).slice(-100);
    const samples = new Int16Array(tail.length * 160);
    tail.forEach((p, i) => decodeUlaw(new Uint8Array(p.payload.buffer, p.payload.byteOffset, Math.min(p.payload.length, 160)), samples.subarray(i * 160, i * 160 + 160)));
    const amp: Record<string, number> = {};
    for (const f of [CALLER_HZ, BROWSER_HZ, 1500, 2500]) amp[f] = goertzelAmplitude(samples, f, 8000);
    const callerAnswer = receivedMessages(sipp.messages).find((m) => m.startsWith('SIP/2.0 200') && /^CSeq:\s*1 INVITE/im.test(m)) ?? '';
    // The BYE went both ways; the media plane lets the call go (bounded wait).
    const deadline = Date.now() + 3000;
    while ((await tandem.t.media.list()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const bindingsAfterCall = (await registrar.lookup(AOR_USER, '127.0.0.1')).length;
    // JsSIP does not unregister when its page goes away: the closing connection alone must drop
    // the binding (bounded wait; bindingsAfterCall above is the positive control).
    browserOpen = false;
    await browser.close();
    const gone = Date.now() + 3000;
    while ((await registrar.lookup(AOR_USER, '127.0.0.1')).length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    const result: SipRegisteredResult = {
      register,
      bindings,
      bindingsAfterCall,
      bindingsAfterBrowserGone: (await registrar.lookup(AOR_USER, '127.0.0.1')).length,
      registrarCounters: { ...registrar.counters },
      browserOffer: call.offer,
      browserAnswer: call.answer,
      browserRuri: call.ruri,
      callerAnswer,
      caller: { exitCode: sipp.exitCode, packets: toCaller.length, payloadTypes: [...new Set(toCaller.map((p) => p.payloadType))], amp },
      browser: { heard, state, hangup },
      callsLeft: (await tandem.t.media.list()).length,
      log: browser.log,
    };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    caller?.kill();
    if (caller !== undefined && sipp === undefined) log(`sipp: ${(await caller.done).output.slice(-2000)}`);
    await capture?.stop().catch(() => []);
    if (browserOpen) await browser.close();
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
