import { describe, it, expect, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import dgram from 'node:dgram';
import { getHeader } from '../../src/sip/message.js';
import { RawNg } from '../helpers/ng.js';
import { sdpOffer } from '../helpers/sip-peer.js';
import { randomBytes } from 'node:crypto';
import { RtpPeer, rtpPacket, patternPayload, mediaTarget, sdpFor } from '../helpers/rtp-peer.js';
import { SrtpContext } from '../../src/media/rtp/srtp.js';
import { startRedis, redisCommand } from '../helpers/redis.js';
import { OpsEnv, WAIT_MS, finalFor, sample } from '../helpers/ops-env.js';
import { itWithPeers } from '../helpers/peers.js';

/**
 * The admin listener and /metrics against a real B2BUA call (UDP SIP, RTP through the local media
 * plane, PCMA ↔ PCMU) and a real ng session, on 127.0.0.1.
 */
let env: OpsEnv | undefined;

afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** Debian's python3-prometheus-client parses the text: every family and sample it found, or its error. */
function parseWithPrometheusClient(text: string): { ok: boolean; families: Record<string, number>; error?: string } {
  const script = [
    'import sys, json',
    'from prometheus_client.parser import text_string_to_metric_families',
    'fams = {}',
    'try:',
    '  for f in text_string_to_metric_families(sys.stdin.read()):',
    '    fams[f.name] = len(f.samples)',
    '  print(json.dumps({"ok": True, "families": fams}))',
    'except Exception as e:',
    '  print(json.dumps({"ok": False, "families": fams, "error": repr(e)}))',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', script], { input: text, encoding: 'utf8', timeout: 20_000 });
  return JSON.parse(r.stdout) as { ok: boolean; families: Record<string, number>; error?: string };
}

describe('/metrics during real calls', () => {
  itWithPeers('B2BUA and ng calls move the counters, and Debian\'s Prometheus parser reads the text', ['prometheus'], async () => {
    env = await OpsEnv.start();
    const before = await env.metrics();
    expect(sample(before, 'tandem_calls_started_total')).toBe(0);

    // A transcoded B2BUA call with RTP both ways.
    const { callId, aOk, bInvite, rtpA, rtpB } = await env.call();
    const toA = mediaTarget(aOk.msg.body.toString());
    const toB = mediaTarget(bInvite.msg.body.toString());
    for (let i = 0; i < 10; i++) {
      await rtpA.send(rtpPacket({ pt: 8, seq: i, ts: i * 160, ssrc: 1, payload: patternPayload(160, 1) }), toA.port);
      await rtpB.send(rtpPacket({ pt: 0, seq: i, ts: i * 160, ssrc: 2, payload: patternPayload(160, 2) }), toB.port);
    }
    await rtpB.waitFor(10, WAIT_MS);
    await rtpA.waitFor(10, WAIT_MS);

    // An ng session beside it (Kamailio's way), relayed PCMU.
    const ng = await new RawNg(env.tandem.ngAddress.port).open();
    const ngCall = `ng-${Math.random().toString(36).slice(2)}`;
    const offer = await ng.request({ command: 'offer', 'call-id': ngCall, 'from-tag': 'f1', sdp: sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]) });
    expect(offer.result).toBe('ok');
    const badCommand = await ng.request({ command: 'frobnicate' });
    expect(badCommand.result).toBe('error');
    // Damaged datagrams: ng bencode that does not parse, and SIP bytes that are not a message.
    const raw = dgram.createSocket('udp4');
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
    raw.send('c1 d7:command', env.tandem.ngAddress.port, '127.0.0.1');
    raw.send('NOT SIP AT ALL\r\n\r\n', env.sip.port, '127.0.0.1');
    await expect.poll(() => env!.tandem.ng.stats().malformed, { timeout: WAIT_MS }).toBe(1);

    const during = await env.metrics();
    expect(sample(during, 'tandem_calls{state="confirmed"}')).toBe(1);
    expect(sample(during, 'tandem_calls_started_total')).toBe(1);
    expect(sample(during, 'tandem_media_sessions')).toBe(2);
    expect(sample(during, 'tandem_media_transcoded_sessions{offerer_codec="PCMA",answerer_codec="PCMU"}')).toBe(1);
    expect(sample(during, 'tandem_media_packets_total{direction="from_offerer",kind="rtp"}')).toBe(10);
    expect(sample(during, 'tandem_media_packets_total{direction="from_answerer",kind="rtp"}')).toBe(10);
    expect(sample(during, 'tandem_media_bytes_total{direction="from_offerer",kind="rtp"}')).toBe(10 * 172);
    expect(sample(during, 'tandem_sip_requests_total{direction="in",method="INVITE"}')).toBe(1);
    expect(sample(during, 'tandem_sip_requests_total{direction="out",method="INVITE"}')).toBe(1);
    expect(sample(during, 'tandem_sip_responses_total{direction="in",code="200"}')).toBe(1);
    expect(sample(during, 'tandem_sip_responses_total{direction="out",code="200"}')).toBeGreaterThanOrEqual(1);
    expect(sample(during, 'tandem_ng_commands_total{command="offer",result="ok"}')).toBe(1);
    // A name outside the command table is one label, not a new series per invention.
    expect(sample(during, 'tandem_ng_commands_total{command="unknown",result="error"}')).toBe(1);
    expect(sample(during, 'tandem_media_worker_up{worker="0"}')).toBe(1);
    expect(sample(during, 'tandem_media_worker_ping_seconds{worker="0"}')).toBeGreaterThan(0);
    expect(sample(during, 'tandem_build_info{version="0.1.0",nodejs="' + process.version + '"}')).toBe(1);
    expect(sample(during, 'tandem_call_mos_count')).toBe(0);
    expect(sample(during, 'tandem_ng_faults_total{reason="malformed"}')).toBe(1);
    expect(sample(during, 'tandem_ng_faults_total{reason="denied"}')).toBe(0);
    expect(sample(during, 'tandem_sip_transport_faults_total{reason="malformed_dropped"}')).toBe(1);
    expect(sample(during, 'tandem_sip_transport_faults_total{reason="malformed_answered"}')).toBe(0);
    expect(sample(during, 'tandem_media_packets_guarded_total')).toBe(0);
    expect(sample(during, 'tandem_sip_connections')).toBe(0);
    raw.close();

    // The call ends: the MOS of its media goes into the histogram, and counters keep their totals.
    const bye = await env.bye(callId, aOk);
    expect(bye.msg.kind === 'response' && bye.msg.status).toBe(200);
    await ng.request({ command: 'delete', 'call-id': ngCall, 'from-tag': 'f1' });
    await expect.poll(async () => sample(await env!.metrics(), 'tandem_media_sessions'), { timeout: WAIT_MS }).toBe(0);
    const after = await env.metrics();
    expect(sample(after, 'tandem_calls{state="confirmed"}')).toBe(0);
    expect(sample(after, 'tandem_call_mos_count')).toBe(1);
    expect(sample(after, 'tandem_call_mos_bucket{le="4.4"}')).toBe(1);
    expect(sample(after, 'tandem_media_packets_total{direction="from_offerer",kind="rtp"}')).toBe(10);
    expect(sample(after, 'tandem_media_sessions_ended_total{reason="deleted"}')).toBe(2);

    expect(parseWithPrometheusClient(after)).toMatchObject({ ok: true });
    const parsed = parseWithPrometheusClient(during);
    expect(parsed.error).toBeUndefined();
    expect(parsed.ok).toBe(true);
    // The text parser drops the _total suffix from counter family names.
    for (const family of ['tandem_calls', 'tandem_media_packets', 'tandem_media_errors_by_reason', 'tandem_sip_requests', 'tandem_ng_commands', 'tandem_call_mos', 'tandem_media_transcoded_sessions', 'tandem_build_info', 'process_cpu_seconds'])
      expect(parsed.families[family], family).toBeGreaterThan(0);
    ng.close();
    rtpA.close();
    rtpB.close();
  });
});

