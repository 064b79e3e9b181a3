import type { MediaOptions } from '../api.js';
import type { MediaDescription } from '../../sdp/sdp.js';
import { formatCrypto, isSecureProfile, newKeySalt, offerCryptos, usableCryptos, type SdesCrypto } from '../../sdp/crypto.js';
import { TandemError } from '../../common/errors.js';
import type { CallMedia, Side } from './call.js';

/**
 * SRTP keying across one m= line when the two sides' profiles differ (`transport-protocol`):
 * plain RTP/AVP, SDES-SRTP (RFC 4568, RTP/SAVP) and DTLS-SRTP (RFC 5763/5764, UDP/TLS/RTP/SAVP(F)).
 * Each side is terminated on its own: what the offerer speaks is decided by its offer, what the
 * answerer speaks by the profile we offer it. Between two sides with the same keying the crypto
 * (a=crypto or a=fingerprint) passes end to end, as before.
 *
 * Offerer side: an SDES offerer's first usable a=crypto is its key; we answer it with ours under
 * the same tag. A DTLS offerer's fingerprint is checked by the worker; our role follows its a=setup.
 * Answerer side: SDES gets our keys (its answer's tag says which); DTLS gets our fingerprint and
 * a=setup (actpass unless `DTLS=passive|active`), and its answer's a=setup fixes the roles.
 */
export interface SdesRewrite {
  protocol?: string;
  crypto?: { id: number; suite: string; config: string }[];
  dtls?: { fingerprint: string; setup: DtlsSetup } | 'remove';
}

export type DtlsSetup = 'active' | 'passive' | 'actpass';
type Keying = 'plain' | 'sdes' | 'dtls';

type SessionFingerprint = { type: string; hash: string } | undefined;

/** An m= line that asks for DTLS-SRTP (RFC 5763): a UDP/TLS profile with a fingerprint. */
function dtlsFingerprint(sessionFp: SessionFingerprint, m: MediaDescription): string | undefined {
  const fp = m.fingerprint ?? sessionFp;
  if (!/TLS/i.test(m.protocol) || fp === undefined) return undefined;
  return `${fp.type.toLowerCase()} ${fp.hash}`;
}

function requireSha256(fp: string): void {
  if (!fp.startsWith('sha-256 ')) throw new TandemError('BAD_SDP', `a=fingerprint ${fp.split(' ')[0]} is not supported (sha-256 only)`);
}

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

/** The a=setup we offer toward a DTLS answerer: the role it already has, else what was asked. */
function setupToOffer(media: CallMedia, answerSide: Side, options: MediaOptions): DtlsSetup {
  // An established association keeps its roles (RFC 5763 §6.6): a re-offer that let the answer
  // flip them would leave both ends waiting for the other (Chrome deadlocks).
  if (media.dtls?.side === answerSide) return media.dtls.role === 'server' ? 'passive' : 'active';
  return options.dtls === 'passive' || options.dtls === 'active' ? options.dtls : 'actpass';
}

