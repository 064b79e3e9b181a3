import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { describeWithPeers } from '../helpers/peers.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { TestNgClient, type BDict } from './helpers/ng.js';
import { makeTempDir } from './helpers/proc.js';
import { RTPENGINE_BIN, mediaServerKinds, peersFor, startMediaServer, type MediaServer } from './helpers/media-servers.js';

/**
 * The `block DTMF` offer/answer flag against Debian's rtpengine and Tandem's CLI, driven the same
 * way: it blocks what the message's sender sends (the offerer on an offer, the answerer on an
 * answer), the other leg's events still pass, and a directional `unblock DTMF` from that leg lets
 * them through. Each "does not pass" has an audio packet sent after it as the positive control.
 */
const TE = { pts: [8, 101], rtpmaps: ['8 PCMA/8000', '101 telephone-event/8000'], extra: ['a=fmtp:101 0-16'] };

/**
 * rtpengine has the flag since mr12.3 (its commit "support `block DTMF` flag", January 2024); an
 * older one (Debian 12 ships 10.5) logs it as an unknown flag and lets the digits through. The
 * test says which of the two it met, so the comparison stays honest on either.
 */
function rtpengineKnowsFlag(): boolean {
  try {
    const m = /Version:\s*(\d+)\.(\d+)/.exec(execFileSync(RTPENGINE_BIN, ['--version'], { encoding: 'utf8', timeout: 5000 }));
    return m !== null && (Number(m[1]) > 12 || (Number(m[1]) === 12 && Number(m[2]) >= 3));
  } catch {
    return false;
  }
}

for (const kind of mediaServerKinds()) describeWithPeers(`block DTMF offer/answer flag → ${kind}`, peersFor(kind), () => {
  let server: MediaServer;
  let ng: TestNgClient;
  const blocks = kind === 'tandem' || rtpengineKnowsFlag();
  /** What the receiver gets of an event then audio from the blocked leg. */
  const blocked = blocks ? [8] : [101, 8];
  beforeAll(async () => {
    server = await startMediaServer(kind, makeTempDir(`offerflags-${kind}`));
    ng = new TestNgClient({ ...server.ng, timeoutMs: 1000, retries: 2 });
  }, 20_000);
  afterAll(async () => {
    ng?.close();
    await server?.stop();
  });

  let seq = 0;
  /** One telephone-event packet then one audio packet from `from` toward `port`; what `to` got of them. */
  async function eventThenAudio(from: RtpPeer, to: RtpPeer, port: number, ssrc: number): Promise<number[]> {
    const before = to.received.length;
    for (let k = 0; k < 3; k++) await from.send(rtpPacket({ pt: 101, seq: ++seq, ts: 8000, ssrc, payload: Buffer.from([5, 10, 0, 160 * (k + 1)]), marker: k === 0 }), port);
    await from.send(rtpPacket({ pt: 8, seq: ++seq, ts: 8000 + 480, ssrc, payload: Buffer.alloc(160, 0xd5) }), port);
    await to.waitFor(before + 1, 3000).catch(() => undefined);
    // The audio was sent last: once it is in, a blocked event had its chance (loopback keeps order).
    const until = Date.now() + 3000;
    while (Date.now() < until && !to.received.slice(before).some((p) => (p[1] & 0x7f) === 8)) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 30));
    return [...new Set(to.received.slice(before).map((p) => p[1] & 0x7f))];
  }

  async function setUp(id: string, offerFlags: string[], answerFlags: string[]): Promise<{ a: RtpPeer; b: RtpPeer; toA: number; toB: number }> {
    const a = await RtpPeer.open();
    const b = await RtpPeer.open();
    const offer = await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'ta', sdp: sdpFor({ port: a.port, ...TE }), flags: offerFlags } as BDict);
    expect(offer.result, `${kind}: ${JSON.stringify(offer)}\n${server.proc.tail(10)}`).toBe('ok');
    const answer = await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'ta', 'to-tag': 'tb', sdp: sdpFor({ port: b.port, ...TE }), flags: answerFlags } as BDict);
    expect(answer.result, `${kind}: ${JSON.stringify(answer)}`).toBe('ok');
    return { a, b, toB: mediaTarget(String(answer.sdp)).port, toA: mediaTarget(String(offer.sdp)).port };
  }

  if (!blocks) process.stdout.write(`${RTPENGINE_BIN} predates the block DTMF flag (mr12.3): the test expects it to let the digits through\n`);

  it('on the offer: the offerer\'s events are dropped, the answerer\'s pass; unblock DTMF from the offerer lets them through', async () => {
    const id = `offerflag-${kind}-${process.pid}-1`;
    const c = await setUp(id, ['block DTMF'], []);
    // Latch both ways first (rtpengine learns each peer from its first packet).
    await eventThenAudio(c.b, c.a, c.toA, 0x2222);
    expect(await eventThenAudio(c.a, c.b, c.toB, 0x1111)).toEqual(blocked);
    expect(await eventThenAudio(c.b, c.a, c.toA, 0x2222)).toEqual([101, 8]);
    expect((await ng.request({ command: 'unblock DTMF', 'call-id': id, 'from-tag': 'ta', flags: ['directional'] })).result).toBe('ok');
    expect(await eventThenAudio(c.a, c.b, c.toB, 0x1111)).toEqual([101, 8]);
    await ng.request({ command: 'delete', 'call-id': id });
    c.a.close();
    c.b.close();
  }, 30_000);

  it('on the answer: the answerer\'s events are dropped, the offerer\'s pass', async () => {
    const id = `offerflag-${kind}-${process.pid}-2`;
    const c = await setUp(id, [], ['block-DTMF']);
    await eventThenAudio(c.a, c.b, c.toB, 0x1111);
    expect(await eventThenAudio(c.b, c.a, c.toA, 0x2222)).toEqual(blocked);
    expect(await eventThenAudio(c.a, c.b, c.toB, 0x1111)).toEqual([101, 8]);
    await ng.request({ command: 'delete', 'call-id': id });
    c.a.close();
    c.b.close();
  }, 30_000);
});
