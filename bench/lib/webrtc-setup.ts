/**
 * `--dtls-setup N`: how long a WebRTC call takes to carry audio, from the ng `offer` to the first SRTP
 * packet the browser side decrypts that came from the plain side through the server.
 *
 * Per call the generator plays both ends:
 * - **the browser**: a UDP socket, a browser-like offer (UDP/TLS/RTP/SAVPF, Opus on PT 111, a=fingerprint
 *   of a P-256 certificate, a=setup:actpass, ICE ufrag/pwd and one host candidate, rtcp-mux, BUNDLE/mid).
 *   After the answer it does what a controlling full-ICE agent with aggressive nomination does: Binding
 *   requests (USE-CANDIDATE, ICE-CONTROLLING, MESSAGE-INTEGRITY with the answer's ice-pwd, FINGERPRINT)
 *   every STUN_RTO_MS until a success response, and it answers the server's own checks (a full-ICE
 *   server such as rtpengine checks too). Once its check succeeded it starts DTLS as client (the
 *   server answered a=setup:passive), with Tandem's DtlsEndpoint (werift's handshake with Tandem's 5 ms
 *   flight polling, the server certificate checked against the answer's a=fingerprint). Then it decrypts
 *   what arrives with the exported keys (Tandem's SrtpContext) and sends SRTP Opus every 20 ms itself.
 * - **the callee**: plain RTP/AVP PCMA, answering the server's offer and sending a 20 ms packet at once
 *   and every 20 ms after, from the moment it answered.
 *
 * Times per call (performance.now()): t0 offer sent; answer received (ng: both round trips); ICE: the
 * first Binding success; DTLS: keys exported; media: the first SRTP packet that authenticates and
 * decrypts. The server transcodes (codec mask opus, transcode PCMA), so "media" includes its first Opus
 * encode and up to one 20 ms packet interval of the callee.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BDict } from '../../src/control/bencode.js';
import { createDtlsCertificate, DtlsEndpoint, type DtlsCertificate } from '../../src/media/rtp/dtls.js';
import { SrtpContext } from '../../src/media/rtp/srtp.js';
import { ATTR, attribute, encodeXorMappedAddress, isStun, parseStun, serializeStun, STUN_TYPE, verifyMessageIntegrity } from '../../src/media/rtp/stun.js';
import { codecMedia } from './calls.js';
import { expectOk, NgClient } from './ng.js';
import { OpusStreamDecoder } from './opus.js';
import type { ServerHandle } from './server.js';

/** How often an unanswered Binding request is sent again (browsers pace checks at 50 ms). */
export const STUN_RTO_MS = 50;
/** A call that has not decrypted a packet by then fails. */
export const SETUP_TIMEOUT_MS = 5000;

/**
 * ng keys on the browser's offer, as a Kamailio WebRTC gateway sends them (`rtpengine_offer("RTP/AVP
 * ICE=remove rtcp-mux-demux …")`): plain RTP/AVP toward the callee without ICE or rtcp-mux (both stay
 * toward the browser), Opus masked and PCMA added. `ice: 'keep'` leaves the ICE key out (the server's
 * default for an offerer that does ICE).
 */
export function webrtcOfferFlags(ice: 'remove' | 'keep' = 'remove'): BDict {
  return {
    replace: ['origin', 'session-connection'],
    'transport-protocol': 'RTP/AVP',
    ...(ice === 'remove' ? { ICE: 'remove' } : {}),
    'rtcp-mux': ['demux'],
    codec: { mask: ['opus'], transcode: ['PCMA'] },
  };
}

/** …and on the callee's answer: the server takes the passive DTLS role toward the browser (rtpengine's default is active). */
export const WEBRTC_ANSWER_FLAGS: BDict = { replace: ['origin', 'session-connection'], DTLS: 'passive' };

/** The browser's offer (what Chrome sends for one audio track, trimmed to one codec and one candidate). */
export function browserOffer(o: { sessionId: number; port: number; ufrag: string; pwd: string; fingerprint: string }): string {
  return (
    [
      'v=0',
      `o=- ${o.sessionId} 2 IN IP4 127.0.0.1`,
      's=-',
      't=0 0',
      'a=group:BUNDLE 0',
      'a=msid-semantic: WMS',
      `m=audio ${o.port} UDP/TLS/RTP/SAVPF 111`,
      'c=IN IP4 127.0.0.1',
      `a=rtcp:${o.port} IN IP4 127.0.0.1`,
      `a=candidate:1 1 udp 2122260223 127.0.0.1 ${o.port} typ host generation 0`,
      `a=ice-ufrag:${o.ufrag}`,
      `a=ice-pwd:${o.pwd}`,
      `a=fingerprint:${o.fingerprint}`,
      'a=setup:actpass',
      'a=mid:0',
      'a=sendrecv',
      'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 minptime=10;useinbandfec=1',
    ].join('\r\n') + '\r\n'
  );
}

