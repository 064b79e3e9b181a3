import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { BridgeConfig, BridgePorts, BridgeStats, SideConfig, SideStats, TransportAddress } from '../pool/protocol.js';
import { rtpHeaderLength, isRtcpPacketType } from '../rtp/packet.js';
import { validateRtcpCompound } from '../rtp/rtcp.js';
import { RtpReceiveStats } from '../rtp/stats.js';
import { SrtpContext } from '../rtp/srtp.js';
import { DtlsEndpoint } from '../rtp/dtls.js';
import { ATTR, STUN_TYPE, attribute, encodeXorMappedAddress, isStun, parseStun, serializeStun, verifyFingerprint, verifyMessageIntegrity } from '../rtp/stun.js';
import { DirectionProcessor, type PacketSink } from './direction.js';
import type { WorkerClock } from './clock.js';
import { guardHandler, safeSend } from './guard.js';
import { isExpected, latchVerdict, sameAddress, type LatchState } from './latch.js';

/** Counters are plain numbers updated in place and read when main asks. */
class Counters {
  packets = 0;
  bytes = 0;
  errors = 0;
  snapshot(): { packets: number; bytes: number; errors: number } {
    return { packets: this.packets, bytes: this.bytes, errors: this.errors };
  }
}

const ECHO = 1;
const RELAY = 0;
const DROP = 2;

/**
 * One side of a bridge: the local RTP/RTCP sockets facing one peer, the peer's address
 * (from SDP, then latched from the first packet) and what arrived here.
 */
class BridgeSide implements PacketSink {
  readonly rtpIn = new Counters();
  readonly rtcpIn = new Counters();
  /** ICE connectivity checks answered (packets) and refused (errors). */
  readonly stunIn = new Counters();
  readonly receive = new RtpReceiveStats();
  sent = 0;
  lastPacketMs = 0;
  latchedRtp = false;
  latchedRtcp = false;
  /** Where packets are expected from (SDP, ICE nomination, DTLS association) and whether they came: latch.ts. */
  private expectedRtp: TransportAddress | undefined;
  private expectedRtcp: TransportAddress | undefined;
  private heardRtp = false;
  private heardRtcp = false;
  private rtcpNominated = false;
  /** An authenticated check with USE-CANDIDATE chose where media goes (RFC 8445 §8.2). */
  private iceNominated = false;
  /**
   * DTLS records that came before the association exists: a browser answering our actpass offer
   * sends its ClientHello right after ICE, before its answer (which fixes the roles) reaches us.
   * A few are kept and given to the association when the answer creates it.
   */
  private earlyDtls: { record: Buffer; from: TransportAddress; atMs: number }[] = [];
  peerRtp: TransportAddress | undefined;
  peerRtcp: TransportAddress | undefined;
  cfg: SideConfig = { rtcpMux: false, latch: 'symmetric', strictSource: false, clockRate: 8000 };
  /** Where this side's processed packets go: set by the bridge per direction action. */
  target!: BridgeSide;
  action = RELAY;
  /** Processes what this side receives; its sink is the other side, out of whose socket the result leaves. */
  processor!: DirectionProcessor;
  ssrc = 0;
  /** The peer the RTP socket is connected to, once latched; null while it is not connected. */
  private connectedTo: TransportAddress | null = null;
  /** SRTP contexts when this side speaks SDES-SRTP: what it sends us, what we send it. */
  private srtpIn: SrtpContext | undefined;
  private srtpOut: SrtpContext | undefined;
  private dtls: DtlsEndpoint | undefined;
  /** where DTLS records go: the source of the peer's records, else the SDP address. */
  private dtlsPeer: TransportAddress | undefined;
  dtlsState: 'none' | 'handshaking' | 'up' | 'failed' = 'none';
  private connecting = false;
  private heldWhileConnecting: Buffer[] | null = null;

  constructor(
    readonly index: 0 | 1,
    private readonly callId: string,
    readonly rtpSocket: dgram.Socket,
    readonly rtcpSocket: dgram.Socket,
    private readonly clock: WorkerClock,
  ) {
    rtpSocket.on('message', guardHandler(callId, 'rtp', this.onRtpSocket, () => this.rtpIn.errors++));
    rtcpSocket.on('message', guardHandler(callId, 'rtcp', this.onRtcpSocket, () => this.rtcpIn.errors++));
  }

