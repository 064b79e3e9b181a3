import type { SideConfig, TransportAddress } from '../pool/protocol.js';
import { DtlsEndpoint } from '../rtp/dtls.js';
import { SrtpContext } from '../rtp/srtp.js';
import type { WorkerClock } from './clock.js';
import type { MediaRemoteInfo } from './media-socket.js';

/** Early DTLS records kept per side (a fragmented ClientHello and one retransmission) and for how long. */
export const EARLY_DTLS_MAX = 4;
export const EARLY_DTLS_MAX_AGE_MS = 3000;

export type DtlsState = 'none' | 'handshaking' | 'up' | 'failed';

/** What the DTLS side needs from the socket that carries its records. */
export interface DtlsLink {
  /** Where records go while the peer's own records have not shown where it is. */
  readonly peerRtp: TransportAddress | undefined;
  sendRecord(data: Buffer, to: TransportAddress): void;
  /** The handshake verified the peer at this source. */
  adoptVerified(from: TransportAddress): void;
}

/**
 * DTLS-SRTP on one bridge side (RFC 5763/5764): the association (one per side, kept across
 * re-offers, RFC 5763 §6.6), the records that came before it existed, and the SRTP contexts its keys
 * become. The role (server/client) comes from main.
 */
export class DtlsSide {
  state: DtlsState = 'none';
  private endpoint: DtlsEndpoint | undefined;
  /** Where DTLS records go: the source of the peer's records, else the link's media peer. */
  private peer: TransportAddress | undefined;
  private awaiting = false;
  /**
   * DTLS records that came before the association exists: a browser answering our actpass offer
   * sends its ClientHello right after ICE, before its answer (which fixes the roles) reaches us.
   * A few are kept and given to the association when the answer creates it.
   */
  private early: { record: Buffer; from: TransportAddress; atMs: number }[] = [];

  constructor(
    private readonly link: DtlsLink,
    private readonly clock: WorkerClock,
    /** The verified keys as contexts (what the peer sends us, what we send it), and as base64 key‖salt. */
    private readonly onSrtp: (recv: SrtpContext, send: SrtpContext, keys: { recv: string; send: string }) => void,
    /** A record the association could not use. */
    private readonly onBadRecord: () => void,
  ) {}

  /** An association exists: nothing is media toward or from this side until its keys do. */
  get active(): boolean {
    return this.endpoint !== undefined;
  }

  /** Whether a DTLS record (first byte 20–63) is ours: an association takes it, or we expect one soon. */
  get takesRecords(): boolean {
    return this.endpoint !== undefined || this.awaiting;
  }

  configure(cfg: SideConfig): void {
    this.awaiting = cfg.awaitingDtls === true;
    const d = cfg.dtls;
    if (d === undefined) {
      this.endpoint?.close();
      this.endpoint = undefined;
      this.state = 'none';
      return;
    }
    if (this.endpoint !== undefined) return;
    const early = this.early.filter((e) => this.clock.coarseMs - e.atMs < EARLY_DTLS_MAX_AGE_MS);
    this.early = [];
    this.state = 'handshaking';
    this.endpoint = new DtlsEndpoint(
      d.role,
      d,
      d.peerFingerprint,
      (data) => {
        const to = this.peer ?? this.link.peerRtp;
        if (to !== undefined) this.link.sendRecord(data, to);
      },
      (keys) => {
        this.onSrtp(
          new SrtpContext('AES_CM_128_HMAC_SHA1_80', keys.remoteKeySalt.subarray(0, 16), keys.remoteKeySalt.subarray(16)),
          new SrtpContext('AES_CM_128_HMAC_SHA1_80', keys.localKeySalt.subarray(0, 16), keys.localKeySalt.subarray(16)),
          { recv: Buffer.from(keys.remoteKeySalt).toString('base64'), send: Buffer.from(keys.localKeySalt).toString('base64') },
        );
        this.state = 'up';
        if (this.peer !== undefined) this.link.adoptVerified(this.peer);
      },
      () => {
        this.state = 'failed';
      },
      this.onBadRecord,
    );
    this.endpoint.start();
    for (const e of early) if (this.endpoint.input(e.record, [e.from.address, e.from.port])) this.peer = e.from;
  }

  /**
   * A datagram of records (only when takesRecords); false when it was refused, to be counted. Only
   * a datagram the association takes may say where its peer is: junk from elsewhere must not
   * redirect the handshake.
   */
  input(record: Buffer, rinfo: MediaRemoteInfo): boolean {
    if (this.endpoint === undefined) {
      if (this.early.length >= EARLY_DTLS_MAX) return false;
      this.early.push({ record: Buffer.from(record), from: { address: rinfo.address, port: rinfo.port }, atMs: this.clock.coarseMs });
      return true;
    }
    // A copy: the record may be a view into the batch ring, and the handshake may keep it past this call.
    if (!this.endpoint.input(Buffer.from(record), [rinfo.address, rinfo.port])) return false;
    this.peer = { address: rinfo.address, port: rinfo.port };
    return true;
  }

  /**
   * An authenticated ICE check says where the peer's agent listens, which the SDP (c=0.0.0.0 from a
   * WebRTC peer) may not: as DTLS client we must send the first record there.
   */
  noteIceCheck(from: TransportAddress, nominated: boolean): void {
    if (this.endpoint !== undefined && (this.peer === undefined || nominated)) this.peer = from;
  }

  close(): void {
    this.endpoint?.close();
  }
}