export interface WebrtcAnswer {
  protocol: string;
  address: string;
  port: number;
  payloadTypes: number[];
  fingerprint?: string;
  setup?: string;
  ufrag?: string;
  pwd?: string;
  iceLite: boolean;
  rtcpMux: boolean;
}

/** What the browser needs from the answer: where to send, the DTLS role and fingerprint, ICE credentials. */
export function parseWebrtcAnswer(sdp: string): WebrtcAnswer {
  let protocol = '';
  let port: number | undefined;
  let pts: number[] = [];
  let sessionAddr: string | undefined;
  let mediaAddr: string | undefined;
  const a: Record<string, string> = {};
  let iceLite = false;
  let rtcpMux = false;
  let inAudio = false;
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^m=(\w+) (\d+) (\S+) ?(.*)$/.exec(line);
    if (m) {
      inAudio = m[1] === 'audio' && port === undefined;
      if (inAudio) {
        port = Number(m[2]);
        protocol = m[3];
        pts = m[4].split(' ').filter(Boolean).map(Number);
      }
      continue;
    }
    const c = /^c=IN IP4 (\S+)/.exec(line)?.[1];
    if (c !== undefined) {
      if (port === undefined) sessionAddr = c;
      else if (inAudio) mediaAddr = c;
      continue;
    }
    if (line === 'a=ice-lite') iceLite = true;
    if (line === 'a=rtcp-mux' && inAudio) rtcpMux = true;
    const attr = /^a=(fingerprint|setup|ice-ufrag|ice-pwd):(.*)$/.exec(line);
    // Session-level attributes count unless the audio section has its own.
    if (attr && (port === undefined || inAudio)) a[attr[1]] = attr[2].trim();
  }
  const address = mediaAddr ?? sessionAddr;
  if (port === undefined || address === undefined) throw new Error(`answer without audio address/port:\n${sdp}`);
  return { protocol, address, port, payloadTypes: pts, fingerprint: a.fingerprint, setup: a.setup, ufrag: a['ice-ufrag'], pwd: a['ice-pwd'], iceLite, rtcpMux };
}

/** A Binding request as a controlling agent sends it (RFC 8445 §7.1.1, aggressive nomination). */
export function bindingRequest(o: { remoteUfrag: string; localUfrag: string; remotePwd: string; tieBreaker: Buffer; transactionId?: Buffer }): Buffer {
  const prio = Buffer.alloc(4);
  prio.writeUInt32BE(1853817087); // peer-reflexive priority of a host candidate (type 110, local 65535, component 1)
  return serializeStun(
    {
      type: STUN_TYPE.bindingRequest,
      transactionId: o.transactionId ?? randomBytes(12),
      attributes: [
        { type: ATTR.username, value: Buffer.from(`${o.remoteUfrag}:${o.localUfrag}`) },
        { type: ATTR.priority, value: prio },
        { type: ATTR.iceControlling, value: o.tieBreaker },
        { type: ATTR.useCandidate, value: Buffer.alloc(0) },
      ],
    },
    { integrityKey: Buffer.from(o.remotePwd), fingerprint: true },
  );
}

/**
 * The answer to a peer's Binding request, when it is addressed to us (USERNAME `ours:theirs`) and
 * signed with our password; undefined otherwise.
 */
export function bindingResponse(req: Buffer, from: { address: string; port: number }, localUfrag: string, localPwd: string): Buffer | undefined {
  const p = parseStun(req);
  if (!p.ok || p.message.type !== STUN_TYPE.bindingRequest) return undefined;
  const user = attribute(p.message, ATTR.username)?.toString() ?? '';
  const key = Buffer.from(localPwd);
  if (!user.startsWith(`${localUfrag}:`) || !verifyMessageIntegrity(req, key)) return undefined;
  return serializeStun(
    {
      type: STUN_TYPE.bindingSuccess,
      transactionId: p.message.transactionId,
      attributes: [{ type: ATTR.xorMappedAddress, value: encodeXorMappedAddress({ family: 4, address: from.address, port: from.port }, p.message.transactionId) }],
    },
    { integrityKey: key, fingerprint: true },
  );
}