  configure(cfg: SideConfig): void {
    // A re-negotiation that changes the SDP address moves the peer and starts learning again;
    // one that keeps it (e.g. the other leg's re-INVITE) keeps what we latched.
    const previous = this.cfg;
    const moved = !sameAddress(this.cfg.peerRtp, cfg.peerRtp) || cfg.latch === 'asymmetric';
    const keysChanged = cfg.srtp?.recv !== this.cfg.srtp?.recv || cfg.srtp?.send !== this.cfg.srtp?.send || cfg.srtp?.profile !== this.cfg.srtp?.profile;
    this.cfg = cfg;
    this.configureDtls(cfg);
    if (keysChanged && cfg.dtls === undefined) {
      // New keys mean new contexts (rollover counters and replay windows start over, RFC 3711 §3.2).
      const s = cfg.srtp;
      const ctx = (b64: string): SrtpContext => {
        const ks = Buffer.from(b64, 'base64');
        return new SrtpContext(s?.profile ?? 'AES_CM_128_HMAC_SHA1_80', ks.subarray(0, 16), ks.subarray(16, 30));
      };
      this.srtpIn = s === undefined ? undefined : ctx(s.recv);
      this.srtpOut = s === undefined ? undefined : ctx(s.send);
    }
    // A browser answering our ICE-lite offer checks and nominates before its answer reaches us: the
    // first address the SDP gives must not undo that nomination.
    const keepNominated = this.iceNominated && previous.peerRtp === undefined && cfg.ice !== undefined;
    if ((!this.latchedRtp || moved) && !keepNominated) this.peerRtp = cfg.peerRtp;
    if (!this.latchedRtcp || moved) this.peerRtcp = cfg.peerRtcp;
    if (moved) {
      this.latchedRtp = false;
      this.latchedRtcp = false;
      // A nomination made before the answer arrived still stands for the answer's placeholder address.
      if (!keepNominated) this.heardRtp = false;
      this.heardRtcp = false;
      this.rtcpNominated = false;
    }
    if ((moved || !this.iceNominated) && !keepNominated) this.expectedRtp = cfg.peerRtp;
    if (!this.rtcpNominated) this.expectedRtcp = cfg.peerRtcp;
    if (this.connectedTo !== null && (moved || cfg.latch === 'asymmetric')) {
      this.rtpSocket.disconnect();
      this.connectedTo = null;
    }
  }

  private configureDtls(cfg: SideConfig): void {
    const d = cfg.dtls;
    if (d === undefined) {
      this.dtls?.close();
      this.dtls = undefined;
      this.dtlsState = 'none';
      return;
    }
    if (this.dtls !== undefined) return; // one association per side; re-offers keep it (RFC 5763 §6.6)
    const early = this.earlyDtls.filter((e) => this.clock.coarseMs - e.atMs < EARLY_DTLS_MAX_AGE_MS);
    this.earlyDtls = [];
    this.dtlsState = 'handshaking';
    this.dtls = new DtlsEndpoint(
      d.role,
      d,
      d.peerFingerprint,
      (data) => {
        const to = this.dtlsPeer ?? this.peerRtp;
        if (to === undefined) return;
        if (this.connectedTo !== null) safeSend(this.rtpSocket, this.callId, data, data.length);
        else safeSend(this.rtpSocket, this.callId, data, data.length, to);
      },
      (keys) => {
        this.srtpIn = new SrtpContext('AES_CM_128_HMAC_SHA1_80', keys.remoteKeySalt.subarray(0, 16), keys.remoteKeySalt.subarray(16));
        this.srtpOut = new SrtpContext('AES_CM_128_HMAC_SHA1_80', keys.localKeySalt.subarray(0, 16), keys.localKeySalt.subarray(16));
        this.dtlsState = 'up';
        // The handshake proved who sits at the records' source (its certificate matched the SDP
        // fingerprint): media goes there until a packet latches or ICE nominates. A WebRTC answer's
        // SDP address is a placeholder (c=0.0.0.0, port 9), so without this nothing would reach it.
        const from = this.dtlsPeer;
        if (from !== undefined && !this.latchedRtp && this.cfg.latch !== 'asymmetric' && !sameAddress(this.peerRtp, from)) {
          if (this.connectedTo !== null) {
            this.rtpSocket.disconnect();
            this.connectedTo = null;
          }
          this.peerRtp = from;
          // The certificate proved who is there: no other source may latch now.
          this.expectedRtp = from;
          this.heardRtp = true;
        }
      },
      () => {
        this.dtlsState = 'failed';
      },
      () => {
        this.rtpIn.errors++;
      },
    );
    this.dtls.start();
    for (const e of early) if (this.dtls.input(e.record, [e.from.address, e.from.port])) this.dtlsPeer = e.from;
  }

