import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BDict } from '../../src/control/bencode.js';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { decodeAlaw, encodeAlaw } from '../../src/media/codecs/g711.js';
import { OpusDecoderStream } from '../../src/media/codecs/opus.js';
import { goertzelAmplitude, tone } from '../helpers/audio.js';

/**
 * ng media control over real UDP: block/unblock DTMF and media, silence media, play media (WAV
 * file, blob64, repeat, stop), play DTMF (RFC 4733 and in-band), bad input answered with an ng
 * error while the call goes on, and call quality (MOS) in query/delete.
 */
const tandem = tandemPerFile();
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tandem-mediactl-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Codecs = { pts: number[]; rtpmaps: string[]; extra?: string[] };
const PCMA_TE: Codecs = { pts: [8, 101], rtpmaps: ['8 PCMA/8000', '101 telephone-event/8000'], extra: ['a=fmtp:101 0-16'] };
const PCMA_ONLY: Codecs = { pts: [8], rtpmaps: ['8 PCMA/8000'] };

interface Call {
  id: string;
  a: RtpPeer;
  b: RtpPeer;
  /** Where A sends to reach B (the port facing A), and where B sends to reach A. */
  toA: number;
  toB: number;
  close(): Promise<void>;
}

let calls = 0;
async function call(o: { caller?: Codecs; callee?: Codecs; offer?: BDict } = {}): Promise<Call> {
  const id = `mc-${++calls}`;
  const a = await RtpPeer.open();
  const b = await RtpPeer.open();
  const offer = await tandem.ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'A', sdp: sdpFor({ port: a.port, ...(o.caller ?? PCMA_TE) }), ...o.offer });
  expect(offer.result, String(offer['error-reason'])).toBe('ok');
  const answer = await tandem.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'A', 'to-tag': 'B', sdp: sdpFor({ port: b.port, ...(o.callee ?? PCMA_TE) }) });
  expect(answer.result, String(answer['error-reason'])).toBe('ok');
  return {
    id, a, b,
    // The answer (to A) names the port facing A: what A sends there reaches B; and the other way.
    toB: mediaTarget(String(answer.sdp)).port,
    toA: mediaTarget(String(offer.sdp)).port,
    async close() {
      await tandem.ng.request({ command: 'delete', 'call-id': id });
      a.close();
      b.close();
    },
  };
}

const ev = (code: number, duration: number, end = false): Buffer => Buffer.from([code, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]);
const alawTone = (f: number, k: number): Buffer => {
  const out = Buffer.alloc(160);
  encodeAlaw(tone(f, 8000, 160, 8000, k * 160), out);
  return out;
};
const pt = (p: Buffer): number => p[1] & 0x7f;
const ctl = (command: string, c: Call, extra: BDict = {}): Promise<BDict> => tandem.ng.request({ command, 'call-id': c.id, ...extra });

/** A sends n audio packets (PT 8) then n events (PT 101) toward B, from sequence `seq`. */
async function audioAndEvents(c: Call, n: number, seq: number, from: 'a' | 'b' = 'a'): Promise<void> {
  const peer = from === 'a' ? c.a : c.b;
  const port = from === 'a' ? c.toB : c.toA;
  for (let k = 0; k < n; k++) await peer.send(rtpPacket({ pt: 8, seq: seq + k, ts: (seq + k) * 160, ssrc: 0x1111, payload: alawTone(1000, k) }), port);
  for (let k = 0; k < n; k++) await peer.send(rtpPacket({ pt: 101, seq: seq + n + k, ts: (seq + n) * 160, ssrc: 0x1111, payload: ev(5, 160 * (k + 1)), marker: k === 0 }), port);
}

/** Decoded PCMA payloads of packets with PT 8, concatenated. */
function pcmOf(packets: Buffer[], ptNum = 8): Int16Array {
  const media = packets.filter((p) => pt(p) === ptNum);
  const out = new Int16Array(media.length * 160);
  media.forEach((p, i) => decodeAlaw(p.subarray(12, 172), out.subarray(i * 160, (i + 1) * 160)));
  return out;
}