/** ICE ufrag/pwd as browsers make them: 4 and 24 characters of [A-Za-z0-9+/]. */
function iceString(n: number): string {
  return randomBytes(n).toString('base64').replace(/=/g, '').slice(0, n);
}

export interface SetupTimes {
  /** ms from the offer sent: answer received, ICE check answered, DTLS keys, first packet decrypted */
  answerMs: number;
  iceMs: number;
  dtlsMs: number;
  mediaMs: number;
  /** the first decrypted packet's payload type, and whether it decoded as Opus */
  firstPt: number;
  firstDecodes: boolean;
  /** Binding requests sent before the success, and checks from the server answered */
  stunSent: number;
  serverChecks: number;
  answerIce: 'lite' | 'full' | 'none';
  answerRtcpMux: boolean;
}

function bindUdp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      s.on('error', () => undefined);
      resolve(s);
    });
  });
}

/** One WebRTC call through the server: returns its times, or throws naming the phase that did not finish. */
export async function oneSetup(ng: NgClient, cert: DtlsCertificate, id: string, offerFlags: BDict = webrtcOfferFlags(), timeoutMs = SETUP_TIMEOUT_MS): Promise<SetupTimes> {
  const browser = await bindUdp();
  const callee = await bindUdp();
  const timers: NodeJS.Timeout[] = [];
  let dtls: DtlsEndpoint | undefined;
  const ufrag = iceString(4);
  const pwd = iceString(24);
  const fromTag = `w-${id}`;
  let phase = 'offer';
  let offered = false;
  try {
    return await new Promise<SetupTimes>((resolve, reject) => {
      timers.push(setTimeout(() => reject(new Error(`no decrypted packet after ${timeoutMs} ms (stuck in ${phase})`)), timeoutMs));
      const times: SetupTimes = { answerMs: NaN, iceMs: NaN, dtlsMs: NaN, mediaMs: NaN, firstPt: -1, firstDecodes: false, stunSent: 0, serverChecks: 0, answerIce: 'none', answerRtcpMux: false };
      let rx: SrtpContext | undefined;
      let answer: WebrtcAnswer | undefined;
      let iceTxn: Buffer | undefined;
      const t0 = performance.now();
      const since = (): number => performance.now() - t0;

      browser.on('message', (m, rinfo) => {
        if (isStun(m)) {
          const p = parseStun(m);
          if (!p.ok) return;
          if (p.message.type === STUN_TYPE.bindingRequest) {
            const res = bindingResponse(m, rinfo, ufrag, pwd);
            if (res !== undefined) {
              times.serverChecks++;
              browser.send(res, rinfo.port, rinfo.address);
            }
          } else if (p.message.type === STUN_TYPE.bindingSuccess && iceTxn !== undefined && p.message.transactionId.equals(iceTxn) && Number.isNaN(times.iceMs)) {
            times.iceMs = since();
            startDtls();
          }
          return;
        }
        if (m[0] >= 20 && m[0] <= 63) {
          dtls?.input(m, [rinfo.address, rinfo.port]);
          return;
        }
        if (rx === undefined || m.length < 12 || m[0] >> 6 !== 2) return;
        if (m[1] >= 192 && m[1] <= 223) return; // SRTCP (rtcp-mux)
        const r = rx.unprotectRtp(m);
        if (!r.ok || !Number.isNaN(times.mediaMs)) return;
        times.mediaMs = since();
        times.firstPt = r.packet[1] & 0x7f;
        const hdr = 12 + (r.packet[0] & 0x0f) * 4;
        times.firstDecodes = times.firstPt === 111 && (new OpusStreamDecoder().decode(r.packet.subarray(hdr))?.length ?? 0) > 0;
        resolve(times);
      });

      const startDtls = (): void => {
        if (answer === undefined || dtls !== undefined) return;
        phase = 'DTLS';
        const to = answer;
        const send = (d: Buffer): void => void browser.send(d, to.port, to.address);
        dtls = new DtlsEndpoint(
          'client',
          cert,
          to.fingerprint ?? '',
          send,
          (keys) => {
            times.dtlsMs = since();
            phase = 'first SRTP packet';
            rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', keys.remoteKeySalt.subarray(0, 16), keys.remoteKeySalt.subarray(16));
            const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', keys.localKeySalt.subarray(0, 16), keys.localKeySalt.subarray(16));
            // The browser's own audio: Opus every 20 ms, as it would send once DTLS is up.
            const frames = codecMedia('opus').signal as Buffer[];
            const ssrc = randomBytes(4).readUInt32BE(0);
            let k = 0;
            const tick = (): void => {
              const p = Buffer.alloc(12 + frames[k % frames.length].length);
              p[0] = 0x80;
              p[1] = 111;
              p.writeUInt16BE(k & 0xffff, 2);
              p.writeUInt32BE((k * 960) >>> 0, 4);
              p.writeUInt32BE(ssrc, 8);
              frames[k % frames.length].copy(p, 12);
              k++;
              browser.send(tx.protectRtp(p), to.port, to.address);
            };
            tick();
            timers.push(setInterval(tick, 20));
          },
          (why) => reject(new Error(`DTLS failed: ${why}`)),
        );
        dtls.start();
      };

      const go = async (): Promise<void> => {
        const offerSdp = browserOffer({ sessionId: Date.now() % 1e9, port: browser.address().port, ufrag, pwd, fingerprint: cert.fingerprint });
        const offer = expectOk(await ng.request({ command: 'offer', 'call-id': id, 'from-tag': fromTag, sdp: offerSdp, ...offerFlags }), 'offer');
        offered = true;
        phase = 'answer';
        const toCallee = parseWebrtcAnswer(String(offer.sdp));
        if (!toCallee.payloadTypes.includes(8)) throw new Error(`offer to the callee lacks PCMA: ${toCallee.protocol} ${toCallee.payloadTypes.join(' ')}`);
        const calleeSdp = [
          'v=0',
          `o=- ${Date.now() % 1e9} 1 IN IP4 127.0.0.1`,
          's=callee',
          'c=IN IP4 127.0.0.1',
          't=0 0',
          `m=audio ${callee.address().port} RTP/AVP 8`,
          'a=rtpmap:8 PCMA/8000',
          'a=ptime:20',
          'a=sendrecv',
        ].join('\r\n') + '\r\n';
        // The callee talks as soon as it has answered: 20 ms of PCMA now and every 20 ms.
        const pcma = codecMedia('PCMA').signal as Buffer;
        const ssrc = randomBytes(4).readUInt32BE(0);
        let k = 0;
        const talk = (): void => {
          const p = Buffer.alloc(172);
          p[0] = 0x80;
          p[1] = 8;
          p.writeUInt16BE(k & 0xffff, 2);
          p.writeUInt32BE((k * 160) >>> 0, 4);
          p.writeUInt32BE(ssrc, 8);
          const off = (k * 160) % 96_000;
          pcma.copy(p, 12, off, off + 160);
          k++;
          callee.send(p, toCallee.port, toCallee.address);
        };
        const ans = expectOk(await ng.request({ command: 'answer', 'call-id': id, 'from-tag': fromTag, 'to-tag': `c-${id}`, sdp: calleeSdp, ...WEBRTC_ANSWER_FLAGS }), 'answer');
        times.answerMs = since();
        talk();
        timers.push(setInterval(talk, 20));
        answer = parseWebrtcAnswer(String(ans.sdp));
        times.answerIce = answer.ufrag === undefined ? 'none' : answer.iceLite ? 'lite' : 'full';
        times.answerRtcpMux = answer.rtcpMux;
        if (!/UDP\/TLS\/RTP\/SAVPF/.test(answer.protocol)) throw new Error(`answer to the browser is ${answer.protocol}, not UDP/TLS/RTP/SAVPF`);
        if (answer.setup !== 'passive') throw new Error(`answer to the browser has a=setup:${answer.setup ?? '(none)'}; the bench's browser is the DTLS client and needs passive`);
        if (answer.fingerprint === undefined) throw new Error('answer to the browser has no a=fingerprint');
        if (answer.ufrag === undefined || answer.pwd === undefined) {
          // No ICE in the answer: nothing to check, DTLS straight away.
          times.iceMs = times.answerMs;
          startDtls();
          return;
        }
        phase = 'ICE';
        const tieBreaker = randomBytes(8);
        const check = (): void => {
          if (!Number.isNaN(times.iceMs) || answer === undefined) return;
          iceTxn = randomBytes(12);
          times.stunSent++;
          browser.send(bindingRequest({ remoteUfrag: answer.ufrag ?? '', localUfrag: ufrag, remotePwd: answer.pwd ?? '', tieBreaker, transactionId: iceTxn }), answer.port, answer.address);
        };
        check();
        timers.push(setInterval(check, STUN_RTO_MS));
      };
      go().catch(reject);
    });
  } finally {
    for (const t of timers) clearTimeout(t);
    dtls?.close();
    if (offered) await ng.request({ command: 'delete', 'call-id': id, 'from-tag': fromTag }).catch(() => undefined);
    browser.close();
    callee.close();
  }
}