  private readonly onRtpSocket = (received: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.cfg.rtcpMux && received.length >= 2 && isRtcpPacketType(received[1])) {
      this.onRtcp(received, rinfo);
      return;
    }
    // RFC 7983 demultiplexing: STUN (first byte 0–3) on a side where we are an ICE-lite agent.
    if (received[0] < 4 && this.cfg.ice !== undefined && isStun(received)) {
      this.onStun(received, rinfo);
      return;
    }
    // DTLS records (first byte 20–63) go to the association; nothing else is media until it is up.
    if (received[0] >= 20 && received[0] <= 63 && this.dtls === undefined && this.cfg.awaitingDtls === true) {
      if (this.earlyDtls.length < EARLY_DTLS_MAX) this.earlyDtls.push({ record: Buffer.from(received), from: { address: rinfo.address, port: rinfo.port }, atMs: this.clock.coarseMs });
      else this.rtpIn.errors++;
      return;
    }
    if (received[0] >= 20 && received[0] <= 63 && this.dtls !== undefined) {
      // Only a datagram the association takes may say where its peer is: junk from elsewhere must
      // not redirect the handshake.
      if (this.dtls.input(received, [rinfo.address, rinfo.port])) this.dtlsPeer = { address: rinfo.address, port: rinfo.port };
      else this.rtpIn.errors++;
      return;
    }
    if (this.dtls !== undefined && this.srtpIn === undefined) {
      this.rtpIn.errors++;
      return;
    }
    let msg = received;
    if (this.srtpIn !== undefined) {
      // Authenticate before anything else: a forged packet must not latch or count as media.
      const r = this.srtpIn.unprotectRtp(received);
      if (!r.ok) {
        this.rtpIn.errors++;
        return;
      }
      msg = r.packet;
    }
    const len = msg.length;
    const hdrLen = rtpHeaderLength(msg, len);
    if (hdrLen < 0) {
      this.rtpIn.errors++;
      return;
    }
    if (!this.acceptSource(rinfo, false)) {
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
    if (this.action === DROP) return;
    if (this.action === ECHO) {
      const out = this.srtpOut !== undefined ? this.srtpOut.protectRtp(msg) : msg;
      this.sendBack(out, out.length, rinfo);
      this.sent++;
      return;
    }
    if (!this.processor.process(msg, len, hdrLen)) this.rtpIn.errors++;
  };

