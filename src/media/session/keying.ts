import type { MediaOptions } from '../api.js';
import type { MediaDescription } from '../../sdp/sdp.js';
import { formatCrypto, isSecureProfile } from '../../sdp/crypto.js';
import { TandemError } from '../../common/errors.js';
import type { CallMedia, PendingKeying, Side } from './call.js';
import { acceptDtlsAnswer, acceptDtlsOfferer, dtlsFingerprint, setupToAnswer, setupToOffer, type DtlsSetup, type SessionFingerprint } from './dtls-keying.js';
import { answererSrtp, chooseOffererKey, keysForAnswerer, offererSrtp } from './sdes.js';

/**
 * SRTP keying across one m= line when the two sides' profiles differ (`transport-protocol`):
 * plain RTP/AVP, SDES-SRTP (sdes.ts) and DTLS-SRTP (dtls-keying.ts). Each side is terminated on its
 * own: what the offerer speaks is decided by its offer, what the answerer speaks by the profile we
 * offer it. Between two sides with the same keying the crypto (a=crypto or a=fingerprint) passes
 * end to end.
 */
export interface KeyingRewrite {
  protocol?: string;
  crypto?: { id: number; suite: string; config: string }[];
  dtls?: { fingerprint: string; setup: DtlsSetup } | 'remove';
}

export type Keying = 'plain' | 'sdes' | 'dtls';

function offeredKeying(m: MediaDescription, sessionFp: SessionFingerprint): Keying {
  if (!isSecureProfile(m.protocol)) return 'plain';
  return dtlsFingerprint(sessionFp, m) !== undefined ? 'dtls' : 'sdes';
}

/** What a profile we put in an SDP asks of its peer: UDP/TLS/… is DTLS-SRTP, other SAVP is SDES. */
export function profileKeying(protocol: string): Keying {
  if (!isSecureProfile(protocol)) return 'plain';
  return /TLS/i.test(protocol) ? 'dtls' : 'sdes';
}

function targetKeying(target: string, options: MediaOptions): Keying {
  const k = profileKeying(target);
  if (k === 'dtls' && options.dtls === 'off') throw new TandemError('BAD_REQUEST', `transport-protocol ${target} needs DTLS, but DTLS=off`);
  return k;
}

export interface KeyingOfferInput {
  m: MediaDescription;
  media: CallMedia;
  options: MediaOptions;
  offerSide: Side;
  answerSide: Side;
  /** The profile the answerer gets: `transport-protocol`, or the one it negotiated before. */
  target: string | undefined;
  sessionFp?: SessionFingerprint;
  /** Our certificate's `sha-256 …`, if the process has one. */
  ourFingerprint: string | undefined;
}

/** Decides each side's keying for an offer and keeps what the answer needs in `media.keying`. */
export function keyingOffer(x: KeyingOfferInput): KeyingRewrite {
  const { m, media, options, offerSide, answerSide, target, ourFingerprint } = x;
  media.keying = undefined;
  if (target === undefined || target === m.protocol) return {};
  const from = offeredKeying(m, x.sessionFp);
  const to = targetKeying(target, options);
  if (from === to) return { protocol: target };
  if ((from === 'dtls' || to === 'dtls') && ourFingerprint === undefined)
    throw new TandemError('BAD_REQUEST', 'DTLS-SRTP is not available: this process has no DTLS certificate');

  const plan: PendingKeying = { offererProtocol: m.protocol };
  const rw: KeyingRewrite = { protocol: target, crypto: [] };
  if (from === 'dtls') {
    acceptDtlsOfferer(media, offerSide, m, x.sessionFp);
    plan.offererDtls = true;
    rw.dtls = 'remove';
  } else if (from === 'sdes') {
    Object.assign(plan, chooseOffererKey(m, options));
  }
  if (to === 'sdes') {
    const ours = keysForAnswerer(target, options);
    plan.offeredToAnswerer = ours;
    rw.crypto = ours.map(formatCrypto);
  } else if (to === 'dtls') {
    // RFC 5763 §5: the offerer says actpass unless it must have one role; no a=crypto beside it
    // (rtpengine offers SDES next to DTLS only when asked to).
    const setup = setupToOffer(media, answerSide, options.dtls);
    plan.dtlsOffered = setup;
    rw.dtls = { fingerprint: ourFingerprint as string, setup };
  }
  media.keying = plan;
  return rw;
}

export interface KeyingAnswerInput {
  m: MediaDescription;
  media: CallMedia;
  offerSide: Side;
  answerSide: Side;
  sessionFp?: SessionFingerprint;
  sessionSetup?: string;
  ourFingerprint: string | undefined;
  /** Things worth a log line (not an error): a contradictory a=setup, a changed certificate. */
  notes: string[];
}

/**
 * The answer completes the picture: both sides' keys are known (media.srtp, media.dtls), and the
 * answer going back to the offerer gets the offerer's profile and its keying (our a=crypto, or our
 * fingerprint and role).
 */
export function keyingAnswer(x: KeyingAnswerInput): KeyingRewrite {
  const { m, media, offerSide, answerSide } = x;
  const plan = media.keying;
  if (plan === undefined) return {};
  const rw: KeyingRewrite = { protocol: plan.offererProtocol, crypto: [] };

  if (plan.dtlsOffered !== undefined) {
    acceptDtlsAnswer(x, plan.dtlsOffered);
    media.srtp[answerSide] = undefined;
    // Toward the offerer (plain or SDES) the answerer's fingerprint, setup and bundling mean nothing.
    rw.dtls = 'remove';
  } else if (plan.offeredToAnswerer !== undefined) {
    media.srtp[answerSide] = answererSrtp(m, plan.offeredToAnswerer);
  } else {
    media.srtp[answerSide] = undefined;
  }

  if (plan.offererDtls === true && media.dtls?.side === offerSide && x.ourFingerprint !== undefined) {
    media.srtp[offerSide] = undefined;
    rw.dtls = { fingerprint: x.ourFingerprint, setup: setupToAnswer(media.dtls.role) };
  } else if (plan.offererKey !== undefined && plan.ourKeyForOfferer !== undefined) {
    const k = plan.offererKey;
    media.srtp[offerSide] = offererSrtp(k, plan.ourKeyForOfferer);
    rw.crypto = [formatCrypto({ tag: k.tag, suite: k.suite, keySalt: plan.ourKeyForOfferer })];
  } else {
    media.srtp[offerSide] = undefined;
  }
  return rw;
}
