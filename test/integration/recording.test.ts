import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BDict } from '../../src/control/bencode.js';
import { encodeAlaw } from '../../src/media/codecs/g711.js';
import { OpusEncoderStream } from '../../src/media/codecs/opus.js';
import { startTestTandem, type TestTandem } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget, patternPayload } from '../helpers/rtp-peer.js';
import { goertzelAmplitude, tone } from '../helpers/audio.js';
import { describeWithPeers, requirePeerPath } from '../helpers/peers.js';
import { SrtpContext } from '../../src/media/rtp/srtp.js';

/** The UDP payloads of a LINKTYPE_RAW pcap, with their ports. */
function pcapPackets(buf: Buffer): { from: number; to: number; data: Buffer }[] {
  expect(buf.readUInt32LE(0)).toBe(0xa1b2c3d4);
  expect(buf.readUInt32LE(20)).toBe(101);
  const out: { from: number; to: number; data: Buffer }[] = [];
  for (let at = 24; at + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(at + 8);
    const ip = buf.subarray(at + 16, at + 16 + len);
    out.push({ from: ip.readUInt16BE(20), to: ip.readUInt16BE(22), data: ip.subarray(28) });
    at += 16 + len;
  }
  return out;
}

/**
 * Recording through ng (`start/pause/stop recording`, `record call`, `metadata`) with real RTP on
 * loopback: the pcap holds both legs' RTP as received and sent (an SRTP leg's decrypted), the WAV holds leg A's tone on the
 * left and leg B's on the right, and a directory that cannot be written is an error reply while
 * the call's media keeps flowing.
 */
const FRAMES = 60;

/** The peers of a call and the Tandem ports each sends to. */
interface Call {
  a: RtpPeer;
  b: RtpPeer;
  /** Where leg A sends (the answer's port) and where leg B sends (the offer's). */
  portForA: number;
  portForB: number;
  opusPt: number;
}

/** A call: leg A (side 0) offers PCMA with Opus added; leg B answers Opus, so Tandem transcodes. */
async function transcodedCall(t: TestTandem, callId: string, extra: BDict = {}): Promise<Call & { offer: BDict; answer: BDict }> {
  const a = await RtpPeer.open();
  const b = await RtpPeer.open();
  const offer = await t.ng.request({
    command: 'offer', 'call-id': callId, 'from-tag': 'leg-a',
    sdp: sdpFor({ port: a.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }),
    codec: { transcode: ['opus'] }, ...extra,
  });
  expect(offer.result, String(offer['error-reason'])).toBe('ok');
  const opusPt = Number(/^a=rtpmap:(\d+) opus\/48000\/2\r$/m.exec(String(offer.sdp))?.[1]);
  expect(opusPt).toBeGreaterThan(95);
  const answer = await t.ng.request({
    command: 'answer', 'call-id': callId, 'from-tag': 'leg-a', 'to-tag': 'leg-b',
    sdp: sdpFor({ port: b.port, pts: [opusPt], rtpmaps: [`${opusPt} opus/48000/2`] }),
  });
  expect(answer.result, String(answer['error-reason'])).toBe('ok');
  return { a, b, portForA: mediaTarget(String(answer.sdp)).port, portForB: mediaTarget(String(offer.sdp)).port, opusPt, offer, answer };
}

