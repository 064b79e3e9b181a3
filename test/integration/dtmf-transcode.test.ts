import { describe, it, expect } from 'vitest';
import type { BDict } from '../../src/control/bencode.js';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { OpusEncoderStream } from '../../src/media/codecs/opus.js';
import { encodeAlaw } from '../../src/media/codecs/g711.js';
import { tone } from '../helpers/audio.js';

/**
 * RFC 4733 DTMF between a browser (Opus, telephone-event/48000) and a phone (PCMA,
 * telephone-event/8000), through real sockets: payload types, timestamps on the receiver's
 * timeline, durations scaled by the clock ratio, one sequence with the audio, audio held back
 * during the event (rtpengine's default when transcoding).
 */
const tandem = tandemPerFile();

/** event, E|R|volume, duration (RFC 4733 §2.3). */
const ev = (event: number, duration: number, end = false, volume = 10): Buffer =>
  Buffer.from([event, (end ? 0x80 : 0) | volume, duration >> 8, duration & 0xff]);

/** The packets one side sends: audio frame k, or an event block, in order. */
type Step = { audio: number } | { event: Buffer; marker?: boolean } | { raw: Buffer };

/** Audio frames 0–9, an event starting at frame 10 with audio 10–11 during it, three end packets, audio 14–18. */
function script(unit: number, eventEnd: number, malformed: boolean): Step[] {
  return [
    ...Array.from({ length: 10 }, (_v, k) => ({ audio: k })),
    { event: ev(9, unit), marker: true },
    { audio: 10 },
    { event: ev(9, 2 * unit) },
    { audio: 11 },
    { event: ev(9, 3 * unit) },
    ...(malformed ? [{ raw: Buffer.from([9, 10, 0]) }] : []),
    { event: ev(9, eventEnd, true) },
    { event: ev(9, eventEnd, true) },
    { event: ev(9, eventEnd, true) },
    ...[14, 15, 16, 17, 18].map((k) => ({ audio: k })),
  ];
}

async function play(
  from: RtpPeer, to: number, steps: Step[],
  o: { audioPt: number; eventPt: number; ts0: number; frame: number; ssrc: number; payload: (k: number) => Buffer },
): Promise<void> {
  const eventTs = o.ts0 + 10 * o.frame;
  let seq = 3000;
  for (const s of steps) {
    const p = 'audio' in s
      ? rtpPacket({ pt: o.audioPt, seq: seq++, ts: o.ts0 + s.audio * o.frame, ssrc: o.ssrc, payload: o.payload(s.audio) })
      : rtpPacket({ pt: o.eventPt, seq: seq++, ts: eventTs, ssrc: o.ssrc, payload: 'event' in s ? s.event : s.raw, marker: 'event' in s && s.marker === true });
    await from.send(p, to);
  }
}

/** What the receiver must see: audio 0–9, six event packets at frame 10, audio 14–18; one sequence. */
function expectStream(got: Buffer[], o: { audioPt: number; eventPt: number; frame: number; unit: number; eventEnd: number }): void {
  expect(got.length).toBe(21);
  const pts = got.map((p) => p[1] & 0x7f);
  expect(pts).toEqual([...new Array(10).fill(o.audioPt), ...new Array(6).fill(o.eventPt), ...new Array(5).fill(o.audioPt)]);
  const seq = got.map((p) => p.readUInt16BE(2));
  expect(seq.map((s) => (s - seq[0]) & 0xffff)).toEqual(Array.from({ length: 21 }, (_v, i) => i));
  const base = got[0].readUInt32BE(4);
  const frames = got.map((p) => ((p.readUInt32BE(4) - base) >>> 0) / o.frame);
  // Audio 10–13 was held back during the event; the event sits where frame 10 would be.
  expect(frames).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10, 10, 10, 14, 15, 16, 17, 18]);
  const events = got.slice(10, 16);
  expect(events.map((p) => p.length)).toEqual(new Array(6).fill(16));
  expect(events.map((p) => [p[1] & 0x80, p[12], p[13], p.readUInt16BE(14)])).toEqual([
    [0x80, 9, 10, o.unit],
    [0, 9, 10, 2 * o.unit],
    [0, 9, 10, 3 * o.unit],
    [0, 9, 0x80 | 10, o.eventEnd],
    [0, 9, 0x80 | 10, o.eventEnd],
    [0, 9, 0x80 | 10, o.eventEnd],
  ]);
}

