import { describe, it, expect, afterEach } from 'vitest';
import { pino } from 'pino';
import { startTestTandem, type TestTandem } from '../helpers/tandem.js';
import { mediaNodeSet, type MediaNodeSet } from '../../src/control/media-nodes.js';
import { defaultMediaOptions } from '../../src/media/api.js';
import { errorCode } from '../../src/common/errors.js';
import { sdpOffer } from '../helpers/sip-peer.js';
import { RtpPeer, rtpPacket, patternPayload } from '../helpers/rtp-peer.js';
import { SipPeer } from '../helpers/sip-peer.js';
import { ackAndBye, autoAnswer, isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';
import { MediaNodeSet as NodeSetClass } from '../../src/control/media-nodes.js';

/**
 * Two real Tandem media nodes on loopback, driven over ng through the MediaNodeSet the B2BUA uses
 * (`--media=ng:A=1,ng:B=3`): the weighted split, a node killed mid-run (its calls fail, new calls
 * go to the other), and the node back in use after it restarts and the retry time passes.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A media node with room for 250 calls (4 ports each) in its own port range. */
async function node(slot: number, ngPort = 0): Promise<TestTandem> {
  // Below the kernel's ephemeral range (32768+), where port-0 test sockets land.
  const base = 10000 + slot * 1200 + Math.floor(Math.random() * 5) * 3600;
  const t = await startTestTandem({ listenNg: { address: '127.0.0.1', port: ngPort }, portMin: base, portMax: base + 1199, numThreads: 1 });
  return t;
}

const pcmu = [{ pt: 0, name: 'PCMU' }];

async function call(set: MediaNodeSet, callId: string): Promise<{ offerPort: number; answerPort: number }> {
  const a = await set.offer({ callId, fromTag: 'a', sdp: sdpOffer(40000, pcmu), options: defaultMediaOptions() });
  const b = await set.answer({ callId, fromTag: 'a', toTag: 'b', sdp: sdpOffer(40002, pcmu), options: defaultMediaOptions() });
  const port = (sdp: string): number => Number(/m=audio (\d+)/.exec(sdp)?.[1]);
  return { offerPort: port(a.sdp), answerPort: port(b.sdp) };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('several media nodes (--media=ng:…=1,ng:…=3)', () => {
  it('splits calls 1:3, fails over when a node dies, and takes it back after --media-node-retry', async () => {
    const a = await node(0);
    let b: TestTandem | undefined = await node(1);
    cleanups.push(() => a.close());
    cleanups.push(async () => b?.close());
    const bPort = b.t.ngAddress.port;
    const set = mediaNodeSet(
      [
        { kind: 'ng', address: '127.0.0.1', port: a.t.ngAddress.port, weight: 1 },
        { kind: 'ng', address: '127.0.0.1', port: bPort, weight: 3 },
      ],
      undefined,
      { retryMs: 300, log: pino({ level: 'silent' }), ngTimeoutMs: 100, ngRetries: 2 },
    );
    cleanups.push(() => set.close());
    const aName = `ng:127.0.0.1:${a.t.ngAddress.port}`;
    const bName = `ng:127.0.0.1:${bPort}`;

    // 200 calls: weight 1:3 is 50:150 (±10 % allowed), and each node holds the calls it was given.
    for (let i = 0; i < 200; i++) await call(set, `split-${i}`);
    expect(set.counters.placed[aName]).toBeGreaterThanOrEqual(45);
    expect(set.counters.placed[aName]).toBeLessThanOrEqual(55);
    expect(set.counters.placed[bName]).toBeGreaterThanOrEqual(135);
    expect(set.counters.placed[bName]).toBeLessThanOrEqual(165);
    const onA = await a.t.media.list(1000);
    const onB = await b.t.media.list(1000);
    expect(onA.length + onB.length).toBe(200);
    expect(onA.length).toBe(set.counters.placed[aName]);
    expect(new Set([...onA, ...onB]).size).toBe(200);
    // A call stays on its node: a re-offer and a query go where it lives.
    const stick = onB[0];
    await set.offer({ callId: stick, fromTag: 'a', sdp: sdpOffer(40004, pcmu), options: defaultMediaOptions() });
    expect((await set.query({ callId: stick })).callId).toBe(stick);
    expect((await b.t.media.list(1000)).length).toBe(onB.length);

    // Kill B mid-run. New calls keep working: the first one to B times out and goes to A.
    await b.close();
    b = undefined;
    for (let i = 0; i < 40; i++) await call(set, `after-kill-${i}`);
    expect(set.counters.disabled).toBe(1);
    expect(set.counters.failovers).toBe(1);
    expect((await a.t.media.list(1000)).filter((c) => c.startsWith('after-kill-')).length).toBe(40);
    expect(set.nodes().find((n) => n.name === bName)?.enabled).toBe(false);
    // B's calls fail: they are no longer listed (the B2BUA's media watch ends them), `ended` names
    // the node, and a request for one is refused at once rather than sent into the void.
    const listed = new Set(await set.list(100_000));
    expect(onB.some((c) => listed.has(c))).toBe(false);
    expect(onA.every((c) => listed.has(c))).toBe(true);
    expect((await set.ended(onB[1]))?.reason).toMatch(new RegExp(`media node ${bName} failed`));
    const refused = await set.query({ callId: onB[1] }).then(() => undefined, (e: unknown) => e);
    expect(errorCode(refused)).toBe('UNKNOWN_CALL');
    // A's calls are untouched.
    expect((await set.query({ callId: onA[0] })).callId).toBe(onA[0]);

    // Restart B on the same ng port: after the retry time it answers a ping and takes calls again.
    const b2 = await node(1, bPort);
    b = b2;
    await until('node B back in use', () => set.counters.restored === 1);
    const before = { ...set.counters.placed };
    for (let i = 0; i < 40; i++) await call(set, `after-restart-${i}`);
    expect(set.counters.placed[bName] - before[bName]).toBe(30);
    expect(set.counters.placed[aName] - before[aName]).toBe(10);
    expect((await b2.t.media.list(1000)).length).toBe(30);

    // And a call on the restarted node relays media.
    const p1 = await RtpPeer.open();
    const p2 = await RtpPeer.open();
    cleanups.push(async () => { p1.close(); p2.close(); });
    let relayed: { offerPort: number; answerPort: number } | undefined;
    for (let i = 0; relayed === undefined && i < 4; i++) {
      const id = `relay-${i}`;
      const o = await set.offer({ callId: id, fromTag: 'a', sdp: sdpOffer(p1.port, pcmu), options: defaultMediaOptions() });
      const r = await set.answer({ callId: id, fromTag: 'a', toTag: 'b', sdp: sdpOffer(p2.port, pcmu), options: defaultMediaOptions() });
      if ((await b2.t.media.list(1000)).includes(id)) relayed = { offerPort: Number(/m=audio (\d+)/.exec(o.sdp)?.[1]), answerPort: Number(/m=audio (\d+)/.exec(r.sdp)?.[1]) };
    }
    expect(relayed).toBeDefined();
    if (relayed === undefined) return;
    for (let seq = 0; seq < 5; seq++) {
      await p1.send(rtpPacket({ pt: 0, seq, ts: seq * 160, ssrc: 1, payload: patternPayload(160, seq) }), relayed.answerPort);
      await p2.send(rtpPacket({ pt: 0, seq, ts: seq * 160, ssrc: 2, payload: patternPayload(160, seq) }), relayed.offerPort);
    }
    await p2.waitFor(5);
    await p1.waitFor(5);
  });
});

describe('--media=local=1,ng:IP:PORT=3 through SIP', () => {
  it('places each call on one node by weight, and its BYE deletes it there', async () => {
    const remote = await node(2);
    cleanups.push(() => remote.close());
    const caller = await SipPeer.udp();
    const callee = await SipPeer.udp();
    const stop = autoAnswer(callee, (p) => sdpOffer(p, pcmu));
    cleanups.push(async () => { stop(); caller.close(); callee.close(); });
    const { tandem, sip } = await startB2bua({
      route: `sip:127.0.0.1:${callee.port}`,
      media: { kind: 'set', nodes: [{ kind: 'local', weight: 1 }, { kind: 'ng', address: '127.0.0.1', port: remote.t.ngAddress.port, weight: 3 }] },
      mediaNodeRetry: 1,
      listenHttp: { address: '127.0.0.1', port: 0 },
    });
    cleanups.push(() => tandem.close());
    const set = tandem.sip?.media;
    expect(set).toBeInstanceOf(NodeSetClass);
    const oks = [];
    for (let i = 0; i < 8; i++) {
      const inv = outOfDialog('INVITE', caller, sip, { sdp: sdpOffer(40000 + i * 2, pcmu) });
      caller.send(inv.text, sip);
      const ok = await caller.next(isFinalFor(inv.callId));
      expect(ok.msg.kind === 'response' && ok.msg.status).toBe(200);
      oks.push({ ok, callId: inv.callId });
    }
    expect((await tandem.media.list(100)).length).toBe(2);
    expect((await remote.t.media.list(100)).length).toBe(6);
    // /metrics shows each node, up, with the calls it was given.
    const text = (await tandem.ops.metrics?.registry.metrics()) ?? '';
    const remoteName = `ng:127.0.0.1:${remote.t.ngAddress.port}`;
    expect(text).toContain('tandem_media_node_up{node="local"} 1');
    expect(text).toContain(`tandem_media_node_up{node="${remoteName}"} 1`);
    expect(text).toContain('tandem_media_node_calls_total{node="local"} 2');
    expect(text).toContain(`tandem_media_node_calls_total{node="${remoteName}"} 6`);
    expect(text).toContain('tandem_media_node_failures_total 0');
    for (const { ok, callId } of oks) {
      ackAndBye(ok, caller, sip);
      const bye = (await caller.next(isFinalFor(callId, 'BYE'))).msg;
      expect(bye.kind === 'response' && bye.status).toBe(200);
    }
    await expect.poll(async () => (await remote.t.media.list(100)).length + (await tandem.media.list(100)).length, { timeout: 3000 }).toBe(0);
  });
});