  /**
   * A connectivity check from the peer's ICE agent (RFC 8445 §7.3 for a lite agent): a Binding
   * request whose USERNAME starts with our ufrag and whose MESSAGE-INTEGRITY verifies with our
   * password gets a success response with its source as XOR-MAPPED-ADDRESS. A nominated pair
   * (USE-CANDIDATE) becomes the peer media goes to. Anything else is counted and dropped.
   */
  private onStun(msg: Buffer, rinfo: dgram.RemoteInfo, component: 'rtp' | 'rtcp' = 'rtp'): void {
    const ice = this.cfg.ice;
    const parsed = parseStun(msg);
    if (ice === undefined || !parsed.ok || parsed.message.type !== STUN_TYPE.bindingRequest) {
      this.stunIn.errors++;
      return;
    }
    const m = parsed.message;
    const username = attribute(m, ATTR.username)?.toString('utf8') ?? '';
    const key = Buffer.from(ice.pwd, 'utf8');
    const hasFingerprint = attribute(m, ATTR.fingerprint) !== undefined;
    if (!username.startsWith(`${ice.ufrag}:`) || !verifyMessageIntegrity(msg, key) || (hasFingerprint && !verifyFingerprint(msg))) {
      this.stunIn.errors++;
      return;
    }
    this.stunIn.packets++;
    this.stunIn.bytes += msg.length;
    this.lastPacketMs = this.clock.coarseMs;
    const family = rinfo.family === 'IPv6' ? 6 : 4;
    const response = serializeStun(
      { type: STUN_TYPE.bindingSuccess, transactionId: m.transactionId, attributes: [{ type: ATTR.xorMappedAddress, value: encodeXorMappedAddress({ family, address: rinfo.address, port: rinfo.port }, m.transactionId) }] },
      { integrityKey: key, fingerprint: true },
    );
    const from: TransportAddress = { address: rinfo.address, port: rinfo.port };
    if (component === 'rtcp') {
      // Component 2 of a peer that does not multiplex (RFC 8445 §5.1.1): its checks arrive on our
      // RTCP port and are answered from it; a nominated pair moves where RTCP goes.
      if (attribute(m, ATTR.useCandidate) !== undefined) {
        this.peerRtcp = from;
        this.latchedRtcp = false;
        this.expectedRtcp = from;
        this.heardRtcp = true;
        this.rtcpNominated = true;
      }
      safeSend(this.rtcpSocket, this.callId, response, response.length, rinfo);
      return;
    }
    // As DTLS client we must send the first record: an authenticated check says where the peer's
    // ICE agent listens, which the SDP (c=0.0.0.0 from a WebRTC peer) may not.
    if (this.dtls !== undefined && (this.dtlsPeer === undefined || attribute(m, ATTR.useCandidate) !== undefined)) this.dtlsPeer = from;
    if (attribute(m, ATTR.useCandidate) !== undefined && !sameAddress(this.peerRtp, from)) {
      // Nomination moves the media peer to the checked address (RFC 8445 §8.2).
      if (this.connectedTo !== null) {
        this.rtpSocket.disconnect();
        this.connectedTo = null;
      }
      this.peerRtp = from;
      this.latchedRtp = false;
      this.iceNominated = true;
      // An authenticated nomination is as good as hearing the SDP source: NAT learning ends.
      this.expectedRtp = from;
      this.heardRtp = true;
    }
    if (this.connectedTo !== null && sameAddress(this.connectedTo, from)) safeSend(this.rtpSocket, this.callId, response, response.length);
    else if (this.connectedTo === null && !this.connecting) safeSend(this.rtpSocket, this.callId, response, response.length, rinfo);
  }

