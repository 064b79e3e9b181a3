import { describe, expect, it } from 'vitest';
import type { BDict } from '../../src/control/bencode.js';
import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from '../../src/media/codecs/g711.js';
import { OpusEncoderStream } from '../../src/media/codecs/opus.js';
import { detectFrame } from '../../src/media/worker/inband-dtmf.js';
import { startTestTandem, tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { tone } from '../helpers/audio.js';

/**
 * DTMF between a G.711 phone without telephone-event and an Opus leg with it, through real sockets:
 * the phone's in-band digit reaches the Opus leg as RFC 4733 events on its 48 kHz timeline, the Opus
 * leg's events reach the phone as the digit's tones in PCMA, and no telephone-event packet reaches
 * the phone.
 */
const tandem = tandemPerFile();

function dual(f1: number, f2: number, n: number, at: number): Int16Array {
  const x = new Int16Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.round(8000 * Math.sin((2 * Math.PI * f1 * (at + i)) / 8000) + 8000 * Math.sin((2 * Math.PI * f2 * (at + i)) / 8000));
  return x;
}

async function until(ok: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Phone (PCMA, no telephone-event) offers; the browser answers Opus with telephone-event/48000. */
async function call(ng: typeof tandem.ng, callId: string): Promise<{ phone: RtpPeer; browser: RtpPeer; opusPt: number; te48: number; portForPhone: number; portForBrowser: number; toPhone: string; offer: BDict }> {
  const phone = await RtpPeer.open();
  const browser = await RtpPeer.open();
  const offer = await ng.request({
    command: 'offer', 'call-id': callId, 'from-tag': 'phone',
    sdp: sdpFor({ port: phone.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }),
    codec: { transcode: ['opus', 'telephone-event'] },
  });
  expect(offer.result, String(offer['error-reason'])).toBe('ok');
  const toBrowser = String(offer.sdp);
  const opusPt = Number(/^a=rtpmap:(\d+) opus\/48000\/2\r$/m.exec(toBrowser)?.[1]);
  const te48 = Number(/^a=rtpmap:(\d+) telephone-event\/48000\r$/m.exec(toBrowser)?.[1]);
  expect(te48).toBeGreaterThan(95);
  const answer = await ng.request({
    command: 'answer', 'call-id': callId, 'from-tag': 'phone', 'to-tag': 'browser',
    sdp: sdpFor({ port: browser.port, pts: [opusPt, te48], rtpmaps: [`${opusPt} opus/48000/2`, `${te48} telephone-event/48000`], extra: [`a=fmtp:${te48} 0-15`] }),
  });
  expect(answer.result, String(answer['error-reason'])).toBe('ok');
  const toPhone = String(answer.sdp);
  return { phone, browser, opusPt, te48, portForPhone: mediaTarget(toPhone).port, portForBrowser: mediaTarget(toBrowser).port, toPhone, offer };
}

/** 5 frames of 440 Hz, 10 of the digit 5 (770 + 1336 Hz), 5 of 440 Hz, in PCMA from the phone. */
async function phoneDialsFive(phone: RtpPeer, port: number): Promise<void> {
  for (let k = 0; k < 20; k++) {
    const x = k >= 5 && k < 15 ? dual(770, 1336, 160, k * 160) : tone(440, 8000, 160, 8000, k * 160);
    const codes = Buffer.alloc(160);
    encodeAlaw(x, codes);
    await phone.send(rtpPacket({ pt: 8, seq: 100 + k, ts: 8000 + k * 160, ssrc: 0xaaaa, payload: codes }), port);
  }
}

describe('--dtmf-no-suppress', () => {
  it('forwards the phone’s audio during a digit it found, besides the events', async () => {
    const t = await startTestTandem({ dtmfNoSuppress: true });
    try {
      const c = await call(t.ng, 'inband-ns');
      await phoneDialsFive(c.phone, c.portForPhone);
      await until(() => c.browser.received.filter((p) => (p[1] & 0x7f) === c.te48).length >= 12, 'the events');
      await until(() => c.browser.received.filter((p) => (p[1] & 0x7f) === c.opusPt).length >= 20, 'all 20 frames of audio');
      c.phone.close();
      c.browser.close();
    } finally {
      await t.close();
    }
  });
});

describe('in-band DTMF ↔ RFC 4733 across PCMA ↔ Opus', () => {
  it('negotiates events only toward the Opus leg and converts both ways', async () => {
    const { phone, browser, opusPt, te48, portForPhone, portForBrowser, toPhone, offer } = await call(tandem.ng, 'inband-1');
    expect(offer.warning).toBeUndefined();
    expect(toPhone).toMatch(/^m=audio \d+ RTP\/AVP 8\r$/m);
    expect(toPhone).not.toMatch(/telephone-event/);

    // Phone → browser: the digit 5 in-band between speech.
    await phoneDialsFive(phone, portForPhone);
    await until(() => browser.received.filter((p) => (p[1] & 0x7f) === te48).length >= 12, 'the events at the browser');
    await until(() => browser.received.filter((p) => (p[1] & 0x7f) === opusPt).length >= 5, 'the audio after the digit');
    const events = browser.received.filter((p) => (p[1] & 0x7f) === te48);
    expect(events.every((p) => p.length === 16 && p[12] === 5)).toBe(true);
    expect(events.filter((p) => (p[13] & 0x80) !== 0)).toHaveLength(3);
    expect((events[0][1] & 0x80) !== 0).toBe(true);
    // One event timestamp, on the Opus timeline: where frame 5 of the phone's audio lands (×6 from frame 0).
    const audio = browser.received.filter((p) => (p[1] & 0x7f) === opusPt);
    const evTs = events[0].readUInt32BE(4);
    expect(events.every((p) => p.readUInt32BE(4) === evTs)).toBe(true);
    expect((evTs - audio[0].readUInt32BE(4)) >>> 0).toBe(5 * 960);
    // Durations at 48 kHz: ten 20 ms frames of tone are 9600.
    expect(events.at(-1)!.readUInt16BE(14)).toBe(9600);
    // Audio held back while the digit lasted (the first frame of tone goes through before detection).
    expect(audio.length).toBeLessThanOrEqual(20 - 9);
    const seqs = browser.received.map((p) => p.readUInt16BE(2));
    expect(seqs.map((s) => (s - seqs[0]) & 0xffff)).toEqual(seqs.map((_s, i) => i));

    // Browser → phone: Opus audio, then the digit # as RFC 4733 events (200 ms), then audio.
    const enc = new OpusEncoderStream();
    const before = phone.received.length;
    const eventTs = 90_000 + 5 * 960;
    let seq = 500;
    const opus = async (k: number): Promise<void> =>
      browser.send(rtpPacket({ pt: opusPt, seq: seq++, ts: 90_000 + k * 960, ssrc: 0xbbbb, payload: enc.encode(tone(1000, 48000, 960, 8000, k * 960)) }), portForBrowser);
    const ev = async (dur: number, end: boolean, marker = false): Promise<void> =>
      browser.send(rtpPacket({ pt: te48, seq: seq++, ts: eventTs, ssrc: 0xbbbb, payload: Buffer.from([11, (end ? 0x80 : 0) | 10, dur >> 8, dur & 0xff]), marker }), portForBrowser);
    for (let k = 0; k < 5; k++) await opus(k);
    await ev(960 * 2, false, true);
    await opus(5);
    await ev(960 * 5, false);
    await opus(6);
    await ev(960 * 8, false);
    for (let k = 0; k < 3; k++) await ev(960 * 10, true);
    // A malformed event (3 bytes) is dropped and counted.
    await browser.send(rtpPacket({ pt: te48, seq: seq++, ts: eventTs, ssrc: 0xbbbb, payload: Buffer.from([11, 0x80, 0]) }), portForBrowser);
    for (let k = 15; k < 20; k++) await opus(k);
    await until(() => phone.received.length >= before + 5 + 10 + 5, 'audio, tones and audio at the phone');
    const got = phone.received.slice(before);
    expect(got.every((p) => (p[1] & 0x7f) === 8)).toBe(true);
    const digits = got.map((p) => {
      const pcm = new Int16Array(p.length - 12);
      decodeAlaw(p.subarray(12), pcm);
      return pcm.length === 160 ? detectFrame(pcm) : -2;
    });
    expect(digits.filter((d) => d === 11)).toHaveLength(10);
    expect(digits.filter((d) => d !== 11 && d !== -1)).toEqual([]);
    // The tones sit where the event is on the phone's 8 kHz timeline: right after frame 4's audio, contiguous.
    const toneFrames = got.filter((_p, i) => digits[i] === 11);
    const firstAudio = got[0].readUInt32BE(4);
    expect(toneFrames.map((p) => ((p.readUInt32BE(4) - firstAudio) >>> 0) / 160)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);

    const q = await tandem.ng.request({ command: 'query', 'call-id': 'inband-1' });
    expect(((q.totals as BDict).RTP as BDict).errors).toBe(1);
    await tandem.ng.request({ command: 'delete', 'call-id': 'inband-1' });
    phone.close();
    browser.close();
  });
});

describe('an offerer with telephone-event, a G.711 answerer without', () => {
  it('keeps the offerer’s events (transcode telephone-event), turns them into tones for the answerer and its tones into events', async () => {
    const caller = await RtpPeer.open();
    const trunk = await RtpPeer.open();
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'inband-2', 'from-tag': 'caller',
      sdp: sdpFor({ port: caller.port, pts: [8, 101], rtpmaps: ['8 PCMA/8000', '101 telephone-event/8000'], extra: ['a=fmtp:101 0-15'] }),
      codec: { mask: ['PCMA'], transcode: ['PCMU', 'telephone-event'] },
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const answer = await tandem.ng.request({
      command: 'answer', 'call-id': 'inband-2', 'from-tag': 'caller', 'to-tag': 'trunk',
      sdp: sdpFor({ port: trunk.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }),
    });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    expect(String(answer.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 8 101\r$/m);
    const portForCaller = mediaTarget(String(answer.sdp)).port;
    const portForTrunk = mediaTarget(String(offer.sdp)).port;

    // Caller → trunk: digit 7 as events (8 kHz, 100 ms) after two frames of audio.
    const codes = Buffer.alloc(160);
    encodeAlaw(tone(440, 8000, 160, 8000), codes);
    let seq = 1;
    for (let k = 0; k < 2; k++) await caller.send(rtpPacket({ pt: 8, seq: seq++, ts: k * 160, ssrc: 0xc, payload: codes }), portForCaller);
    for (const [dur, end] of [[160, false], [480, false], [800, true], [800, true], [800, true]] as const) {
      await caller.send(rtpPacket({ pt: 101, seq: seq++, ts: 320, ssrc: 0xc, payload: Buffer.from([7, (end ? 0x80 : 0) | 10, dur >> 8, dur & 0xff]), marker: dur === 160 }), portForCaller);
    }
    await until(() => trunk.received.length >= 2 + 5, 'audio and tones at the trunk');
    const atTrunk = trunk.received;
    expect(atTrunk.every((p) => (p[1] & 0x7f) === 0)).toBe(true);
    const heard = atTrunk.slice(2).map((p) => {
      const pcm = new Int16Array(160);
      decodeUlaw(p.subarray(12), pcm);
      return detectFrame(pcm);
    });
    expect(heard).toEqual([7, 7, 7, 7, 7]);

    // Trunk → caller: the digit 0 in-band in PCMU arrives as telephone-event 101.
    for (let k = 0; k < 8; k++) {
      const x = k >= 2 && k < 7 ? dual(941, 1336, 160, k * 160) : tone(440, 8000, 160, 8000, k * 160);
      const u = Buffer.alloc(160);
      encodeUlaw(x, u);
      await trunk.send(rtpPacket({ pt: 0, seq: 300 + k, ts: 5000 + k * 160, ssrc: 0xd, payload: u }), portForTrunk);
    }
    await until(() => caller.received.filter((p) => (p[1] & 0x7f) === 101).length >= 4, 'events at the caller');
    const ev = caller.received.filter((p) => (p[1] & 0x7f) === 101);
    expect(ev.every((p) => p[12] === 0 && p.readUInt32BE(4) === 5000 + 2 * 160)).toBe(true);
    await tandem.ng.request({ command: 'delete', 'call-id': 'inband-2' });
    caller.close();
    trunk.close();
  });
});