function wav16(samples: Int16Array, rate: number, channels = 1, format = 1, bits = 16): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((v, i) => data.writeInt16LE(v, i * 2));
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(format, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE((rate * channels * bits) / 8, 28);
  h.writeUInt16LE((channels * bits) / 8, 32);
  h.writeUInt16LE(bits, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Settles a burst: waits until `peer` has n packets, or a short bounded time for "no more". */
async function settle(peer: RtpPeer, n: number, ms = 3000): Promise<Buffer[]> {
  await peer.waitFor(n, ms).catch(() => undefined);
  return peer.received;
}

function streamOf(q: BDict, tag: string): BDict {
  const medias = ((q.tags as BDict)[tag] as BDict).medias as BDict[];
  return (medias[0].streams as BDict[])[0];
}

describe('block DTMF / unblock DTMF', () => {
  it('whole call: no telephone-event reaches B while blocked (counted), audio does; after unblock events pass again', async () => {
    const c = await call();
    expect((await ctl('block DTMF', c)).result).toBe('ok');
    await audioAndEvents(c, 5, 100);
    // Positive control for "nothing else arrived": a last audio packet after the events.
    await c.a.send(rtpPacket({ pt: 8, seq: 110, ts: 110 * 160, ssrc: 0x1111, payload: alawTone(1000, 10) }), c.toB);
    const blocked = await settle(c.b, 6);
    expect(blocked.map(pt)).toEqual([8, 8, 8, 8, 8, 8]);
    const q = await ctl('query', c);
    expect((streamOf(q, 'B')['media control'] as BDict)['DTMF blocked']).toBe(5);

    expect((await ctl('unblock DTMF', c)).result).toBe('ok');
    await audioAndEvents(c, 3, 200);
    const after = await settle(c.b, 12);
    expect(after.slice(6).map(pt)).toEqual([8, 8, 8, 101, 101, 101]);
    await c.close();
  });

  it('directional (from-tag + flag): events from A are dropped, events from B still reach A', async () => {
    const c = await call();
    expect((await ctl('block DTMF', c, { 'from-tag': 'A', flags: ['directional'] })).result).toBe('ok');
    await audioAndEvents(c, 2, 300, 'a');
    await audioAndEvents(c, 2, 400, 'b');
    expect((await settle(c.b, 2)).map(pt)).toEqual([8, 8]);
    expect((await settle(c.a, 4)).map(pt)).toEqual([8, 8, 101, 101]);
    // Without `directional`, rtpengine ignores the from-tag: the whole call is blocked.
    await ctl('unblock DTMF', c, { 'from-tag': 'A', flags: ['directional'] });
    await ctl('block DTMF', c, { 'from-tag': 'A' });
    await audioAndEvents(c, 1, 500, 'b');
    await c.b.send(rtpPacket({ pt: 8, seq: 600, ts: 600 * 160, ssrc: 0x2222, payload: alawTone(1000, 0) }), c.toA);
    expect((await settle(c.a, 6)).slice(4).map(pt)).toEqual([8, 8]);
    await c.close();
  });
});

describe('block media / silence media', () => {
  it('block media drops audio but lets DTMF pass; unblock restores audio', async () => {
    const c = await call();
    await ctl('block media', c);
    await audioAndEvents(c, 3, 100);
    expect((await settle(c.b, 3)).map(pt)).toEqual([101, 101, 101]);
    await ctl('unblock media', c);
    await audioAndEvents(c, 2, 200);
    expect((await settle(c.b, 7)).slice(3).map(pt)).toEqual([8, 8, 101, 101]);
    const q = await ctl('query', c);
    expect((streamOf(q, 'B')['media control'] as BDict)['media blocked']).toBe(3);
    await c.close();
  });

  it('silence media from A: B gets PCMA silence bytes (0xD5) in A\'s packets; unsilence gives the audio back', async () => {
    const c = await call();
    await ctl('silence media', c, { 'from-tag': 'A' });
    await audioAndEvents(c, 3, 100);
    const got = await settle(c.b, 6);
    const audio = got.filter((p) => pt(p) === 8);
    expect(audio.length).toBe(3);
    for (const p of audio) expect([...p.subarray(12)].every((x) => x === 0xd5)).toBe(true);
    // Events are not audio: they pass unchanged.
    expect(got.filter((p) => pt(p) === 101).length).toBe(3);
    await ctl('unsilence media', c, { 'from-tag': 'A' });
    await c.a.send(rtpPacket({ pt: 8, seq: 300, ts: 300 * 160, ssrc: 0x1111, payload: alawTone(1000, 0) }), c.toB);
    const back = await settle(c.b, 7);
    expect(back[6].subarray(12)).toEqual(alawTone(1000, 0));
    await c.close();
  });

  it('silence toward an Opus leg sends the Opus silence frame', async () => {
    const a = await RtpPeer.open();
    const b = await RtpPeer.open();
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'mc-opus-silence', 'from-tag': 'A',
      sdp: sdpFor({ port: a.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }),
      codec: { transcode: ['opus'] },
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const answer = await tandem.ng.request({
      command: 'answer', 'call-id': 'mc-opus-silence', 'from-tag': 'A', 'to-tag': 'B',
      sdp: sdpFor({ port: b.port, pts: [111], rtpmaps: ['111 opus/48000/2'] }),
    });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    await tandem.ng.request({ command: 'silence media', 'call-id': 'mc-opus-silence', 'from-tag': 'A' });
    const toB = mediaTarget(String(answer.sdp)).port;
    for (let k = 0; k < 4; k++) await a.send(rtpPacket({ pt: 8, seq: k, ts: k * 160, ssrc: 5, payload: alawTone(1000, k) }), toB);
    const got = await settle(b, 4);
    expect(got.length).toBe(4);
    for (const p of got) {
      expect(pt(p)).toBe(111);
      expect([...p.subarray(12)]).toEqual([0xf8, 0xff, 0xfe]);
    }
    const dec = new OpusDecoderStream();
    const pcm = dec.decode(got[3].subarray(12));
    expect(Math.max(...pcm.map(Math.abs))).toBe(0);
    await tandem.ng.request({ command: 'delete', 'call-id': 'mc-opus-silence' });
    a.close();
    b.close();
  });
});

describe('play media / stop media', () => {
  it('plays a 16 kHz WAV file to B in PCMA with the stream\'s SSRC, sequence and timestamps; relayed audio resumes after it', async () => {
    const c = await call();
    // A talks first: the played file must continue this stream.
    for (let k = 0; k < 3; k++) await c.a.send(rtpPacket({ pt: 8, seq: 1000 + k, ts: 50_000 + k * 160, ssrc: 0xabc, payload: alawTone(400, k) }), c.toB);
    await settle(c.b, 3);
    const file = join(dir, 'tone1k.wav');
    writeFileSync(file, wav16(tone(1000, 16000, 16000 * 0.3, 12000), 16000)); // 300 ms
    const r = await ctl('play media', c, { 'from-tag': 'B', file });
    expect(r.result, String(r['error-reason'])).toBe('ok');
    expect(r.duration).toBe(300);
    // While playing, A's audio toward B is replaced, not mixed in.
    for (let k = 3; k < 6; k++) await c.a.send(rtpPacket({ pt: 8, seq: 1000 + k, ts: 50_000 + k * 160, ssrc: 0xabc, payload: alawTone(400, k) }), c.toB);
    const got = await settle(c.b, 3 + 15);
    const played = got.slice(3, 18);
    expect(played.map(pt)).toEqual(new Array(15).fill(8));
    expect(played.every((p) => p.length === 172 && p.readUInt32BE(8) === 0xabc)).toBe(true);
    const seqs = got.slice(0, 18).map((p) => p.readUInt16BE(2));
    expect(seqs.map((s, i) => (s - seqs[0] - i) & 0xffff)).toEqual(new Array(18).fill(0));
    const ts = played.map((p) => p.readUInt32BE(4));
    expect(ts.map((t) => t - ts[0])).toEqual(Array.from({ length: 15 }, (_v, i) => i * 160));
    expect(ts[0] - (50_000 + 2 * 160)).toBeGreaterThanOrEqual(160);
    expect((played[0][1] & 0x80) !== 0).toBe(true); // marker: a new talkspurt
    const pcm = pcmOf(played);
    const at1k = goertzelAmplitude(pcm, 1000, 8000);
    expect(at1k).toBeGreaterThan(8000);
    expect(goertzelAmplitude(pcm, 400, 8000)).toBeLessThan(at1k / 50);
    // After the file A is heard again, continuing the numbering.
    await new Promise((res) => setTimeout(res, 50));
    await c.a.send(rtpPacket({ pt: 8, seq: 1010, ts: 50_000 + 10 * 160, ssrc: 0xabc, payload: alawTone(400, 10) }), c.toB);
    const after = await settle(c.b, 19);
    expect(after.length).toBe(19);
    expect((after[18].readUInt16BE(2) - after[17].readUInt16BE(2)) & 0xffff).toBe(1);
    expect(after[18].readUInt32BE(4) - after[17].readUInt32BE(4)).toBeGreaterThanOrEqual(160);
    expect(after[18].subarray(12)).toEqual(alawTone(400, 10));
    const q = await ctl('query', c);
    const mc = streamOf(q, 'B')['media control'] as BDict;
    expect(mc.generated).toBe(15);
    expect(mc.replaced).toBe(3);
    await c.close();
  });

  it('blob64 with repeat-times and start-pos; stop media ends it early and says where', async () => {
    const c = await call({ callee: PCMA_ONLY });
    const blob = wav16(tone(700, 8000, 8000, 9000), 8000); // 1 s
    const r = await ctl('play media', c, { 'from-tag': 'B', blob64: blob.toString('base64'), 'repeat-times': 3, 'start-pos': 500 });
    expect(r.result, String(r['error-reason'])).toBe('ok');
    expect(r.duration).toBe(2500);
    await settle(c.b, 5);
    const stop = await ctl('stop media', c, { 'from-tag': 'B' });
    expect(stop.result).toBe('ok');
    expect(Number(stop['last-frame-pos'])).toBeGreaterThanOrEqual(600);
    const n = c.b.received.length;
    expect(n).toBeLessThan(125); // far from the 2.5 s it would have played
    // Nothing more is generated: A's next packet is the next thing B gets.
    await c.a.send(rtpPacket({ pt: 8, seq: 7, ts: 7 * 160, ssrc: 9, payload: alawTone(400, 0) }), c.toB);
    const after = await settle(c.b, n + 1);
    expect(after.length).toBe(n + 1);
    expect(after[n].subarray(12)).toEqual(alawTone(400, 0));
    await c.close();
  });

  it('plays to an Opus leg in Opus: the decoded audio carries the tone', async () => {
    const a = await RtpPeer.open();
    const b = await RtpPeer.open();
    const id = 'mc-opus-play';
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'A', sdp: sdpFor({ port: a.port, ...PCMA_ONLY }), codec: { transcode: ['opus'] } });
    await tandem.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'A', 'to-tag': 'B', sdp: sdpFor({ port: b.port, pts: [111], rtpmaps: ['111 opus/48000/2'] }) });
    expect(offer.result).toBe('ok');
    const file = join(dir, 'tone-opus.wav');
    writeFileSync(file, wav16(tone(1000, 48000, 48000 * 0.2, 12000), 48000));
    const r = await tandem.ng.request({ command: 'play media', 'call-id': id, 'from-tag': 'B', file });
    expect(r.duration).toBe(200);
    const got = await settle(b, 10);
    expect(got.length).toBe(10);
    expect(got.every((p) => pt(p) === 111)).toBe(true);
    const ts = got.map((p) => p.readUInt32BE(4));
    expect(ts.map((t) => (t - ts[0]) >>> 0)).toEqual(Array.from({ length: 10 }, (_v, i) => i * 960));
    const dec = new OpusDecoderStream();
    const pcm = Int16Array.from(got.flatMap((p) => [...dec.decode(p.subarray(12))]));
    const tail = pcm.subarray(960 * 4);
    expect(goertzelAmplitude(tail, 1000, 48000)).toBeGreaterThan(5000);
    await tandem.ng.request({ command: 'delete', 'call-id': id });
    a.close();
    b.close();
  });
});

