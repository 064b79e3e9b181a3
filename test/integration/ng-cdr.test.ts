import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { runCtl } from '../../src/cli/ctl.js';
import { defaultConfig, type TandemConfig } from '../../src/config/config.js';
import { RawNg } from '../helpers/ng.js';
import { RtpPeer, rtpPacket, patternPayload, mediaTarget } from '../helpers/rtp-peer.js';
import { sdpOffer } from '../helpers/sip-peer.js';
import { OpsEnv, WAIT_MS } from '../helpers/ops-env.js';

/**
 * Call records of ng-only media sessions (Kamailio driving Tandem's media plane): real ng over UDP
 * and real RTP on 127.0.0.1; one JSON line per ended session, beside the B2BUA's own records.
 */
let tandem: RunningTandem | undefined;
let env: OpsEnv | undefined;
const closers: { close(): void }[] = [];

afterEach(async () => {
  for (const c of closers.splice(0)) c.close();
  await tandem?.close();
  tandem = undefined;
  await env?.close();
  env = undefined;
});

async function startNgOnly(over: Partial<TandemConfig>): Promise<{ tandem: RunningTandem; ng: RawNg }> {
  const base = 10000 + Math.floor(Math.random() * 45) * 400;
  const t = await startTandem(
    { ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, portMin: base, portMax: base + 399, numThreads: 1, logLevel: 'silent', ...over },
    pino({ level: process.env.TEST_LOG ?? 'silent' }),
  );
  tandem = t;
  const ng = await new RawNg(t.ngAddress.port).open();
  closers.push(ng);
  return { tandem: t, ng };
}

/** offer (A speaks PCMA, B is offered PCMU by transcoding) and answer (B, PCMU): the two RTP peers and where each sends. */
async function transcodedSession(ng: RawNg, callId: string): Promise<{ a: RtpPeer; b: RtpPeer; toA: number; toB: number }> {
  const a = await RtpPeer.open();
  const b = await RtpPeer.open();
  closers.push(a, b);
  const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'ft', label: 'caller', sdp: sdpOffer(a.port, [{ pt: 8, name: 'PCMA' }]), codec: { transcode: ['PCMU'] } });
  expect(offer.result).toBe('ok');
  const answer = await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'ft', 'to-tag': 'tt', sdp: sdpOffer(b.port, [{ pt: 0, name: 'PCMU' }]) });
  expect(answer.result).toBe('ok');
  return { a, b, toA: mediaTarget(String(answer.sdp)).port, toB: mediaTarget(String(offer.sdp)).port };
}

async function bothWays(s: { a: RtpPeer; b: RtpPeer; toA: number; toB: number }, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await s.a.send(rtpPacket({ pt: 8, seq: i, ts: i * 160, ssrc: 11, payload: patternPayload(160, 1) }), s.toA);
    await s.b.send(rtpPacket({ pt: 0, seq: i, ts: i * 160, ssrc: 22, payload: patternPayload(160, 2) }), s.toB);
  }
  // Everything relayed has arrived: no packet is in flight when the session ends.
  await s.b.waitFor(n, WAIT_MS);
  await s.a.waitFor(n, WAIT_MS);
}

