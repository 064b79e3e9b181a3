import type { MediaOptions } from '../api.js';
import type { MediaDescription } from '../../sdp/sdp.js';
import type { SrtpSideConfig } from '../pool/protocol.js';
import { newKeySalt, offerCryptos, usableCryptos, type SdesCrypto } from '../../sdp/crypto.js';
import { TandemError } from '../../common/errors.js';

/**
 * SDES-SRTP keying (RFC 4568, RTP/SAVP) of one side: which of an offerer's keys we take and the key
 * we answer it with, the keys we offer an answerer, and the pair each side ends up speaking.
 */

/** An SDES offerer's first usable a=crypto, and a fresh key of ours to answer it with. */
export function chooseOffererKey(m: MediaDescription, options: MediaOptions): { offererKey: SdesCrypto; ourKeyForOfferer: Buffer } {
  const chosen = usableCryptos(m, options.sdes)[0];
  if (chosen === undefined) throw new TandemError('BAD_SDP', `${m.protocol} offer without a usable a=crypto (AES_CM_128_HMAC_SHA1_80/_32, inline key)`);
  return { offererKey: chosen, ourKeyForOfferer: newKeySalt() };
}

/** The keys we offer an SDES answerer, one per suite the options allow. */
export function keysForAnswerer(target: string, options: MediaOptions): SdesCrypto[] {
  if (options.sdes.off) throw new TandemError('BAD_REQUEST', `transport-protocol ${target} needs SDES, but SDES=off`);
  const ours = offerCryptos(options.sdes);
  if (ours.length === 0) throw new TandemError('BAD_REQUEST', 'SDES preferences leave no crypto suite to offer');
  return ours;
}

/**
 * What an SDES answerer speaks: the key its answer names by tag and suite against the one we
 * offered under that tag. None (plain RTP) when it answered RTP/AVP or named no key of ours.
 */
export function answererSrtp(m: MediaDescription, offered: SdesCrypto[]): SrtpSideConfig | undefined {
  const theirs = usableCryptos(m)[0];
  const ours = theirs === undefined ? undefined : offered.find((c) => c.tag === theirs.tag && c.suite === theirs.suite);
  if (theirs === undefined || ours === undefined) return undefined;
  return { profile: ours.suite, recv: theirs.keySalt.toString('base64'), send: ours.keySalt.toString('base64') };
}

/** What an SDES offerer speaks: its own key in, ours out. */
export function offererSrtp(offererKey: SdesCrypto, ourKey: Buffer): SrtpSideConfig {
  return { profile: offererKey.suite, recv: offererKey.keySalt.toString('base64'), send: ourKey.toString('base64') };
}