describe('play media toward G.722', () => {
  it('plays a file to a G.722 leg: 160-byte frames on the 8000 Hz clock, decoding to the tone', async () => {
    const { G722Decoder } = await import('../../src/media/codecs/g722.js');
    const a = await RtpPeer.open();
    const b = await RtpPeer.open();
    const id = 'mc-g722-play';
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'A', sdp: sdpFor({ port: a.port, ...PCMA_ONLY }), codec: { transcode: ['G722'] } });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'A', 'to-tag': 'B', sdp: sdpFor({ port: b.port, pts: [9], rtpmaps: ['9 G722/8000'] }) });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const file = join(dir, 'tone-g722.wav');
    writeFileSync(file, wav16(tone(1000, 16000, 16000 * 0.2, 12000), 16000));
    const r = await tandem.ng.request({ command: 'play media', 'call-id': id, 'from-tag': 'B', file });
    expect(r.duration).toBe(200);
    const got = await settle(b, 10);
    expect(got.length).toBe(10);
    expect(got.every((p) => pt(p) === 9 && p.length === 172)).toBe(true);
    const ts = got.map((p) => p.readUInt32BE(4));
    expect(ts.map((t) => (t - ts[0]) >>> 0)).toEqual(Array.from({ length: 10 }, (_v, i) => i * 160));
    const dec = new G722Decoder();
    const pcm = Int16Array.from(got.flatMap((p) => [...dec.decode(p.subarray(12))]));
    expect(goertzelAmplitude(pcm.subarray(640), 1000, 16000)).toBeGreaterThan(6000);
    await tandem.ng.request({ command: 'delete', 'call-id': id });
    a.close();
    b.close();
  });
});

