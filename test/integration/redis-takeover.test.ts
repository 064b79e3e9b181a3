import { expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NgClient } from '../../src/control/ng-client.js';
import type { BDict } from '../../src/control/bencode.js';
import { sdpOffer } from '../helpers/sip-peer.js';
import { RtpPeer, rtpPacket, patternPayload } from '../helpers/rtp-peer.js';
import { startRedis, redisCommand, type RedisServer } from '../helpers/redis.js';
import { describeWithPeers, itWithPeers } from '../helpers/peers.js';
import { describe, it } from 'vitest';
import { pino } from 'pino';
import { RedisState } from '../../src/state/redis-state.js';
import { SipPeer, isRequest, type Received } from '../helpers/sip-peer.js';
import { isFinalFor, outOfDialog } from '../helpers/b2bua-env.js';
import { getCSeq, getCallId, getHeader, type SipRequest } from '../../src/sip/message.js';
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { SrtpContext } from '../../src/media/rtp/srtp.js';
import { createDtlsCertificate } from '../../src/media/rtp/dtls.js';
import { sdpFor } from '../helpers/rtp-peer.js';
import { WebRtcPeer } from '../helpers/webrtc-peer.js';

/**
 * Takeover through Redis: the built CLI as a media node with --redis carries relayed and transcoded
 * calls between RTP peers that stream all along (the scale: 50 relayed and 5 transcoded; with
 * B2BUA calls, a DTLS-SRTP call keyed by werift's DTLS client and a WebRTC call from werift's
 * RTCPeerConnection in their own tests); it is killed with SIGKILL, another starts with the same
 * --redis and interface, and every call's packets flow again both ways; then ng delete ends each.
 */
const CLI = join(import.meta.dirname, '../../dist/cli/tandem.js');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

interface Node {
  proc: ChildProcess;
  readyAtMs: number;
  log(): string;
}