/** Leg A plays 440 Hz in PCMA and leg B 1000 Hz in Opus, a frame every 20 ms from each. */
async function talk(c: Call, frames = FRAMES, seq0 = 0): Promise<void> {
  const enc = new OpusEncoderStream();
  for (let k = seq0; k < seq0 + frames; k++) {
    const codes = Buffer.alloc(160);
    encodeAlaw(tone(440, 8000, 160, 8000, k * 160), codes);
    await c.a.send(rtpPacket({ pt: 8, seq: 100 + k, ts: 1000 + k * 160, ssrc: 0xaaaa, payload: codes }), c.portForA);
    await c.b.send(rtpPacket({ pt: c.opusPt, seq: 500 + k, ts: 9000 + k * 960, ssrc: 0xbbbb, payload: enc.encode(tone(1000, 48000, 960, 8000, k * 960)) }), c.portForB);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits (bounded) until `ok()` holds. */
async function until(ok: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function stereo(file: string): { left: Int16Array; right: Int16Array; rate: number; channels: number } {
  const buf = readFileSync(file);
  expect(buf.toString('latin1', 0, 4)).toBe('RIFF');
  expect(buf.readUInt32LE(4)).toBe(buf.length - 8);
  expect(buf.toString('latin1', 36, 40)).toBe('data');
  expect(buf.readUInt32LE(40)).toBe(buf.length - 44);
  const n = (buf.length - 44) / 4;
  const left = new Int16Array(n);
  const right = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    left[i] = buf.readInt16LE(44 + i * 4);
    right[i] = buf.readInt16LE(46 + i * 4);
  }
  return { left, right, rate: buf.readUInt32LE(24), channels: buf.readUInt16LE(22) };
}

describe('recording to WAV', () => {
  let t: TestTandem;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-rec-wav-'));
    t = await startTestTandem({ recordingDir: dir, recordingMethod: 'wav' });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes one stereo file: leg A (PCMA) left, leg B (Opus) right, and the metadata sidecar', async () => {
    const c = await transcodedCall(t, 'rec-wav-1');
    const start = await t.ng.request({ command: 'start recording', 'call-id': 'rec-wav-1', metadata: 'customer=42|queue=sales' });
    expect(start.result, String(start['error-reason'])).toBe('ok');
    await talk(c);
    await until(() => c.a.received.length >= FRAMES - 2 && c.b.received.length >= FRAMES - 2, 'both legs to hear each other');
    const stop = await t.ng.request({ command: 'stop recording', 'call-id': 'rec-wav-1' });
    expect(stop.result, String(stop['error-reason'])).toBe('ok');

    const files = readdirSync(dir);
    const wav = files.find((f) => f.startsWith('rec-wav-1-') && f.endsWith('.wav'));
    const json = files.find((f) => f.startsWith('rec-wav-1-') && f.endsWith('.json'));
    expect(wav, files.join(', ')).toBeDefined();
    expect(json).toBe(wav!.replace(/\.wav$/, '.json'));
    const pcm = stereo(join(dir, wav!));
    expect([pcm.rate, pcm.channels]).toEqual([8000, 2]);
    // About FRAMES × 20 ms of audio (the first packets of each leg start the timeline).
    expect(pcm.left.length).toBeGreaterThan(FRAMES * 160 * 0.8);
    const l440 = goertzelAmplitude(pcm.left, 440, 8000);
    const l1000 = goertzelAmplitude(pcm.left, 1000, 8000);
    const r440 = goertzelAmplitude(pcm.right, 440, 8000);
    const r1000 = goertzelAmplitude(pcm.right, 1000, 8000);
    expect(l440).toBeGreaterThan(10 * l1000);
    expect(r1000).toBeGreaterThan(10 * r440);
    expect(l440).toBeGreaterThan(1000);
    expect(r1000).toBeGreaterThan(1000);

    const side = JSON.parse(readFileSync(join(dir, json!), 'utf8')) as Record<string, unknown>;
    expect(side).toMatchObject({ 'call-id': 'rec-wav-1', method: 'wav', metadata: 'customer=42|queue=sales', tags: ['leg-a', 'leg-b'], files: [join(dir, wav!)] });
    expect(typeof side.stopped).toBe('string');
    const st = ((await t.ng.request({ command: 'statistics' })).statistics as BDict).totalstatistics as BDict;
    expect(st).toMatchObject({ recordingdropped: 0, recordingerrors: 0 });
    await t.ng.request({ command: 'delete', 'call-id': 'rec-wav-1' });
    c.a.close();
    c.b.close();
  });

  it('record call on the offer starts it; pause leaves out what is sent meanwhile; delete closes the file', async () => {
    const c = await transcodedCall(t, 'rec-wav-2', { 'record call': 'yes' });
    expect(c.offer.warning).toBeUndefined();
    await talk(c, 20);
    expect((await t.ng.request({ command: 'pause recording', 'call-id': 'rec-wav-2' })).result).toBe('ok');
    await new Promise((r) => setTimeout(r, 100));
    await talk(c, 20, 20);
    await until(() => c.a.received.length >= 38 && c.b.received.length >= 38, 'media while paused');
    await t.ng.request({ command: 'delete', 'call-id': 'rec-wav-2' });
    await until(() => readdirSync(dir).some((f) => f.startsWith('rec-wav-2-') && f.endsWith('.json') && readFileSync(join(dir, f), 'utf8').includes('stopped')), 'the sidecar to say stopped');
    const wav = readdirSync(dir).find((f) => f.startsWith('rec-wav-2-') && f.endsWith('.wav'));
    const pcm = stereo(join(dir, wav!));
    // 20 frames recorded before the pause; the 20 sent while paused are not in the file.
    expect(pcm.left.length).toBeGreaterThan(15 * 160);
    expect(pcm.left.length).toBeLessThan(32 * 160);
    expect(goertzelAmplitude(pcm.left, 440, 8000)).toBeGreaterThan(10 * goertzelAmplitude(pcm.left, 1000, 8000));
    c.a.close();
    c.b.close();
  });

  it('malformed requests are errors; the call is untouched', async () => {
    expect(await t.ng.request({ command: 'start recording', 'call-id': 'no-such-call' })).toMatchObject({ result: 'error', 'error-code': 'UNKNOWN_CALL' });
    expect(await t.ng.request({ command: 'start recording' })).toMatchObject({ result: 'error', 'error-reason': 'No call-id in message' });
    const bad = await t.ng.request({
      command: 'offer', 'call-id': 'rec-wav-3', 'from-tag': 'x', sdp: sdpFor({ port: 4000, pts: [8] }), 'record call': 'maybe',
    });
    expect(bad).toMatchObject({ result: 'error', 'error-code': 'BAD_REQUEST' });
    expect(String(bad['error-reason'])).toContain('record call');
    // The refused offer made no call.
    expect(await t.ng.request({ command: 'stop recording', 'call-id': 'rec-wav-3' })).toMatchObject({ result: 'error', 'error-code': 'UNKNOWN_CALL' });
  });
});