describe('DTMF across Opus (48 kHz) ↔ PCMA (8 kHz)', () => {
  it('negotiates telephone-event at each side’s clock and converts events both ways', async () => {
    const browser = await RtpPeer.open();
    const phone = await RtpPeer.open();
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'dtmf-1', 'from-tag': 'browser',
      sdp: sdpFor({ port: browser.port, pts: [111, 110], rtpmaps: ['111 opus/48000/2', '110 telephone-event/48000'], extra: ['a=fmtp:111 minptime=10;useinbandfec=1', 'a=fmtp:110 0-16'] }),
      codec: { mask: ['opus'], transcode: ['PCMA'] },
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const toPhone = String(offer.sdp);
    expect(toPhone).toMatch(/^m=audio \d+ RTP\/AVP 8 96\r$/m);
    expect(toPhone).toMatch(/^a=rtpmap:96 telephone-event\/8000\r$/m);
    expect(toPhone).toMatch(/^a=fmtp:96 0-16\r$/m);
    expect(toPhone).not.toMatch(/48000/);

    const answer = await tandem.ng.request({
      command: 'answer', 'call-id': 'dtmf-1', 'from-tag': 'browser', 'to-tag': 'phone',
      sdp: sdpFor({ port: phone.port, pts: [8, 96], rtpmaps: ['8 PCMA/8000', '96 telephone-event/8000'], extra: ['a=fmtp:96 0-16'] }),
    });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const toBrowser = String(answer.sdp);
    expect(toBrowser).toMatch(/^m=audio \d+ RTP\/AVP 111 110\r$/m);
    expect(toBrowser).toMatch(/^a=rtpmap:110 telephone-event\/48000\r$/m);

    // Phone → browser (8 kHz → 48 kHz), with a malformed event packet in the middle.
    await play(phone, mediaTarget(toPhone).port, script(160, 640, true), {
      audioPt: 8, eventPt: 96, ts0: 0xfffff800, frame: 160, ssrc: 22,
      payload: (k) => {
        const codes = Buffer.alloc(160);
        encodeAlaw(tone(440, 8000, 160, 8000, k * 160), codes);
        return codes;
      },
    });
    const atBrowser = await browser.waitFor(21, 5000);
    expectStream(atBrowser, { audioPt: 111, eventPt: 110, frame: 960, unit: 960, eventEnd: 3840 });

    // Browser → phone (48 kHz → 8 kHz).
    const enc = new OpusEncoderStream();
    await play(browser, mediaTarget(toBrowser).port, script(960, 3840, false), {
      audioPt: 111, eventPt: 110, ts0: 1000, frame: 960, ssrc: 11,
      payload: (k) => enc.encode(tone(1000, 48000, 960, 8000, k * 960)),
    });
    const atPhone = await phone.waitFor(21, 5000);
    expectStream(atPhone, { audioPt: 8, eventPt: 96, frame: 160, unit: 160, eventEnd: 640 });
    expect(atPhone.filter((p) => (p[1] & 0x7f) === 8).every((p) => p.length === 12 + 160)).toBe(true);

    const q = await tandem.ng.request({ command: 'query', 'call-id': 'dtmf-1' });
    expect(((q.totals as BDict).RTP as BDict).errors).toBe(1);
    await tandem.ng.request({ command: 'delete', 'call-id': 'dtmf-1' });
    browser.close();
    phone.close();
  });
});
