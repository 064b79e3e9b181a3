import type { MediaOptions } from '../api.js';
import type { MediaDescription } from '../../sdp/sdp.js';
import { formatCrypto, isSecureProfile, newKeySalt, offerCryptos, usableCryptos, type SdesCrypto } from '../../sdp/crypto.js';
import { TandemError } from '../../common/errors.js';
import type { CallMedia, Side } from './call.js';

/**
 * RTP/AVP ↔ RTP/SAVP bridging with SDES (RFC 4568) for one m= line. The media plane terminates
 * SRTP only where the two sides' profiles differ (`transport-protocol`); between two SRTP peers
 * the crypto passes end to end, as before.
 *
 * Offer from a secure offerer to a plain answerer: we pick the offerer's first usable a=crypto
 * (it encrypts with that key) and answer it later with our own key under the same tag.
 * Offer from a plain offerer to a secure answerer: we offer our keys; the answer's tag says which.
 */
export interface SdesRewrite {
  protocol?: string;
  crypto?: { id: number; suite: string; config: string }[];
  dtls?: { fingerprint: string; setup: 'active' | 'passive' | 'actpass' } | 'remove';
}

/** An m= line that asks for DTLS-SRTP (RFC 5763): a UDP/TLS profile with a fingerprint. */
function dtlsFingerprint(sessionFp: { type: string; hash: string } | undefined, m: MediaDescription): string | undefined {
  const fp = m.fingerprint ?? sessionFp;
  if (!/TLS/i.test(m.protocol) || fp === undefined) return undefined;
  return `${fp.type.toLowerCase()} ${fp.hash}`;
}

export function sdesOffer(m: MediaDescription, media: CallMedia, options: MediaOptions, offerSide: Side, sessionFp?: { type: string; hash: string }): SdesRewrite {
  const target = options.transportProtocol;
  media.sdes = undefined;
  if (target === undefined || target === m.protocol) return {};
  const fromSecure = isSecureProfile(m.protocol);
  const toSecure = isSecureProfile(target);
  if (fromSecure === toSecure) return { protocol: target };
  const peerFp = fromSecure ? dtlsFingerprint(sessionFp, m) : undefined;
  if (peerFp !== undefined) {
    if (!peerFp.startsWith('sha-256 ')) throw new TandemError('BAD_SDP', `a=fingerprint ${peerFp.split(' ')[0]} is not supported (sha-256 only)`);
    // Our role follows the offerer's a=setup (RFC 5763 §5): actpass or active → we are passive
    // (DTLS server), passive → we connect. Decided once and kept (a later flip deadlocks).
    const role = media.dtls?.side === offerSide ? media.dtls.role : m.setup === 'passive' ? 'client' : 'server';
    media.dtls = { side: offerSide, role, peerFingerprint: peerFp };
    media.sdes = { offererProtocol: m.protocol, dtls: true };
    return { protocol: target, crypto: [], dtls: 'remove' };
  }
  if (fromSecure) {
    const chosen = usableCryptos(m, options.sdes)[0];
    if (chosen === undefined) throw new TandemError('BAD_SDP', `${m.protocol} offer without a usable a=crypto (AES_CM_128_HMAC_SHA1_80/_32, inline key)`);
    media.sdes = { offererKey: chosen, ourKeyForOfferer: newKeySalt(), offererProtocol: m.protocol };
    return { protocol: target, crypto: [] };
  }
  if (options.sdes.off) throw new TandemError('BAD_REQUEST', `transport-protocol ${target} needs SDES, but SDES=off`);
  const ours = offerCryptos(options.sdes);
  if (ours.length === 0) throw new TandemError('BAD_REQUEST', 'SDES preferences leave no crypto suite to offer');
  media.sdes = { offeredToAnswerer: ours, offererProtocol: m.protocol };
  return { protocol: target, crypto: ours.map(formatCrypto) };
}

/**
 * The answer completes the picture: both sides' SRTP keys are known (media.srtp), and the answer
 * going back to the offerer gets the offerer's profile and, if it is secure, our a=crypto.
 */
export function sdesAnswer(m: MediaDescription, media: CallMedia, offerSide: Side, answerSide: Side, ourFingerprint?: string): SdesRewrite {
  const plan = media.sdes;
  if (plan === undefined) {
    return {};
  }
  if (plan.dtls === true && media.dtls !== undefined && ourFingerprint !== undefined) {
    media.srtp[offerSide] = undefined;
    media.srtp[answerSide] = undefined;
    return { protocol: plan.offererProtocol, crypto: [], dtls: { fingerprint: ourFingerprint, setup: media.dtls.role === 'server' ? 'passive' : 'active' } };
  }
  if (plan.offererKey !== undefined && plan.ourKeyForOfferer !== undefined) {
    const k: SdesCrypto = plan.offererKey;
    media.srtp[offerSide] = { profile: k.suite, recv: k.keySalt.toString('base64'), send: plan.ourKeyForOfferer.toString('base64') };
    media.srtp[answerSide] = undefined;
    return { protocol: plan.offererProtocol, crypto: [formatCrypto({ tag: k.tag, suite: k.suite, keySalt: plan.ourKeyForOfferer })] };
  }
  if (plan.offeredToAnswerer !== undefined) {
    media.srtp[offerSide] = undefined;
    const theirs = usableCryptos(m)[0];
    const ours = theirs === undefined ? undefined : plan.offeredToAnswerer.find((c) => c.tag === theirs.tag && c.suite === theirs.suite);
    if (theirs === undefined || ours === undefined) {
      // The answerer declined SRTP (answered RTP/AVP or no matching tag): plain RTP on its side too.
      media.srtp[answerSide] = undefined;
    } else {
      media.srtp[answerSide] = { profile: ours.suite, recv: theirs.keySalt.toString('base64'), send: ours.keySalt.toString('base64') };
    }
    return { protocol: plan.offererProtocol, crypto: [] };
  }
  return {};
}