describe('play media toward an SDES-SRTP leg', () => {
  it('generated packets are encrypted with the leg\'s key and carry the tone', async () => {
    const { randomBytes } = await import('node:crypto');
    const { SrtpContext } = await import('../../src/media/rtp/srtp.js');
    const a = await RtpPeer.open();
    const b = await RtpPeer.open();
    const id = 'mc-srtp-play';
    const theirKey = randomBytes(30);
    const offerSdp = sdpFor({ port: a.port, ...PCMA_ONLY, extra: [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${theirKey.toString('base64')}`] }).replace('RTP/AVP', 'RTP/SAVP');
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'A', sdp: offerSdp, 'transport-protocol': 'RTP/AVP' });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'A', 'to-tag': 'B', sdp: sdpFor({ port: b.port, ...PCMA_ONLY }) });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const key = /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:(\S+)/.exec(String(answer.sdp))?.[1];
    expect(key).toBeDefined();
    const keySalt = Buffer.from(key!, 'base64');
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', keySalt.subarray(0, 16), keySalt.subarray(16));
    const file = join(dir, 'tone-srtp.wav');
    writeFileSync(file, wav16(tone(1000, 8000, 800, 12000), 8000));
    const r = await tandem.ng.request({ command: 'play media', 'call-id': id, 'from-tag': 'A', file });
    expect(r.duration).toBe(100);
    const got = await settle(a, 5);
    expect(got.length).toBe(5);
    const plain = got.map((p) => rx.unprotectRtp(p));
    expect(plain.every((x) => x.ok)).toBe(true);
    const pcm = pcmOf(plain.map((x) => (x.ok ? Buffer.from(x.packet) : Buffer.alloc(0))));
    expect(goertzelAmplitude(pcm, 1000, 8000)).toBeGreaterThan(8000);
    await tandem.ng.request({ command: 'delete', 'call-id': id });
    a.close();
    b.close();
  });
});

describe('play DTMF', () => {
  it('RFC 4733 toward a leg with telephone-event: one timestamp, growing durations, three end packets', async () => {
    const c = await call();
    const r = await ctl('play DTMF', c, { 'from-tag': 'A', code: '5', duration: 100, volume: 12 });
    expect(r.result, String(r['error-reason'])).toBe('ok');
    const got = await settle(c.b, 7);
    expect(got.length).toBe(7);
    expect(got.map(pt)).toEqual(new Array(7).fill(101));
    expect(new Set(got.map((p) => p.readUInt32BE(4))).size).toBe(1);
    // 100 ms at 8 kHz = 800: a packet per 20 ms frame, the end packet three times (RFC 4733 §2.5.1.4).
    expect(got.map((p) => [p[12], p[13], p.readUInt16BE(14)])).toEqual([
      [5, 12, 160], [5, 12, 320], [5, 12, 480], [5, 12, 640], [5, 0x80 | 12, 800], [5, 0x80 | 12, 800], [5, 0x80 | 12, 800],
    ]);
    expect(got.map((p) => p[1] >> 7)).toEqual([1, 0, 0, 0, 0, 0, 0]);
    const seqs = got.map((p) => p.readUInt16BE(2));
    expect(seqs.map((s) => (s - seqs[0]) & 0xffff)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Nothing follows the third end packet (positive control: A's audio does).
    await new Promise((res) => setTimeout(res, 60));
    await c.a.send(rtpPacket({ pt: 8, seq: 1, ts: 160, ssrc: 3, payload: alawTone(400, 0) }), c.toB);
    const after = await settle(c.b, 8);
    expect(after.slice(7).map(pt)).toEqual([8]);
    await c.close();
  });

  it('in-band tone toward a leg without telephone-event (digit 5 = 770 + 1336 Hz)', async () => {
    const c = await call({ callee: PCMA_ONLY });
    const r = await ctl('play DTMF', c, { 'from-tag': 'A', code: 5, duration: 200 });
    expect(r.result, String(r['error-reason'])).toBe('ok');
    const got = await settle(c.b, 10);
    expect(got.length).toBe(10);
    expect(got.every((p) => pt(p) === 8)).toBe(true);
    const pcm = pcmOf(got);
    const low = goertzelAmplitude(pcm, 770, 8000);
    const high = goertzelAmplitude(pcm, 1336, 8000);
    expect(low).toBeGreaterThan(3000);
    expect(high).toBeGreaterThan(3000);
    for (const other of [697, 852, 941, 1209, 1477, 1633]) expect(goertzelAmplitude(pcm, other, 8000)).toBeLessThan(low / 10);
    await c.close();
  });
});

describe('bad input: a clear ng error, and the call goes on', () => {
  it('unknown call, unknown tag, missing/corrupt/non-PCM file, huge or bad blob, bad code', async () => {
    const c = await call();
    const err = async (command: string, extra: BDict, reason: RegExp, callId = c.id): Promise<void> => {
      const r = await tandem.ng.request({ command, 'call-id': callId, ...extra });
      expect(r.result).toBe('error');
      expect(String(r['error-reason'])).toMatch(reason);
    };
    await err('block DTMF', {}, /Unknown call-id/, 'no-such-call');
    await err('play media', { 'from-tag': 'X', file: '/nonexistent.wav' }, /From-tag given, but no such tag exists/);
    await err('play media', { 'from-tag': 'B', file: join(dir, 'missing.wav') }, /cannot play file .*missing\.wav.*: no such file/);
    const corrupt = join(dir, 'corrupt.wav');
    writeFileSync(corrupt, Buffer.concat([Buffer.from('RIFF\x10\x00\x00\x00WAVEjunk', 'latin1'), Buffer.alloc(3)]));
    await err('play media', { 'from-tag': 'B', file: corrupt }, /no fmt chunk|truncated/);
    const float = join(dir, 'float.wav');
    writeFileSync(float, wav16(new Int16Array(800), 8000, 1, 3));
    await err('play media', { 'from-tag': 'B', file: float }, /WAV format 3 is not PCM/);
    await err('play media', { 'from-tag': 'B', blob64: Buffer.alloc(40_000).toString('base64') }, /over the 32768-byte limit/);
    await err('play media', { 'from-tag': 'B', blob64: '%%%not base64' }, /not base64/);
    await err('play media', { 'from-tag': 'B' }, /No media file specified/);
    await err('play media', { file: join(dir, 'x.wav') }, /No participant party specified/);
    await err('play DTMF', { 'from-tag': 'A', code: 'Z' }, /Out of range 'code'/);
    await err('play DTMF', { 'from-tag': 'A', code: 16 }, /Out of range 'code'/);
    await err('play media', { 'from-tag': 'B', file: dir }, /not a regular file/);
    // The call is untouched: media still flows both ways.
    await c.a.send(rtpPacket({ pt: 8, seq: 1, ts: 160, ssrc: 1, payload: alawTone(400, 0) }), c.toB);
    await c.b.send(rtpPacket({ pt: 8, seq: 1, ts: 160, ssrc: 2, payload: alawTone(400, 0) }), c.toA);
    await settle(c.b, 1);
    await settle(c.a, 1);
    expect(c.a.received.length).toBe(1);
    expect(c.b.received.length).toBe(1);
    expect((await ctl('query', c)).result).toBe('ok');
    await c.close();
  });
});

describe('call quality in query and delete', () => {
  it('MOS from Tandem\'s own receive statistics (loss counted), then from the receiver\'s RTCP reports', async () => {
    // Both multiplex RTCP, so their RTCP comes from the address their RTP does (one socket each here).
    const mux: Codecs = { ...PCMA_TE, extra: [...(PCMA_TE.extra ?? []), 'a=rtcp-mux'] };
    const c = await call({ caller: mux, callee: mux });
    // A → B: 50 sequence numbers, every fifth missing (20 % loss).
    for (let k = 0; k < 50; k++) if (k % 5 !== 2) await c.a.send(rtpPacket({ pt: 8, seq: k, ts: k * 160, ssrc: 0x51, payload: alawTone(400, k) }), c.toB);
    await settle(c.b, 40);
    c.b.received.length = 0;
    const q = await ctl('query', c);
    const ssrc = (q.SSRC as BDict)[String(0x51)] as BDict;
    expect(ssrc, JSON.stringify(q.SSRC)).toBeDefined();
    const avg = ssrc['average MOS'] as BDict;
    expect(Number(avg['packet loss'])).toBe(20);
    expect(Number(avg.MOS)).toBeGreaterThanOrEqual(10);
    expect(Number(avg.MOS)).toBeLessThan(40); // 20 % loss is far from toll quality (44)
    expect(ssrc['MOS source']).toBe('receive statistics');
    for (const k of ['lowest MOS', 'highest MOS']) expect(Number((ssrc[k] as BDict)['reported at'])).toBeGreaterThan(1_700_000_000);
    const stream = streamOf(q, 'A');
    expect(stream.MOS).toBe(avg.MOS);

    // A's SR goes to B through Tandem (which notes when it left toward B)...
    const sr = Buffer.alloc(28);
    sr[0] = 0x80; sr[1] = 200; sr.writeUInt16BE(6, 2); sr.writeUInt32BE(0x51, 4);
    sr.writeUInt32BE(0xe1234567, 8); sr.writeUInt32BE(0x89ab0000, 12);
    await c.a.send(sr, c.toB);
    await c.b.waitFor(1); // B got the SR (multiplexed)
    await new Promise((res) => setTimeout(res, 50));
    // ...and B reports about A's stream over RTCP: fraction lost 64/256 (25 %), jitter 80 units
    // (10 ms), LSR echoing that SR with 20 ms of DLSR.
    const rr = Buffer.alloc(32);
    rr[0] = 0x81; rr[1] = 201; rr.writeUInt16BE(7, 2); rr.writeUInt32BE(0xb0b, 4);
    rr.writeUInt32BE(0x51, 8); rr[12] = 64; rr.writeUInt32BE(49, 16); rr.writeUInt32BE(80, 20);
    rr.writeUInt32BE(0x456789ab, 24); rr.writeUInt32BE(Math.round(0.02 * 65536), 28);
    await c.b.send(rr, c.toA);
    // The RR is peeked as it is relayed: ask until the quality says so (bounded).
    for (let i = 0; i < 40; i++) {
      const q2 = await ctl('query', c);
      if (((q2.SSRC as BDict)[String(0x51)] as BDict)['MOS source'] === 'RTCP') break;
      await new Promise((res) => setTimeout(res, 25));
    }
    const del = await ctl('delete', c);
    const viaRtcp = (del.SSRC as BDict)[String(0x51)] as BDict;
    expect(viaRtcp['MOS source']).toBe('RTCP');
    expect(Number((viaRtcp['lowest MOS'] as BDict)['packet loss'])).toBe(25);
    expect(Number((viaRtcp['lowest MOS'] as BDict).jitter)).toBe(10);
    // The round trip toward B: at least the 50 ms we waited less B's 20 ms hold, less than a second.
    const rtt = Number((viaRtcp['lowest MOS'] as BDict)['round-trip time leg']);
    expect(rtt).toBeGreaterThanOrEqual(25_000);
    expect(rtt).toBeLessThan(1_000_000);
    c.a.close();
    c.b.close();
  });
});
