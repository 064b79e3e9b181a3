import { describe, it, expect } from 'vitest';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { G722Decoder, G722Encoder } from '../../src/media/codecs/g722.js';
import { OpusDecoderStream, OpusEncoderStream } from '../../src/media/codecs/opus.js';
import { decodeAlaw, encodeAlaw } from '../../src/media/codecs/g711.js';
import { goertzelAmplitude, tone, dB } from '../helpers/audio.js';

/** G.722 (16 kHz audio on an 8000 Hz RTP clock) ↔ PCMA and ↔ Opus through the media plane. */
const tandem = tandemPerFile();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const steps = (ts: number[]): number[] => ts.slice(1).map((t, i) => (t - ts[i]) >>> 0);

describe('G.722 transcoding', () => {
  it('PCMA in, G.722 out (and back): a tone survives at its frequency and level, on G.722\'s 8000 Hz clock', async () => {
    const pcmaPeer = await RtpPeer.open();
    const g722Peer = await RtpPeer.open();
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'g722-1', 'from-tag': 'a',
      sdp: sdpFor({ port: pcmaPeer.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }),
      codec: { mask: ['PCMA'], transcode: ['G722'] },
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    expect(String(offer.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 9\r?$/m);
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'g722-1', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: g722Peer.port, pts: [9], rtpmaps: ['9 G722/8000'] }) });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    expect(String(answer.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 8\r?$/m);

    // PCMA → G.722: 25 frames of 1 kHz.
    for (let k = 0; k < 25; k++) {
      const codes = Buffer.alloc(160);
      encodeAlaw(tone(1000, 8000, 160, 8000, k * 160), codes);
      await pcmaPeer.send(rtpPacket({ pt: 8, seq: k, ts: 3000 + k * 160, ssrc: 11, payload: codes }), mediaTarget(String(answer.sdp)).port);
      await sleep(2);
    }
    const atG722 = await g722Peer.waitFor(25, 5000);
    // 20 ms of 16 kHz audio is 160 code bytes and 160 ticks of the 8000 Hz clock (RFC 3551 §4.5.2).
    expect(atG722.every((p) => (p[1] & 0x7f) === 9 && p.length === 12 + 160)).toBe(true);
    expect(steps(atG722.map((p) => p.readUInt32BE(4)))).toEqual(new Array(24).fill(160));
    expect(steps(atG722.map((p) => p.readUInt16BE(2)))).toEqual(new Array(24).fill(1));
    const dec = new G722Decoder();
    const pcm16 = atG722.flatMap((p) => [...dec.decode(p.subarray(12))]);
    const settled = pcm16.slice(320 * 5);
    expect(Math.abs(dB(goertzelAmplitude(settled, 1000, 16000), 8000))).toBeLessThan(1);
    expect(goertzelAmplitude(settled, 1300, 16000)).toBeLessThan(goertzelAmplitude(settled, 1000, 16000) / 50);
    // Nothing above the narrowband signal's 4 kHz: the 8 → 16 kHz interpolator leaves no image at 7 kHz.
    expect(goertzelAmplitude(settled, 7000, 16000)).toBeLessThan(goertzelAmplitude(settled, 1000, 16000) / 300);

    // G.722 → PCMA: 25 frames of 440 Hz.
    const enc = new G722Encoder();
    for (let k = 0; k < 25; k++) {
      await g722Peer.send(rtpPacket({ pt: 9, seq: k, ts: 7000 + k * 160, ssrc: 22, payload: enc.encode(tone(440, 16000, 320, 8000, k * 320)) }), mediaTarget(String(offer.sdp)).port);
      await sleep(2);
    }
    const atPcma = await pcmaPeer.waitFor(25, 5000);
    expect(atPcma.every((p) => (p[1] & 0x7f) === 8 && p.length === 12 + 160)).toBe(true);
    expect(steps(atPcma.map((p) => p.readUInt32BE(4)))).toEqual(new Array(24).fill(160));
    const pcm8 = new Int16Array(160 * 25);
    atPcma.forEach((p, i) => decodeAlaw(p.subarray(12), pcm8.subarray(i * 160, (i + 1) * 160)));
    const tail = pcm8.subarray(160 * 5);
    expect(Math.abs(dB(goertzelAmplitude(tail, 440, 8000), 8000))).toBeLessThan(1);
    expect(goertzelAmplitude(tail, 740, 8000)).toBeLessThan(goertzelAmplitude(tail, 440, 8000) / 50);
    pcmaPeer.close();
    g722Peer.close();
  });

  it('Opus in, G.722 out (and back), the 16 ↔ 48 kHz resampler and both clocks', async () => {
    const opusPeer = await RtpPeer.open();
    const g722Peer = await RtpPeer.open();
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'g722-2', 'from-tag': 'a',
      sdp: sdpFor({ port: opusPeer.port, pts: [111], rtpmaps: ['111 opus/48000/2'], extra: ['a=fmtp:111 minptime=10;useinbandfec=1'] }),
      codec: { mask: ['opus'], transcode: ['G722'] },
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    expect(String(offer.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 9\r?$/m);
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'g722-2', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: g722Peer.port, pts: [9], rtpmaps: ['9 G722/8000'] }) });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');

    // Opus → G.722: a 5 kHz tone, in G.722's higher sub-band (above anything G.711 could carry).
    const oenc = new OpusEncoderStream();
    for (let k = 0; k < 25; k++) {
      await opusPeer.send(rtpPacket({ pt: 111, seq: k, ts: k * 960, ssrc: 33, payload: oenc.encode(tone(5000, 48000, 960, 8000, k * 960)) }), mediaTarget(String(answer.sdp)).port);
      await sleep(2);
    }
    const atG722 = await g722Peer.waitFor(25, 5000);
    expect(atG722.every((p) => (p[1] & 0x7f) === 9 && p.length === 12 + 160)).toBe(true);
    expect(steps(atG722.map((p) => p.readUInt32BE(4)))).toEqual(new Array(24).fill(160));
    const gdec = new G722Decoder();
    const pcm16 = atG722.flatMap((p) => [...gdec.decode(p.subarray(12))]).slice(320 * 8);
    expect(Math.abs(dB(goertzelAmplitude(pcm16, 5000, 16000), 8000))).toBeLessThan(3);
    expect(goertzelAmplitude(pcm16, 3000, 16000)).toBeLessThan(goertzelAmplitude(pcm16, 5000, 16000) / 20);

    // G.722 → Opus: 1 kHz, 20 ms Opus frames (960 ticks).
    const genc = new G722Encoder();
    for (let k = 0; k < 25; k++) {
      await g722Peer.send(rtpPacket({ pt: 9, seq: k, ts: k * 160, ssrc: 44, payload: genc.encode(tone(1000, 16000, 320, 8000, k * 320)) }), mediaTarget(String(offer.sdp)).port);
      await sleep(2);
    }
    const atOpus = await opusPeer.waitFor(25, 5000);
    expect(atOpus.every((p) => (p[1] & 0x7f) === 111)).toBe(true);
    expect(steps(atOpus.map((p) => p.readUInt32BE(4)))).toEqual(new Array(24).fill(960));
    const odec = new OpusDecoderStream();
    const pcm48 = atOpus.flatMap((p) => [...odec.decode(p.subarray(12))]).slice(960 * 8);
    expect(Math.abs(dB(goertzelAmplitude(pcm48, 1000, 48000), 8000))).toBeLessThan(2);
    opusPeer.close();
    g722Peer.close();
  });

  it('a PCMA offerer can be offered G.722 toward the answerer (transcode=G722), static PT 9 at 8000', async () => {
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'g722-3', 'from-tag': 'a',
      sdp: sdpFor({ port: 40300, pts: [8], rtpmaps: ['8 PCMA/8000'] }),
      codec: { transcode: ['G722'] },
    });
    expect(offer.result).toBe('ok');
    expect(String(offer.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 8 9\r?$/m);
    expect(String(offer.sdp)).toMatch(/^a=rtpmap:9 G722\/8000/m);
  });
});
