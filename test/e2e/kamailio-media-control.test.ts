// Media control through Debian's Kamailio 5.6 (rtpengine module) against an ng media server: the
// caller asks for actions with in-dialog INFOs (`X-Media`), test/e2e/kamailio/media-control.cfg runs
// start_recording() (Kamailio 5.6's name for rtpengine_start_recording), play_media("from-tag=$tt file=…"), block_dtmf/unblock_dtmf, play_dtmf and rtpengine_query (with
// mos_*_pv AVPs) and answers with the results. The callee must hear the file's tone (Goertzel), no
// telephone-event may pass while blocked (events do again after unblock), the query must give MOS,
// a missing file must fail the module call while the call goes on, and the server's pcap recording
// (--recording-method=pcap) must open in tshark with both legs' RTP decoded.
//
// Run: npx vitest run test/e2e/kamailio-media-control.test.ts   (E2E_MEDIA_SERVERS=tandem|rtpengine)
// Tandem needs `npm run build` first (dist/cli/tandem.js).
import { afterAll, beforeAll, expect, it, type TestContext } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, waitFor } from './helpers/proc.js';
import { NgTap, type BDict, type BValue } from './helpers/ng.js';
import { describeWithPeers, requirePeerPath } from '../helpers/peers.js';
import { mediaServerKinds, peersFor, startMediaServer, type MediaServer } from './helpers/media-servers.js';
import { startKamailio, type Kamailio } from './helpers/kamailio.js';
import { SipUa, audioSdp, hdr, parseAudioSdp, type Dialog, type AudioSdpInfo } from './helpers/sip-ua.js';
import { decodeAlaw, encodeAlaw } from '../../src/media/codecs/g711.js';
import { goertzelAmplitude, tone } from '../helpers/audio.js';

const CFG = fileURLToPath(new URL('./kamailio/media-control.cfg', import.meta.url));
const OFFER_FLAGS = 'replace-origin replace-session-connection';
const CODECS = [
  { pt: 8, name: 'PCMA' },
  { pt: 101, name: 'telephone-event', fmtp: '0-16' },
];
const PLAY_MS = 600;

/** A 16-bit mono WAV of `samples` at `rate`. */
function wav(samples: Int16Array, rate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + samples.length * 2, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(samples.length * 2, 40);
  return Buffer.concat([h, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]);
}

const alaw = (f: number, k: number): Buffer => {
  const b = Buffer.alloc(160);
  encodeAlaw(tone(f, 8000, 160, 6000, k * 160), b);
  return b;
};

/** Every file under `dir` (rtpengine puts its pcaps in a `pcaps/` subdirectory, Tandem in the directory itself). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

interface RecordedRtp { srcPort: number; dstPort: number; pt: number; ssrc: number }

/** The RTP packets of a pcap as tshark's RTP dissector decodes them (heuristic: no port is told). */
function tsharkRtp(file: string): RecordedRtp[] {
  const out = execFileSync(requirePeerPath('tshark'), [
    '-r', file, '-o', 'rtp.heuristic_rtp:TRUE', '-Y', 'rtp',
    '-T', 'fields', '-E', 'separator=,', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'rtp.p_type', '-e', 'rtp.ssrc',
  ], { encoding: 'utf8', timeout: 20_000 });
  return out.split('\n').filter((l) => l !== '').map((l) => {
    const [src, dst, pt, ssrc] = l.split(',');
    return { srcPort: Number(src), dstPort: Number(dst), pt: Number(pt), ssrc: Number(ssrc) };
  });
}

