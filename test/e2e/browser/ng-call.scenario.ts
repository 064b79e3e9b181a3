// Scenario (run inside a private network namespace by webrtc-browser.test.ts), two ways round:
// - browser-offers: Chromium's RTCPeerConnection offer → Tandem over ng (WebRTC → RTP/AVP PCMA) →
//   a plain RTP endpoint; the endpoint's answer comes back the same way;
// - phone-offers: the plain endpoint's PCMA offer → Tandem (`WebRTC` flag, Opus added) → Chromium,
//   which answers; Tandem offers DTLS (actpass) and ICE-lite, Chromium picks the DTLS role. The browser's fake microphone plays
// 1000 Hz, the plain endpoint plays 440 Hz; each side reports what it heard.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestTandem } from '../../helpers/tandem.js';
import { RtpPeer, rtpPacket, mediaTarget } from '../../helpers/rtp-peer.js';
import { goertzelAmplitude, tone } from '../../helpers/audio.js';
import { decodeAlaw, encodeAlaw } from '../../../src/media/codecs/g711.js';
import { startBrowser, writeToneWav, type Listened, type RtcState } from './browser.js';

/** One telephone-event packet as the phone received it (RFC 4733 §2.3). */
export interface DtmfSeen {
  event: number;
  end: boolean;
  duration: number;
  ts: number;
  seq: number;
}

export interface NgCallResult {
  toPhone: string;
  toBrowser: string;
  plain: { packets: number; payloadTypes: number[]; amp: Record<string, number>; dtmf: DtmfSeen[]; audioTsRange: [number, number] };
  browser: { heard: Listened; state: RtcState; firstPacketMs: number | undefined };
  log: string[];
}

const BROWSER_HZ = 1000;
const PHONE_HZ = 440;
const log = (m: string): void => void process.stderr.write(`[ng-call] ${m}\n`);

type Mode = 'browser-offers' | 'phone-offers';

