import type { DirectionAction, LegCodec, SideConfig, SideStats, SrtpSideConfig, TransportAddress } from '../pool/protocol.js';
import { rtpHeaderLength, isRtcpPacketType } from '../rtp/packet.js';
import { validateRtcpCompound, validateRtcpReducedSize } from '../rtp/rtcp.js';
import { RtpReceiveStats } from '../rtp/stats.js';
import { SrtpContext } from '../rtp/srtp.js';
import { isStun } from '../rtp/stun.js';
import type { DirectionProcessor, PacketSink } from './direction.js';
import type { WorkerClock } from './clock.js';
import { DtlsSide } from './dtls-side.js';
import { guardHandler } from './guard.js';
import { answerCheck, type IceComponent } from './ice-lite.js';
import { LatchedSocket } from './latched-socket.js';
import { SideControl } from './media-control.js';
import { SideQuality } from './quality.js';
import type { RecordingTap } from './recording-tap.js';
import type { RtcpTerminator } from './rtcp-terminator.js';
import type { MediaRemoteInfo, MediaSocket } from './media-socket.js';

/** Counters are plain numbers updated in place and read when main asks. */
class Counters {
  packets = 0;
  bytes = 0;
  errors = 0;
  snapshot(): { packets: number; bytes: number; errors: number } {
    return { packets: this.packets, bytes: this.bytes, errors: this.errors };
  }
}

// Numbers, not the protocol's strings: the action is compared for every packet.
const RELAY = 0;
const ECHO = 1;
const DROP = 2;

/**
 * One side of a bridge: the local RTP/RTCP sockets facing one peer. It tells apart what arrives
 * (RFC 7983: STUN 0–3, DTLS 20–63, else RTP/RTCP) and hands each kind to its owner: the ICE-lite
 * responder (ice-lite.ts), the DTLS association (dtls-side.ts), or SRTP, the latching policy
 * (latched-socket.ts) and the direction processor for media.
 */
export class BridgeSide implements PacketSink {
  readonly rtpIn = new Counters();
  readonly rtcpIn = new Counters();
  /** ICE connectivity checks answered (packets) and refused (errors). */
  readonly stunIn = new Counters();
  readonly receive = new RtpReceiveStats();
  sent = 0;
  lastPacketMs = 0;
  ssrc = 0;
  private cfg: SideConfig = { rtcpMux: false, latch: 'symmetric', strictSource: false, clockRate: 8000 };
  /** Where this side's RTCP goes when relayed: set by the bridge. */
  target!: BridgeSide;
  /** Set while the call is recorded: copies of what this side receives and sends (recorder.ts). */
  tap: RecordingTap | undefined = undefined;
  /** Set while the bridge transcodes or repacketizes: this leg's RTCP ends here and Tandem reports to it. */
  rtcpTerm: RtcpTerminator | undefined = undefined;
  /** Processes what this side receives; its sink is the other side, out of whose socket the result leaves. */
  processor!: DirectionProcessor;
  private action = RELAY;
  private readonly peer: LatchedSocket;
  private readonly dtls: DtlsSide;
  /** SRTP contexts (SDES keys from main, or DTLS-SRTP's): what the peer sends us, what we send it. */
  private srtpIn: SrtpContext | undefined;
  /** SRTP failures of receive contexts this side replaced (an SDES re-key), so its totals only grow. */
  private readonly retiredSrtp = { authFailures: 0, replays: 0, malformed: 0 };
  private srtpOut: SrtpContext | undefined;
  /** ng media control toward this side's peer, once a command named it (media-control.ts). */
  private control: SideControl | null = null;
  /** What this side's peer is sent (its negotiated codec), for what the control generates. */
  private leg: LegCodec | undefined;
  /**
   * Where the stream toward the peer stood before any control existed (SSRC < 0: nothing sent), so
   * a control made later continues it. Numbers, not the buffer: the batch socket layer and the
   * repacketizer reuse buffers once sent.
   */
  private lastOutSsrc = -1;
  private lastOutSeq = 0;
  private lastOutTs = 0;
  private lastOutMs = 0;
  readonly quality = new SideQuality();