/** Median, 95th percentile (nearest rank) and maximum; NaN when empty. */
export function summary(values: number[]): { n: number; median: number; p95: number; max: number } {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return { n: 0, median: NaN, p95: NaN, max: NaN };
  const rank = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const median = s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { n: s.length, median, p95: rank(0.95), max: s[s.length - 1] };
}

export interface DtlsSetupResult {
  type: 'dtls-setup';
  server: string;
  concurrency: number;
  attempted: number;
  ok: number;
  /** offer → first decrypted packet */
  setup: ReturnType<typeof summary>;
  /** the phases, each from the end of the one before: ng offer+answer, ICE check, DTLS handshake, first packet */
  phases: { ng: ReturnType<typeof summary>; ice: ReturnType<typeof summary>; dtls: ReturnType<typeof summary>; media: ReturnType<typeof summary> };
  /** first packets that were Opus (PT 111) and decoded */
  firstDecodedPct: number;
  stunSentMean: number;
  serverChecksMean: number;
  /** the answer toward the browser: did it carry ICE (lite or full) and a=rtcp-mux (first call) */
  answer?: { ice: 'lite' | 'full' | 'none'; rtcpMux: boolean };
  /** offer → first decrypted packet of every call, in order (ms) */
  samples: number[];
  /** the first calls' phases (ms: ng, ICE, DTLS, first packet), where a cold server shows */
  firstCalls: { ng: number; ice: number; dtls: number; media: number }[];
  failures: string[];
  startedAt: string;
}

