import type { Logger } from '../../common/log.js';
import type { MediaEchoMode, MediaOptions } from '../api.js';
import type { BridgePorts, BridgeStats, SrtpSideConfig } from '../pool/protocol.js';
import type { SdesCrypto } from '../../sdp/crypto.js';
import type { SdpCodec } from '../../sdp/sdp.js';
import type { MediaInterfaceSpec } from './interfaces.js';
import type { AnswerCodecPlan, OfferCodecPlan } from '../../sdp/negotiate.js';

export type Side = 0 | 1;

export function otherSide(s: Side): Side {
  return s === 0 ? 1 : 0;
}

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

export interface IceCredentials {
  ufrag: string;
  pwd: string;
}

/** DTLS-SRTP toward one side: our role there and the peer's certificate fingerprint. */
export interface DtlsState {
  side: Side;
  role: 'server' | 'client';
  peerFingerprint: string;
}

/**
 * SRTP keying between an offer and its answer (keying.ts). Offerer side: the SDES key we chose
 * (we answer it with ours) or DTLS. Answerer side: the SDES keys we offered (its answer picks one
 * by tag) or the a=setup we offered with our fingerprint.
 */
export interface PendingKeying {
  offererProtocol: string;
  offererKey?: SdesCrypto;
  ourKeyForOfferer?: Buffer;
  offererDtls?: boolean;
  offeredToAnswerer?: SdesCrypto[];
  dtlsOffered?: 'actpass' | 'active' | 'passive';
}

/**
 * A bridge bound on a worker: its id and the four ports it holds. Closing it asks the worker to
 * destroy it (unless the worker is gone) and gives the ports back; it returns the bridge's last
 * counters when the worker sent them. Closing twice does nothing the second time.
 */
export interface BridgeLease {
  readonly id: number;
  readonly ports: BridgePorts;
  close(workerGone: boolean): Promise<BridgeStats | undefined>;
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
  ice: [IceCredentials | undefined, IceCredentials | undefined] = [undefined, undefined];
  dtls?: DtlsState;
  /** SDES-SRTP each side speaks, once both a=crypto halves are known. */
  srtp: [SrtpSideConfig | undefined, SrtpSideConfig | undefined] = [undefined, undefined];
  keying?: PendingKeying;
  /**
   * Tandem changed the profile between the sides (transport-protocol): a later offer without
   * transport-protocol keeps each side on the profile it negotiated, so a re-INVITE from either
   * side does not drop the SRTP termination.
   */
  bridgedProfiles = false;
  /** SRTP keys each side's DTLS handshake produced (reported by the worker; stored with `--redis`). */
  dtlsKeys: [SrtpSideConfig | undefined, SrtpSideConfig | undefined] = [undefined, undefined];
  /**
   * Taken over from another process: its DTLS associations died with it, so sides that had one
   * keep their SRTP from `dtlsKeys` instead of a new handshake.
   */
  dtlsRestored = false;
  /** The call's blocking and silencing (MediaCall.blocking) was sent to this bridge. */
  controlSynced = false;

  constructor(
    readonly index: number,
    private readonly bridge: BridgeLease,
  ) {}

  get bridgeId(): number {
    return this.bridge.id;
  }

  get ports(): BridgePorts {
    return this.bridge.ports;
  }

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

  /** Releases the bridge and its ports; the bridge's last counters if the worker gave them. */
  close(workerGone: boolean): Promise<BridgeStats | undefined> {
    return this.bridge.close(workerGone);
  }
}

/** The worker a call was placed on; released once, when the call closes on a live worker. */
export interface WorkerSlot {
  readonly index: number;
  release(): void;
}

/**
 * A call: two legs (rtpengine calls them monologues), identified by their tags, and the
 * media sections between them. Side 0 is the leg that made the first offer. The call owns its
 * medias and its worker slot: close() closes them all.
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
  /** The media interface each side's sockets bind on, chosen by the first offer (ng `direction`). */
  interfaces?: [MediaInterfaceSpec, MediaInterfaceSpec];
  /**
   * Blocking and silencing toward each side, as the last command or offer/answer flag left them:
   * rtpengine keeps them per participant, so an m= line a re-offer adds gets them too.
   */
  blocking: Record<'block-dtmf' | 'block-media' | 'silence', [boolean, boolean]> = {
    'block-dtmf': [false, false], 'block-media': [false, false], silence: [false, false],
  };
  private closing?: Promise<Map<number, BridgeStats>>;

  constructor(
    readonly callId: string,
    private readonly worker: WorkerSlot,
    readonly log: Logger,
  ) {}

  get workerIndex(): number {
    return this.worker.index;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  sideOfTag(tag: string): Side | undefined {
    if (this.tags[0] === tag) return 0;
    if (this.tags[1] === tag) return 1;
    return undefined;
  }

  /**
   * Closes every media (each asks the worker to destroy its bridge and frees its ports), then gives
   * the worker slot back. `workerGone`: the worker died with the bridges, so nothing is asked of it.
   * Resolves to the bridges' last counters by bridge id; a second call gets the first one's result.
   */
  close(workerGone = false): Promise<Map<number, BridgeStats>> {
    this.closing ??= this.closeAll(workerGone);
    return this.closing;
  }

  private async closeAll(workerGone: boolean): Promise<Map<number, BridgeStats>> {
    const stats = await Promise.all(this.medias.map((m) => m.close(workerGone)));
    if (!workerGone) this.worker.release();
    const byBridge = new Map<number, BridgeStats>();
    for (const s of stats) if (s !== undefined) byBridge.set(s.bridgeId, s);
    return byBridge;
  }
}
