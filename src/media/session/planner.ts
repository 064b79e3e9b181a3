import { TandemError } from '../../common/errors.js';
import type { AnswerRequest, MediaOptions, OfferRequest } from '../api.js';
import { isRtpMedia, type ParsedSdp } from '../../sdp/sdp.js';
import { planOfferCodecs, planAnswerCodecs } from '../../sdp/negotiate.js';
import type { MediaRewrite, SdpRewrite } from '../../sdp/rewrite.js';
import { LOCAL_CODEC_CAPABILITIES } from '../codecs/codec.js';
import { otherSide, type MediaCall, type Side } from './call.js';
import { keyingAnswer, keyingOffer } from './keying.js';
import { answerRtcpMux, bundleGroup, framing, freshMid, iceAnswer, iceOffer, offerRtcpMux, peerMedia, sdpWarnings } from './transport-plan.js';

/**
 * The offer/answer planner: a parsed SDP, the request's options and the call's negotiated state in;
 * the SDP rewrite, the reply's warnings and the call's updated per-media state (codec plans,
 * framing, keying, ICE: what worker-config.ts turns into bridge configuration) out. It does no I/O:
 * no sockets, no ports, no worker. The call's medias must already exist (one per m= line).
 */

export interface PlannerContext {
  /** The media interface: the SDP address and family unless the options name others. */
  interface: string;
  /** Our DTLS certificate's `sha-256 …`, if the process has one. */
  ourFingerprint: string | undefined;
}

export interface OfferPlan {
  rewrite: SdpRewrite;
  warnings: string[];
}

export interface AnswerPlan extends OfferPlan {
  /** Worth a log line on the call, not a warning to the client (a=setup disagreements and such). */
  notes: string[];
}

/** The rewrite an offer or answer gets: our address on every m= line, and the BUNDLE groups, if any. */
function sdpRewrite(o: MediaOptions, ctx: PlannerContext, media: (MediaRewrite | null)[], groups: SdpRewrite['groups']): SdpRewrite {
  return {
    address: o.mediaAddress ?? ctx.interface,
    family: defaultFamily(o, ctx),
    replaceOrigin: o.replaceOrigin,
    media,
    ...(groups !== undefined ? { groups } : {}),
  };
}

function defaultFamily(o: MediaOptions, ctx: PlannerContext): 'IP4' | 'IP6' {
  return o.addressFamily ?? (ctx.interface.includes(':') ? 'IP6' : 'IP4');
}

/**
 * Which side an offer comes from: a known tag keeps its side; a new from-tag before any answer is
 * the offerer changing its tag (a fresh INVITE) and takes side 0; anything else would be a fork.
 */
export function offerSideOf(call: MediaCall, fromTag: string): Side {
  const known = call.sideOfTag(fromTag);
  if (known !== undefined) return known;
  if (call.tags[1] === undefined && call.medias.every((m) => m.peer[1] === undefined)) {
    call.tags[0] = fromTag;
    return 0;
  }
  throw new TandemError('BAD_REQUEST', 'from-tag belongs to neither leg of this call (forking is not supported)', { 'call-id': call.callId });
}

/** Call-level state an offer sets before its m= lines are bound: the signal time, groups, label, echo. */
export function noteOffer(call: MediaCall, sdp: ParsedSdp, o: MediaOptions, offerSide: Side): void {
  call.lastSignalMs = Date.now();
  call.offerGroups = sdp.session.groups?.map((g) => ({ type: g.type, mids: String(g.mids) }));
  if (o.label !== undefined) call.labels[offerSide] = o.label;
  if (o.mediaEcho !== undefined) call.echo = { mode: o.mediaEcho, requestedBy: offerSide };
}

