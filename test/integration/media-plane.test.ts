import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { RunningTandem } from '../../src/main.js';
import { ALAW_TO_ULAW, ULAW_TO_ALAW } from '../../src/media/codecs/g711.js';
import type { BDict } from '../../src/control/bencode.js';
import { RawNg } from '../helpers/ng.js';
import { startTestTandem } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, patternPayload, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';


let callSeq = 0;
function newCall(): { callId: string; fromTag: string; toTag: string } {
  callSeq++;
  return { callId: `call-${process.pid}-${callSeq}@test`, fromTag: `ft${callSeq}`, toTag: `tt${callSeq}` };
}

interface Established {
  callId: string;
  caller: RtpPeer;
  callee: RtpPeer;
  toCallee: { address: string; port: number };
  toCaller: { address: string; port: number };
  offerSdp: string;
  answerSdp: string;
}

async function establish(
  ng: RawNg,
  o: {
    callerPts: number[]; callerMaps: string[]; calleePts: number[]; calleeMaps: string[];
    offer?: BDict; answer?: BDict; callerPtime?: number; offerExtra?: string[]; answerExtra?: string[];
  },
): Promise<Established> {
  const ids = newCall();
  const caller = await RtpPeer.open();
  const callee = await RtpPeer.open();
  const offer = await ng.request({
    command: 'offer', 'call-id': ids.callId, 'from-tag': ids.fromTag,
    sdp: sdpFor({ port: caller.port, pts: o.callerPts, rtpmaps: o.callerMaps, ptime: o.callerPtime, extra: o.offerExtra }),
    ...(o.offer ?? {}),
  });
  expect(offer.result, String(offer['error-reason'])).toBe('ok');
  const answer = await ng.request({
    command: 'answer', 'call-id': ids.callId, 'from-tag': ids.fromTag, 'to-tag': ids.toTag,
    sdp: sdpFor({ port: callee.port, pts: o.calleePts, rtpmaps: o.calleeMaps, extra: o.answerExtra }),
    ...(o.answer ?? {}),
  });
  expect(answer.result, String(answer['error-reason'])).toBe('ok');
  return {
    callId: ids.callId, caller, callee,
    toCallee: mediaTarget(answer.sdp as string),
    toCaller: mediaTarget(offer.sdp as string),
    offerSdp: offer.sdp as string,
    answerSdp: answer.sdp as string,
  };
}

/** Caller's packets go to the port in the answer; the callee's to the port in the offer. */
async function sendFrames(from: RtpPeer, to: { address: string; port: number }, pt: number, n: number, bytes: number, seed: number, ssrc = 0x1234): Promise<Buffer[]> {
  const sent: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const payload = patternPayload(bytes, seed + i);
    sent.push(payload);
    await from.send(rtpPacket({ pt, seq: 1000 + i, ts: 5000 + i * bytes, ssrc, payload }), to.port, to.address);
  }
  return sent;
}

