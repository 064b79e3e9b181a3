import { describe, it, expect } from 'vitest';
import { parseSdp } from '../../../../src/sdp/sdp.js';
import type { DirectionConfig } from '../../../../src/media/pool/protocol.js';
import type { DtlsCertificate } from '../../../../src/media/rtp/dtls.js';
import type { MediaCall } from '../../../../src/media/session/call.js';
import { noteAnswer, noteOffer, offerSideOf, planAnswer, planOffer } from '../../../../src/media/session/planner.js';
import { applyEcho, bridgeConfig, conversion, sideConfig } from '../../../../src/media/session/worker-config.js';
import { audio, FP, options, sdp, testCall, TE8 } from './fixtures.js';
import type { MediaOptions } from '../../../../src/media/api.js';

const ctx = { interface: '203.0.113.5', ourFingerprint: FP };
const cert: DtlsCertificate = { certPem: 'CERT', keyPem: 'KEY', fingerprint: FP } as DtlsCertificate;

function negotiate(call: MediaCall, offerSdp: string, answerSdp: string | undefined, o: Partial<MediaOptions> = {}, a: Partial<MediaOptions> = {}): void {
  const parsed = parseSdp(offerSdp);
  const side = offerSideOf(call, 'a');
  noteOffer(call, parsed, options(o), side);
  planOffer(call, parsed, { callId: call.callId, fromTag: 'a', sdp: offerSdp, options: options(o) }, side, ctx);
  if (answerSdp === undefined) return;
  const parsedAnswer = parseSdp(answerSdp);
  const req = { callId: call.callId, fromTag: 'a', toTag: 'b', sdp: answerSdp, options: options(a) };
  planAnswer(call, parsedAnswer, req, noteAnswer(call, parsedAnswer, req).offerSide, ctx);
}

const relay = (): [DirectionConfig, DirectionConfig] => [
  { action: 'relay', rules: [{ inPt: 0, outPt: 0, convert: 'none', audio: true }], outFrameMs: 30 },
  { action: 'relay', rules: [], outFrameMs: 0 },
];

describe('worker config: echo modes (rtpengine media echo)', () => {
  it('forward echoes toward the other side and drops the requester\'s media; backwards the reverse', () => {
    const f = relay();
    applyEcho(f, 'forward', 0);
    expect(f.map((d) => d.action)).toEqual(['drop', 'echo']);
    expect(f[1]).toEqual({ action: 'echo', rules: [], outFrameMs: 0 });
    const b = relay();
    applyEcho(b, 'backwards', 0);
    expect(b.map((d) => d.action)).toEqual(['echo', 'drop']);
    const b1 = relay();
    applyEcho(b1, 'backwards', 1);
    expect(b1.map((d) => d.action)).toEqual(['drop', 'echo']);
  });

  it('both echoes each side to itself, blackhole drops everything, an unknown mode changes nothing', () => {
    const both = relay();
    applyEcho(both, 'both', 1);
    expect(both.map((d) => d.action)).toEqual(['echo', 'echo']);
    const hole = relay();
    applyEcho(hole, 'blackhole', 0);
    expect(hole.map((d) => d.action)).toEqual(['drop', 'drop']);
    const other = relay();
    applyEcho(other, 'sideways', 0);
    expect(other).toEqual(relay());
  });

  it('the call\'s echo mode overrides the relay directions of every bridge', () => {
    const { call } = testCall(1);
    negotiate(call, sdp([audio(4000, '0')]), sdp([audio(5000, '0')]), { mediaEcho: 'blackhole' });
    expect(bridgeConfig(call, call.medias[0], cert).directions.map((d) => d.action)).toEqual(['drop', 'drop']);
  });
});

