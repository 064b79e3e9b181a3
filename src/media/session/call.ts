import type { Logger } from '../../common/log.js';
import type { MediaEchoMode, MediaOptions } from '../api.js';
import type { BridgePorts, SrtpSideConfig } from '../pool/protocol.js';
import type { SdesCrypto } from '../../sdp/crypto.js';
import type { SdpCodec } from '../../sdp/sdp.js';
import type { AnswerCodecPlan, OfferCodecPlan } from '../../sdp/negotiate.js';

export type Side = 0 | 1;

/** What one peer said about one m= line. */
export interface PeerMedia {
  type: string;
  protocol: string;
  codecs: SdpCodec[];
  address?: string;
  family: 'IP4' | 'IP6';
  port: number;
  rtcpPort?: number;
  rtcpAddress?: string;
  rtcpMux: boolean;
  ptime?: number;
  /** a=mid (RFC 9143): an answer to this peer must carry the same identification. */
  mid?: string;
  options: MediaOptions;
}

/** One m= line of a call: a bridge on the call's worker, with the state of both peers. */
export class CallMedia {
  peer: [PeerMedia | undefined, PeerMedia | undefined] = [undefined, undefined];
  offerPlan?: OfferCodecPlan;
  answerPlan?: AnswerCodecPlan;
  /** Side whose SDP was the last offer. */
  offerSide: Side = 0;
  offerOptions?: MediaOptions;
  /** Packet time each side receives, when we repacketize towards it. */
  framesTo: [number, number] = [0, 0];
  timedOut = false;
  /** Our ICE-lite credentials toward each side that does ICE (kept for the call: re-offers keep them). */
  ice: [{ ufrag: string; pwd: string } | undefined, { ufrag: string; pwd: string } | undefined] = [undefined, undefined];
  /** DTLS-SRTP toward one side: our role there and the peer's certificate fingerprint. */
  dtls?: { side: Side; role: 'server' | 'client'; peerFingerprint: string };
  /** SDES-SRTP each side speaks, once both a=crypto halves are known. */
  srtp: [SrtpSideConfig | undefined, SrtpSideConfig | undefined] = [undefined, undefined];
  /**
   * SRTP keying between an offer and its answer (sdes.ts). Offerer side: the SDES key we chose
   * (we answer it with ours) or DTLS. Answerer side: the SDES keys we offered (its answer picks one
   * by tag) or the a=setup we offered with our fingerprint.
   */
  sdes?: {
    offererProtocol: string;
    offererKey?: SdesCrypto;
    ourKeyForOfferer?: Buffer;
    offererDtls?: boolean;
    offeredToAnswerer?: SdesCrypto[];
    dtlsOffered?: 'actpass' | 'active' | 'passive';
  };
  /**
   * Tandem changed the profile between the sides (transport-protocol): a later offer without
   * transport-protocol keeps each side on the profile it negotiated, so a re-INVITE from either
   * side does not drop the SRTP termination.
   */
  bridgedProfiles = false;

  constructor(
    readonly index: number,
    readonly bridgeId: number,
    readonly ports: BridgePorts,
  ) {}

  get transcoding(): boolean {
    return this.answerPlan?.transcoding === true || this.framesTo[0] > 0 || this.framesTo[1] > 0;
  }

  /** The RTP port side s advertises (side s faces peer s). */
  localRtpPort(s: Side): number {
    return this.ports[s * 2];
  }

  localRtcpPort(s: Side): number {
    return this.ports[s * 2 + 1];
  }
}

/**
 * A call: two legs (rtpengine calls them monologues), identified by their tags, and the
 * media sections between them. Side 0 is the leg that made the first offer.
 */
export class MediaCall {
  readonly createdMs = Date.now();
  readonly createdUs = Number(process.hrtime.bigint() / 1000n % 1_000_000n);
  lastSignalMs = this.createdMs;
  tags: [string | undefined, string | undefined] = [undefined, undefined];
  labels: [string | undefined, string | undefined] = [undefined, undefined];
  medias: CallMedia[] = [];
  echo?: { mode: MediaEchoMode; requestedBy: Side };
  /** a=group lines of the last offer (BUNDLE): echoed in the answer to that offerer. */
  offerGroups?: { type: string; mids: string }[];

  constructor(
    readonly callId: string,
    readonly workerIndex: number,
    readonly log: Logger,
  ) {}

  sideOfTag(tag: string): Side | undefined {
    if (this.tags[0] === tag) return 0;
    if (this.tags[1] === tag) return 1;
    return undefined;
  }
}