  constructor(
    readonly index: 0 | 1,
    callId: string,
    private readonly rtpSocket: MediaSocket,
    private readonly rtcpSocket: MediaSocket,
    private readonly clock: WorkerClock,
    /** A DTLS handshake on this side produced keys (main stores them for a takeover). */
    onDtlsKeys?: (srtp: SrtpSideConfig) => void,
  ) {
    this.peer = new LatchedSocket(callId, rtpSocket, rtcpSocket);
    this.dtls = new DtlsSide(
      this.peer,
      clock,
      (recv, send, keys) => {
        if (this.srtpIn !== undefined) addSrtpFailures(this.retiredSrtp, this.srtpIn.counters);
        this.srtpIn = recv;
        this.srtpOut = send;
        onDtlsKeys?.({ profile: 'AES_CM_128_HMAC_SHA1_80', ...keys });
      },
      () => {
        this.rtpIn.errors++;
      },
    );
    rtpSocket.onMessage(guardHandler(callId, 'rtp', this.onRtpSocket, () => this.rtpIn.errors++));
    rtcpSocket.onMessage(guardHandler(callId, 'rtcp', this.onRtcpSocket, () => this.rtcpIn.errors++));
  }

  configure(cfg: SideConfig): void {
    const previous = this.cfg;
    this.cfg = cfg;
    this.dtls.configure(cfg);
    // New keys mean new contexts (rollover counters and replay windows start over, RFC 3711 §3.2).
    if (cfg.dtls === undefined && sdesKeysChanged(previous.srtp, cfg.srtp)) {
      if (this.srtpIn !== undefined) addSrtpFailures(this.retiredSrtp, this.srtpIn.counters);
      this.srtpIn = cfg.srtp === undefined ? undefined : sdesContext(cfg.srtp, cfg.srtp.recv);
      this.srtpOut = cfg.srtp === undefined ? undefined : sdesContext(cfg.srtp, cfg.srtp.send);
    }
    this.peer.configure(cfg);
  }

  setLeg(leg: LegCodec | undefined): void {
    this.leg = leg;
    this.control?.setLeg(leg);
  }

  /** The media control toward this side, made on the first command that names it. */
  controlFor(): SideControl {
    if (this.control === null) {
      this.control = new SideControl(this);
      this.control.setLeg(this.leg);
      if (this.lastOutSsrc >= 0) this.control.seed(this.lastOutSsrc, this.lastOutSeq, this.lastOutTs, this.clock.coarseMs - this.lastOutMs);
    }
    return this.control;
  }

  setAction(action: DirectionAction): void {
    this.action = action === 'echo' ? ECHO : action === 'drop' ? DROP : RELAY;
  }

  private readonly onRtpSocket = (received: Buffer, rinfo: MediaRemoteInfo): void => {
    if (this.cfg.rtcpMux && received.length >= 2 && isRtcpPacketType(received[1])) {
      this.onRtcp(received, rinfo);
      return;
    }
    if (received[0] < 4 && this.cfg.ice !== undefined && isStun(received)) {
      this.onStun(received, rinfo, 1);
      return;
    }
    if (received[0] >= 20 && received[0] <= 63 && this.dtls.takesRecords) {
      if (!this.dtls.input(received, rinfo)) this.rtpIn.errors++;
      return;
    }
    // Nothing is media until the association has produced keys.
    if (this.dtls.active && this.srtpIn === undefined) {
      this.rtpIn.errors++;
      return;
    }
    const msg = received;
    let len = received.length;
    if (this.srtpIn !== undefined) {
      // Authenticate before anything else: a forged packet must not latch or count as media.
      len = this.srtpIn.unprotectRtpInPlace(received, len);
      if (len < 0) {
        this.rtpIn.errors++;
        return;
      }
    }
    const hdrLen = rtpHeaderLength(msg, len);
    if (hdrLen < 0) {
      this.rtpIn.errors++;
      return;
    }
    if (!this.peer.accept(rinfo, false)) {
      this.rtpIn.errors++;
      return;
    }
    this.rtpIn.packets++;
    this.rtpIn.bytes += len;
    this.lastPacketMs = this.clock.coarseMs;
    const ssrc = msg.readUInt32BE(8);
    if (ssrc !== this.ssrc) {
      this.ssrc = ssrc;
      this.receive.reset();
    }
    this.receive.update(
      msg.readUInt16BE(2),
      msg.readUInt32BE(4),
      (this.clock.preciseMs() * this.cfg.clockRate) / 1000,
      len,
    );
    if (this.tap !== undefined) this.tap.received(this.index, msg, len, rinfo);
    if (this.action === DROP) return;
    if (this.action === ECHO) {
      const out = this.srtpOut !== undefined ? this.srtpOut.protectRtp(msg, len) : msg;
      this.peer.echoRtp(out, this.srtpOut !== undefined ? out.length : len, rinfo);
      this.sent++;
      return;
    }
    if (!this.processor.process(msg, len, hdrLen)) this.rtpIn.errors++;
  };