async function main(mode: Mode): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-webrtc-'));
  const wav = join(dir, 'mic.wav');
  writeToneWav(wav, { hz: BROWSER_HZ, rate: 48000, seconds: 10, amplitude: 0.3 });
  const tandem = await startTestTandem();
  const phone = await RtpPeer.open();
  const browser = await startBrowser({ wav });
  const stop = async (): Promise<void> => {
    phone.close();
    await browser.close();
    await tandem.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    async function browserOffers(): Promise<{ toPhone: string; toBrowser: string }> {
      const offer = String(await browser.page.evaluate('makeOffer()'));
      log(`browser offer: ${offer.split('\r\n').filter((l) => l.startsWith('m=') || l.startsWith('a=candidate')).join(' | ')}`);
      // The flags of a usual Kamailio WebRTC gateway: plain RTP/AVP toward the phone with ICE and
      // rtcp-mux removed there, Opus kept for the browser and PCMA made for the phone; on the
      // reply, ICE forced toward the browser.
      offerSentAt = performance.now();
      const o = await tandem.ng.request({
        command: 'offer', 'call-id': 'chromium-ng', 'from-tag': 'browser', sdp: offer,
        'transport-protocol': 'RTP/AVP', ICE: 'remove', 'rtcp-mux': ['demux'],
        codec: { strip: ['G722', 'PCMU', 'PCMA', 'CN', 'red'], mask: ['opus'], transcode: ['PCMA'] },
      });
      if (o.result !== 'ok') throw new Error(`ng offer: ${String(o['error-reason'])}`);
      const phoneAnswer = ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${phone.port} RTP/AVP 8 101`, 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
      const a = await tandem.ng.request({ command: 'answer', 'call-id': 'chromium-ng', 'from-tag': 'browser', 'to-tag': 'phone', sdp: phoneAnswer, ICE: 'force' });
      if (a.result !== 'ok') throw new Error(`ng answer: ${String(a['error-reason'])}`);
      await browser.page.evaluate(`acceptAnswer(${JSON.stringify(String(a.sdp))})`);
      return { toPhone: String(o.sdp), toBrowser: String(a.sdp) };
    }

    /** A SIP phone calls the browser: its PCMA offer is made WebRTC (the `WebRTC` flag) with Opus added. */
    async function phoneOffers(): Promise<{ toPhone: string; toBrowser: string }> {
      const phoneOffer = ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${phone.port} RTP/AVP 8 101`, 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
      offerSentAt = performance.now();
      const o = await tandem.ng.request({
        command: 'offer', 'call-id': 'chromium-ng', 'from-tag': 'phone', sdp: phoneOffer,
        flags: ['WebRTC'], codec: { mask: ['PCMA'], transcode: ['opus'] },
      });
      if (o.result !== 'ok') throw new Error(`ng offer: ${String(o['error-reason'])}`);
      const answer = String(await browser.page.evaluate(`makeAnswer(${JSON.stringify(String(o.sdp))})`));
      log(`browser answer: ${answer.split('\r\n').filter((l) => /^(m=|a=setup|a=candidate)/.test(l)).join(' | ')}`);
      const a = await tandem.ng.request({ command: 'answer', 'call-id': 'chromium-ng', 'from-tag': 'phone', 'to-tag': 'browser', sdp: answer });
      if (a.result !== 'ok') throw new Error(`ng answer: ${String(a['error-reason'])}`);
      return { toPhone: String(a.sdp), toBrowser: String(o.sdp) };
    }

    let offerSentAt = 0;
    const { toPhone, toBrowser } = mode === 'browser-offers' ? await browserOffers() : await phoneOffers();
    // The phone talks at once (a real phone does not wait for the browser's DTLS), 20 ms PCMA.
    const target = mediaTarget(toPhone);
    const t0 = Date.now();
    let seq = 0;
    const pcm = new Int16Array(160);
    const alaw = new Uint8Array(160);
    const sender = setInterval(() => {
      // Catch up by the clock so a slow timer does not stretch the tone.
      while (seq < Math.floor((Date.now() - t0) / 20) + 1 && seq < 400) {
        pcm.set(tone(PHONE_HZ, 8000, 160, 8000, seq * 160));
        encodeAlaw(pcm, alaw);
        void phone.send(rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc: 0x0ff1ce, payload: Buffer.from(alaw), marker: seq === 0 }), target.port);
        seq++;
      }
    }, 10);
    try {
      // Informational (never asserted): ng offer sent → first packet Chromium decrypted and counted.
      let firstPacketMs: number | undefined;
      while (firstPacketMs === undefined && performance.now() - offerSentAt < 5000) {
        if (((await browser.page.evaluate('rtcState()')) as RtcState).inbound > 0) firstPacketMs = performance.now() - offerSentAt;
        else await new Promise((r) => setTimeout(r, 5));
      }
      log(`offer → first packet decrypted by Chromium: ${firstPacketMs?.toFixed(1) ?? 'none in 5 s'} ms`);
      const pageNow = Number(await browser.page.evaluate('performance.now()'));
      const skew = pageNow - performance.now();
      const events = (await browser.page.evaluate('window.rtcEvents')) as { t: number; what: string }[];
      log(`browser states after the offer: ${events.map((e) => `${e.what} ${(e.t - skew - offerSentAt).toFixed(0)} ms`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 1500));
      const heard = (await browser.page.evaluate(`listen(2500, [${PHONE_HZ}, ${BROWSER_HZ}])`)) as Listened;
      const state = (await browser.page.evaluate('rtcState()')) as RtcState;
      // What the phone got from the browser: PCMA, decoded, the last two seconds.
      const payloads = phone.received.filter((b) => b.length > 12 && (b[1] & 0x7f) === 8).map((b) => b.subarray(12));
      const tail = payloads.slice(-100);
      const samples = new Int16Array(tail.length * 160);
      tail.forEach((p, i) => decodeAlaw(new Uint8Array(p.buffer, p.byteOffset, Math.min(p.length, 160)), samples.subarray(i * 160, i * 160 + 160)));
      const amp: Record<string, number> = {};
      for (const f of [PHONE_HZ, BROWSER_HZ, 1500, 2500]) amp[f] = goertzelAmplitude(samples, f, 8000);
      const payloadTypes = [...new Set(phone.received.map((b) => b[1] & 0x7f))];
      // DTMF from the browser's own sender (telephone-event/48000 next to Opus) as the phone sees it.
      const dtmf: DtmfSeen[] = [];
      if (mode === 'browser-offers') {
        const from = phone.received.length;
        if ((await browser.page.evaluate(`sendDtmf('5', 200)`)) !== true) throw new Error('the browser cannot send DTMF');
        await new Promise((r) => setTimeout(r, 900));
        for (const b of phone.received.slice(from)) {
          if ((b[1] & 0x7f) !== 101 || b.length < 16) continue;
          dtmf.push({ event: b[12], end: (b[13] & 0x80) !== 0, duration: b.readUInt16BE(14), ts: b.readUInt32BE(4), seq: b.readUInt16BE(2) });
        }
        const audio = phone.received.slice(from).filter((b) => (b[1] & 0x7f) === 8).map((b) => b.readUInt32BE(4));
        log(`DTMF at the phone: ${dtmf.length} packets, durations ${dtmf.map((d) => d.duration).join(',')}, audio ts ${audio[0]}…${audio[audio.length - 1]}`);
      }
      const audioTs = phone.received.filter((b) => (b[1] & 0x7f) === 8).map((b) => b.readUInt32BE(4));
      const result: NgCallResult = {
        toPhone,
        toBrowser,
        plain: { packets: phone.received.length, payloadTypes, amp, dtmf, audioTsRange: [Math.min(...audioTs), Math.max(...audioTs)] },
        browser: { heard, state, firstPacketMs },
        log: browser.log,
      };
      process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    } finally {
      clearInterval(sender);
    }
  } finally {
    await stop();
  }
}

const mode = process.argv[2];
if (mode !== 'browser-offers' && mode !== 'phone-offers') throw new Error(`mode: browser-offers | phone-offers, not ${String(mode)}`);
main(mode).then(
  () => process.exit(0),
  (e: unknown) => {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
