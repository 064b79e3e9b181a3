import { TandemError } from '../../common/errors.js';
import { SAMPLE_CONVERSIONS, type BridgeConfig, type DirectionConfig, type LegCodec, type PayloadRule, type SampleConversion, type SideConfig } from '../pool/protocol.js';
import { isG711, isSupplemental, isTelephoneEvent, type CodecMapping } from '../../sdp/negotiate.js';
import { LOCAL_CODEC_CAPABILITIES, localAudioCodec } from '../codecs/codec.js';
import type { DtlsCertificate } from '../rtp/dtls.js';
import { otherSide, type CallMedia, type MediaCall, type Side } from './call.js';

/**
 * Negotiated call state → what a worker needs for one bridge (media/pool/protocol.ts): per side
 * where the peer is and how it is secured, per direction what happens to each payload type.
 * Nothing here decides anything new; it only restates the planner's decisions.
 */

const WORKER_CODEC = { PCMA: 'alaw', PCMU: 'ulaw', opus: 'opus', G722: 'g722' } as const;

/** The worker's name for a conversion the registry (media/codecs/codec.ts) says the plane can do. */
export function conversion(from: string, to: string): SampleConversion {
  const f = localAudioCodec(from);
  const t = localAudioCodec(to);
  const name = f !== undefined && t !== undefined && LOCAL_CODEC_CAPABILITIES.canTranscode(f, t) ? `${WORKER_CODEC[f]}-${WORKER_CODEC[t]}` : '';
  const known = SAMPLE_CONVERSIONS.find((c) => c === name);
  if (known === undefined) throw new TandemError('CODEC', `no conversion from ${from} to ${to}`);
  return known;
}

/** The payload rule for one codec mapping, read from the offerer (`forward`) or the answerer (`reverse`). */
export function rule(mp: CodecMapping, way: 'forward' | 'reverse'): PayloadRule {
  const from = way === 'forward' ? mp.offererCodec : mp.answererCodec;
  const to = way === 'forward' ? mp.answererCodec : mp.offererCodec;
  const convert = !mp.transcode ? 'none' : conversion(from.name, to.name);
  return {
    inPt: way === 'forward' ? mp.offererPt : mp.answererPt,
    outPt: way === 'forward' ? mp.answererPt : mp.offererPt,
    convert,
    audio: isG711(from) && isG711(to),
    ...(isTelephoneEvent(from) && isTelephoneEvent(to) ? { event: { inRate: from.clockRate, outRate: to.clockRate } } : {}),
  };
}

/**
 * rtpengine's `media echo`: `forward` echoes towards the receiver of the message that asked
 * (its media comes back to it, the requester's media is dropped), `backwards` towards the
 * requester, `both` echoes each side to itself, `blackhole` drops everything.
 */
export function applyEcho(dirs: [DirectionConfig, DirectionConfig], mode: string, requester: Side): void {
  const other = otherSide(requester);
  const set = (s: Side, action: DirectionConfig['action']): void => {
    dirs[s] = { action, rules: [], outFrameMs: 0 };
  };
  if (mode === 'forward') {
    set(other, 'echo');
    set(requester, 'drop');
  } else if (mode === 'backwards') {
    set(requester, 'echo');
    set(other, 'drop');
  } else if (mode === 'both') {
    set(0, 'echo');
    set(1, 'echo');
  } else if (mode === 'blackhole') {
    set(0, 'drop');
    set(1, 'drop');
  }
}

/** One bridge's whole configuration: both sides, both directions, the call's echo mode on top. */
export function bridgeConfig(call: MediaCall, media: CallMedia, cert: DtlsCertificate | undefined): BridgeConfig {
  const offerSide = media.offerSide;
  const answerSide = otherSide(offerSide);
  const mappings = media.answerPlan?.mappings ?? [];
  const rules: [PayloadRule[], PayloadRule[]] = [[], []];
  for (const mp of mappings) {
    rules[offerSide].push(rule(mp, 'forward'));
    rules[answerSide].push(rule(mp, 'reverse'));
  }
  // Repacketizing without a codec change still needs the audio payload type marked as audio.
  const plan = media.answerPlan;
  if (plan?.offererMain !== undefined && plan.answererMain !== undefined && mappings.every((mp) => !mp.transcode)) {
    const a = plan.offererMain;
    const b = plan.answererMain;
    if (!rules[offerSide].some((r) => r.inPt === a.pt)) rules[offerSide].push({ inPt: a.pt, outPt: b.pt, convert: 'none', audio: isG711(a) });
    if (!rules[answerSide].some((r) => r.inPt === b.pt)) rules[answerSide].push({ inPt: b.pt, outPt: a.pt, convert: 'none', audio: isG711(b) });
  }
  const directions: [DirectionConfig, DirectionConfig] = [
    { action: 'relay', rules: rules[0], outFrameMs: media.framesTo[1] },
    { action: 'relay', rules: rules[1], outFrameMs: media.framesTo[0] },
  ];
  const inband = plan?.inbandDtmf;
  if (inband !== undefined && plan?.offererMain !== undefined && plan.answererMain !== undefined) {
    // The side with events (its PT and clock) and the G.711 side: tones toward the latter, events from it.
    const eventSide = inband.eventSide === 'offerer' ? offerSide : answerSide;
    const toneSide = otherSide(eventSide);
    const tone = inband.eventSide === 'offerer' ? plan.answererMain : plan.offererMain;
    const law = tone.name.toUpperCase() === 'PCMA' ? 'alaw' : 'ulaw';
    directions[eventSide].synthesizeDtmf = { inPt: inband.pt, inRate: inband.clockRate, law, outPt: tone.pt };
    directions[toneSide].detectDtmf = { law, outPt: inband.pt, outRate: inband.clockRate };
  }
  if (call.echo !== undefined) applyEcho(directions, call.echo.mode, call.echo.requestedBy);
  // A leg's RTCP describes a stream the other leg never sees once codec or framing change: end it here.
  return { sides: [sideConfig(media, 0, cert), sideConfig(media, 1, cert)], directions, legs: [legCodec(media, 0), legCodec(media, 1)], ...(media.transcoding && call.echo === undefined ? { terminateRtcp: true } : {}) };
}