/** Plans an offer from `offerSide` whose call already has a media per m= line. */
export function planOffer(call: MediaCall, sdp: ParsedSdp, req: OfferRequest, offerSide: Side, ctx: PlannerContext): OfferPlan {
  const o = req.options;
  const answerSide = otherSide(offerSide);
  const warnings: string[] = [];
  const rewrites: (MediaRewrite | null)[] = [];
  const usedMids = new Set(sdp.session.media.flatMap((m) => (m.mid !== undefined ? [String(m.mid)] : [])));
  sdp.session.media.forEach((m, i) => {
    const media = call.medias[i];
    // The profile the receiving side gets: as asked, else (a re-offer of a call whose profiles we
    // bridged, e.g. a re-INVITE from the other leg) the one that side negotiated before.
    const known = media.peer[answerSide]?.protocol;
    const target = o.transportProtocol ?? (media.bridgedProfiles ? known : undefined);
    const peer = peerMedia(sdp, i, o, req.callId, warnings);
    media.peer[offerSide] = peer;
    media.offerSide = offerSide;
    media.offerOptions = o;
    media.answerPlan = undefined;
    if (m.port === 0) {
      rewrites.push(null);
      return;
    }
    const audio = m.type === 'audio' && isRtpMedia(m);
    const plan = audio
      ? planOfferCodecs(peer.codecs, o.codec, LOCAL_CODEC_CAPABILITIES)
      : { offererCodecs: peer.codecs, answererOffer: peer.codecs, added: [], warnings: [] };
    media.offerPlan = plan;
    warnings.push(...plan.warnings);
    const keying = keyingOffer({
      m, media, options: o, offerSide, answerSide, target,
      sessionFp: sdp.session.fingerprint, ourFingerprint: ctx.ourFingerprint,
    });
    media.bridgedProfiles = keying.protocol !== undefined;
    const mid = m.mid === undefined && o.generateMid ? freshMid(usedMids, i) : undefined;
    rewrites.push({
      port: media.localRtpPort(answerSide),
      rtcpPort: media.localRtcpPort(answerSide),
      ...offerRtcpMux(peer.rtcpMux, o),
      ...(o.noRtcpAttribute ? { noRtcpAttribute: true } : {}),
      codecs: isRtpMedia(m) ? plan.answererOffer : undefined,
      ...(o.ptime !== undefined && audio ? { ptime: o.ptime } : {}),
      removeIce: true,
      ...keying,
      ...(mid !== undefined ? { mid } : {}),
      ...iceOffer(sdp, m, media, offerSide, answerSide, o),
    });
  });
  warnings.push(...sdpWarnings(sdp, o, call.medias.some((x) => x.keying?.offererDtls === true)));
  if (o.transportProtocol !== undefined && /TLS/.test(o.transportProtocol) && o.ice !== 'force' && o.ice !== 'lite')
    warnings.push('UDP/TLS offered without ICE=force: a WebRTC answerer needs ICE (the WebRTC flag sets it)');
  const groups = bundleGroup(sdp, rewrites, o.generateMid);
  return {
    rewrite: sdpRewrite(o, ctx, rewrites, groups),
    warnings,
  };
}

/**
 * Call-level state an answer sets: the answering side's tag (a new to-tag replaces the previous
 * one, which is returned so the caller can log it), the signal time, label and echo. Returns the
 * side of the offer being answered. The m= lines are checked by planAnswer, after these are set.
 */
export function noteAnswer(call: MediaCall, sdp: ParsedSdp, req: AnswerRequest): { offerSide: Side; replacedToTag?: string } {
  const offerSide = call.sideOfTag(req.fromTag);
  if (offerSide === undefined) throw new TandemError('UNKNOWN_CALL', 'Unknown from-tag', { 'call-id': req.callId });
  const answerSide = otherSide(offerSide);
  const previous = call.tags[answerSide];
  call.tags[answerSide] = req.toTag;
  call.lastSignalMs = Date.now();
  if (req.options.label !== undefined) call.labels[answerSide] = req.options.label;
  if (req.options.mediaEcho !== undefined) call.echo = { mode: req.options.mediaEcho, requestedBy: answerSide };
  return { offerSide, ...(previous !== undefined && previous !== req.toTag ? { replacedToTag: previous } : {}) };
}