describe('worker config: payload rules', () => {
  it('names the worker\'s conversions by the registry and refuses the rest', () => {
    expect(conversion('PCMU', 'PCMA')).toBe('ulaw-alaw');
    expect(conversion('opus', 'PCMU')).toBe('opus-ulaw');
    expect(conversion('G722', 'PCMU')).toBe('g722-ulaw');
    expect(conversion('opus', 'g722')).toBe('opus-g722');
    expect(() => conversion('G729', 'PCMU')).toThrow(/no conversion from G729 to PCMU/);
  });

  it('a transcoded answer: each direction converts into the receiver\'s codec and PT', () => {
    const { call } = testCall(1);
    negotiate(call, sdp([audio(4000, '0')]), sdp([audio(5000, '8')]), { codec: { ...options().codec, transcode: ['PCMA'] } });
    const cfg = bridgeConfig(call, call.medias[0], cert);
    expect(cfg.directions[0].rules).toContainEqual({ inPt: 0, outPt: 8, convert: 'ulaw-alaw', audio: true });
    expect(cfg.directions[1].rules).toContainEqual({ inPt: 8, outPt: 0, convert: 'alaw-ulaw', audio: true });
  });

  it('repacketizing without a codec change still marks the audio payload type as audio', () => {
    const { call } = testCall(1);
    negotiate(call, sdp([audio(4000, '0 101', TE8)]), sdp([audio(5000, '0 101', TE8)]), { ptime: 30 });
    const cfg = bridgeConfig(call, call.medias[0], cert);
    expect(cfg.directions[0].rules).toEqual([{ inPt: 0, outPt: 0, convert: 'none', audio: true }]);
    expect(cfg.directions[1].rules).toEqual([{ inPt: 0, outPt: 0, convert: 'none', audio: true }]);
    // Direction s is what side s sends: it is cut to the other side's framing.
    expect(cfg.directions.map((d) => d.outFrameMs)).toEqual([30, 20]);
  });

  it('telephone-event beside a transcoded codec is mapped with its clock rates, not converted', () => {
    const { call } = testCall(1);
    negotiate(call, sdp([audio(4000, '0 101', TE8)]), sdp([audio(5000, '8 101', TE8)]), { codec: { ...options().codec, transcode: ['PCMA'] } });
    const cfg = bridgeConfig(call, call.medias[0], cert);
    expect(cfg.directions[0].rules).toContainEqual({ inPt: 101, outPt: 101, convert: 'none', audio: false, event: { inRate: 8000, outRate: 8000 } });
  });

  it('before an answer a bridge relays with no rules', () => {
    const { call } = testCall(1);
    negotiate(call, sdp([audio(4000, '0')]), undefined);
    const cfg = bridgeConfig(call, call.medias[0], cert);
    expect(cfg.directions).toEqual([{ action: 'relay', rules: [], outFrameMs: 0 }, { action: 'relay', rules: [], outFrameMs: 0 }]);
  });
});

describe('worker config: sides', () => {
  it('a side with a peer: its RTP and RTCP endpoints, rtcp-mux, clock rate and latching from its options', () => {
    const { call } = testCall(1);
    negotiate(call, sdp([audio(4000, '0', ['a=rtcp:4005'])]), sdp([audio(5000, '0')]), { asymmetric: true });
    const s0 = sideConfig(call.medias[0], 0, cert);
    expect(s0).toEqual({
      peerRtp: { address: '192.0.2.10', port: 4000 }, peerRtcp: { address: '192.0.2.10', port: 4005 },
      rtcpMux: false, latch: 'asymmetric', strictSource: false, clockRate: 8000,
    });
    expect(sideConfig(call.medias[0], 1, cert).latch).toBe('symmetric');
  });

  it('a side that has not answered: symmetric, no peer, its ICE answered and DTLS records awaited', () => {
    const { call } = testCall(1);
    negotiate(call, sdp([audio(4000, '0')]), undefined, { transportProtocol: 'UDP/TLS/RTP/SAVPF', ice: 'force' });
    const s1 = sideConfig(call.medias[0], 1, cert);
    expect(s1).toMatchObject({ rtcpMux: false, latch: 'symmetric', strictSource: false, clockRate: 8000, awaitingDtls: true });
    expect(s1.ice).toEqual(call.medias[0].ice[1]);
    expect(s1.peerRtp).toBeUndefined();
  });

  it('the DTLS side gets our certificate, its role and the peer fingerprint, only with a certificate', () => {
    const { call } = testCall(1);
    negotiate(call, sdp([audio(4000, '0')]), sdp([audio(5000, '0', [`a=fingerprint:${FP}`, 'a=setup:passive'], 'UDP/TLS/RTP/SAVPF')]), { transportProtocol: 'UDP/TLS/RTP/SAVPF', ice: 'force' });
    expect(sideConfig(call.medias[0], 1, cert).dtls).toEqual({ role: 'client', certPem: 'CERT', keyPem: 'KEY', peerFingerprint: FP });
    expect(sideConfig(call.medias[0], 1, undefined).dtls).toBeUndefined();
    expect(sideConfig(call.medias[0], 0, cert).dtls).toBeUndefined();
  });
});