describe('media plane over ng on loopback', () => {
  let env: Awaited<ReturnType<typeof startTestTandem>>;
  let t: RunningTandem;
  let ng: RawNg;

  beforeAll(async () => {
    env = await startTestTandem();
    t = env.t;
    ng = env.ng;
  });
  afterAll(() => env.close());

  it('answers ping with pong', async () => {
    expect(await ng.request({ command: 'ping' })).toEqual({ result: 'pong' });
  });

  it('transcodes PCMA caller ↔ PCMU callee with exact bytes, both ways', async () => {
    const c = await establish(ng, {
      callerPts: [8, 101], callerMaps: ['8 PCMA/8000', '101 telephone-event/8000'],
      calleePts: [0], calleeMaps: ['0 PCMU/8000'],
      offer: { codec: { mask: ['PCMA'], transcode: ['PCMU'] }, replace: ['origin', 'session-connection'] },
    });
    expect(c.offerSdp).toMatch(/^m=audio \d+ RTP\/AVP 0 101\r$/m);
    expect(c.answerSdp).toMatch(/^m=audio \d+ RTP\/AVP 8\r$/m);
    const sent = await sendFrames(c.caller, c.toCallee, 8, 5, 160, 1);
    const got = await c.callee.waitFor(5);
    const a2u = ALAW_TO_ULAW();
    got.forEach((pkt, i) => {
      expect(pkt[1] & 0x7f).toBe(0);
      expect([...pkt.subarray(12)]).toEqual([...sent[i]].map((b) => a2u[b]));
    });
    const back = await sendFrames(c.callee, c.toCaller, 0, 5, 160, 50, 0x9999);
    const gotBack = await c.caller.waitFor(5);
    const u2a = ULAW_TO_ALAW();
    gotBack.forEach((pkt, i) => {
      expect(pkt[1] & 0x7f).toBe(8);
      expect([...pkt.subarray(12)]).toEqual([...back[i]].map((b) => u2a[b]));
    });
    const q = await ng.request({ command: 'query', 'call-id': c.callId });
    expect(q.result).toBe('ok');
    const totals = q.totals as BDict;
    expect((totals.RTP as BDict).packets).toBe(10);
    const del = await ng.request({ command: 'delete', 'call-id': c.callId });
    expect(del.result).toBe('ok');
    c.caller.close();
    c.callee.close();
  });

  it('maps telephone-event payload types while transcoding and leaves the events untouched', async () => {
    const c = await establish(ng, {
      callerPts: [8, 101], callerMaps: ['8 PCMA/8000', '101 telephone-event/8000'],
      calleePts: [0, 100], calleeMaps: ['0 PCMU/8000', '100 telephone-event/8000'],
      offer: { codec: { mask: ['PCMA'], transcode: ['PCMU'] } },
    });
    expect(c.answerSdp).toMatch(/^m=audio \d+ RTP\/AVP 8 101\r$/m);
    const event = Buffer.from([5, 0x0a, 0x01, 0x40]); // digit 5, volume 10, duration 320 (RFC 4733 §2.3)
    await c.caller.send(rtpPacket({ pt: 101, seq: 1, ts: 8000, ssrc: 1, payload: event, marker: true }), c.toCallee.port);
    const [pkt] = await c.callee.waitFor(1);
    expect(pkt[1]).toBe(0x80 | 100);
    expect(pkt.subarray(12).equals(event)).toBe(true);
    await ng.request({ command: 'delete', 'call-id': c.callId });
    c.caller.close();
    c.callee.close();
  });

  it('relays RTCP to the a=rtcp port of the peer', async () => {
    const calleeRtcp = await RtpPeer.open();
    const ids = newCall();
    const caller = await RtpPeer.open();
    const callee = await RtpPeer.open();
    const offer = await ng.request({ command: 'offer', 'call-id': ids.callId, 'from-tag': ids.fromTag, sdp: sdpFor({ port: caller.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    const answer = await ng.request({
      command: 'answer', 'call-id': ids.callId, 'from-tag': ids.fromTag, 'to-tag': ids.toTag,
      sdp: sdpFor({ port: callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: [`a=rtcp:${calleeRtcp.port}`] }),
    });
    expect(answer.result).toBe('ok');
    const rtcpPort = Number(/^a=rtcp:(\d+)/m.exec(answer.sdp as string)?.[1]);
    expect(rtcpPort).toBe(mediaTarget(answer.sdp as string).port + 1);
    const rr = Buffer.alloc(8);
    rr[0] = 0x80; rr[1] = 201; rr.writeUInt16BE(1, 2); rr.writeUInt32BE(77, 4);
    await caller.send(rr, rtcpPort);
    const [got] = await calleeRtcp.waitFor(1);
    expect(got.equals(rr)).toBe(true);
    void offer;
    await ng.request({ command: 'delete', 'call-id': ids.callId });
    for (const p of [caller, callee, calleeRtcp]) p.close();
  });

  it('counts and drops malformed RTP without disturbing the stream', async () => {
    const c = await establish(ng, { callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'] });
    await c.caller.send(Buffer.from([0x80, 0x00, 0x01]), c.toCallee.port); // truncated header
    await c.caller.send(Buffer.alloc(20, 0x40), c.toCallee.port); // RTP version 1
    const pad = rtpPacket({ pt: 0, seq: 1, ts: 1, ssrc: 1, payload: Buffer.from([1, 2, 200]) });
    pad[0] |= 0x20; // padding count 200 > packet
    await c.caller.send(pad, c.toCallee.port);
    await sendFrames(c.caller, c.toCallee, 0, 2, 160, 13);
    const got = await c.callee.waitFor(2);
    expect(got.length).toBe(2);
    const q = await ng.request({ command: 'query', 'call-id': c.callId });
    expect(((q.totals as BDict).RTP as BDict).errors).toBe(3);
    expect(((q.totals as BDict).RTP as BDict).packets).toBe(2);
    await ng.request({ command: 'delete', 'call-id': c.callId });
    c.caller.close();
    c.callee.close();
  });

  it('relays same-codec media unchanged', async () => {
    const c = await establish(ng, { callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'] });
    const sent = await sendFrames(c.caller, c.toCallee, 0, 4, 160, 7);
    const got = await c.callee.waitFor(4);
    got.forEach((pkt, i) => {
      expect(pkt[1] & 0x7f).toBe(0);
      expect(pkt.readUInt16BE(2)).toBe(1000 + i);
      expect(pkt.subarray(12).equals(sent[i])).toBe(true);
    });
    await ng.request({ command: 'delete', 'call-id': c.callId });
    c.caller.close();
    c.callee.close();
  });

  it('echoes media back to its sender with media echo', async () => {
    const c = await establish(ng, {
      callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'],
      offer: { 'media echo': 'backwards' },
    });
    const sent = await sendFrames(c.caller, c.toCallee, 0, 3, 160, 9);
    const echoed = await c.caller.waitFor(3);
    echoed.forEach((pkt, i) => expect(pkt.subarray(12).equals(sent[i])).toBe(true));
    expect(c.callee.received.length).toBe(0);
    await ng.request({ command: 'delete', 'call-id': c.callId });
    c.caller.close();
    c.callee.close();
  });

  it('repacketizes 20 ms to 30 ms with continuous sequence numbers and timestamps', async () => {
    const c = await establish(ng, {
      callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'],
      callerPtime: 20, offer: { ptime: 30 },
    });
    expect(c.offerSdp).toMatch(/^a=ptime:30\r$/m);
    const sent = await sendFrames(c.caller, c.toCallee, 0, 6, 160, 3);
    const got = await c.callee.waitFor(4);
    const all = Buffer.concat(sent);
    got.forEach((pkt, i) => {
      expect(pkt.length - 12).toBe(240);
      expect(pkt.readUInt32BE(4)).toBe(5000 + i * 240);
      expect(pkt.readUInt16BE(2)).toBe((got[0].readUInt16BE(2) + i) & 0xffff);
      expect(pkt.subarray(12).equals(all.subarray(i * 240, (i + 1) * 240))).toBe(true);
    });
    // And back: the callee sends 30 ms frames, the caller (a=ptime:20) gets 20 ms frames.
    const back = await sendFrames(c.callee, c.toCaller, 0, 4, 240, 5, 0x4444);
    const gotBack = await c.caller.waitFor(6);
    const allBack = Buffer.concat(back);
    gotBack.forEach((pkt, i) => {
      expect(pkt.length - 12).toBe(160);
      expect(pkt.readUInt32BE(4)).toBe(5000 + i * 160);
      expect(pkt.readUInt32BE(8)).toBe(0x4444);
      expect(pkt.subarray(12).equals(allBack.subarray(i * 160, (i + 1) * 160))).toBe(true);
    });
    await ng.request({ command: 'delete', 'call-id': c.callId });
    c.caller.close();
    c.callee.close();
  });

  it('with strict-source drops packets from anyone but the latched peer', async () => {
    const c = await establish(ng, {
      callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'],
      offer: { flags: ['strict-source'] },
    });
    await sendFrames(c.caller, c.toCallee, 0, 1, 160, 1);
    await c.callee.waitFor(1);
    const intruder = await RtpPeer.open();
    await sendFrames(intruder, c.toCallee, 0, 2, 160, 2);
    await sendFrames(c.caller, c.toCallee, 0, 1, 160, 3);
    await c.callee.waitFor(2);
    expect(c.callee.received.length).toBe(2);
    // After latching the side's socket is connected to the caller: the kernel drops the intruder's
    // packets before we see them, so they are not even counted as errors.
    expect(c.callee.received.map((p) => p.subarray(12).equals(patternPayload(160, 2)))).toEqual([false, false]);
    const q = await ng.request({ command: 'query', 'call-id': c.callId });
    expect(((q.totals as BDict).RTP as BDict).packets).toBe(2);
    await ng.request({ command: 'delete', 'call-id': c.callId });
    for (const p of [c.caller, c.callee, intruder]) p.close();
  });

  it('carries RTCP on the RTP port when both sides accept rtcp-mux', async () => {
    const c = await establish(ng, {
      callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'],
      offerExtra: ['a=rtcp-mux'], answerExtra: ['a=rtcp-mux'],
    });
    expect(c.offerSdp).toMatch(/^a=rtcp-mux\r$/m);
    expect(c.answerSdp).toMatch(/^a=rtcp-mux\r$/m);
    const rr = Buffer.alloc(8);
    rr[0] = 0x80; rr[1] = 201; rr.writeUInt16BE(1, 2); rr.writeUInt32BE(5, 4);
    await c.caller.send(rr, c.toCallee.port);
    await sendFrames(c.caller, c.toCallee, 0, 1, 160, 4);
    const got = await c.callee.waitFor(2);
    expect(got.some((p) => p.equals(rr))).toBe(true);
    expect(got.some((p) => p[1] === 0)).toBe(true);
    await ng.request({ command: 'delete', 'call-id': c.callId });
    c.caller.close();
    c.callee.close();
  });

  it('follows a re-INVITE that moves the caller to a new address, keeping its ports', async () => {
    const c = await establish(ng, { callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'] });
    const ids = { callId: c.callId, fromTag: `ft${c.callId.split('-')[2].split('@')[0]}` };
    // Latch both sides, so each side's socket is connected to its peer.
    await sendFrames(c.caller, c.toCallee, 0, 1, 160, 1);
    await c.callee.waitFor(1);
    await sendFrames(c.callee, c.toCaller, 0, 1, 160, 2);
    await c.caller.waitFor(1);
    const moved = await RtpPeer.open();
    const reoffer = await ng.request({ command: 'offer', 'call-id': c.callId, 'from-tag': ids.fromTag, sdp: sdpFor({ port: moved.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect(reoffer.result, String(reoffer['error-reason'])).toBe('ok');
    expect(mediaTarget(reoffer.sdp as string).port).toBe(c.toCaller.port);
    const reanswer = await ng.request({
      command: 'answer', 'call-id': c.callId, 'from-tag': ids.fromTag, 'to-tag': `tt${ids.fromTag.slice(2)}`,
      sdp: sdpFor({ port: c.callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }),
    });
    expect(reanswer.result, String(reanswer['error-reason'])).toBe('ok');
    expect(mediaTarget(reanswer.sdp as string).port).toBe(c.toCallee.port);
    const sent = await sendFrames(c.callee, c.toCaller, 0, 2, 160, 3);
    const got = await moved.waitFor(2);
    expect(got[1].subarray(12).equals(sent[1])).toBe(true);
    await sendFrames(moved, c.toCallee, 0, 1, 160, 4);
    await c.callee.waitFor(2);
    await ng.request({ command: 'delete', 'call-id': c.callId });
    for (const p of [c.caller, c.callee, moved]) p.close();
  });

  it('frees the ports of a deleted call', async () => {
    const before = t.media.freePorts;
    const c = await establish(ng, { callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'] });
    expect(t.media.freePorts).toBe(before - 2);
    const del = await ng.request({ command: 'delete', 'call-id': c.callId, 'delete delay': 30 });
    expect(del.result).toBe('ok');
    expect(String(del.warning)).toMatch(/delete delay/);
    expect(t.media.freePorts).toBe(before);
    const list = await ng.request({ command: 'list' });
    expect(list.calls).not.toContain(c.callId);
    c.caller.close();
    c.callee.close();
  });

  it('runs a retransmitted cookie once and repeats the same reply', async () => {
    const c = await establish(ng, { callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'] });
    const datagram = RawNg.frame('retransmit-1', { command: 'delete', 'call-id': c.callId });
    const first = await ng.sendRaw(datagram);
    const second = await ng.sendRaw(datagram);
    expect(RawNg.parse(first).dict.result).toBe('ok');
    // Run twice, the second delete would have said "Unknown call-id".
    expect(second.equals(first)).toBe(true);
    c.caller.close();
    c.callee.close();
  });

  it('answers malformed bencode and SDP with errors and keeps serving other calls', async () => {
    const c = await establish(ng, { callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'] });
    const bad = RawNg.parse(await ng.sendRaw(Buffer.from('bad-1 d7:command4:pinge-trailing')));
    expect(bad.cookie).toBe('bad-1');
    expect(bad.dict.result).toBe('error');
    expect(String(bad.dict['error-reason'])).not.toBe('');
    const truncated = RawNg.parse(await ng.sendRaw(Buffer.from('bad-2 d7:command5:offer3:sdp999:v=0')));
    expect(truncated.dict.result).toBe('error');
    const badSdp = await ng.request({ command: 'offer', 'call-id': 'x-bad-sdp', 'from-tag': 'f', sdp: 'this is not sdp' });
    expect(badSdp.result).toBe('error');
    expect(String(badSdp['error-reason'])).toMatch(/SDP/);
    const unknown = await ng.request({ command: 'frobnicate' });
    expect(unknown.result).toBe('error');
    // The established call still relays.
    await sendFrames(c.caller, c.toCallee, 0, 2, 160, 11);
    await c.callee.waitFor(2);
    expect((await ng.request({ command: 'list' })).calls).not.toContain('x-bad-sdp');
    await ng.request({ command: 'delete', 'call-id': c.callId });
    c.caller.close();
    c.callee.close();
  });

  it('replaces a killed worker; calls on the other worker keep flowing', async () => {
    const a = await establish(ng, { callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'] });
    const b = await establish(ng, { callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'] });
    const wa = t.media.workerOf(a.callId);
    const wb = t.media.workerOf(b.callId);
    expect(wa).not.toBe(wb);
    const exited = new Promise<void>((r) => t.media.pool.once('worker-exit', () => r()));
    await t.media.pool.kill(wa as number);
    await exited;
    await sendFrames(b.caller, b.toCallee, 0, 3, 160, 21);
    await b.callee.waitFor(3);
    const q = await ng.request({ command: 'query', 'call-id': a.callId });
    expect(q.result).toBe('error');
    expect(String(q['error-reason'])).toMatch(/worker .* exited/);
    // The replacement worker takes new calls.
    await t.media.pool.ready();
    const c = await establish(ng, { callerPts: [0], callerMaps: ['0 PCMU/8000'], calleePts: [0], calleeMaps: ['0 PCMU/8000'] });
    await sendFrames(c.caller, c.toCallee, 0, 2, 160, 31);
    await c.callee.waitFor(2);
    for (const x of [b, c]) {
      await ng.request({ command: 'delete', 'call-id': x.callId });
      x.caller.close();
      x.callee.close();
    }
    a.caller.close();
    a.callee.close();
  });
});

describe('limits', () => {
  it('answers port exhaustion with an ng error, not a crash', async () => {
    const base = 28000 + Math.floor(Math.random() * 250) * 4;
    const env = await startTestTandem({ portMin: base, portMax: base + 3, numThreads: 1 });
    const ng = env.ng;
    try {
      const sdp = sdpFor({ port: 40000, pts: [0], rtpmaps: ['0 PCMU/8000'] });
      const first = await ng.request({ command: 'offer', 'call-id': 'p1', 'from-tag': 'a', sdp });
      expect(first.result).toBe('ok');
      const second = await ng.request({ command: 'offer', 'call-id': 'p2', 'from-tag': 'a', sdp });
      expect(second.result).toBe('error');
      expect(String(second['error-reason'])).toMatch(/ports/i);
      expect((await ng.request({ command: 'ping' })).result).toBe('pong');
      expect((await ng.request({ command: 'delete', 'call-id': 'p1' })).result).toBe('ok');
      expect((await ng.request({ command: 'offer', 'call-id': 'p3', 'from-tag': 'a', sdp })).result).toBe('ok');
    } finally {
      await env.close();
    }
  });

  it('answers the session limit with "load limit" when the client supports it', async () => {
    const env = await startTestTandem({ maxSessions: 1, numThreads: 1 });
    const ng = env.ng;
    try {
      const sdp = sdpFor({ port: 40000, pts: [0], rtpmaps: ['0 PCMU/8000'] });
      expect((await ng.request({ command: 'offer', 'call-id': 'l1', 'from-tag': 'a', sdp })).result).toBe('ok');
      const limited = await ng.request({ command: 'offer', 'call-id': 'l2', 'from-tag': 'a', sdp, supports: ['load limit'] });
      expect(limited.result).toBe('load limit');
      const plain = await ng.request({ command: 'offer', 'call-id': 'l3', 'from-tag': 'a', sdp });
      expect(plain.result).toBe('error');
    } finally {
      await env.close();
    }
  });

  it('ends a call after the media timeout and says so in query', async () => {
    const env = await startTestTandem({ timeout: 1, numThreads: 1 });
    const ng = env.ng;
    try {
      const sdp = sdpFor({ port: 40000, pts: [0], rtpmaps: ['0 PCMU/8000'] });
      expect((await ng.request({ command: 'offer', 'call-id': 'to1', 'from-tag': 'a', sdp })).result).toBe('ok');
      const deadline = Date.now() + 5000;
      let q: BDict = {};
      while (Date.now() < deadline) {
        q = await ng.request({ command: 'query', 'call-id': 'to1' });
        if (q.result === 'error') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(q.result).toBe('error');
      expect(String(q['error-reason'])).toMatch(/media timeout/);
      expect((await ng.request({ command: 'list' })).calls).toEqual([]);
    } finally {
      await env.close();
    }
  });
});
