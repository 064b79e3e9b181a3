import { describe, it, expect } from 'vitest';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { OpusDecoderStream, OpusEncoderStream } from '../../src/media/codecs/opus.js';
import { decodeAlaw, encodeAlaw } from '../../src/media/codecs/g711.js';
import { goertzelAmplitude, tone, dB } from '../helpers/audio.js';

/** Opus (48 kHz) ↔ PCMA (8 kHz) through the media plane: tones keep their frequency and level. */
const tandem = tandemPerFile();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Opus ↔ PCMA transcoding', () => {
  it('an Opus offerer and a PCMA answerer hear each other’s tones', async () => {
    const opusPeer = await RtpPeer.open();
    const pcmaPeer = await RtpPeer.open();
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'opus-1', 'from-tag': 'a',
      sdp: sdpFor({ port: opusPeer.port, pts: [111], rtpmaps: ['111 opus/48000/2'], extra: ['a=fmtp:111 minptime=10;useinbandfec=1', 'a=ptime:20'] }),
      codec: { mask: ['opus'], transcode: ['PCMA'] },
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    expect(String(offer.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 8\r?$/m);
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'opus-1', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: pcmaPeer.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }) });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    expect(String(answer.sdp)).toMatch(/^a=rtpmap:111 opus\/48000\/2/m);

    // Opus → PCMA: 25 frames of 1 kHz.
    const enc = new OpusEncoderStream();
    for (let k = 0; k < 25; k++) {
      await opusPeer.send(rtpPacket({ pt: 111, seq: k, ts: 1000 + k * 960, ssrc: 11, payload: enc.encode(tone(1000, 48000, 960, 8000, k * 960)) }), mediaTarget(String(answer.sdp)).port);
      await sleep(2);
    }
    const atPcma = await pcmaPeer.waitFor(25, 5000);
    expect(atPcma.every((p) => (p[1] & 0x7f) === 8 && p.length === 12 + 160)).toBe(true);
    const ts = atPcma.map((p) => p.readUInt32BE(4));
    expect(ts.slice(1).map((t, i) => (t - ts[i]) >>> 0)).toEqual(new Array(24).fill(160));
    const pcm8 = new Int16Array(160 * 25);
    atPcma.forEach((p, i) => decodeAlaw(p.subarray(12), pcm8.subarray(i * 160, (i + 1) * 160)));
    const settled = pcm8.subarray(160 * 10);
    expect(Math.abs(dB(goertzelAmplitude(settled, 1000, 8000), 8000))).toBeLessThan(2);
    expect(goertzelAmplitude(settled, 1300, 8000)).toBeLessThan(goertzelAmplitude(settled, 1000, 8000) / 20);

    // PCMA → Opus: 25 frames of 440 Hz.
    for (let k = 0; k < 25; k++) {
      const codes = Buffer.alloc(160);
      encodeAlaw(tone(440, 8000, 160, 8000, k * 160), codes);
      await pcmaPeer.send(rtpPacket({ pt: 8, seq: k, ts: 5000 + k * 160, ssrc: 22, payload: codes }), mediaTarget(String(offer.sdp)).port);
      await sleep(2);
    }
    const atOpus = await opusPeer.waitFor(25, 5000);
    expect(atOpus.every((p) => (p[1] & 0x7f) === 111)).toBe(true);
    const ots = atOpus.map((p) => p.readUInt32BE(4));
    expect(ots.slice(1).map((t, i) => (t - ots[i]) >>> 0)).toEqual(new Array(24).fill(960));
    const dec = new OpusDecoderStream();
    const pcm48 = atOpus.flatMap((p) => [...dec.decode(p.subarray(12))]);
    const tail = pcm48.slice(960 * 10);
    expect(Math.abs(dB(goertzelAmplitude(tail, 440, 48000), 8000))).toBeLessThan(2);
    opusPeer.close();
    pcmaPeer.close();
  });

  it('ptime: Opus 20 ms toward a PCMA phone at 30 ms, and the phone\'s 30 ms frames back as 20 ms Opus', async () => {
    const opusPeer = await RtpPeer.open();
    const pcmaPeer = await RtpPeer.open();
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'opus-ptime', 'from-tag': 'a',
      sdp: sdpFor({ port: opusPeer.port, pts: [111], rtpmaps: ['111 opus/48000/2'], extra: ['a=fmtp:111 minptime=10;useinbandfec=1', 'a=ptime:20'] }),
      codec: { mask: ['opus'], transcode: ['PCMA'] }, ptime: 30,
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    expect(String(offer.sdp)).toMatch(/^a=ptime:30\r?$/m);
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'opus-ptime', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: pcmaPeer.port, pts: [8], rtpmaps: ['8 PCMA/8000'], ptime: 30 }) });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    expect(answer.warnings).toBeUndefined();
    expect(String(answer.sdp)).toMatch(/^a=ptime:20\r?$/m);

    // 30 Opus frames of 20 ms (600 ms) reach the phone as 20 PCMA frames of 30 ms.
    const enc = new OpusEncoderStream();
    for (let k = 0; k < 30; k++) {
      await opusPeer.send(rtpPacket({ pt: 111, seq: k, ts: k * 960, ssrc: 11, payload: enc.encode(tone(1000, 48000, 960, 8000, k * 960)) }), mediaTarget(String(answer.sdp)).port);
      await sleep(2);
    }
    const atPcma = await pcmaPeer.waitFor(20, 5000);
    expect(atPcma.every((p) => (p[1] & 0x7f) === 8 && p.length === 12 + 240)).toBe(true);
    const ts = atPcma.map((p) => p.readUInt32BE(4));
    expect(ts.slice(1).map((t, i) => (t - ts[i]) >>> 0)).toEqual(new Array(19).fill(240));
    const seq = atPcma.map((p) => p.readUInt16BE(2));
    expect(seq.slice(1).map((q, i) => (q - seq[i]) & 0xffff)).toEqual(new Array(19).fill(1));
    const pcm8 = new Int16Array(240 * 20);
    atPcma.forEach((p, i) => decodeAlaw(p.subarray(12), pcm8.subarray(i * 240, (i + 1) * 240)));
    expect(Math.abs(dB(goertzelAmplitude(pcm8.subarray(240 * 6), 1000, 8000), 8000))).toBeLessThan(2);

    // 20 PCMA frames of 30 ms back: 30 Opus frames of 20 ms (960 ticks each).
    for (let k = 0; k < 20; k++) {
      const codes = Buffer.alloc(240);
      encodeAlaw(tone(440, 8000, 240, 8000, k * 240), codes);
      await pcmaPeer.send(rtpPacket({ pt: 8, seq: k, ts: k * 240, ssrc: 22, payload: codes }), mediaTarget(String(offer.sdp)).port);
      await sleep(2);
    }
    const atOpus = await opusPeer.waitFor(30, 5000);
    const ots = atOpus.map((p) => p.readUInt32BE(4));
    expect(ots.slice(1).map((t, i) => (t - ots[i]) >>> 0)).toEqual(new Array(29).fill(960));
    const dec = new OpusDecoderStream();
    const pcm48 = atOpus.flatMap((p) => [...dec.decode(p.subarray(12))]);
    expect(Math.abs(dB(goertzelAmplitude(pcm48.slice(960 * 10), 440, 48000), 8000))).toBeLessThan(2);
    opusPeer.close();
    pcmaPeer.close();
  });

  it('a PCMA offerer can be offered Opus toward the answerer (transcode=opus), with RFC 7587 fmtp', async () => {
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'opus-2', 'from-tag': 'a',
      sdp: sdpFor({ port: 40100, pts: [8], rtpmaps: ['8 PCMA/8000'] }),
      codec: { transcode: ['opus'] },
    });
    expect(offer.result).toBe('ok');
    const sdp = String(offer.sdp);
    expect(sdp).toMatch(/^a=rtpmap:(\d+) opus\/48000\/2/m);
    expect(sdp).toMatch(/^a=fmtp:\d+ minptime=10;useinbandfec=1/m);
  });
});