/**
 * What the generator builds once (the Opus and PCMA loops, libopus's wasm, a decoder) and its DTLS
 * client's code, warmed by a few handshakes with a DTLS server in this process: done before the first
 * call is timed, so no call (in particular the first server's first round) pays for the generator's
 * own start-up.
 */
export async function warmUpGenerator(cert: DtlsCertificate, handshakes = 3): Promise<void> {
  codecMedia('opus');
  codecMedia('PCMA');
  new OpusStreamDecoder().decode((codecMedia('opus').signal as Buffer[])[0]);
  for (let i = 0; i < handshakes; i++) {
    await new Promise<void>((resolve, reject) => {
      let up = 0;
      const done = (): void => void (++up === 2 && resolve());
      const peers: { c?: DtlsEndpoint; s?: DtlsEndpoint } = {};
      peers.c = new DtlsEndpoint('client', cert, cert.fingerprint, (d) => setImmediate(() => peers.s?.input(d, ['127.0.0.1', 1])), done, (w) => reject(new Error(w)));
      peers.s = new DtlsEndpoint('server', cert, cert.fingerprint, (d) => setImmediate(() => peers.c?.input(d, ['127.0.0.1', 2])), done, (w) => reject(new Error(w)));
      peers.s.start();
      peers.c.start();
      setTimeout(() => reject(new Error('in-process DTLS warm-up did not finish')), 5000).unref();
    }).catch(() => undefined);
  }
}

/** Runs `calls` setups against one server, `concurrency` at a time; `into` collects times across rounds. */
export async function runSetupRound(
  server: ServerHandle,
  o: { calls: number; concurrency: number; runId: string; round: number; ice?: 'remove' | 'keep' },
  cert: DtlsCertificate,
  into: { times: SetupTimes[]; failures: string[]; attempted: number },
): Promise<void> {
  const ng = new NgClient({ ...server.ng, timeoutMs: 1000, retries: 4 });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.calls) {
      const i = next++;
      into.attempted++;
      try {
        into.times.push(await oneSetup(ng, cert, `${o.runId}-${server.name}-${o.round}-${i}`, webrtcOfferFlags(o.ice)));
      } catch (e) {
        into.failures.push((e as Error).message);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency, o.calls) }, worker));
  } finally {
    await ng.close();
  }
}