  private readonly onRtcpSocket = (msg: Buffer, rinfo: MediaRemoteInfo): void => {
    if (msg.length > 0 && msg[0] < 4 && this.cfg.ice !== undefined && isStun(msg)) {
      this.onStun(msg, rinfo, 2);
      return;
    }
    this.onRtcp(msg, rinfo);
  };

  /** A connectivity check toward our ICE-lite agent; a refused one is counted and dropped. */
  private onStun(msg: Buffer, rinfo: MediaRemoteInfo, component: IceComponent): void {
    const ice = this.cfg.ice;
    const v = ice === undefined ? undefined : answerCheck(msg, rinfo, component, ice);
    if (v === undefined || !v.accepted) {
      this.stunIn.errors++;
      return;
    }
    this.stunIn.packets++;
    this.stunIn.bytes += msg.length;
    this.lastPacketMs = this.clock.coarseMs;
    const from: TransportAddress = { address: rinfo.address, port: rinfo.port };
    if (component === 2) {
      if (v.nomination !== undefined) this.peer.nominateRtcp(v.nomination.peer);
      this.peer.replyRtcp(v.response, from);
      return;
    }
    this.dtls.noteIceCheck(from, v.nomination !== undefined);
    if (v.nomination !== undefined) this.peer.nominateRtp(v.nomination.peer);
    this.peer.replyRtp(v.response, from);
  }

  private onRtcp(received: Buffer, rinfo: MediaRemoteInfo): void {
    let msg = received;
    if (this.srtpIn !== undefined) {
      const n = this.srtpIn.unprotectRtcpInPlace(received, received.length);
      if (n < 0) {
        this.rtcpIn.errors++;
        return;
      }
      msg = received.subarray(0, n);
    }
    if (this.rtcpTerm !== undefined ? !validateRtcpReducedSize(msg, msg.length) : !validateRtcpCompound(msg, msg.length)) {
      this.rtcpIn.errors++;
      return;
    }
    if (!this.peer.accept(rinfo, true)) {
      this.rtcpIn.errors++;
      return;
    }
    this.rtcpIn.packets++;
    this.rtcpIn.bytes += msg.length;
    this.lastPacketMs = this.clock.coarseMs;
    this.quality.noteRtcpReceived(msg, this.leg?.clockRate ?? this.cfg.clockRate, this.clock.coarseMs);
    if (this.action === DROP) return;
    if (this.action === ECHO) {
      this.peer.echoRtcp(this.srtpOut !== undefined ? this.srtpOut.protectRtcp(msg) : msg, rinfo);
      return;
    }
    if (this.rtcpTerm !== undefined) {
      this.rtcpTerm.received(msg, Date.now());
      return;
    }
    if (!this.target.sendRtcp(msg)) this.rtcpIn.errors++;
  }

  /** PacketSink: with SRTP `emit` sends a protected copy, and the batch socket layer copies every send, so the processor may reuse its buffer. */
  get releasesOnEmit(): boolean {
    return this.srtpOut !== undefined || this.rtpSocket.copiesOnSend;
  }

  /** PacketSink: a processed packet from the other side leaves through this side's RTP socket. */
  emit(buf: Buffer, len: number): void {
    if (this.control !== null) {
      len = this.control.outgoing(buf, len);
      if (len < 0) return;
    } else if (len >= 12) {
      this.lastOutSsrc = buf.readUInt32BE(8);
      this.lastOutSeq = buf.readUInt16BE(2);
      this.lastOutTs = buf.readUInt32BE(4);
      this.lastOutMs = this.clock.coarseMs;
    }
    this.sendGenerated(buf, len);
  }