/** Starts `tandem` and resolves once it logged `tandem ready` (bounded: 15 s). */
function startNode(args: string[]): Promise<Node> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`tandem did not start: ${out.slice(-2000)}`));
    }, 15_000);
    const onData = (d: Buffer): void => {
      out = (out + d.toString()).slice(-200_000);
      if (out.includes('"tandem ready"')) {
        clearTimeout(timer);
        resolve({ proc, readyAtMs: Date.now(), log: () => out });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tandem exited (${code}) before it was ready: ${out.slice(-2000)}`));
    });
  });
}

function killNode(n: Node): Promise<void> {
  return new Promise((r) => {
    if (n.proc.exitCode !== null || n.proc.signalCode !== null) return r();
    n.proc.once('exit', () => r());
    n.proc.kill('SIGKILL');
  });
}

const port = (sdp: BValueLike): number => Number(/m=audio (\d+)/.exec(String(sdp))?.[1]);
type BValueLike = BDict[string];

describeWithPeers('--redis takeover after kill -9', ['redis'], () => {
  itWithPeers('media resumes on every call within 2 s of the new Tandem being ready, and ng delete ends each', ['redis'], async () => {
    expect(existsSync(CLI), `${CLI}: run npm run build first`).toBe(true);
    const redis: RedisServer = await startRedis();
    cleanups.push(() => redis.stop());
    const ngPort = 29000 + Math.floor(Math.random() * 3700); // between the tests' media ranges and the ephemeral ports
    const base = 20000 + Math.floor(Math.random() * 25) * 400; // below the ephemeral range (32768+)
    const args = [`--listen-ng=127.0.0.1:${ngPort}`, '--listen-sip=none', '--interface=127.0.0.1', `--port-min=${base}`, `--port-max=${base + 399}`, '--num-threads=1', `--redis=${redis.url}`, '--log-level=info', '--listen-http=off'];
    let node = await startNode(args);
    cleanups.push(() => killNode(node));
    const ng = new NgClient({ host: '127.0.0.1', port: ngPort, timeoutMs: 300, retries: 3 });
    cleanups.push(() => ng.close());

    // The scale: 50 relayed PCMU calls and 5 transcoded PCMA → PCMU. Each has two RTP peers.
    const calls: { id: string; a: RtpPeer; b: RtpPeer; toA: number; toB: number; pt: [number, number] }[] = [];
    for (let i = 0; i < 55; i++) {
      const a = await RtpPeer.open();
      const b = await RtpPeer.open();
      cleanups.push(() => { a.close(); b.close(); });
      const transcoded = i >= 50;
      const id = `takeover-${i}`;
      const offer = await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: sdpOffer(a.port, transcoded ? [{ pt: 8, name: 'PCMA' }] : [{ pt: 0, name: 'PCMU' }]), ...(transcoded ? { codec: { transcode: ['PCMU'] } } : {}) });
      expect(offer.result, JSON.stringify(offer)).toBe('ok');
      const answer = await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b', sdp: sdpOffer(b.port, [{ pt: 0, name: 'PCMU' }]) });
      expect(answer.result, JSON.stringify(answer)).toBe('ok');
      if (transcoded) expect(String(answer.sdp)).toMatch(/m=audio \d+ RTP\/AVP 8/);
      calls.push({ id, a, b, toB: port(offer.sdp), toA: port(answer.sdp), pt: [transcoded ? 8 : 0, 0] });
    }
    const keys = (await redisCommand(redis.port, 'KEYS', 'tandem:127.0.0.1:media:*')).split('\r\n')[0];
    expect(keys).toBe('*55');

    // Both ends of every call stream 20 ms packets for the whole test.
    let seq = 0;
    const sender = setInterval(() => {
      seq++;
      for (const c of calls) {
        void c.a.send(rtpPacket({ pt: c.pt[0], seq, ts: seq * 160, ssrc: 0x1000, payload: patternPayload(160, seq) }), c.toA).catch(() => undefined);
        void c.b.send(rtpPacket({ pt: c.pt[1], seq, ts: seq * 160, ssrc: 0x2000, payload: patternPayload(160, seq) }), c.toB).catch(() => undefined);
      }
    }, 20);
    cleanups.push(() => clearInterval(sender));
    const flowing = async (since: Map<RtpPeer, number>, bound: number): Promise<boolean> => {
      const end = Date.now() + bound;
      while (Date.now() < end) {
        if (calls.every((c) => c.a.received.length >= (since.get(c.a) ?? 0) + 5 && c.b.received.length >= (since.get(c.b) ?? 0) + 5)) return true;
        await new Promise((r) => setTimeout(r, 10));
      }
      return false;
    };
    expect(await flowing(new Map(), 3000)).toBe(true);

    await killNode(node);
    // Positive control for "it stopped": nothing arrives while no Tandem runs.
    await new Promise((r) => setTimeout(r, 200));
    const atKill = new Map(calls.flatMap((c) => [[c.a, c.a.received.length], [c.b, c.b.received.length]] as [RtpPeer, number][]));
    await new Promise((r) => setTimeout(r, 200));
    expect(calls.every((c) => c.a.received.length === atKill.get(c.a) && c.b.received.length === atKill.get(c.b))).toBe(true);

    // A damaged entry beside them is dropped with a reason, and does not stop the others.
    expect(await redisCommand(redis.port, 'SET', 'tandem:127.0.0.1:media:damaged', '{"v":1,"callId":"damaged"')).toMatch(/^\+OK/);
    node = await startNode(args);
    const atReady = new Map(calls.flatMap((c) => [[c.a, c.a.received.length], [c.b, c.b.received.length]] as [RtpPeer, number][]));
    const resumed = await flowing(atReady, 2000);
    const resumedInMs = Date.now() - node.readyAtMs;
    expect(resumed, `media resumed on every call (${resumedInMs} ms after ready); log: ${node.log().slice(-1500)}`).toBe(true);
    expect(node.log()).toMatch(/"stored":56,"restored":55,"failed":1/);
    expect(node.log()).toMatch(/stored media session is not JSON.*media session could not be taken over; dropped/);
    // The transcoding plan came back too: after the takeover A still gets PCMA (PT 8), B PCMU.
    for (const c of calls) {
      expect(c.a.received[c.a.received.length - 1][1] & 0x7f).toBe(c.pt[0]);
      expect(c.b.received[c.b.received.length - 1][1] & 0x7f).toBe(0);
    }
    process.stdout.write(`redis takeover: every call's packets resumed ${resumedInMs} ms after the new Tandem was ready\n`);

    // Each call ends cleanly through the new Tandem, and leaves nothing in Redis.
    for (const c of calls) {
      const del = await ng.request({ command: 'delete', 'call-id': c.id });
      expect(del.result, JSON.stringify(del)).toBe('ok');
    }
    const list = await ng.request({ command: 'list' });
    expect(list.calls).toEqual([]);
    await expect.poll(async () => (await redisCommand(redis.port, 'KEYS', 'tandem:127.0.0.1:media:*')).split('\r\n')[0], { timeout: 2000 }).toBe('*0');
    // Ended means ended: both ends still stream (they did until the deletes), and nothing is relayed now.
    await new Promise((r) => setTimeout(r, 100));
    const atDelete = new Map(calls.flatMap((c) => [[c.a, c.a.received.length], [c.b, c.b.received.length]] as [RtpPeer, number][]));
    await new Promise((r) => setTimeout(r, 300));
    expect(calls.every((c) => c.a.received.length === atDelete.get(c.a) && c.b.received.length === atDelete.get(c.b))).toBe(true);
  }, 40_000);
});

