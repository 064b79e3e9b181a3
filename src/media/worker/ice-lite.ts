import type { TransportAddress } from '../pool/protocol.js';
import { ATTR, STUN_TYPE, attribute, encodeXorMappedAddress, parseStun, serializeStun, verifyFingerprint, verifyMessageIntegrity } from '../rtp/stun.js';

/**
 * The answering half of an ICE-lite agent (RFC 8445 §7.3): a connectivity check in, a verdict out.
 * No sockets and no state, so the rules can be tested with hand-built messages; the bridge side
 * decides where the response leaves and what a nomination moves.
 */

/** Our ICE credentials toward one peer, from the SDP we sent it. */
export interface IceCredentials {
  ufrag: string;
  pwd: string;
}

/** Which ICE component a check arrived on: 1 is RTP (and everything with rtcp-mux), 2 is RTCP. */
export type IceComponent = 1 | 2;

/** The source of a check as dgram reports it ('IPv4' / 'IPv6'). */
export interface CheckSource {
  address: string;
  port: number;
  family: string;
}

export type IceRefusal = 'not a binding request' | 'unknown username' | 'bad message integrity' | 'bad fingerprint';

export type IceCheckVerdict =
  | { accepted: false; reason: IceRefusal }
  | {
      accepted: true;
      /** Binding success with the source as XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT. */
      response: Buffer;
      /** Set when the check carried USE-CANDIDATE: the controlling agent chose this pair (RFC 8445 §8.2). */
      nomination: { component: IceComponent; peer: TransportAddress } | undefined;
    };

/**
 * A Binding request is answered only if its USERNAME starts with our ufrag and its
 * MESSAGE-INTEGRITY verifies under our password; a FINGERPRINT, when present, must verify too.
 */
export function answerCheck(msg: Buffer, from: CheckSource, component: IceComponent, creds: IceCredentials): IceCheckVerdict {
  const parsed = parseStun(msg);
  if (!parsed.ok || parsed.message.type !== STUN_TYPE.bindingRequest) return { accepted: false, reason: 'not a binding request' };
  const m = parsed.message;
  const username = attribute(m, ATTR.username)?.toString('utf8') ?? '';
  if (!username.startsWith(`${creds.ufrag}:`)) return { accepted: false, reason: 'unknown username' };
  const key = Buffer.from(creds.pwd, 'utf8');
  if (!verifyMessageIntegrity(msg, key)) return { accepted: false, reason: 'bad message integrity' };
  if (attribute(m, ATTR.fingerprint) !== undefined && !verifyFingerprint(msg)) return { accepted: false, reason: 'bad fingerprint' };
  const family = from.family === 'IPv6' ? 6 : 4;
  const response = serializeStun(
    { type: STUN_TYPE.bindingSuccess, transactionId: m.transactionId, attributes: [{ type: ATTR.xorMappedAddress, value: encodeXorMappedAddress({ family, address: from.address, port: from.port }, m.transactionId) }] },
    { integrityKey: key, fingerprint: true },
  );
  const nomination = attribute(m, ATTR.useCandidate) !== undefined ? { component, peer: { address: from.address, port: from.port } } : undefined;
  return { accepted: true, response, nomination };
}