describe('admin HTTP listener', () => {
  it('answers /healthz and /readyz, and refuses what a browser or a bad client could send, counting each', async () => {
    env = await OpsEnv.start();
    expect((await env.http('GET', '/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await env.http('GET', '/readyz');
    expect([ready.status, ready.json()]).toEqual([200, { ready: true }]);
    expect((await env.http('GET', '/nope')).status).toBe(404);
    expect((await env.http('GET', '/api/calls/x/y/z')).status).toBe(404);
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host.
    expect((await rawGet(env.admin, '/api/calls', 'evil.example')).status).toBe(403);
    // A cross-site form cannot send JSON without a CORS preflight (never answered).
    expect((await env.http('POST', '/api/drain', { body: 'x=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })).status).toBe(415);
    expect((await env.http('POST', '/api/maxsessions', { body: '{not json' })).status).toBe(400);
    expect((await env.http('POST', '/api/maxsessions', { body: JSON.stringify({ maxSessions: -1 }) })).json()).toEqual({ error: '"maxSessions" must be a whole number 0–10000000' });
    const big = await env.http('POST', '/api/maxsessions', { body: JSON.stringify({ maxSessions: 1, pad: 'x'.repeat(20_000) }) });
    expect(big.status).toBe(413);
    // Nothing above changed anything: still ready, not draining, no limit.
    expect((await env.http('GET', '/readyz')).status).toBe(200);
    expect(env.tandem.media.admission.maxSessions).toBe(0);
    const c = env.tandem.ops.httpCounters!;
    expect(c).toMatchObject({ forbidden: 2, notFound: 2, tooLarge: 1, badRequests: 2 });
    // Still serving after all that.
    expect((await env.http('GET', '/healthz')).status).toBe(200);
  });

  it('--max-transcodes: a second transcoding call gets 503 over SIP and "load limit" over ng, while a relayed ng call passes', async () => {
    env = await OpsEnv.start(() => ({ maxTranscodes: 1 }));
    const first = await env.call();
    const { text, callId } = env.invite(sdpOffer(40002, [{ pt: 8, name: 'PCMA' }]));
    env.caller.send(text, env.sip);
    const refused = await env.caller.next(finalFor(callId), WAIT_MS);
    expect(refused.msg.kind === 'response' && refused.msg.status).toBe(503);
    const ng = await new RawNg(env.tandem.ngAddress.port).open();
    const transcode = await ng.request({ command: 'offer', 'call-id': 'tc-2', 'from-tag': 'f', sdp: sdpOffer(40004, [{ pt: 8, name: 'PCMA' }]), codec: { transcode: ['PCMU'] }, supports: ['load limit'] });
    expect(transcode.result).toBe('load limit');
    const relay = await ng.request({ command: 'offer', 'call-id': 'relay-1', 'from-tag': 'f', sdp: sdpOffer(40006, [{ pt: 0, name: 'PCMU' }]) });
    expect(relay.result).toBe('ok');
    const m = await env.metrics();
    expect(sample(m, 'tandem_media_refused_total{reason="transcode_limit"}')).toBe(2);
    expect(sample(m, 'tandem_media_max_transcodes')).toBe(1);
    // The limit frees up when the transcoding call ends.
    await env.bye(first.callId, first.aOk);
    await expect.poll(() => env!.tandem.media.list(), { timeout: WAIT_MS }).toEqual(['relay-1']);
    const again = await ng.request({ command: 'offer', 'call-id': 'tc-3', 'from-tag': 'f', sdp: sdpOffer(40008, [{ pt: 8, name: 'PCMA' }]), codec: { transcode: ['PCMU'] } });
    expect(again.result).toBe('ok');
    ng.close();
    first.rtpA.close();
    first.rtpB.close();
  });

  it('drain: new INVITEs get 503 with Retry-After, new ng offers "load limit", /readyz 503; the live call goes on and its BYE ends the drain', async () => {
    env = await OpsEnv.start();
    const drained: string[] = [];
    env.tandem.ops.onDrained = (why) => drained.push(why);
    const live = await env.call();
    const r = await env.http('POST', '/api/drain');
    expect(r.json()).toMatchObject({ draining: true, liveCalls: 2 });
    expect((await env.http('GET', '/readyz')).json()).toEqual({ ready: false, why: ['draining'] });

    const { text, callId } = env.invite(sdpOffer(40010, [{ pt: 8, name: 'PCMA' }]));
    env.caller.send(text, env.sip);
    const refused = await env.caller.next(finalFor(callId), WAIT_MS);
    expect(refused.msg.kind === 'response' && refused.msg.status).toBe(503);
    expect(getHeader(refused.msg, 'Retry-After')).toBe('60');
    const ng = await new RawNg(env.tandem.ngAddress.port).open();
    expect((await ng.request({ command: 'offer', 'call-id': 'new', 'from-tag': 'f', sdp: sdpOffer(40012, [{ pt: 0, name: 'PCMU' }]), supports: ['load limit'] })).result).toBe('load limit');

    // The live call still relays media, and its BYE works.
    const toB = mediaTarget(live.bInvite.msg.body.toString());
    await live.rtpB.send(rtpPacket({ pt: 0, seq: 1, ts: 160, ssrc: 9, payload: patternPayload(160, 4) }), toB.port);
    await live.rtpA.waitFor(1, WAIT_MS);
    expect(drained).toEqual([]);
    const bye = await env.bye(live.callId, live.aOk);
    expect(bye.msg.kind === 'response' && bye.msg.status).toBe(200);
    await expect.poll(() => drained, { timeout: WAIT_MS }).toEqual(['idle']);
    expect(sample(await env.metrics(), 'tandem_draining')).toBe(1);
    ng.close();
    live.rtpA.close();
    live.rtpB.close();
  });
});

describe('media errors by reason and --redis writes', () => {
  it('an SRTP packet that fails authentication and one too short to be SRTP move srtp_auth and srtp_malformed, a good one neither; the counts outlive a re-key and the session', async () => {
    env = await OpsEnv.start();
    const ng = await new RawNg(env.tandem.ngAddress.port).open();
    const srtpPeer = await RtpPeer.open();
    const plainPeer = await RtpPeer.open();
    const key = randomBytes(30);
    const offerSdp = sdpFor({ port: srtpPeer.port, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key.toString('base64')}`] }).replace('RTP/AVP', 'RTP/SAVP');
    expect((await ng.request({ command: 'offer', 'call-id': 'srtp-errors', 'from-tag': 'a', sdp: offerSdp, 'transport-protocol': 'RTP/AVP' })).result).toBe('ok');
    const answer = await ng.request({ command: 'answer', 'call-id': 'srtp-errors', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plainPeer.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect(answer.result).toBe('ok');
    const toTandem = mediaTarget(String(answer.sdp)).port;
    const reason = async (r: string): Promise<number | undefined> => sample(await env!.metrics(), `tandem_media_errors_by_reason_total{reason="${r}"}`);
    expect(await reason('srtp_auth')).toBe(0);
    expect(await reason('srtp_malformed')).toBe(0);

    // Positive control: a packet protected with the offered key is relayed, and counts as no error.
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key.subarray(0, 16), key.subarray(16, 30));
    await srtpPeer.send(tx.protectRtp(rtpPacket({ pt: 0, seq: 1, ts: 160, ssrc: 5, payload: patternPayload(160, 1) })), toTandem);
    await plainPeer.waitFor(1, WAIT_MS);
    // Three with a forged tag (the right header, a wrong key), then one shorter than an RTP header and its tag.
    const forger = new SrtpContext('AES_CM_128_HMAC_SHA1_80', randomBytes(16), randomBytes(14));
    for (let seq = 2; seq <= 4; seq++) await srtpPeer.send(forger.protectRtp(rtpPacket({ pt: 0, seq, ts: seq * 160, ssrc: 5, payload: patternPayload(160, seq) })), toTandem);
    await srtpPeer.send(Buffer.from([0x80, 0, 0, 5, 0, 0]), toTandem);
    await expect.poll(() => reason('srtp_auth'), { timeout: WAIT_MS }).toBe(3);
    expect(await reason('srtp_malformed')).toBe(1);
    expect(await reason('srtp_replay')).toBe(0);
    expect(plainPeer.received.length).toBe(1);

    // A re-offer with a new SDES key replaces the receive context: what the old one counted stays.
    const newKey = randomBytes(30);
    const reOffer = await ng.request({ command: 'offer', 'call-id': 'srtp-errors', 'from-tag': 'a', sdp: offerSdp.replace(key.toString('base64'), newKey.toString('base64')).replace(' 1 IN IP4', ' 2 IN IP4'), 'transport-protocol': 'RTP/AVP' });
    expect(reOffer.result).toBe('ok');
    expect((await ng.request({ command: 'answer', 'call-id': 'srtp-errors', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plainPeer.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) })).result).toBe('ok');
    const tx2 = new SrtpContext('AES_CM_128_HMAC_SHA1_80', newKey.subarray(0, 16), newKey.subarray(16, 30));
    await srtpPeer.send(tx2.protectRtp(rtpPacket({ pt: 0, seq: 10, ts: 1600, ssrc: 6, payload: patternPayload(160, 10) })), toTandem);
    await plainPeer.waitFor(2, WAIT_MS);
    await srtpPeer.send(forger.protectRtp(rtpPacket({ pt: 0, seq: 11, ts: 1760, ssrc: 6, payload: patternPayload(160, 11) })), toTandem);
    await expect.poll(() => reason('srtp_auth'), { timeout: WAIT_MS }).toBe(4);

    // The session ends: its worker keeps the counts (a counter never goes down).
    expect((await ng.request({ command: 'delete', 'call-id': 'srtp-errors' })).result).toBe('ok');
    const after = await env.metrics();
    expect(sample(after, 'tandem_media_sessions')).toBe(0);
    expect(sample(after, 'tandem_media_errors_by_reason_total{reason="srtp_auth"}')).toBe(4);
    expect(sample(after, 'tandem_media_errors_by_reason_total{reason="io_truncated"}')).toBe(0);
    // No --redis: no redis series.
    expect(after).not.toMatch(/tandem_redis_/);
    ng.close();
    srtpPeer.close();
    plainPeer.close();
  });

  itWithPeers('--redis: a session written, then deleted; a write Redis cannot take is counted as an error', ['redis'], async () => {
    const redis = await startRedis();
    try {
      env = await OpsEnv.start(() => ({ redis: redis.url }));
      const ng = await new RawNg(env.tandem.ngAddress.port).open();
      const m = async (name: string): Promise<number | undefined> => sample(await env!.metrics(), name);
      expect(await m('tandem_redis_errors_total')).toBe(0);
      const writes0 = (await m('tandem_redis_writes_total')) ?? 0;
      const deletes0 = (await m('tandem_redis_deletes_total')) ?? 0;
      expect((await ng.request({ command: 'offer', 'call-id': 'redis-metrics', 'from-tag': 'a', sdp: sdpOffer(40020, [{ pt: 0, name: 'PCMU' }]) })).result).toBe('ok');
      expect((await ng.request({ command: 'answer', 'call-id': 'redis-metrics', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpOffer(40022, [{ pt: 0, name: 'PCMU' }]) })).result).toBe('ok');
      expect(await m('tandem_redis_writes_total')).toBeGreaterThan(writes0);
      expect((await ng.request({ command: 'delete', 'call-id': 'redis-metrics' })).result).toBe('ok');
      expect(await m('tandem_redis_deletes_total')).toBe(deletes0 + 1);
      await expect.poll(async () => (await redisCommand(redis.port, 'KEYS', '*redis-metrics*')).split('\r\n')[0], { timeout: WAIT_MS }).toBe('*0');
      expect(await m('tandem_redis_errors_total')).toBe(0);

      // Redis refuses writes (a read-only replica would too): the next session's write fails and is counted.
      expect(await redisCommand(redis.port, 'CONFIG', 'SET', 'min-replicas-to-write', '1')).toMatch(/^\+OK/);
      expect((await ng.request({ command: 'offer', 'call-id': 'redis-refused', 'from-tag': 'a', sdp: sdpOffer(40024, [{ pt: 0, name: 'PCMU' }]) })).result).toBe('ok');
      expect((await ng.request({ command: 'answer', 'call-id': 'redis-refused', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpOffer(40026, [{ pt: 0, name: 'PCMU' }]) })).result).toBe('ok');
      await expect.poll(() => m('tandem_redis_errors_total'), { timeout: WAIT_MS }).toBeGreaterThan(0);
      ng.close();
      await env.close();
      env = undefined;
    } finally {
      await redis.stop();
    }
  });
});

/** A GET with a Host header of our choosing (fetch will not let us set it). */
function rawGet(base: string, path: string, host: string): Promise<{ status: number }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers: { Host: host } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}