/** An in-dialog request from `peer` toward Tandem, built from a message of that dialog (ACK/BYE as caller, BYE as callee). */
function inDialog(method: string, peer: SipPeer, o: { uri: string; from: string; to: string; callId: string; cseq: number }): string {
  return [
    `${method} ${o.uri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${method}`,
    '',
    '',
  ].join('\n');
}

const contactOf = (r: Received): string => /<([^>]+)>/.exec(getHeader(r.msg, 'Contact') ?? '')?.[1] ?? '';

describeWithPeers('--redis takeover of B2BUA calls after kill -9', ['redis'], () => {
  itWithPeers('relayed SIP calls keep their media and their dialogs: a BYE from either side ends each cleanly', ['redis'], async () => {
    expect(existsSync(CLI), `${CLI}: run npm run build first`).toBe(true);
    const redis: RedisServer = await startRedis();
    cleanups.push(() => redis.stop());
    const caller = await SipPeer.udp();
    const callee = await SipPeer.udp();
    cleanups.push(() => { caller.close(); callee.close(); });
    const sipPort = 29000 + Math.floor(Math.random() * 3700); // between the tests' media ranges and the ephemeral ports
    const base = 20000 + Math.floor(Math.random() * 25) * 400; // below the ephemeral range (32768+)
    const args = [`--listen-ng=127.0.0.1:0`, `--listen-sip=udp:127.0.0.1:${sipPort}`, `--route=sip:127.0.0.1:${callee.port}`, '--interface=127.0.0.1', `--port-min=${base}`, `--port-max=${base + 399}`, '--num-threads=1', `--redis=${redis.url}`, '--log-level=info', '--listen-http=off'];
    let node = await startNode(args);
    cleanups.push(() => killNode(node));
    const sip = { address: '127.0.0.1', port: sipPort };
    const pcmu = [{ pt: 0, name: 'PCMU' }];

    // 10 calls, one at a time: the caller's INVITE, the callee's 200, the caller's ACK.
    const calls: { a: RtpPeer; b: RtpPeer; toA: number; toB: number; ok: Received; invB: Received }[] = [];
    for (let i = 0; i < 10; i++) {
      const a = await RtpPeer.open();
      const b = await RtpPeer.open();
      cleanups.push(() => { a.close(); b.close(); });
      const seen = callee.inbox.length;
      const inv = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(a.port, pcmu) });
      caller.send(inv.text, sip);
      const invB = await callee.next(isRequest('INVITE'), 3000, seen);
      callee.reply(invB, 200, { reason: 'OK', sdp: sdpOffer(b.port, pcmu) });
      const ok = await caller.next(isFinalFor(inv.callId));
      expect(ok.msg.kind === 'response' && ok.msg.status).toBe(200);
      caller.send(inDialog('ACK', caller, { uri: contactOf(ok), from: getHeader(ok.msg, 'From') ?? '', to: getHeader(ok.msg, 'To') ?? '', callId: inv.callId, cseq: getCSeq(ok.msg)?.seq ?? 1 }), sip);
      await callee.next(isRequest('ACK'), 3000, seen);
      calls.push({ a, b, ok, invB, toA: Number(/m=audio (\d+)/.exec((ok.msg as { body: Buffer }).body.toString())?.[1]), toB: Number(/m=audio (\d+)/.exec((invB.msg as SipRequest).body.toString())?.[1]) });
    }
    const count = async (kind: string): Promise<string> => (await redisCommand(redis.port, 'KEYS', `tandem:127.0.0.1:${kind}:*`)).split('\r\n')[0];
    await expect.poll(() => count('dialog'), { timeout: 2000 }).toBe('*10');
    expect(await count('media')).toBe('*10');

    let seq = 0;
    const sender = setInterval(() => {
      seq++;
      for (const c of calls) {
        void c.a.send(rtpPacket({ pt: 0, seq, ts: seq * 160, ssrc: 0x1000, payload: patternPayload(160, seq) }), c.toA).catch(() => undefined);
        void c.b.send(rtpPacket({ pt: 0, seq, ts: seq * 160, ssrc: 0x2000, payload: patternPayload(160, seq) }), c.toB).catch(() => undefined);
      }
    }, 20);
    cleanups.push(() => clearInterval(sender));
    const snapshot = (): Map<RtpPeer, number> => new Map(calls.flatMap((c) => [[c.a, c.a.received.length], [c.b, c.b.received.length]] as [RtpPeer, number][]));
    const flowing = async (since: Map<RtpPeer, number>, bound: number): Promise<boolean> => {
      const end = Date.now() + bound;
      while (Date.now() < end) {
        if (calls.every((c) => c.a.received.length >= (since.get(c.a) ?? 0) + 5 && c.b.received.length >= (since.get(c.b) ?? 0) + 5)) return true;
        await new Promise((r) => setTimeout(r, 10));
      }
      return false;
    };
    expect(await flowing(new Map(), 3000)).toBe(true);

    await killNode(node);
    await new Promise((r) => setTimeout(r, 200));
    const atKill = snapshot();
    await new Promise((r) => setTimeout(r, 200));
    expect(calls.every((c) => c.a.received.length === atKill.get(c.a) && c.b.received.length === atKill.get(c.b))).toBe(true);

    node = await startNode(args);
    const resumed = await flowing(snapshot(), 2000);
    const resumedInMs = Date.now() - node.readyAtMs;
    expect(resumed, `media resumed (${resumedInMs} ms after ready); log: ${node.log().slice(-1500)}`).toBe(true);
    expect(node.log()).toMatch(/"stored":10,"restored":10,"failed":0\}?.*B2BUA calls taken over from redis/);
    process.stdout.write(`redis takeover (B2BUA): every call's packets resumed ${resumedInMs} ms after the new Tandem was ready\n`);

    // BYE from the caller on 8 calls, from the callee on 2: each answered 200 and passed on to the other side.
    for (const [i, c] of calls.entries()) {
      const fromCaller = i < 8;
      const callId = getCallId(fromCaller ? c.ok.msg : c.invB.msg) ?? '';
      const other = fromCaller ? callee : caller;
      const seen = other.inbox.length;
      const ok = c.ok;
      const inv = c.invB.msg as SipRequest;
      const bye = fromCaller
        ? inDialog('BYE', caller, { uri: contactOf(ok), from: getHeader(ok.msg, 'From') ?? '', to: getHeader(ok.msg, 'To') ?? '', callId, cseq: (getCSeq(ok.msg)?.seq ?? 1) + 1 })
        : inDialog('BYE', callee, { uri: contactOf(c.invB), from: `${getHeader(inv, 'To') ?? ''};tag=${callee.tag}`, to: getHeader(inv, 'From') ?? '', callId, cseq: 1 });
      (fromCaller ? caller : callee).send(bye, sip);
      const answered = await (fromCaller ? caller : callee).next(isFinalFor(callId, 'BYE'));
      expect(answered.msg.kind === 'response' && answered.msg.status, `BYE ${i}`).toBe(200);
      const passed = await other.next(isRequest('BYE'), 3000, seen);
      other.reply(passed, 200, { reason: 'OK' });
    }
    await expect.poll(async () => `${await count('dialog')} ${await count('media')}`, { timeout: 3000 }).toBe('*0 *0');
  }, 40_000);
});

