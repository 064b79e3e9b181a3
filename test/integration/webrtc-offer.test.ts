import { describe, it, expect } from 'vitest';
import { tandemPerFile } from '../helpers/tandem.js';
import { createDtlsCertificate } from '../../src/media/rtp/dtls.js';

/**
 * A browser-shaped offer (what Chromium sends: BUNDLE, mid, rtcp-mux, ICE, DTLS, Opus, DTMF at
 * 48 kHz and 8 kHz) turned into plain G.711 for a SIP phone, and the phone's answer turned back
 * into what a browser accepts: same mid and BUNDLE group, rtcp-mux, ICE-lite, a=setup:passive and
 * a fingerprint, Opus.
 */
const tandem = tandemPerFile();

describe('WebRTC offer ↔ plain SIP phone', () => {
  it('keeps what the browser needs in its answer and strips it toward the phone', async () => {
    const cert = await createDtlsCertificate();
    const browserOffer = [
      'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
      'a=group:BUNDLE 0', 'a=extmap-allow-mixed', 'a=msid-semantic: WMS stream',
      'm=audio 40200 UDP/TLS/RTP/SAVPF 111 63 110 126', 'c=IN IP4 127.0.0.1', 'a=rtcp:9 IN IP4 0.0.0.0',
      'a=candidate:1 1 udp 2122260223 127.0.0.1 40200 typ host generation 0',
      'a=ice-ufrag:Kq9d', 'a=ice-pwd:p7A7uD2g8p4Sk3Qm1HcV9Xy0', 'a=ice-options:trickle',
      `a=fingerprint:${cert.fingerprint}`, 'a=setup:actpass', 'a=mid:0', 'a=sendrecv', 'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2', 'a=rtcp-fb:111 transport-cc', 'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=rtpmap:63 red/48000/2', 'a=fmtp:63 111/111', 'a=rtpmap:110 telephone-event/48000', 'a=rtpmap:126 telephone-event/8000',
      '',
    ].join('\r\n');
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'webrtc-1', 'from-tag': 'browser', sdp: browserOffer,
      'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['accept'], codec: { mask: ['opus', 'red'], transcode: ['PCMU'] },
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const toPhone = String(offer.sdp);
    expect(toPhone).toMatch(/^m=audio \d+ RTP\/AVP 0 /m);
    for (const gone of [/a=fingerprint/, /a=setup/, /a=ice-/, /a=candidate/, /a=group/, /a=mid/, /opus/]) expect(toPhone).not.toMatch(gone);

    const phoneAnswer = ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40300 RTP/AVP 0 126', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:126 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'webrtc-1', 'from-tag': 'browser', 'to-tag': 'phone', sdp: phoneAnswer });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const toBrowser = String(answer.sdp);
    expect(toBrowser).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 111/m);
    expect(toBrowser).toMatch(/^a=group:BUNDLE 0$/m);
    expect(toBrowser).toMatch(/^a=mid:0$/m);
    expect(toBrowser).toMatch(/^a=rtcp-mux$/m);
    expect(toBrowser).toMatch(/^a=ice-lite$/m);
    expect(toBrowser).toMatch(/^a=ice-ufrag:\S{4,}$/m);
    expect(toBrowser).toMatch(/^a=candidate:1 1 UDP \d+ 127\.0\.0\.1 \d+ typ host$/m);
    expect(toBrowser).toMatch(/^a=setup:passive$/m);
    expect(toBrowser).toMatch(/^a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
    expect(toBrowser).toMatch(/^a=rtpmap:111 opus\/48000\/2$/m);
    expect(toBrowser).not.toMatch(/a=crypto/);
  });

  it('Kamailio gateway flags: ICE removed and rtcp-mux demuxed toward the phone, ICE forced and rtcp-mux accepted back to the browser', async () => {
    const cert = await createDtlsCertificate();
    const browserOffer = [
      'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
      'm=audio 40400 UDP/TLS/RTP/SAVPF 111 0 8', 'c=IN IP4 127.0.0.1',
      'a=candidate:1 1 udp 2122260223 127.0.0.1 40400 typ host', 'a=ice-ufrag:Kq9e', 'a=ice-pwd:p7A7uD2g8p4Sk3Qm1HcV9Xy1',
      `a=fingerprint:${cert.fingerprint}`, 'a=setup:actpass', 'a=mid:0', 'a=sendrecv', 'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', '',
    ].join('\r\n');
    const offer = await tandem.ng.request({
      command: 'offer', 'call-id': 'webrtc-2', 'from-tag': 'browser', sdp: browserOffer,
      'transport-protocol': 'RTP/AVP', ICE: 'remove', 'rtcp-mux': ['demux'], codec: { strip: ['PCMU', 'PCMA'], mask: ['opus'], transcode: ['PCMA'] },
    });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    const toPhone = String(offer.sdp);
    // PCMA made from Opus keeps its static payload type although the browser's own PCMA was stripped.
    expect(toPhone).toMatch(/^m=audio (\d+) RTP\/AVP 8\r$/m);
    const rtp = Number(/^m=audio (\d+)/m.exec(toPhone)?.[1]);
    expect(toPhone).toMatch(new RegExp(`^a=rtcp:${rtp + 1}\r$`, 'm'));
    for (const gone of [/a=rtcp-mux/, /a=ice-/, /a=candidate/]) expect(toPhone).not.toMatch(gone);

    const phoneAnswer = ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40500 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000', ''].join('\r\n');
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'webrtc-2', 'from-tag': 'browser', 'to-tag': 'phone', sdp: phoneAnswer, ICE: 'force' });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const toBrowser = String(answer.sdp);
    expect(toBrowser).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 111\r$/m);
    expect(toBrowser).toMatch(/^a=rtcp-mux\r$/m);
    expect(toBrowser).toMatch(/^a=ice-lite\r$/m);
    expect(toBrowser).toMatch(/^a=ice-pwd:\S{22,}\r$/m);
    expect(toBrowser).toMatch(/^a=candidate:1 1 UDP \d+ 127\.0\.0\.1 \d+ typ host\r$/m);
  });

  it('ICE=remove on the offer strips ICE toward the recipient only; `reject ICE` (or ICE=remove on the answer) removes it toward the offerer', async () => {
    const browserOffer = [
      'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40600 RTP/AVP 0',
      'a=ice-ufrag:Kq9f', 'a=ice-pwd:p7A7uD2g8p4Sk3Qm1HcV9Xy2', 'a=candidate:1 1 udp 2122260223 127.0.0.1 40600 typ host', '',
    ].join('\r\n');
    const phoneAnswer = ['v=0', 'o=b 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40700 RTP/AVP 0', ''].join('\r\n');
    const run = async (callId: string, offerExtra: Record<string, unknown>, answerExtra: Record<string, unknown>): Promise<{ toPhone: string; toBrowser: string }> => {
      const offer = await tandem.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: browserOffer, ICE: 'remove', ...offerExtra });
      expect(offer.result).toBe('ok');
      const answer = await tandem.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: phoneAnswer, ...answerExtra });
      expect(answer.result).toBe('ok');
      return { toPhone: String(offer.sdp), toBrowser: String(answer.sdp) };
    };
    const plain = await run('webrtc-3', {}, {});
    expect(plain.toPhone).not.toMatch(/a=ice-|a=candidate/);
    expect(plain.toBrowser).toMatch(/^a=ice-lite\r$/m);
    expect(plain.toBrowser).toMatch(/^a=candidate:1 1 UDP \d+ 127\.0\.0\.1 \d+ typ host\r$/m);
    for (const [id, offerExtra, answerExtra] of [['webrtc-4', { flags: ['reject-ICE'] }, {}], ['webrtc-5', {}, { ICE: 'remove' }]] as const) {
      const r = await run(id, offerExtra, answerExtra);
      expect(r.toBrowser, id).not.toMatch(/a=ice-|a=candidate/);
    }
  });
});

