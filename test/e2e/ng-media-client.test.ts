import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { NgMediaClient } from '../../src/control/ng-media-client.js';
import { defaultMediaOptions, type MediaOptions } from '../../src/media/api.js';
import { isTandemError } from '../../src/common/errors.js';
import { makeTempDir } from './helpers/proc.js';
import { describeWithPeers } from '../helpers/peers.js';
import { mediaServerKinds, peersFor, startMediaServer, type MediaServer } from './helpers/media-servers.js';
import { RtpPeer, rtpPacket, patternPayload, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';

/**
 * MediaControl over ng (the B2BUA's door to a remote media node) against a real media server
 * process: Tandem's CLI and, when installed, Debian's rtpengine. Same calls, same expectations.
 */
for (const kind of mediaServerKinds()) describeWithPeers(`NgMediaClient → ${kind}`, peersFor(kind), () => {
  let server: MediaServer;
  let media: NgMediaClient;

  beforeAll(async () => {
    server = await startMediaServer(kind, makeTempDir(`tandem-ngmc-${kind}-`));
    media = new NgMediaClient({ host: server.ng.host, port: server.ng.port, timeoutMs: 1000, retries: 2 });
  });
  afterAll(async () => {
    await media?.close();
    await server?.stop();
  });

  it('offer/answer with codec options transcodes PCMA ↔ PCMU; query, list, delete and statistics read back', async () => {
    const caller = await RtpPeer.open();
    const callee = await RtpPeer.open();
    const callId = `ngmc-${kind}-${process.pid}`;
    const offerOptions: MediaOptions = { ...defaultMediaOptions(), codec: { ...defaultMediaOptions().codec, mask: ['PCMA'], transcode: ['PCMU'] }, replaceOrigin: true };
    try {
      const offer = await media.offer({ callId, fromTag: 'a', sdp: sdpFor({ port: caller.port, pts: [8], rtpmaps: ['8 PCMA/8000'] }), options: offerOptions });
      expect(offer.sdp).toMatch(/^m=audio \d+ RTP\/AVP 0\r?$/m);
      const answer = await media.answer({ callId, fromTag: 'a', toTag: 'b', sdp: sdpFor({ port: callee.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }), options: defaultMediaOptions() });
      expect(answer.sdp).toMatch(/^m=audio \d+ RTP\/AVP 8\r?$/m);

      const toCallee = mediaTarget(answer.sdp);
      for (let i = 0; i < 3; i++) await caller.send(rtpPacket({ pt: 8, seq: i, ts: i * 160, ssrc: 7, payload: patternPayload(160, i) }), toCallee.port);
      const got = await callee.waitFor(3);
      expect(got.map((p) => [p[1] & 0x7f, p.length - 12])).toEqual([[0, 160], [0, 160], [0, 160]]);

      const q = await media.query({ callId });
      expect(q.totals.rtp.packets).toBeGreaterThanOrEqual(3);
      expect(q.legs.map((l) => l.tag).sort()).toEqual(['a', 'b']);
      expect(await media.list()).toContain(callId);
      const stats = await media.statistics();
      expect(stats.sessions).toBeGreaterThanOrEqual(1);

      const del = await media.delete({ callId });
      expect(del.callId).toBe(callId);
      // rtpengine 10.5 with --delete-delay=0 answers a bare {result: ok}; Tandem always sends the final stats.
      if (kind === 'tandem') expect(del.totals.rtp.packets).toBeGreaterThanOrEqual(3);
      expect(await media.list()).not.toContain(callId);
      const again = await media.delete({ callId }).then(() => undefined, (e: unknown) => e);
      expect(isTandemError(again) && again.code).toBe('UNKNOWN_CALL');
    } finally {
      caller.close();
      callee.close();
    }
  });

  it('a refused offer becomes a TandemError with the server’s reason', async () => {
    const err = await media.offer({ callId: `bad-${kind}`, fromTag: 'a', sdp: 'not an sdp', options: defaultMediaOptions() }).then(() => undefined, (e: unknown) => e);
    expect(isTandemError(err)).toBe(true);
    expect((err as Error).message).not.toBe('');
  });
});