const requireCjs = createRequire(import.meta.url);
interface DtlsClientLike {
  onConnect: { subscribe(fn: () => void): void };
  connect(): Promise<void>;
  extractSessionKeys(k: number, s: number): { localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer };
  close(): void;
}

describeWithPeers('--redis takeover of a DTLS-SRTP call after kill -9', ['redis'], () => {
  itWithPeers('SRTP keyed by the DTLS handshake goes on both ways with the stored keys, no new handshake', ['redis'], async () => {
    expect(existsSync(CLI), `${CLI}: run npm run build first`).toBe(true);
    const redis: RedisServer = await startRedis();
    cleanups.push(() => redis.stop());
    const ngPort = 29000 + Math.floor(Math.random() * 3700); // between the tests' media ranges and the ephemeral ports
    const base = 20000 + Math.floor(Math.random() * 25) * 400; // below the ephemeral range (32768+)
    const args = [`--listen-ng=127.0.0.1:${ngPort}`, '--listen-sip=none', '--interface=127.0.0.1', `--port-min=${base}`, `--port-max=${base + 399}`, '--num-threads=1', `--redis=${redis.url}`, '--log-level=info', '--listen-http=off'];
    let node = await startNode(args);
    cleanups.push(() => killNode(node));
    const ng = new NgClient({ host: '127.0.0.1', port: ngPort, timeoutMs: 300, retries: 3 });
    cleanups.push(() => ng.close());

    // The "browser": werift's DTLS client on the test's socket, offering DTLS-SRTP (actpass); the far end plain RTP.
    const cert = await createDtlsCertificate();
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const plain = await RtpPeer.open();
    cleanups.push(() => { sock.close(); plain.close(); });
    const offerSdp = sdpFor({ port: sock.address().port, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: ['a=rtcp-mux', `a=fingerprint:${cert.fingerprint}`, 'a=setup:actpass'] }).replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');
    const offer = await ng.request({ command: 'offer', 'call-id': 'dtls-takeover', 'from-tag': 'a', sdp: offerSdp, 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['accept'] });
    expect(offer.result, JSON.stringify(offer)).toBe('ok');
    const answer = await ng.request({ command: 'answer', 'call-id': 'dtls-takeover', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plain.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect(answer.result, JSON.stringify(answer)).toBe('ok');
    const toTandem = port(answer.sdp);
    const toPlainSide = port(offer.sdp);

    let onData: (d: Buffer, a: [string, number]) => void = () => undefined;
    const media: Buffer[] = [];
    let dtlsRecords = 0;
    sock.on('message', (m) => {
      if (m[0] >= 20 && m[0] <= 63) {
        dtlsRecords++;
        onData(m, ['127.0.0.1', toTandem]);
      } else media.push(m);
    });
    const transport = {
      type: 'udp', closed: false, address: sock.address(),
      set onData(f: (d: Buffer, a: [string, number]) => void) { onData = f; },
      get onData() { return onData; },
      send: (d: Buffer) => new Promise<void>((r) => sock.send(d, toTandem, '127.0.0.1', () => r())),
      close: async () => undefined,
    };
    const { DtlsClient } = requireCjs('werift') as { DtlsClient: new (o: object) => DtlsClientLike };
    const client = new DtlsClient({ transport, cert: cert.certPem, key: cert.keyPem, signatureHash: { hash: 4, signature: 3 }, srtpProfiles: [1] });
    cleanups.push(() => client.close());
    const up = new Promise<void>((r) => client.onConnect.subscribe(() => r()));
    void client.connect();
    await up;
    const k = client.extractSessionKeys(16, 14);
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.localKey, k.localSalt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.remoteKey, k.remoteSalt);

    let seq = 0;
    const exchange = async (): Promise<void> => {
      const n = ++seq;
      const before = { plain: plain.received.length, browser: media.length };
      await new Promise<void>((r) => sock.send(tx.protectRtp(rtpPacket({ pt: 0, seq: n, ts: n * 160, ssrc: 3, payload: patternPayload(160, n) })), toTandem, '127.0.0.1', () => r()));
      await plain.send(rtpPacket({ pt: 0, seq: n, ts: n * 160, ssrc: 4, payload: patternPayload(160, n + 1) }), toPlainSide);
      await plain.waitFor(before.plain + 1, 2000);
      expect(plain.received[plain.received.length - 1].subarray(12)).toEqual(patternPayload(160, n));
      await expect.poll(() => media.length, { timeout: 2000 }).toBeGreaterThan(before.browser);
      const r = rx.unprotectRtp(media[media.length - 1]);
      expect(r.ok && r.packet.subarray(12).equals(patternPayload(160, n + 1))).toBe(true);
    };
    for (let i = 0; i < 3; i++) await exchange();
    // The worker reported the handshake's keys and they are in Redis.
    await expect.poll(async () => (await redisCommand(redis.port, 'GET', 'tandem:127.0.0.1:media:dtls-takeover')).includes('dtlsKeys'), { timeout: 2000 }).toBe(true);

    await killNode(node);
    const recordsBefore = dtlsRecords;
    node = await startNode(args);
    expect(node.log()).toMatch(/"stored":1,"restored":1,"failed":0/);
    for (let i = 0; i < 3; i++) await exchange();
    // No new handshake was needed (none sent to the browser).
    expect(dtlsRecords).toBe(recordsBefore);
    // A re-offer after the takeover gets the same certificate (kept in Redis): the browser has no
    // reason to re-handshake, and SRTP goes on.
    const fingerprint = (sdp: unknown): string | undefined => /^a=fingerprint:(.*)$/m.exec(String(sdp))?.[1];
    const reOffer = await ng.request({ command: 'offer', 'call-id': 'dtls-takeover', 'from-tag': 'a', sdp: offerSdp.replace(' 1 IN IP4', ' 2 IN IP4'), 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['accept'] });
    expect(reOffer.result, JSON.stringify(reOffer)).toBe('ok');
    const reAnswer = await ng.request({ command: 'answer', 'call-id': 'dtls-takeover', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plain.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect(reAnswer.result, JSON.stringify(reAnswer)).toBe('ok');
    expect(fingerprint(reAnswer.sdp)).toBe(fingerprint(answer.sdp));
    expect(fingerprint(answer.sdp)).toMatch(/^sha-256 /);
    await exchange();
    const del = await ng.request({ command: 'delete', 'call-id': 'dtls-takeover' });
    expect(del.result).toBe('ok');
  }, 40_000);
});

describeWithPeers('--redis takeover of a WebRTC call (the werift browser stand-in) after kill -9', ['redis'], () => {
  itWithPeers('Tandem offered DTLS-SRTP with ICE-lite, the browser answered; after the takeover media flows both ways on the stored keys and the browser stays connected', ['redis'], async () => {
    expect(existsSync(CLI), `${CLI}: run npm run build first`).toBe(true);
    const redis: RedisServer = await startRedis();
    cleanups.push(() => redis.stop());
    const ngPort = 29000 + Math.floor(Math.random() * 3700); // between the tests' media ranges and the ephemeral ports
    const base = 20000 + Math.floor(Math.random() * 25) * 400; // below the ephemeral range (32768+)
    const args = [`--listen-ng=127.0.0.1:${ngPort}`, '--listen-sip=none', '--interface=127.0.0.1', `--port-min=${base}`, `--port-max=${base + 399}`, '--num-threads=1', `--redis=${redis.url}`, '--log-level=info', '--listen-http=off'];
    let node = await startNode(args);
    cleanups.push(() => killNode(node));
    const ng = new NgClient({ host: '127.0.0.1', port: ngPort, timeoutMs: 300, retries: 3 });
    cleanups.push(() => ng.close());

    const phone = await RtpPeer.open();
    const browser = WebRtcPeer.create();
    cleanups.push(async () => { phone.close(); await browser.close(); });
    // a=ssrc reaches the browser's offer: werift hands RTP to its track by a declared SSRC.
    const offer = await ng.request({ command: 'offer', 'call-id': 'webrtc-takeover', 'from-tag': 'phone', sdp: sdpFor({ port: phone.port, pts: [8], rtpmaps: ['8 PCMA/8000'], extra: ['a=ssrc:7 cname:phone'] }), flags: ['WebRTC'] });
    expect(offer.result, JSON.stringify(offer)).toBe('ok');
    const answer = await ng.request({ command: 'answer', 'call-id': 'webrtc-takeover', 'from-tag': 'phone', 'to-tag': 'browser', sdp: await browser.answer(String(offer.sdp)) });
    expect(answer.result, JSON.stringify(answer)).toBe('ok');
    await browser.connected();
    const toPhoneSide = port(answer.sdp);

    let n = 0;
    let phoneSeq = 0;
    const bothWays = async (): Promise<void> => {
      const p = patternPayload(160, ++n);
      const before = browser.received.length;
      await expect.poll(async () => {
        // A new sequence number each time: the browser's SRTP replay window drops a repeated one.
        phoneSeq++;
        await phone.send(rtpPacket({ pt: 8, seq: phoneSeq, ts: phoneSeq * 160, ssrc: 7, payload: p }), toPhoneSide);
        return browser.received.length;
      }, { timeout: 3000, interval: 50 }).toBeGreaterThan(before);
      expect(browser.received[browser.received.length - 1].payload).toEqual(p);
      const q = patternPayload(160, n + 100);
      const had = phone.received.length;
      await expect.poll(async () => {
        await browser.send(q);
        return phone.received.length;
      }, { timeout: 3000, interval: 50 }).toBeGreaterThan(had);
      expect(phone.received[phone.received.length - 1].subarray(12)).toEqual(q);
    };
    await bothWays();
    await expect.poll(async () => (await redisCommand(redis.port, 'GET', 'tandem:127.0.0.1:media:webrtc-takeover')).includes('dtlsKeys'), { timeout: 2000 }).toBe(true);

    await killNode(node);
    node = await startNode(args);
    expect(node.log()).toMatch(/"stored":1,"restored":1,"failed":0/);
    await bothWays();
    await bothWays();
    expect(browser.pc.connectionState).toBe('connected');
    const del = await ng.request({ command: 'delete', 'call-id': 'webrtc-takeover' });
    expect(del.result).toBe('ok');
    await expect.poll(async () => (await redisCommand(redis.port, 'KEYS', 'tandem:127.0.0.1:media:*')).split('\r\n')[0], { timeout: 2000 }).toBe('*0');
  }, 40_000);
});

describeWithPeers('--redis takeover keeps blocking', ['redis'], () => {
  itWithPeers('a call offered with the block DTMF flag still drops the offerer\'s events after kill -9; unblock DTMF lets them through', ['redis'], async () => {
    expect(existsSync(CLI), `${CLI}: run npm run build first`).toBe(true);
    const redis: RedisServer = await startRedis();
    cleanups.push(() => redis.stop());
    const ngPort = 29000 + Math.floor(Math.random() * 3700);
    const base = 20000 + Math.floor(Math.random() * 25) * 400;
    const args = [`--listen-ng=127.0.0.1:${ngPort}`, '--listen-sip=none', '--interface=127.0.0.1', `--port-min=${base}`, `--port-max=${base + 399}`, '--num-threads=1', `--redis=${redis.url}`, '--log-level=info', '--listen-http=off'];
    let node = await startNode(args);
    cleanups.push(() => killNode(node));
    const ng = new NgClient({ host: '127.0.0.1', port: ngPort, timeoutMs: 300, retries: 3 });
    cleanups.push(() => ng.close());
    const a = await RtpPeer.open();
    const b = await RtpPeer.open();
    cleanups.push(() => { a.close(); b.close(); });
    const te = { pts: [0, 101], rtpmaps: ['0 PCMU/8000', '101 telephone-event/8000'] };
    const offer = await ng.request({ command: 'offer', 'call-id': 'blocked-takeover', 'from-tag': 'a', sdp: sdpFor({ port: a.port, ...te }), flags: ['block DTMF'] });
    expect(offer.result, JSON.stringify(offer)).toBe('ok');
    const answer = await ng.request({ command: 'answer', 'call-id': 'blocked-takeover', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: b.port, ...te }) });
    expect(answer.result, JSON.stringify(answer)).toBe('ok');
    const toB = port(answer.sdp);
    let seq = 0;
    /** One telephone-event then one audio packet from A: the audio proves the event had its chance. */
    const eventThenAudio = async (): Promise<number[]> => {
      const before = b.received.length;
      await a.send(rtpPacket({ pt: 101, seq: ++seq, ts: seq * 160, ssrc: 0x1000, payload: Buffer.from([5, 10, 0, 160]) }), toB);
      await a.send(rtpPacket({ pt: 0, seq: ++seq, ts: seq * 160, ssrc: 0x1000, payload: patternPayload(160, seq) }), toB);
      await b.waitFor(before + 1, 2000);
      await new Promise((r) => setTimeout(r, 50));
      return b.received.slice(before).map((p) => p[1] & 0x7f);
    };
    expect(await eventThenAudio()).toEqual([0]);

    await killNode(node);
    node = await startNode(args);
    expect(node.log()).toMatch(/"restored":1/);
    // Until A's first packet re-latches, B's address comes from the stored SDP: the audio arrives.
    expect(await eventThenAudio()).toEqual([0]);
    expect((await ng.request({ command: 'unblock DTMF', 'call-id': 'blocked-takeover', 'from-tag': 'a', flags: ['directional'] })).result).toBe('ok');
    expect(await eventThenAudio()).toEqual([101, 0]);
    expect((await ng.request({ command: 'delete', 'call-id': 'blocked-takeover' })).result).toBe('ok');
  }, 40_000);
});

describe('--redis that cannot be reached', () => {
  it('is a CONFIG error naming --redis and the address, not a hang', async () => {
    // Port 1 on loopback: nothing listens (a refused connection is the positive case of "unreachable").
    const err = await RedisState.connect('redis://:secret@127.0.0.1:1', pino({ level: 'silent' }), 1000).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG' });
    expect(String(err)).toMatch(/--redis: cannot reach redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    expect(String(err)).not.toMatch(/secret/);
  });
});