  /** What leaves toward the peer after media control (and what the control generates itself). */
  sendGenerated(buf: Buffer, len: number): void {
    // Toward a DTLS peer nothing leaves in the clear: until the keys exist, media is dropped.
    if (this.dtls.active && this.srtpOut === undefined) return;
    if (this.tap !== undefined) this.tap.sent(this.index, buf, len, this.peer.peerRtp);
    // Date.now(), not the coarse clock (up to 50 ms behind): the reports are stamped with Date.now(), so
    // a coarse send time put the SR's RTP timestamp up to 50 ms ahead of the stream (and DLSR long).
    if (this.rtcpTerm !== undefined) this.rtcpTerm.sent(buf, len, Date.now());
    if (this.srtpOut !== undefined) {
      const out = this.srtpOut.protectRtp(buf, len);
      if (this.peer.sendRtp(out, out.length)) this.sent++;
      return;
    }
    if (this.peer.sendRtp(buf, len)) this.sent++;
  }

  /** false when the RTCP could not go anywhere (no usable RTCP port, or the send failed). */
  sendRtcp(plain: Buffer): boolean {
    if (this.dtls.active && this.srtpOut === undefined) return true;
    this.quality.noteRtcpSent(plain);
    return this.peer.sendRtcp(this.srtpOut !== undefined ? this.srtpOut.protectRtcp(plain) : plain);
  }

  /** A quality sample of what this side received since the previous one (a worker timer calls it). */
  sampleQuality(nowMs: number): void {
    this.quality.sampleReceive(this.receive, this.ssrc, this.cfg.clockRate, nowMs);
  }

  /** Tandem's own SR/RR toward this leg, when its RTCP is terminated here. */
  sendReport(nowMs: number): void {
    const report = this.rtcpTerm?.report(nowMs, this.receive, this.ssrc, this.cfg.clockRate);
    if (report !== undefined) this.sendRtcp(report);
  }

  /** SRTP/SRTCP packets this side refused since it opened (the receive contexts' own counters: read, not counted again). */
  srtpFailures(): SrtpFailures {
    const sum = { ...this.retiredSrtp };
    if (this.srtpIn !== undefined) addSrtpFailures(sum, this.srtpIn.counters);
    return sum;
  }

  stats(): SideStats {
    this.quality.sampleIfStale(this.receive, this.ssrc, this.cfg.clockRate, this.clock.coarseMs);
    return {
      ...this.quality.summaries(),
      ...(this.control !== null ? { control: { ...this.control.counters } } : {}),
      rtp: this.rtpIn.snapshot(),
      rtcp: this.rtcpIn.snapshot(),
      sent: this.sent,
      lost: Math.max(0, this.receive.lost),
      jitterMs: this.receive.jitterMs(this.cfg.clockRate),
      ssrc: this.ssrc,
      lastPacketMs: this.lastPacketMs,
      latched: this.peer.latchedRtp,
      peerRtp: this.peer.peerRtp,
      peerRtcp: this.peer.peerRtcp,
    };
  }

  close(): void {
    this.control?.close();
    this.dtls.close();
    this.processor.flush();
    this.rtpSocket.close();
    this.rtcpSocket.close();
  }
}

function sdesKeysChanged(a: SrtpSideConfig | undefined, b: SrtpSideConfig | undefined): boolean {
  return b?.recv !== a?.recv || b?.send !== a?.send || b?.profile !== a?.profile;
}

function sdesContext(s: SrtpSideConfig, b64: string): SrtpContext {
  const ks = Buffer.from(b64, 'base64');
  return new SrtpContext(s.profile ?? 'AES_CM_128_HMAC_SHA1_80', ks.subarray(0, 16), ks.subarray(16, 30));
}

/** Adds `from`'s SRTP failure counts into `into`. */
export function addSrtpFailures(into: SrtpFailures, from: SrtpFailures): void {
  into.authFailures += from.authFailures;
  into.replays += from.replays;
  into.malformed += from.malformed;
}

export interface SrtpFailures {
  authFailures: number;
  replays: number;
  malformed: number;
}