/** Plans an answer to the offer from `offerSide`: per m= line the codec plan, framing, rtcp-mux, ICE and keying. */
export function planAnswer(call: MediaCall, sdp: ParsedSdp, req: AnswerRequest, offerSide: Side, ctx: PlannerContext): AnswerPlan {
  if (sdp.session.media.length > call.medias.length)
    throw new TandemError('BAD_SDP', 'answer has more m= lines than the offer', { 'call-id': req.callId });
  const answerSide = otherSide(offerSide);
  const o = req.options;
  const warnings: string[] = [];
  const notes: string[] = [];
  const rewrites: (MediaRewrite | null)[] = [];
  sdp.session.media.forEach((m, i) => {
    const media = call.medias[i];
    const peer = peerMedia(sdp, i, o, req.callId, warnings);
    media.peer[answerSide] = peer;
    const offerer = media.peer[offerSide];
    if (m.port === 0 || offerer === undefined || media.offerPlan === undefined) {
      rewrites.push(null);
      return;
    }
    const audio = m.type === 'audio' && isRtpMedia(m);
    const offerOpts = media.offerOptions ?? o;
    iceAnswer(media, offerSide, o);
    // rtcp-mux-require: the answerer is taken to multiplex whatever its answer says (rtpengine).
    if (offerOpts.rtcpMux.includes('require')) peer.rtcpMux = true;
    const plan = audio
      ? planAnswerCodecs(media.offerPlan, peer.codecs, { alwaysTranscode: offerOpts.alwaysTranscode || o.alwaysTranscode }, LOCAL_CODEC_CAPABILITIES)
      : { offererAnswer: peer.codecs, mappings: [], transcoding: false, warnings: [] };
    media.answerPlan = plan;
    warnings.push(...plan.warnings);
    const frames = framing(offerOpts, offerer, peer, { toAnswerer: plan.answererMain, toOfferer: plan.offererMain }, warnings);
    media.framesTo[answerSide] = frames.toAnswerer;
    media.framesTo[offerSide] = frames.toOfferer;
    const mux = answerRtcpMux(offerer.rtcpMux, peer.rtcpMux, o, offerOpts);
    rewrites.push({
      port: media.localRtpPort(offerSide),
      rtcpPort: media.localRtcpPort(offerSide),
      rtcpMux: mux,
      // A multiplexing DTLS (WebRTC) offerer needs no a=rtcp, and some stacks (werift) reject its short form.
      ...(o.noRtcpAttribute || (mux && /TLS/i.test(offerer.protocol)) ? { noRtcpAttribute: true } : {}),
      codecs: isRtpMedia(m) ? plan.offererAnswer : undefined,
      ...(frames.ptimeToOfferer !== undefined && audio ? { ptime: frames.ptimeToOfferer } : {}),
      removeIce: true,
      ...keyingAnswer({
        m, media, offerSide, answerSide, sessionFp: sdp.session.fingerprint, sessionSetup: sdp.session.setup,
        ourFingerprint: ctx.ourFingerprint, notes,
      }),
      ...(offerer.mid !== undefined ? { mid: offerer.mid } : {}),
      ...(media.ice[offerSide] !== undefined ? { ice: media.ice[offerSide] } : {}),
    });
    offerer.rtcpMux = mux;
  });
  warnings.push(...sdpWarnings(sdp, o, call.medias.some((x) => x.keying?.dtlsOffered !== undefined)));
  if (o.ptime !== undefined || o.ptimeReverse !== undefined)
    warnings.push('ptime and ptime-reverse are read in offers only; ignored in this answer');
  if (o.dtls === 'passive' || o.dtls === 'active') warnings.push(`DTLS=${o.dtls} is read in offers only; ignored in this answer`);
  return {
    // JSEP/BUNDLE (RFC 9143): the offerer's groups come back in its answer, with its mids.
    rewrite: sdpRewrite(o, ctx, rewrites, call.offerGroups !== undefined && call.offerGroups.length > 0 ? call.offerGroups : undefined),
    warnings,
    notes,
  };
}
