import { describe, it, expect, afterEach } from 'vitest';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { RawNg } from '../helpers/ng.js';
import { ioFromEnv } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { encodeAlaw } from '../../src/media/codecs/g711.js';
import { tone } from '../helpers/audio.js';
import { defaultMediaOptions } from '../../src/media/api.js';
import { LocalMedia } from '../../src/media/session/local-media.js';

/**
 * The first call after a start finds the media plane set up: every worker did its one-time set-up
 * (wasm compiles, libopus, werift) before Tandem said it was ready, and the first call adds none.
 * Observed as an ordering (the warm-up log line before "tandem ready") and as each worker's list of
 * set-ups, which a call would lengthen if it had to do one; TANDEM_WARMUP=off is the positive control
 * that shows a lazily set-up worker is seen doing it during the first call.
 */
const started: { t: RunningTandem; ng: RawNg }[] = [];

afterEach(async () => {
  for (const s of started.splice(0)) {
    s.ng.close();
    await s.t.close();
  }
});

async function start(warmUp: boolean): Promise<{ t: RunningTandem; ng: RawNg; messages: string[] }> {
  const messages: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void messages.push(String((JSON.parse(line) as { msg: unknown }).msg)) });
  const base = 10000 + Math.floor(Math.random() * 45) * 400;
  // Workers copy the environment when they are spawned, so it is set only around the start.
  if (!warmUp) process.env.TANDEM_WARMUP = 'off';
  try {
    const t = await startTandem(
      { ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, listenSip: [], portMin: base, portMax: base + 399, numThreads: 2, ...ioFromEnv() },
      log,
    );
    const ng = await new RawNg(t.ngAddress.port).open();
    started.push({ t, ng });
    return { t, ng, messages };
  } finally {
    delete process.env.TANDEM_WARMUP;
  }
}

async function setUps(t: RunningTandem): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < t.media.pool.size; i++) {
    const r = await t.media.pool.channel(i).request({ op: 'totals' });
    if (r.op !== 'totals') throw new Error(`totals answered ${r.op}`);
    out.push(r.totals.setUps ?? []);
  }
  return out;
}

/** A PCMA caller transcoded to an Opus callee, with 5 frames of audio through it. */
async function firstCall(ng: RawNg, callId: string): Promise<number> {
  const caller = await RtpPeer.open();
  const callee = await RtpPeer.open();
  try {
    const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdpFor({ port: caller.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }), codec: { transcode: ['opus'] } });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const answer = await ng.request({
      command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b',
      sdp: sdpFor({ port: callee.port, pts: [111], rtpmaps: ['111 opus/48000/2'], extra: ['a=fmtp:111 minptime=10;useinbandfec=1'] }),
    });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const codes = Buffer.alloc(160);
    for (let k = 0; k < 5; k++) {
      encodeAlaw(tone(440, 8000, 160, 8000, k * 160), codes);
      await caller.send(rtpPacket({ pt: 8, seq: k, ts: k * 160, ssrc: 7, payload: codes }), mediaTarget(String(answer.sdp)).port);
    }
    const got = await callee.waitFor(5, 5000);
    expect(got.every((p) => (p[1] & 0x7f) === 111)).toBe(true);
    await ng.request({ command: 'delete', 'call-id': callId, 'from-tag': 'a' });
    return got.length;
  } finally {
    caller.close();
    callee.close();
  }
}

describe('the first call after a start', () => {
  it('finds every worker warmed up before "tandem ready", and sets nothing up itself', async () => {
    const { t, ng, messages } = await start(true);
    const warmed = messages.indexOf('media workers warmed up');
    expect(warmed).toBeGreaterThanOrEqual(0);
    expect(warmed).toBeLessThan(messages.indexOf('tandem ready'));
    for (let i = 0; i < t.media.pool.size; i++) {
      const w = t.media.pool.channel(i).warmUp;
      expect(w?.skipped).toBe(false);
      expect(w?.setUps).toEqual(expect.arrayContaining(['werift', 'opus', 'wasm:g711', 'wasm:g722', 'wasm:resample', 'wasm:srtp']));
    }
    const before = await setUps(t);
    expect(before).toEqual(Array.from({ length: t.media.pool.size }, (_v, i) => t.media.pool.channel(i).warmUp?.setUps));

    expect(await firstCall(ng, 'first-warm')).toBe(5);
    expect(await setUps(t)).toEqual(before);
  });

  it('positive control: without the warm-up, the first call is the one that loads libopus', async () => {
    const { t, ng, messages } = await start(false);
    expect(messages).toContain('media workers started without warm-up (TANDEM_WARMUP=off)');
    const before = await setUps(t);
    expect(before.every((s) => s.length === 0)).toBe(true);

    expect(await firstCall(ng, 'first-cold')).toBe(5);
    const after = await setUps(t);
    expect(after.flat()).toEqual(expect.arrayContaining(['opus', 'wasm:g711']));
  });
});

describe('the first call after a worker is replaced', () => {
  it('goes to a ready worker, not to the replacement still doing its warm-up', async () => {
    const portMin = 20000 + Math.floor(Math.random() * 100) * 40;
    const media = new LocalMedia({
      interface: '127.0.0.1', portMin, portMax: portMin + 39, workers: 2, maxSessions: 0,
      mediaTimeoutMs: 0, logLevel: 'silent', log: pino({ level: 'silent' }), poolTuning: { respawnBaseMs: 1, watchdogIntervalMs: 0 }, io: ioFromEnv().io ?? 'batch',
    });
    try {
      await media.ready();
      const old = media.pool.channel(0);
      await media.pool.kill(0);
      await expect.poll(() => media.pool.channel(0) !== old && media.pool.channel(0).alive).toBe(true);
      // The replacement is running but has not finished its warm-up (about a second of work).
      expect(media.pool.channel(0).isReady).toBe(false);
      await media.offer({ callId: 'after-respawn', fromTag: 'a', sdp: sdpFor({ port: 40000, pts: [0], rtpmaps: ['0 PCMU/8000'] }), options: defaultMediaOptions() });
      expect(media.pool.loads()).toEqual([0, 1]);
      await media.pool.ready();
      // Once it is ready it takes calls again (the least loaded).
      await media.offer({ callId: 'after-ready', fromTag: 'a', sdp: sdpFor({ port: 40002, pts: [0], rtpmaps: ['0 PCMU/8000'] }), options: defaultMediaOptions() });
      expect(media.pool.loads()).toEqual([1, 1]);
    } finally {
      await media.close();
    }
  });
});