export interface SrtpOfferInput {
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

export function sdesOffer(x: SrtpOfferInput): SdesRewrite {
  const { m, media, options, offerSide, answerSide, target, ourFingerprint } = x;
  media.sdes = undefined;
  if (target === undefined || target === m.protocol) return {};
  const from = offeredKeying(m, x.sessionFp);
  const to = targetKeying(target, options);
  if (from === to) return { protocol: target };
  if ((from === 'dtls' || to === 'dtls') && ourFingerprint === undefined)
    throw new TandemError('BAD_REQUEST', 'DTLS-SRTP is not available: this process has no DTLS certificate');

  const plan: NonNullable<CallMedia['sdes']> = { offererProtocol: m.protocol };
  const rw: SdesRewrite = { protocol: target, crypto: [] };
  if (from === 'dtls') {
    const peerFp = dtlsFingerprint(x.sessionFp, m) as string;
    requireSha256(peerFp);
    // Our role follows the offerer's a=setup (RFC 5763 §5): actpass or active → we are passive
    // (DTLS server), passive → we connect. Decided once and kept (a later flip deadlocks).
    const role = media.dtls?.side === offerSide ? media.dtls.role : m.setup === 'passive' ? 'client' : 'server';
    media.dtls = { side: offerSide, role, peerFingerprint: peerFp };
    plan.offererDtls = true;
    rw.dtls = 'remove';
  } else if (from === 'sdes') {
    const chosen = usableCryptos(m, options.sdes)[0];
    if (chosen === undefined) throw new TandemError('BAD_SDP', `${m.protocol} offer without a usable a=crypto (AES_CM_128_HMAC_SHA1_80/_32, inline key)`);
    plan.offererKey = chosen;
    plan.ourKeyForOfferer = newKeySalt();
  }
  if (to === 'sdes') {
    if (options.sdes.off) throw new TandemError('BAD_REQUEST', `transport-protocol ${target} needs SDES, but SDES=off`);
    const ours = offerCryptos(options.sdes);
    if (ours.length === 0) throw new TandemError('BAD_REQUEST', 'SDES preferences leave no crypto suite to offer');
    plan.offeredToAnswerer = ours;
    rw.crypto = ours.map(formatCrypto);
  } else if (to === 'dtls') {
    // RFC 5763 §5: the offerer says actpass unless it must have one role; no a=crypto beside it
    // (rtpengine offers SDES next to DTLS only when asked to).
    const setup = setupToOffer(media, answerSide, options);
    plan.dtlsOffered = setup;
    rw.dtls = { fingerprint: ourFingerprint as string, setup };
  }
  media.sdes = plan;
  return rw;
}

export interface SrtpAnswerInput {
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
export function sdesAnswer(x: SrtpAnswerInput): SdesRewrite {
  const { m, media, offerSide, answerSide } = x;
  const plan = media.sdes;
  if (plan === undefined) return {};
  const rw: SdesRewrite = { protocol: plan.offererProtocol, crypto: [] };

  if (plan.dtlsOffered !== undefined) {
    answerDtls(x, plan.dtlsOffered);
    media.srtp[answerSide] = undefined;
    // Toward the offerer (plain or SDES) the answerer's fingerprint, setup and bundling mean nothing.
    rw.dtls = 'remove';
  } else if (plan.offeredToAnswerer !== undefined) {
    const theirs = usableCryptos(m)[0];
    const ours = theirs === undefined ? undefined : plan.offeredToAnswerer.find((c) => c.tag === theirs.tag && c.suite === theirs.suite);
    // The answerer declined SRTP (answered RTP/AVP or no matching tag): plain RTP on its side too.
    media.srtp[answerSide] = theirs === undefined || ours === undefined
      ? undefined
      : { profile: ours.suite, recv: theirs.keySalt.toString('base64'), send: ours.keySalt.toString('base64') };
  } else {
    media.srtp[answerSide] = undefined;
  }

  if (plan.offererDtls === true && media.dtls?.side === offerSide && x.ourFingerprint !== undefined) {
    media.srtp[offerSide] = undefined;
    rw.dtls = { fingerprint: x.ourFingerprint, setup: media.dtls.role === 'server' ? 'passive' : 'active' };
  } else if (plan.offererKey !== undefined && plan.ourKeyForOfferer !== undefined) {
    const k: SdesCrypto = plan.offererKey;
    media.srtp[offerSide] = { profile: k.suite, recv: k.keySalt.toString('base64'), send: plan.ourKeyForOfferer.toString('base64') };
    rw.crypto = [formatCrypto({ tag: k.tag, suite: k.suite, keySalt: plan.ourKeyForOfferer })];
  } else {
    media.srtp[offerSide] = undefined;
  }
  return rw;
}

/**
 * A DTLS answerer's reply to our offer: its fingerprint (m= or session level, sha-256) is what the
 * worker checks its certificate against, and its a=setup decides the roles (RFC 5763 §5) unless an
 * association already has them.
 */
function answerDtls(x: SrtpAnswerInput, offered: DtlsSetup): void {
  const { m, media, answerSide } = x;
  if (!/TLS/i.test(m.protocol)) {
    // The answerer declined DTLS (RFC 3264 lets it answer another profile): plain RTP on its side.
    x.notes.push(`answer declined DTLS-SRTP (${m.protocol}): plain RTP toward the answerer`);
    if (media.dtls?.side === answerSide) media.dtls = undefined;
    return;
  }
  const fp = dtlsFingerprint(x.sessionFp, m);
  if (fp === undefined) throw new TandemError('BAD_SDP', `${m.protocol} answer without a=fingerprint`);
  requireSha256(fp);
  const setup = m.setup ?? x.sessionSetup;
  if (media.dtls?.side === answerSide) {
    const expected = media.dtls.role === 'server' ? 'active' : 'passive';
    if (setup !== undefined && setup !== expected) x.notes.push(`answer says a=setup:${setup}; the established DTLS roles are kept (we stay ${media.dtls.role})`);
    if (media.dtls.peerFingerprint.toUpperCase() !== fp.toUpperCase()) x.notes.push('answer has a new a=fingerprint; the established DTLS association is kept');
    return;
  }
  let role: 'server' | 'client';
  if (offered === 'passive' || offered === 'active') {
    // We committed to a role in the offer; an answer that claims the same one cannot change that.
    role = offered === 'passive' ? 'server' : 'client';
    const expected = offered === 'passive' ? 'active' : 'passive';
    if (setup !== undefined && setup !== expected) x.notes.push(`answer says a=setup:${setup} to our a=setup:${offered}; we stay ${role}`);
  } else if (setup === 'passive') {
    role = 'client';
  } else {
    // RFC 5763 §5: the answerer must pick active or passive; a missing a=setup means active
    // (RFC 4145 §4), and actpass in an answer is treated the same (RFC 8842 §5.3).
    if (setup !== 'active') x.notes.push(`answer has ${setup === undefined ? 'no a=setup' : `a=setup:${setup}`}: taken as active, we are the DTLS server`);
    role = 'server';
  }
  media.dtls = { side: answerSide, role, peerFingerprint: fp };
}