/** "srcPort>dstPort pt ssrc" → packets, for a readable comparison and log line. */
function countBy(rows: RecordedRtp[], pick: (r: RecordedRtp) => boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows.filter(pick)) {
    const k = `pt${r.pt} ssrc 0x${r.ssrc.toString(16)}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

for (const kind of mediaServerKinds()) describeWithPeers(`Kamailio 5.6 media control -> ${kind}`, ['kamailio', 'tshark', ...peersFor(kind)], () => {
  let logDir = '';
  let recDir = '';
  let media: MediaServer | undefined;
  let tap: NgTap | undefined;
  let kam: Kamailio | undefined;
  let caller: SipUa | undefined;
  let callee: SipUa | undefined;
  let dialog: Dialog | undefined;
  let callerView: AudioSdpInfo | undefined; // where the caller sends
  let calleeView: AudioSdpInfo | undefined; // where the callee sends

  const ngSummary = (): string =>
    (tap?.records ?? []).map((r) => `${r.dir} ${r.cookie} ${JSON.stringify(r.dict, (k, v: BValue) => (k === 'sdp' ? '<sdp>' : v)).slice(0, 600)}`).join('\n');
  const onFail = (ctx: TestContext): void => {
    ctx.onTestFailed(() => {
      console.error(`[${kind}] ${ctx.task.name}\n--- ng\n${ngSummary()}\n--- kamailio\n${kam?.proc.tail(40) ?? ''}\n--- ${kind}\n${media?.proc.tail(40) ?? ''}`);
    });
  };
  const info = async (action: string) => caller!.request(dialog!, 'INFO', [['X-Media', action]]);
  const lastReply = (command: string): BDict | undefined => {
    const req = [...tap!.records].reverse().find((r) => r.dir === 'request' && r.dict.command === command);
    return tap!.records.find((r) => r.dir === 'reply' && r.cookie === req?.cookie)?.dict;
  };

  beforeAll(async () => {
    logDir = makeTempDir(`kamailio-mediactl-${kind}`);
    const file = join(logDir, 'tone-1k.wav');
    writeFileSync(file, wav(tone(1000, 16000, (16000 * PLAY_MS) / 1000, 12000), 16000));
    recDir = join(logDir, 'recordings');
    mkdirSync(recDir, { recursive: true }); // rtpengine wants it there; Tandem would make it
    media = await startMediaServer(kind, logDir, [`--recording-dir=${recDir}`, '--recording-method=pcap']);
    tap = await NgTap.start(media.ng);
    caller = await SipUa.create('alice');
    callee = await SipUa.create('bob');
    kam = await startKamailio({
      cfg: CFG,
      logDir,
      ng: { host: '127.0.0.1', port: tap.port },
      calleeUri: `sip:127.0.0.1:${callee.port}`,
      defines: { OFFER_FLAGS: `"${OFFER_FLAGS}"`, PLAY_FILE: `"${file}"` },
    });
    const answering = callee.answerNextInvite({ sdp: audioSdp({ user: 'bob', port: callee.rtp.port, rtcpPort: callee.rtp.rtcpPort, codecs: CODECS }) });
    const { dialog: d, response } = await caller.invite({
      proxy: kam.sip, requestUri: 'sip:bob@127.0.0.1', to: '<sip:bob@127.0.0.1>',
      sdp: audioSdp({ user: 'alice', port: caller.rtp.port, rtcpPort: caller.rtp.rtcpPort, codecs: CODECS }),
    });
    const answered = await answering;
    expect(response.status).toBe(200);
    dialog = d;
    callerView = parseAudioSdp(response.body);
    calleeView = parseAudioSdp(answered.invite.body);
  });

  afterAll(async () => {
    caller?.close();
    callee?.close();
    await kam?.stop();
    tap?.close();
    await media?.stop();
  });

  it('start_recording(): the module sends `start recording` and the server takes it', async (ctx) => {
    onFail(ctx);
    const res = await info('record');
    const req = [...tap!.records].reverse().find((r) => r.dir === 'request' && r.dict.command === 'start recording');
    console.log(`[${kind}] start_recording: ${res.status} ${res.reason}; ng ${JSON.stringify(req?.dict)} → ${JSON.stringify(lastReply('start recording'))}`);
    expect(res.status).toBe(200);
    expect(req?.dict['call-id']).toBe(dialog!.callId);
    expect(lastReply('start recording')?.result).toBe('ok');
  });

  it('play_media("from-tag=$tt file=…"): the callee hears the file\'s 1 kHz tone', async (ctx) => {
    onFail(ctx);
    // The caller talks first (a 400 Hz tone): latching, and a stream for the file to continue.
    await caller!.rtp.sendStream(callerView!, 8, Array.from({ length: 5 }, (_v, k) => alaw(400, k)), { ssrc: 0x5150 });
    await callee!.rtp.sendStream(calleeView!, 8, Array.from({ length: 5 }, (_v, k) => alaw(400, k)), { ssrc: 0xb0b });
    await waitFor('the caller\'s packets at the callee', () => callee!.rtp.received.length >= 5, { timeoutMs: 3000, intervalMs: 20 });
    const before = callee!.rtp.received.length;
    const res = await info('play');
    expect(res.status, `${res.status} ${res.reason}`).toBe(200);
    const duration = Number(hdr(res, 'x-duration'));
    const playReq = [...tap!.records].reverse().find((r) => r.dir === 'request' && r.dict.command === 'play media');
    console.log(`[${kind}] play_media: ${res.status}, X-Duration ${hdr(res, 'x-duration')}; ng request ${JSON.stringify(playReq?.dict)}, reply ${JSON.stringify(lastReply('play media'))}`);
    if (kind === 'tandem') expect(duration).toBe(PLAY_MS);
    // rtpengine sends one frame less than the file holds (29 of 30 here); Tandem pads the last one.
    const frames = PLAY_MS / 20 - 1;
    const callerBefore = caller!.rtp.received.length;
    await waitFor(`${frames} played packets at the callee`, () => callee!.rtp.received.length >= before + frames, { timeoutMs: 5000, intervalMs: 20 }).catch((err: unknown) => {
      throw new Error(`${String(err)}; the callee got ${callee!.rtp.received.length - before}, the caller ${caller!.rtp.received.length - callerBefore} packets meanwhile`);
    });
    await new Promise((r) => setTimeout(r, 100)); // the file has ended
    const played = callee!.rtp.received.slice(before).filter((p) => p.pt === 8);
    if (kind === 'tandem') expect(played.length).toBe(PLAY_MS / 20);
    const pcm = new Int16Array(played.length * 160);
    played.forEach((p, i) => decodeAlaw(p.payload.subarray(0, 160), pcm.subarray(i * 160, (i + 1) * 160)));
    const at1k = goertzelAmplitude(pcm, 1000, 8000);
    const at400 = goertzelAmplitude(pcm, 400, 8000);
    console.log(`[${kind}] callee heard ${played.length} packets: 1 kHz ${at1k.toFixed(0)}, 400 Hz ${at400.toFixed(0)}`);
    expect(at1k).toBeGreaterThan(3000);
    expect(at400).toBeLessThan(at1k / 20);
  });

  it('block_dtmf(): no telephone-event reaches the callee, audio does; after unblock_dtmf() events pass', async (ctx) => {
    onFail(ctx);
    expect((await info('block-dtmf')).status).toBe(200);
    const ev = (d: number, end: boolean): Buffer => Buffer.from([7, (end ? 0x80 : 0) | 10, d >> 8, d & 0xff]);
    const burst = async (seq0: number): Promise<void> => {
      const send = (pkt: Buffer): Promise<void> => new Promise((r) => caller!.rtp.rtp.send(pkt, callerView!.port, callerView!.address, () => r()));
      const rtp = (pt: number, seq: number, ts: number, payload: Buffer, marker = false): Buffer => {
        const h = Buffer.alloc(12);
        h[0] = 0x80; h[1] = (marker ? 0x80 : 0) | pt; h.writeUInt16BE(seq & 0xffff, 2); h.writeUInt32BE(ts >>> 0, 4); h.writeUInt32BE(0x5150, 8);
        return Buffer.concat([h, payload]);
      };
      for (let k = 0; k < 4; k++) await send(rtp(101, seq0 + k, seq0 * 160, ev(160 * (k + 1), k === 3), k === 0));
      await send(rtp(8, seq0 + 4, (seq0 + 4) * 160, alaw(400, 0))); // positive control, after the events
    };
    const before = callee!.rtp.received.length;
    await burst(1000);
    await waitFor('the control packet after the events', () => callee!.rtp.received.slice(before).some((p) => p.pt === 8), { timeoutMs: 3000, intervalMs: 20 });
    expect(callee!.rtp.received.slice(before).map((p) => p.pt)).toEqual([8]);
    console.log(`[${kind}] ng block DTMF as Kamailio sent it: ${JSON.stringify([...tap!.records].reverse().find((r) => r.dict.command === 'block DTMF')?.dict)}`);

    expect((await info('unblock-dtmf')).status).toBe(200);
    const mid = callee!.rtp.received.length;
    await burst(2000);
    await waitFor('events and audio after unblock', () => callee!.rtp.received.length >= mid + 5, { timeoutMs: 3000, intervalMs: 20 });
    expect(callee!.rtp.received.slice(mid).map((p) => p.pt)).toEqual([101, 101, 101, 101, 8]);
  });

  it('play_dtmf("code=5 …") from the caller: RFC 4733 events reach the callee', async (ctx) => {
    onFail(ctx);
    const before = callee!.rtp.received.length;
    const res = await info('dtmf');
    const req = [...tap!.records].reverse().find((r) => r.dir === 'request' && r.dict.command === 'play DTMF');
    console.log(`[${kind}] play_dtmf: ${res.status} ${res.reason}; ng ${JSON.stringify(req?.dict)} → ${JSON.stringify(lastReply('play DTMF'))}`);
    expect(res.status).toBe(200);
    if (kind !== 'tandem') {
      // rtpengine documents that a call must be offered with `inject DTMF` for this: say what came.
      await new Promise((r) => setTimeout(r, 600));
      const got = callee!.rtp.received.slice(before).filter((p) => p.pt === 101);
      console.log(`[${kind}] play_dtmf without inject-DTMF at offer: ${got.length} telephone-event packets at the callee`);
      return;
    }
    await waitFor('the event and its three end packets', () => callee!.rtp.received.slice(before).filter((p) => p.pt === 101).length >= 7, { timeoutMs: 3000, intervalMs: 20 });
    const events = callee!.rtp.received.slice(before).filter((p) => p.pt === 101);
    expect(events.map((p) => [p.payload[0], p.payload[1], p.payload.readUInt16BE(2)])).toEqual([
      [5, 10, 160], [5, 10, 320], [5, 10, 480], [5, 10, 640], [5, 0x8a, 800], [5, 0x8a, 800], [5, 0x8a, 800],
    ]);
    expect(new Set(events.map((p) => p.ts)).size).toBe(1);
  });

  it('rtpengine_query(): the reply carries MOS, and Kamailio fills the mos_* AVPs', async (ctx) => {
    onFail(ctx);
    // A new SSRC: the earlier bursts' timestamp jumps would otherwise show as jitter.
    await caller!.rtp.sendStream(callerView!, 8, Array.from({ length: 10 }, (_v, k) => alaw(400, k)), { ssrc: 0x5151 });
    const res = await info('query');
    expect(res.status).toBe(200);
    const reply = lastReply('query');
    console.log(`[${kind}] rtpengine_query: X-MOS "${hdr(res, 'x-mos')}"; SSRC ${JSON.stringify(reply?.SSRC)}`);
    if (kind === 'tandem') {
      const ssrcs = reply?.SSRC as BDict;
      expect(Object.keys(ssrcs).length).toBeGreaterThan(0);
      for (const v of Object.values(ssrcs)) for (const k of ['average MOS', 'lowest MOS', 'highest MOS']) expect((v as BDict)[k]).toBeDefined();
      expect(hdr(res, 'x-mos')).toMatch(/^avg=\d\.\d min=\d\.\d max=\d\.\d loss=\d+ samples=\d+$/);
    }
  });

  it('play_media of a missing file fails the module call; the call goes on', async (ctx) => {
    onFail(ctx);
    const res = await info('play-missing');
    expect(res.status).toBe(500);
    const reply = lastReply('play media');
    console.log(`[${kind}] missing file: ${JSON.stringify(reply)}`);
    expect(reply?.result).toBe('error');
    const before = callee!.rtp.received.length;
    await caller!.rtp.sendStream(callerView!, 8, [alaw(400, 0), alaw(400, 1)], { ssrc: 0x5152 });
    await waitFor('media after the failed play', () => callee!.rtp.received.length >= before + 2, { timeoutMs: 3000, intervalMs: 20 });
  });

  it('BYE: rtpengine_delete; the delete reply carries the quality too', async (ctx) => {
    onFail(ctx);
    const res = await caller!.bye(dialog!);
    expect(res.status).toBe(200);
    const reply = lastReply('delete');
    expect(reply?.result).toBe('ok');
    if (kind === 'tandem') expect(Object.keys(reply?.SSRC as BDict).length).toBeGreaterThan(0);
  });

  it('the recording (pcap): tshark decodes both legs\' RTP as received (Tandem: and as sent), payload types and SSRCs exact', async (ctx) => {
    onFail(ctx);
    const c = { caller: caller!.rtp.port, callee: callee!.rtp.port };
    if (kind === 'tandem') {
      // The sidecar gets its stop time once the worker has closed the call's files.
      await waitFor('the recording\'s sidecar to say it stopped', () => filesUnder(recDir).some((f) => f.endsWith('.json') && /"stopped"/.test(readFileSync(f, 'utf8'))), { timeoutMs: 5000, intervalMs: 50 });
    }
    let rows: RecordedRtp[] = [];
    let file = '';
    await waitFor('a pcap holding both legs\' RTP', () => {
      file = filesUnder(recDir).find((f) => f.endsWith('.pcap')) ?? '';
      if (file === '') return false;
      rows = tsharkRtp(file);
      return rows.some((r) => r.srcPort === c.caller) && rows.some((r) => r.srcPort === c.callee);
    }, { timeoutMs: 10_000, intervalMs: 250 }).catch((err: unknown) => {
      throw new Error(`${String(err)}; files: ${filesUnder(recDir).join(' ')}; rtp rows ${rows.length}`);
    });
    const fromCaller = countBy(rows, (r) => r.srcPort === c.caller);
    const fromCallee = countBy(rows, (r) => r.srcPort === c.callee);
    const toCaller = countBy(rows, (r) => r.dstPort === c.caller);
    const toCallee = countBy(rows, (r) => r.dstPort === c.callee);
    console.log(`[${kind}] recording ${file}: ${rows.length} RTP packets; from caller ${JSON.stringify(fromCaller)}, from callee ${JSON.stringify(fromCallee)}, to caller ${JSON.stringify(toCaller)}, to callee ${JSON.stringify(toCallee)}`);
    // Only what the call negotiated: PCMA and telephone-event.
    expect(rows.every((r) => r.pt === 8 || r.pt === 101)).toBe(true);
    // Each leg's RTP as it arrived, with the SSRC the leg sent it with. Recording started before any
    // media, so every packet is there (blocked events too): the caller sent 5 + 2 × (4 events + 1 audio)
    // with 0x5150, 10 with 0x5151, 2 with 0x5152; the callee 5 with 0xb0b. Both servers agree here.
    expect(fromCaller).toEqual({ 'pt8 ssrc 0x5150': 7, 'pt101 ssrc 0x5150': 8, 'pt8 ssrc 0x5151': 10, 'pt8 ssrc 0x5152': 2 });
    expect(fromCallee).toEqual({ 'pt8 ssrc 0xb0b': 5 });
    if (kind === 'tandem') {
      // rtpengine's pcap method (no recording daemon needed) holds only what it received; Tandem's also
      // what it sent: as many as each UA received, PCMA and (toward the callee) events.
      const total = (m: Record<string, number>): number => Object.values(m).reduce((n, v) => n + v, 0);
      expect(total(toCallee)).toBe(callee!.rtp.received.length);
      expect(total(toCaller)).toBe(caller!.rtp.received.length);
      expect(Object.keys(toCallee).some((k) => k.startsWith('pt101 '))).toBe(true);
      // The same call's query reply carried MOS (checked above, asserted here beside the recording).
      expect(Object.keys(lastReply('query')?.SSRC as BDict).length).toBeGreaterThan(0);
    }
  });
});