describe('recording an SDES-SRTP leg to pcap', () => {
  let t: TestTandem;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-rec-srtp-'));
    t = await startTestTandem({ recordingDir: dir, recordingMethod: 'pcap' });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the SRTP leg’s packets decrypted, both as received and as sent', async () => {
    const plain = await RtpPeer.open();
    const secure = await RtpPeer.open();
    const offer = await t.ng.request({
      command: 'offer', 'call-id': 'rec-srtp-1', 'from-tag': 'a', sdp: sdpFor({ port: plain.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }),
      'transport-protocol': 'RTP/SAVP', 'record call': 'yes',
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const m = /^a=crypto:(\d+) AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)/m.exec(String(offer.sdp))!;
    const theirs = Buffer.from(m[2], 'base64');
    const ours = Buffer.alloc(30, 7);
    const answer = await t.ng.request({
      command: 'answer', 'call-id': 'rec-srtp-1', 'from-tag': 'a', 'to-tag': 'b',
      sdp: sdpFor({ port: secure.port, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: [`a=crypto:${m[1]} AES_CM_128_HMAC_SHA1_80 inline:${ours.toString('base64')}`] }).replace('RTP/AVP', 'RTP/SAVP'),
    });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const toSecure = new SrtpContext('AES_CM_128_HMAC_SHA1_80', ours.subarray(0, 16), ours.subarray(16));
    const fromTandem = new SrtpContext('AES_CM_128_HMAC_SHA1_80', theirs.subarray(0, 16), theirs.subarray(16));
    const forward = [0, 1, 2].map((i) => patternPayload(160, i));
    const back = [3, 4, 5].map((i) => patternPayload(160, i));
    for (const [i, p] of forward.entries()) await plain.send(rtpPacket({ pt: 0, seq: 10 + i, ts: 160 * i, ssrc: 0xa, payload: p }), mediaTarget(String(answer.sdp)).port);
    for (const [i, p] of back.entries()) await secure.send(toSecure.protectRtp(rtpPacket({ pt: 0, seq: 20 + i, ts: 160 * i, ssrc: 0xb, payload: p })), mediaTarget(String(offer.sdp)).port);
    await until(() => plain.received.length >= 3 && secure.received.length >= 3, 'media both ways');
    // Positive control: on the wire toward the SRTP leg the payload is encrypted.
    const wire = secure.received[0];
    expect(wire.subarray(12, 172).equals(forward[0])).toBe(false);
    expect(fromTandem.unprotectRtp(wire).ok).toBe(true);
    await t.ng.request({ command: 'delete', 'call-id': 'rec-srtp-1' });
    await until(() => readdirSync(dir).some((f) => f.endsWith('.json') && readFileSync(join(dir, f), 'utf8').includes('stopped')), 'the recording to close');
    const pcap = pcapPackets(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.pcap'))!)));
    const secPort = mediaTarget(String(offer.sdp)).port;
    const sentToSecure = pcap.filter((r) => r.from === secPort && r.to === secure.port).map((r) => r.data);
    const fromSecure = pcap.filter((r) => r.from === secure.port && r.to === secPort).map((r) => r.data);
    expect(sentToSecure.map((d) => d.subarray(12))).toEqual(forward);
    expect(fromSecure.map((d) => d.subarray(12))).toEqual(back);
    plain.close();
    secure.close();
  });
});