  private readonly onRtcpSocket = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (msg.length > 0 && msg[0] < 4 && this.cfg.ice !== undefined && isStun(msg)) {
      this.onStun(msg, rinfo, 'rtcp');
      return;
    }
    this.onRtcp(msg, rinfo);
  };

  private onRtcp(received: Buffer, rinfo: dgram.RemoteInfo): void {
    let msg = received;
    if (this.srtpIn !== undefined) {
      const r = this.srtpIn.unprotectRtcp(received);
      if (!r.ok) {
        this.rtcpIn.errors++;
        return;
      }
      msg = r.packet;
    }
    if (!validateRtcpCompound(msg, msg.length)) {
      this.rtcpIn.errors++;
      return;
    }
    if (!this.acceptSource(rinfo, true)) {
      this.rtcpIn.errors++;
      return;
    }
    this.rtcpIn.packets++;
    this.rtcpIn.bytes += msg.length;
    this.lastPacketMs = this.clock.coarseMs;
    if (this.action === DROP) return;
    if (this.action === ECHO) {
      const out = this.srtpOut !== undefined ? this.srtpOut.protectRtcp(msg) : msg;
      if (!this.cfg.rtcpMux) safeSend(this.rtcpSocket, this.callId, out, out.length, rinfo);
      else this.sendBack(out, out.length, rinfo);
      return;
    }
    if (!this.target.sendRtcp(msg)) this.rtcpIn.errors++;
  }

  /** Whether a packet from this source is accepted, and where the peer is afterwards (latch.ts). */
  private acceptSource(rinfo: dgram.RemoteInfo, rtcp: boolean): boolean {
    const src: TransportAddress = { address: rinfo.address, port: rinfo.port };
    const { latch: mode, strictSource } = this.cfg;
    const mediaHandover = this.cfg.mediaHandover === true;
    if (rtcp && !this.cfg.rtcpMux) {
      // A peer that proved its SDP address for RTP is not behind NAT: its RTCP must come from the SDP too.
      const st: LatchState = { mode, strictSource, mediaHandover, expected: this.expectedRtcp, peer: this.peerRtcp, latched: this.latchedRtcp, expectedHeard: this.heardRtcp, learningAllowed: !this.heardRtp };
      const v = latchVerdict(src, st);
      if (v === 'drop') return false;
      if (isExpected(src, st)) this.heardRtcp = true;
      if (v === 'latch') {
        this.peerRtcp = mode === 'port' ? { address: this.expectedRtcp?.address ?? src.address, port: src.port } : src;
        this.latchedRtcp = true;
      }
      return true;
    }
    const st: LatchState = { mode, strictSource, mediaHandover, expected: this.expectedRtp, peer: this.peerRtp, latched: this.latchedRtp, expectedHeard: this.heardRtp, learningAllowed: true };
    const v = latchVerdict(src, st);
    if (v === 'drop') return false;
    const fromExpected = isExpected(src, st);
    if (fromExpected) this.heardRtp = true;
    if (v === 'keep') return true;
    const learned: TransportAddress = mode === 'port' ? { address: this.expectedRtp?.address ?? src.address, port: src.port } : src;
    if (this.connectedTo !== null && !sameAddress(this.connectedTo, learned)) {
      this.rtpSocket.disconnect();
      this.connectedTo = null;
    }
    this.peerRtp = learned;
    this.latchedRtp = true;
    // Until RTCP shows where it comes from: the SDP's RTCP address for the SDP source, else next to
    // the learned RTP port (RFC 3550 §11; there is none above 65535).
    if (!this.latchedRtcp && !this.cfg.rtcpMux)
      this.peerRtcp = fromExpected && this.expectedRtcp !== undefined ? this.expectedRtcp : learned.port < 65535 ? { address: learned.address, port: learned.port + 1 } : undefined;
    // Only the confirmed peer gets a connected socket: while a NAT'd source is latched, the SDP
    // source must still be heard (it takes the peer back); with media-handover anyone may.
    if (fromExpected && !mediaHandover) this.connectTo(learned);
    return true;
  }

  /** PacketSink: a processed packet from the other side leaves through this side's RTP socket. */
  emit(buf: Buffer, len: number): void {
    // Toward a DTLS peer nothing leaves in the clear: until the keys exist, media is dropped.
    if (this.dtls !== undefined && this.srtpOut === undefined) return;
    if (this.srtpOut !== undefined) {
      const out = this.srtpOut.protectRtp(len === buf.length ? buf : buf.subarray(0, len));
      if (this.sendToRtpPeer(out, out.length)) this.sent++;
      return;
    }
    if (this.sendToRtpPeer(buf, len)) this.sent++;
  }

  /**
   * Once the peer is latched, the RTP socket is connect()ed to it (acceptSource): sends then skip
   * dgram's per-send address lookup and the kernel's route lookup (measured: ~10–20 % less CPU per
   * relayed packet on loopback), and the kernel drops RTP from other sources, as strict-source would.
   * A re-negotiation that moves the peer disconnects it again (configure()).
   */
  private sendToRtpPeer(buf: Buffer, len: number): boolean {
    if (this.connectedTo !== null) {
      return safeSend(this.rtpSocket, this.callId, buf, len);
    }
    const peer = this.peerRtp;
    if (peer === undefined) return false;
    if (this.connecting) {
      // libuv refuses an addressed send once the socket is connected: hold the few packets
      // that arrive while connect() completes and send them after it.
      (this.heldWhileConnecting ??= []).push(len === buf.length ? buf : buf.subarray(0, len));
      return true;
    }
    return safeSend(this.rtpSocket, this.callId, buf, len, peer);
  }

  /** Echo through the RTP socket: a connected socket only hears its peer, so that is the sender. */
  private sendBack(msg: Buffer, len: number, rinfo: dgram.RemoteInfo): void {
    if (this.connectedTo !== null) safeSend(this.rtpSocket, this.callId, msg, len);
    else if (this.connecting) (this.heldWhileConnecting ??= []).push(len === msg.length ? msg : msg.subarray(0, len));
    else safeSend(this.rtpSocket, this.callId, msg, len, rinfo);
  }

  private connectTo(peer: TransportAddress): void {
    // dgram throws on connect() while connecting or connected; a later latch stays unconnected.
    if (this.connecting || this.connectedTo !== null) return;
    this.connecting = true;
    this.rtpSocket.connect(peer.port, peer.address, () => {
      this.connecting = false;
      const held = this.heldWhileConnecting;
      this.heldWhileConnecting = null;
      // The peer may have moved while we were connecting: only adopt the connection if not.
      if (this.peerRtp === peer) {
        this.connectedTo = peer;
        if (held !== null) for (const b of held) safeSend(this.rtpSocket, this.callId, b, b.length);
      } else {
        this.rtpSocket.disconnect();
        if (held !== null) for (const b of held) this.sendToRtpPeer(b, b.length);
      }
    });
  }

  /** false when the RTCP could not go anywhere (no usable RTCP port, or the send failed). */
  sendRtcp(plain: Buffer): boolean {
    if (this.dtls !== undefined && this.srtpOut === undefined) return true;
    const msg = this.srtpOut !== undefined ? this.srtpOut.protectRtcp(plain) : plain;
    if (this.cfg.rtcpMux) return this.sendToRtpPeer(msg, msg.length);
    const peer = this.peerRtcp;
    return peer !== undefined && safeSend(this.rtcpSocket, this.callId, msg, msg.length, peer);
  }

  stats(): SideStats {
    return {
      rtp: this.rtpIn.snapshot(),
      rtcp: this.rtcpIn.snapshot(),
      sent: this.sent,
      lost: Math.max(0, this.receive.lost),
      jitterMs: this.receive.jitterMs(this.cfg.clockRate),
      ssrc: this.ssrc,
      lastPacketMs: this.lastPacketMs,
      latched: this.latchedRtp,
      peerRtp: this.peerRtp,
      peerRtcp: this.peerRtcp,
    };
  }

  close(): void {
    this.dtls?.close();
    this.processor.flush();
    this.rtpSocket.close();
    this.rtcpSocket.close();
  }
}