export function setupResult(server: string, concurrency: number, acc: { times: SetupTimes[]; failures: string[]; attempted: number }, startedAt: string): DtlsSetupResult {
  const t = acc.times;
  const r = (v: number): number => Math.round(v * 10) / 10;
  const sum = (xs: number[]): ReturnType<typeof summary> => {
    const s = summary(xs);
    return { n: s.n, median: r(s.median), p95: r(s.p95), max: r(s.max) };
  };
  return {
    type: 'dtls-setup',
    server,
    concurrency,
    attempted: acc.attempted,
    ok: t.length,
    setup: sum(t.map((x) => x.mediaMs)),
    phases: {
      ng: sum(t.map((x) => x.answerMs)),
      ice: sum(t.map((x) => x.iceMs - x.answerMs)),
      dtls: sum(t.map((x) => x.dtlsMs - x.iceMs)),
      media: sum(t.map((x) => x.mediaMs - x.dtlsMs)),
    },
    firstDecodedPct: t.length ? r((100 * t.filter((x) => x.firstDecodes).length) / t.length) : NaN,
    stunSentMean: t.length ? r(t.reduce((a, x) => a + x.stunSent, 0) / t.length) : NaN,
    serverChecksMean: t.length ? r(t.reduce((a, x) => a + x.serverChecks, 0) / t.length) : NaN,
    answer: t.length ? { ice: t[0].answerIce, rtcpMux: t[0].answerRtcpMux } : undefined,
    samples: t.map((x) => r(x.mediaMs)),
    firstCalls: t.slice(0, 5).map((x) => ({ ng: r(x.answerMs), ice: r(x.iceMs - x.answerMs), dtls: r(x.dtlsMs - x.iceMs), media: r(x.mediaMs - x.dtlsMs) })),
    failures: [...new Set(acc.failures)].slice(0, 5),
    startedAt,
  };
}

export function setupTable(rows: DtlsSetupResult[]): string {
  const f = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');
  const head = ['server', 'ICE', 'mux', 'conc', 'ok/tried', 'setup med ms', 'p95', 'max', 'ng med', 'ICE med', 'DTLS med', 'DTLS p95', 'DTLS max', '1st pkt med', 'Opus 1st %', 'STUN sent', 'srv checks'];
  const cells = [
    head,
    ...rows.map((r) => [
      r.server,
      r.answer?.ice ?? '-',
      r.answer === undefined ? '-' : r.answer.rtcpMux ? 'yes' : 'no',
      String(r.concurrency),
      `${r.ok}/${r.attempted}`,
      f(r.setup.median),
      f(r.setup.p95),
      f(r.setup.max),
      f(r.phases.ng.median),
      f(r.phases.ice.median),
      f(r.phases.dtls.median),
      f(r.phases.dtls.p95),
      f(r.phases.dtls.max),
      f(r.phases.media.median),
      f(r.firstDecodedPct),
      f(r.stunSentMean),
      f(r.serverChecksMean),
    ]),
  ];
  const w = head.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row: string[]): string => row.map((c, i) => (i < 1 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  const out = [line(cells[0]), w.map((n) => '-'.repeat(n)).join('  '), ...cells.slice(1).map(line)];
  out.push(
    '',
    'setup = ng offer sent → first SRTP packet from the callee decrypted by the browser; phases from the end of the one before:',
    'ng = offer + answer round trips; ICE = answer → Binding success; DTLS = ClientHello → keys; 1st pkt = keys → first decrypted packet.',
    'ICE/mux: what the answer to the browser carried (ICE none = no checks needed; mux no = a browser requiring rtcp-mux would refuse it).',
  );
  for (const r of rows) {
    if (r.samples.length < 2) continue;
    const c = r.firstCalls[0];
    out.push(`${r.server}: first call ${r.samples[0].toFixed(1)} ms (ng ${c.ng}, ICE ${c.ice}, DTLS ${c.dtls}, 1st pkt ${c.media}); calls 2.. median ${f(summary(r.samples.slice(1)).median)} ms`);
  }
  for (const r of rows) for (const f2 of r.failures) out.push(`FAILED ${r.server}: ${f2}`);
  return out.join('\n');
}

export { createDtlsCertificate };