describe('recording to an unwritable directory', () => {
  let t: TestTandem;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-rec-bad-'));
    // A regular file where a directory should be: unwritable even for root.
    writeFileSync(join(dir, 'file'), 'x');
    t = await startTestTandem({ recordingDir: join(dir, 'file', 'rec'), recordingMethod: 'pcap' });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers an error naming the directory, and the call keeps relaying', async () => {
    const c = await transcodedCall(t, 'rec-bad-1');
    // Positive control: media flows before.
    await talk(c, 5);
    await until(() => c.a.received.length >= 4 && c.b.received.length >= 4, 'media before');
    const r = await t.ng.request({ command: 'start recording', 'call-id': 'rec-bad-1' });
    expect(r.result).toBe('error');
    expect(String(r['error-reason'])).toContain(join(dir, 'file', 'rec'));
    expect(String(r['error-reason'])).toMatch(/ENOTDIR|EEXIST/);
    const before = [c.a.received.length, c.b.received.length];
    await talk(c, 10, 5);
    await until(() => c.a.received.length >= before[0] + 9 && c.b.received.length >= before[1] + 9, 'media after the refused recording');
    // The flag on a re-offer: a warning, the offer itself succeeds.
    const re = await t.ng.request({
      command: 'offer', 'call-id': 'rec-bad-1', 'from-tag': 'leg-a', sdp: sdpFor({ port: c.a.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }),
      codec: { transcode: ['opus'] }, flags: ['record-call'],
    });
    expect(re.result).toBe('ok');
    expect(String(re.warning)).toContain('recording not started');
    await t.ng.request({ command: 'delete', 'call-id': 'rec-bad-1' });
    c.a.close();
    c.b.close();
  });
});

describeWithPeers('recording to pcap (tshark reads it)', ['tshark'], () => {
  let t: TestTandem;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-rec-pcap-'));
    t = await startTestTandem({ recordingDir: dir, recordingMethod: 'pcap' });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds both legs’ RTP as received and as sent, decoded as RTP by tshark', async () => {
    const c = await transcodedCall(t, 'rec-pcap-1');
    expect((await t.ng.request({ command: 'start recording', 'call-id': 'rec-pcap-1' })).result).toBe('ok');
    await talk(c, 20);
    await until(() => c.a.received.length >= 19 && c.b.received.length >= 19, 'media');
    const del = await t.ng.request({ command: 'delete', 'call-id': 'rec-pcap-1' });
    expect(del.result).toBe('ok');
    await until(() => readdirSync(dir).some((f) => f.endsWith('.json') && readFileSync(join(dir, f), 'utf8').includes('stopped')), 'the recording to close');
    const pcap = readdirSync(dir).find((f) => f.startsWith('rec-pcap-1-') && f.endsWith('.pcap'));
    expect(pcap).toBeDefined();

    const out = execFileSync(requirePeerPath('tshark'), [
      '-r', join(dir, pcap!), '-o', 'rtp.heuristic_rtp:TRUE', '-Y', 'rtp',
      '-T', 'fields', '-E', 'separator=,', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport', '-e', 'rtp.p_type', '-e', 'rtp.ssrc',
    ], { encoding: 'utf8', timeout: 20_000 });
    const rows = out.trim().split('\n').map((l) => l.split(','));
    const count = (from: number, to: number, pt: number): number => rows.filter((r) => Number(r[1]) === from && Number(r[3]) === to && Number(r[4]) === pt).length;
    const { a, b, portForA, portForB, opusPt } = c;
    // Leg A → Tandem (PCMA), Tandem → leg B (Opus), leg B → Tandem (Opus), Tandem → leg A (PCMA).
    expect(count(a.port, portForA, 8)).toBe(20);
    expect(count(portForB, b.port, opusPt)).toBeGreaterThanOrEqual(19);
    expect(count(b.port, portForB, opusPt)).toBe(20);
    expect(count(portForA, a.port, 8)).toBeGreaterThanOrEqual(19);
    expect(rows.length).toBe(count(a.port, portForA, 8) + count(portForB, b.port, opusPt) + count(b.port, portForB, opusPt) + count(portForA, a.port, 8));
    expect(rows.every((r) => r[0] === '127.0.0.1' && r[2] === '127.0.0.1')).toBe(true);
    // The SSRC leg A sent with, as tshark reads it from the record.
    expect(rows.filter((r) => Number(r[1]) === a.port)[0][5]).toBe('0x0000aaaa');
    c.a.close();
    c.b.close();
  });
});