function bindSocket(type: 'udp4' | 'udp6', address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type, reuseAddr: false });
    const onError = (err: Error): void => {
      sock.close();
      reject(err);
    };
    sock.once('error', onError);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', onError);
      // A socket error after bind (e.g. ICMP-driven) must never take the worker down.
      sock.on('error', () => undefined);
      resolve(sock);
    });
  });
}

/** One media section of a call: two sides relaying to each other. */
/** Early DTLS records kept per side (a fragmented ClientHello and one retransmission) and for how long. */
const EARLY_DTLS_MAX = 4;
const EARLY_DTLS_MAX_AGE_MS = 3000;

export class MediaBridge {
  readonly createdMs: number;
  configuredMs: number;
  timeoutReported = false;

  private constructor(
    readonly bridgeId: number,
    readonly callId: string,
    readonly sides: [BridgeSide, BridgeSide],
    clock: WorkerClock,
  ) {
    this.createdMs = clock.coarseMs;
    this.configuredMs = this.createdMs;
    sides[0].target = sides[1];
    sides[1].target = sides[0];
    sides[0].processor = new DirectionProcessor(sides[1]);
    sides[1].processor = new DirectionProcessor(sides[0]);
  }

  static async open(bridgeId: number, callId: string, address: string, ports: BridgePorts, clock: WorkerClock): Promise<MediaBridge> {
    const type = isIP(address) === 6 ? 'udp6' : 'udp4';
    const opened: dgram.Socket[] = [];
    try {
      for (const port of ports) opened.push(await bindSocket(type, address, port));
    } catch (err) {
      for (const s of opened) s.close();
      throw err;
    }
    const sides: [BridgeSide, BridgeSide] = [
      new BridgeSide(0, callId, opened[0], opened[1], clock),
      new BridgeSide(1, callId, opened[2], opened[3], clock),
    ];
    return new MediaBridge(bridgeId, callId, sides, clock);
  }

  configure(cfg: BridgeConfig, nowMs: number): void {
    this.configuredMs = nowMs;
    this.timeoutReported = false;
    for (const i of [0, 1] as const) {
      const side = this.sides[i];
      side.configure(cfg.sides[i]);
      const dir = cfg.directions[i];
      side.action = dir.action === 'echo' ? ECHO : dir.action === 'drop' ? DROP : RELAY;
      side.processor.configure(dir);
    }
  }

  /** Milliseconds since anything was received on either side, or since the last (re)configuration. */
  idleMs(nowMs: number): number {
    const last = Math.max(this.sides[0].lastPacketMs, this.sides[1].lastPacketMs, this.configuredMs);
    return nowMs - last;
  }

  stats(): BridgeStats {
    return { bridgeId: this.bridgeId, sides: [this.sides[0].stats(), this.sides[1].stats()] };
  }

  close(): void {
    this.sides[0].close();
    this.sides[1].close();
  }
}
