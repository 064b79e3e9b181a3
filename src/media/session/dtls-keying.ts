import type { MediaDescription } from '../../sdp/sdp.js';
import { TandemError } from '../../common/errors.js';
import type { CallMedia, Side } from './call.js';

/**
 * DTLS-SRTP keying state (RFC 5763/5764) of one m= line: whose certificate the worker checks and
 * which end starts the handshake. Roles are decided once per side and kept: an association whose
 * roles flip on a re-offer leaves both ends waiting for the other.
 */

export type DtlsSetup = 'active' | 'passive' | 'actpass';

export type SessionFingerprint = { type: string; hash: string } | undefined;

/** An m= line that asks for DTLS-SRTP (RFC 5763): a UDP/TLS profile with a fingerprint. */
export function dtlsFingerprint(sessionFp: SessionFingerprint, m: MediaDescription): string | undefined {
  const fp = m.fingerprint ?? sessionFp;
  if (!/TLS/i.test(m.protocol) || fp === undefined) return undefined;
  return `${fp.type.toLowerCase()} ${fp.hash}`;
}

function requireSha256(fp: string): void {
  if (!fp.startsWith('sha-256 ')) throw new TandemError('BAD_SDP', `a=fingerprint ${fp.split(' ')[0]} is not supported (sha-256 only)`);
}

/**
 * A DTLS offerer: the worker checks its certificate against the fingerprint, and our role follows
 * its a=setup (RFC 5763 §5): actpass or active → we are passive (DTLS server), passive → we connect.
 */
export function acceptDtlsOfferer(media: CallMedia, offerSide: Side, m: MediaDescription, sessionFp: SessionFingerprint): void {
  const peerFp = dtlsFingerprint(sessionFp, m) as string;
  requireSha256(peerFp);
  const role = media.dtls?.side === offerSide ? media.dtls.role : m.setup === 'passive' ? 'client' : 'server';
  media.dtls = { side: offerSide, role, peerFingerprint: peerFp };
}

/** The a=setup we offer toward a DTLS answerer: the role it already has, else what was asked. */
export function setupToOffer(media: CallMedia, answerSide: Side, asked: string | undefined): DtlsSetup {
  // An established association keeps its roles (RFC 5763 §6.6): a re-offer that let the answer
  // flip them would leave both ends waiting for the other (Chrome deadlocks).
  if (media.dtls?.side === answerSide) return media.dtls.role === 'server' ? 'passive' : 'active';
  return asked === 'passive' || asked === 'active' ? asked : 'actpass';
}

/** The a=setup we answer a DTLS offerer with: the opposite of the role we hold toward it. */
export function setupToAnswer(role: 'server' | 'client'): DtlsSetup {
  return role === 'server' ? 'passive' : 'active';
}

export interface DtlsAnswerInput {
  m: MediaDescription;
  media: CallMedia;
  answerSide: Side;
  sessionFp?: SessionFingerprint;
  sessionSetup?: string;
  /** Things worth a log line (not an error): a contradictory a=setup, a changed certificate. */
  notes: string[];
}

/**
 * A DTLS answerer's reply to our offer: its fingerprint (m= or session level, sha-256) is what the
 * worker checks its certificate against, and its a=setup decides the roles (RFC 5763 §5) unless an
 * association already has them.
 */
export function acceptDtlsAnswer(x: DtlsAnswerInput, offered: DtlsSetup): void {
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