function records(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const cdrFile = (): string => join(mkdtempSync(join(tmpdir(), 'tandem-ngcdr-')), 'cdr.json');

describe('ng-only sessions: call records', () => {
  it('offer/answer/delete with RTP both ways: one record with tags, codecs, counts per side and reason "delete"; `tandem ctl terminate`: "terminated"', async () => {
    const file = cdrFile();
    const { tandem: t, ng } = await startNgOnly({ cdr: file, listenHttp: { address: '127.0.0.1', port: 0 } });
    const s = await transcodedSession(ng, 'kam-cdr-1');
    await bothWays(s, 10);
    expect((await ng.request({ command: 'delete', 'call-id': 'kam-cdr-1', 'from-tag': 'ft' })).result).toBe('ok');
    await expect.poll(() => t.ops.cdr?.counters.written, { timeout: WAIT_MS }).toBe(1);
    const [r] = records(file);
    expect(r).toMatchObject({
      kind: 'ng',
      callId: 'kam-cdr-1',
      fromTag: 'ft',
      toTags: ['tt'],
      reason: 'delete',
      transcoded: true,
      packets: 20,
      lost: 0,
      loss: 0,
      sides: [
        { tag: 'ft', label: 'caller', medias: [{ index: 1, type: 'audio', protocol: 'RTP/AVP', codec: 'PCMA/8000', transcoded: true, local: `127.0.0.1:${s.toA}`, peer: `127.0.0.1:${s.a.port}`, packetsIn: 10, bytesIn: 10 * 172, errorsIn: 0, packetsOut: 10, lost: 0, loss: 0, mos: { avg: expect.any(Number) as number } }] },
        { tag: 'tt', medias: [{ codec: 'PCMU/8000', local: `127.0.0.1:${s.toB}`, peer: `127.0.0.1:${s.b.port}`, packetsIn: 10, bytesIn: 10 * 172, errorsIn: 0, packetsOut: 10 }] },
      ],
    });
    expect(Date.parse(r.endTime as string)).toBeGreaterThanOrEqual(Date.parse(r.setupTime as string));
    expect(r.durationS).toBeGreaterThanOrEqual(0);
    expect(r.mos).toBeGreaterThan(4);
    // Per stream, the ng query's MOS (×10 there) on the record's scale.
    expect((r.sides as { medias: { mos: { avg: number } }[] }[])[0].medias[0].mos.avg).toBeGreaterThan(4);
    expect(t.ops.cdr?.counters).toEqual({ written: 1, dropped: 0, withoutMedia: 0, posted: 0, postFailed: 0, postDropped: 0 });

    // `tandem ctl terminate` on an ng session: reason "terminated".
    expect((await ng.request({ command: 'offer', 'call-id': 'kam-ctl', 'from-tag': 'f2', sdp: sdpOffer(40040, [{ pt: 0, name: 'PCMU' }]) })).result).toBe('ok');
    let out = '';
    expect(await runCtl([`--url=http://127.0.0.1:${t.ops.address!.port}`, 'terminate', 'kam-ctl'], (o) => (out += o), () => undefined)).toBe(0);
    expect(out).toContain('media session deleted');
    await expect.poll(() => t.ops.cdr?.counters.written, { timeout: WAIT_MS }).toBe(2);
    // Offered only: one side, no answer (so no codec settled), nothing received (so no MOS); the peer is where its SDP said.
    const ctl = records(file)[1];
    expect(ctl).toMatchObject({ kind: 'ng', callId: 'kam-ctl', fromTag: 'f2', toTags: [], reason: 'terminated', packets: 0, sides: [{ tag: 'f2', medias: [{ peer: '127.0.0.1:40040', packetsIn: 0, packetsOut: 0 }] }] });
    expect(ctl.mos).toBeUndefined();
    expect((ctl.sides as { medias: { codec?: string }[] }[])[0].medias[0].codec).toBeUndefined();
  });

  it('a session that times out (--timeout=1) is recorded with reason "timeout"', async () => {
    const file = cdrFile();
    const { tandem: t, ng } = await startNgOnly({ cdr: file, timeout: 1 });
    const idle = await transcodedSession(ng, 'kam-idle');
    await bothWays(idle, 3);
    await expect.poll(() => t.ops.cdr?.counters.written, { timeout: WAIT_MS }).toBe(1);
    expect(records(file)[0]).toMatchObject({ kind: 'ng', callId: 'kam-idle', reason: 'timeout', packets: 6 });
  });

  it('a session whose media worker dies is recorded with reason "worker-failure" (its counters died with the worker)', async () => {
    const file = cdrFile();
    const { tandem: t, ng } = await startNgOnly({ cdr: file });
    const s = await transcodedSession(ng, 'kam-worker');
    await bothWays(s, 4);
    await t.media.pool.kill(0);
    await expect.poll(() => t.ops.cdr?.counters.written, { timeout: WAIT_MS }).toBe(1);
    const [r] = records(file);
    // The worker held the counters, so they are gone with it (0): the record still says how it ended, with the tags and codecs.
    expect(r).toMatchObject({ kind: 'ng', callId: 'kam-worker', reason: 'worker-failure', packets: 0, fromTag: 'ft', toTags: ['tt'], sides: [{ medias: [{ codec: 'PCMA/8000' }] }, { medias: [{ codec: 'PCMU/8000' }] }] });
  });

  it('without --cdr nothing is written; with it, the same session is (positive control)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-ngcdr-'));
    const session = async (over: Partial<TandemConfig>): Promise<RunningTandem> => {
      const { tandem: t, ng } = await startNgOnly(over);
      const s = await transcodedSession(ng, 'kam-nocdr');
      await bothWays(s, 5);
      expect((await ng.request({ command: 'delete', 'call-id': 'kam-nocdr', 'from-tag': 'ft' })).result).toBe('ok');
      await t.close();
      tandem = undefined;
      return t;
    };
    expect((await session({})).ops.cdr).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
    const control = await session({ cdr: join(dir, 'cdr.json') });
    expect(control.ops.cdr?.counters.written).toBe(1);
    expect(readdirSync(dir)).toEqual(['cdr.json']);
    expect(records(join(dir, 'cdr.json'))).toEqual([expect.objectContaining({ kind: 'ng', callId: 'kam-nocdr', reason: 'delete', packets: 10 })]);
  });
});