/** The audio side s is sent once the answer is known: what media control generates toward it. */
export function legCodec(media: CallMedia, s: Side): LegCodec | undefined {
  const plan = media.answerPlan;
  const main = s === media.offerSide ? plan?.offererMain : plan?.answererMain;
  if (plan === undefined || main === undefined) return undefined;
  const codecs = (s === media.offerSide ? plan.offererAnswer : media.peer[s]?.codecs) ?? [];
  const events = codecs.filter((c) => isTelephoneEvent(c));
  const ev = events.find((c) => c.clockRate === main.clockRate) ?? events[0];
  const name = main.name.toLowerCase();
  return {
    codec: name === 'pcma' ? 'PCMA' : name === 'pcmu' ? 'PCMU' : name === 'opus' ? 'opus' : name === 'g722' ? 'G722' : 'other',
    pt: main.pt,
    clockRate: main.clockRate,
    ptimeMs: media.framesTo[s] || (media.peer[s]?.ptime ?? 20),
    ...(ev !== undefined ? { eventPt: ev.pt, eventClockRate: ev.clockRate } : {}),
  };
}

/** Side s of a bridge: its peer's addresses, latching, and the SRTP/ICE/DTLS it speaks. */
export function sideConfig(media: CallMedia, s: Side, cert: DtlsCertificate | undefined): SideConfig {
  const peer = media.peer[s];
  const clockRate = peer?.codecs.find((c) => !isSupplemental(c))?.clockRate ?? 8000;
  // We offered DTLS toward this side and wait for its answer to fix the roles.
  const awaitingDtls = media.keying?.dtlsOffered !== undefined && s !== media.offerSide && media.dtls?.side !== s;
  if (peer === undefined || peer.address === undefined || peer.port === 0) {
    // No answer yet, but a browser answering our offer checks (and nominates) and starts DTLS as
    // soon as it has the offer, before its answer reaches us: its checks are answered from now
    // on, and its first DTLS records are kept for the association the answer creates.
    return {
      rtcpMux: false, latch: 'symmetric', strictSource: false, clockRate,
      ...(media.ice[s] !== undefined ? { ice: media.ice[s] } : {}),
      ...(awaitingDtls ? { awaitingDtls } : {}),
    };
  }
  const o = peer.options;
  // After a takeover a side's DTLS association is gone: its handshake's keys carry on as plain SRTP.
  const dtlsTakenOver = media.dtlsRestored && media.dtlsKeys[s] !== undefined && media.dtls?.side === s;
  const srtp = dtlsTakenOver ? media.dtlsKeys[s] : media.srtp[s];
  return {
    peerRtp: { address: peer.address, port: peer.port },
    ...(peer.rtcpPort !== undefined ? { peerRtcp: { address: peer.rtcpAddress ?? peer.address, port: peer.rtcpPort } } : {}),
    rtcpMux: peer.rtcpMux,
    latch: o.asymmetric ? 'asymmetric' : o.portLatching ? 'port' : 'symmetric',
    strictSource: o.strictSource,
    ...(o.mediaHandover ? { mediaHandover: true } : {}),
    clockRate,
    ...(srtp !== undefined ? { srtp } : {}),
    ...(media.ice[s] !== undefined ? { ice: media.ice[s] } : {}),
    ...(media.dtls?.side === s && cert !== undefined && !dtlsTakenOver
      ? { dtls: { role: media.dtls.role, certPem: cert.certPem, keyPem: cert.keyPem, peerFingerprint: media.dtls.peerFingerprint } }
      : {}),
  };
}
