// SRTP interop with an independent implementation: Debian's rtpengine turns plain RTP into SDES-SRTP
// (it makes the keys, it encrypts), Tandem turns it back (transport-protocol RTP/AVP), and the other
// way round. Payloads must arrive byte-exact at both plain ends.
//
//   caller (RTP/AVP) ⇄ rtpengine [AVP→SAVP] ⇄ (RTP/SAVP, a=crypto) ⇄ Tandem [SAVP→AVP] ⇄ callee (RTP/AVP)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from './helpers/proc.js';
import { TestNgClient, type BDict } from './helpers/ng.js';
import { describeWithPeers } from '../helpers/peers.js';
import { startMediaServer, type MediaServer } from './helpers/media-servers.js';
import { startTestTandem } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, patternPayload, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';

describeWithPeers('SDES-SRTP between rtpengine and Tandem', ['rtpengine'], () => {
  let rtpengine: MediaServer;
  let reNg: TestNgClient;
  let tandem: Awaited<ReturnType<typeof startTestTandem>>;

  beforeAll(async () => {
    rtpengine = await startMediaServer('rtpengine', makeTempDir('srtp-interop'));
    reNg = new TestNgClient({ ...rtpengine.ng, timeoutMs: 2000, retries: 1 });
    tandem = await startTestTandem();
  });
  afterAll(async () => {
    reNg.close();
    await tandem.close();
    await rtpengine.stop();
  });

  async function ok(p: Promise<BDict>, what: string): Promise<BDict> {
    const r = await p;
    expect(r.result, `${what}: ${String(r['error-reason'] ?? r.warning ?? '')}`).toBe('ok');
    return r;
  }

  it('plain → rtpengine encrypts → Tandem decrypts → plain, and back', async () => {
    const caller = await RtpPeer.open();
    const callee = await RtpPeer.open();
    const callId = `srtp-interop-${Date.now()}`;
    const replace = ['origin', 'session-connection'];
    // Leg 1: rtpengine offers SRTP (its own SDES keys) toward Tandem.
    const o1 = await ok(reNg.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: sdpFor({ port: caller.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }), 'transport-protocol': 'RTP/SAVP', replace }), 'rtpengine offer');
    const srtpOffer = String(o1.sdp);
    expect(srtpOffer).toMatch(/^m=audio \d+ RTP\/SAVP/m);
    expect(srtpOffer).toMatch(/^a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:/m);
    // Leg 2: Tandem takes the SRTP offer and offers plain RTP to the callee.
    const o2 = await ok(tandem.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'rtpengine', sdp: srtpOffer, 'transport-protocol': 'RTP/AVP', replace }), 'tandem offer');
    expect(String(o2.sdp)).toMatch(/^m=audio \d+ RTP\/AVP/m);
    const a2 = await ok(tandem.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'rtpengine', 'to-tag': 'callee', sdp: sdpFor({ port: callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }), replace }), 'tandem answer');
    const srtpAnswer = String(a2.sdp);
    expect(srtpAnswer).toMatch(/^m=audio \d+ RTP\/SAVP/m);
    expect(srtpAnswer).toMatch(/^a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:/m);
    const a1 = await ok(reNg.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'rtpengine-b', sdp: srtpAnswer, replace }), 'rtpengine answer');
    const toCaller = String(a1.sdp);

    const forward = [1, 2, 3, 4, 5, 6].map((i) => patternPayload(160, i));
    for (const [i, p] of forward.entries()) {
      await caller.send(rtpPacket({ pt: 0, seq: 10 + i, ts: 160 * i, ssrc: 0x5150, payload: p }), mediaTarget(toCaller).port);
      await new Promise((r) => setTimeout(r, 20));
    }
    const atCallee = await callee.waitFor(forward.length, 5000);
    expect(atCallee.map((b) => b.subarray(12))).toEqual(forward);

    const backward = [7, 8, 9, 10].map((i) => patternPayload(160, i));
    for (const [i, p] of backward.entries()) {
      await callee.send(rtpPacket({ pt: 0, seq: 500 + i, ts: 160 * i, ssrc: 0x6160, payload: p }), mediaTarget(String(o2.sdp)).port);
      await new Promise((r) => setTimeout(r, 20));
    }
    const atCaller = await caller.waitFor(backward.length, 5000);
    expect(atCaller.map((b) => b.subarray(12))).toEqual(backward);

    await reNg.request({ command: 'delete', 'call-id': callId });
    caller.close();
    callee.close();
  });
});