describe('B2BUA calls beside ng sessions', () => {
  it('a B2BUA call has exactly one record (kind "b2bua"), ended by BYE or by its media timing out; the ng session beside it has its own', async () => {
    const file = cdrFile();
    env = await OpsEnv.start(() => ({ cdr: file, timeout: 1 }));
    const cdr = env.tandem.ops.cdr!;
    // Ended by BYE: the B2BUA says so first, then its media session closes.
    const byed = await env.call();
    closers.push(byed.rtpA, byed.rtpB);
    await env.bye(byed.callId, byed.aOk);
    await expect.poll(() => cdr.counters.written, { timeout: WAIT_MS }).toBe(1);
    // Ended by media timeout: the media session closes first, then the B2BUA hangs up.
    const quiet = await env.call();
    closers.push(quiet.rtpA, quiet.rtpB);
    // An ng session beside them, deleted by its controller.
    const ng = await new RawNg(env.tandem.ngAddress.port).open();
    closers.push(ng);
    expect((await ng.request({ command: 'offer', 'call-id': 'kam-beside', 'from-tag': 'k1', sdp: sdpOffer(40050, [{ pt: 0, name: 'PCMU' }]) })).result).toBe('ok');
    expect((await ng.request({ command: 'delete', 'call-id': 'kam-beside' })).result).toBe('ok');
    await expect.poll(() => cdr.counters.written, { timeout: WAIT_MS }).toBe(3);
    await env.close();
    env = undefined;
    // Shutdown wrote whatever was pending: still three, one per call and session.
    expect(cdr.counters).toMatchObject({ written: 3, dropped: 0, withoutMedia: 0 });
    const all = records(file);
    expect(all).toHaveLength(3);
    const byId = (id: string): Record<string, unknown>[] => all.filter((r) => r.callId === id);
    expect(byId(byed.callId)).toEqual([expect.objectContaining({ kind: 'b2bua', reason: 'BYE from leg A', codecs: { a: 'PCMA/8000', b: 'PCMU/8000' } })]);
    expect(byId(quiet.callId)).toEqual([expect.objectContaining({ kind: 'b2bua', reason: 'media timeout', codecs: { a: 'PCMA/8000', b: 'PCMU/8000' }, packets: 0 })]);
    expect(byId('kam-beside')).toEqual([expect.objectContaining({ kind: 'ng', reason: 'delete', fromTag: 'k1' })]);
  });
});
