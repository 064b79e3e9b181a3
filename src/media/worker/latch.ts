import type { LatchMode, TransportAddress } from '../pool/protocol.js';

/**
 * Which source may send us a side's media, and where its media then goes (rtpengine's model).
 *
 * - The address the SDP announced (or ICE nominated, or a verified DTLS association came from) is
 *   always accepted, and takes the peer back if something else latched first.
 * - NAT learning: until that expected source has been heard, the first packet from another source
 *   latches it (a phone behind NAT never sends from its SDP address). Once anything has latched, or
 *   the expected source has been heard, other sources are dropped. There is no time window: a NAT'd
 *   phone may start sending long after the answer (ringing, early offers), and a window would not
 *   keep an early attacker out anyway; what does is the SDP address winning whenever it speaks.
 * - `strict-source`: only the expected source (or the peer it latched) is accepted, no learning.
 * - `media-handover`: any source takes the peer over at any time (rtpengine's flag).
 * - `asymmetric`: everything is accepted and nothing moves the peer (strict-source still filters).
 */

export type LatchVerdict = 'keep' | 'latch' | 'drop';

export interface LatchState {
  mode: LatchMode;
  strictSource: boolean;
  mediaHandover: boolean;
  /** Where the SDP (or ICE / DTLS) says this stream's packets come from. */
  expected: TransportAddress | undefined;
  /** Where we send now (SDP address, or what latched). */
  peer: TransportAddress | undefined;
  latched: boolean;
  /** A packet from the expected source has arrived since the last (re)negotiation. */
  expectedHeard: boolean;
  /** Whether this stream may learn a NAT'd source at all (RTCP: not once RTP proved its SDP source). */
  learningAllowed: boolean;
}

export function sameAddress(a: TransportAddress | undefined, b: TransportAddress | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.address === b.address && a.port === b.port;
}

/** The source is the one the SDP announced (with port latching, its address is enough). */
export function isExpected(src: TransportAddress, s: Pick<LatchState, 'mode' | 'expected'>): boolean {
  const e = s.expected;
  return e !== undefined && e.address === src.address && (s.mode === 'port' || e.port === src.port);
}

export function latchVerdict(src: TransportAddress, s: LatchState): LatchVerdict {
  const expected = isExpected(src, s);
  if (s.mode === 'asymmetric') return s.strictSource && !expected ? 'drop' : 'keep';
  if (s.peer !== undefined && sameAddress(src, s.peer)) return s.latched ? 'keep' : 'latch';
  if (expected) return 'latch';
  if (s.strictSource) return 'drop';
  if (s.mediaHandover) return 'latch';
  if (!s.latched && !s.expectedHeard && s.learningAllowed) return 'latch';
  return 'drop';
}
