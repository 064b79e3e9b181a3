import type { CodecCapabilities, CodecOptions } from '../sdp/negotiate.js';

/**
 * MediaControl: the one door into the media plane. The ng server (control/) and the
 * B2BUA both drive media through it; LocalMedia implements it in-process, an ng client
 * can implement it against a remote Tandem or rtpengine. Verbs and option names follow
 * rtpengine's ng protocol (docs/ng_control_protocol.md in sipwise/rtpengine).
 */

export type MediaEchoMode = 'forward' | 'backwards' | 'both' | 'blackhole';
export type RtcpMuxMode = 'offer' | 'require' | 'demux' | 'accept' | 'reject';
/**
 * ICE (rtpengine's `ICE` key): `remove` strips it; `force`/`lite` make Tandem an ICE-lite agent
 * (RFC 8445 §2.5) toward the recipient of the offer; by default Tandem answers an offerer that
 * uses ICE as an ICE-lite agent and strips ICE toward a recipient that did not ask for it.
 */
export type IceMode = 'remove' | 'default' | 'force' | 'lite';

/** Codec manipulation, as in ng's `codec` dictionary (defined beside the planner that reads it). */
export type { CodecOptions };

export interface EndpointAddress {
  family: 'IP4' | 'IP6';
  address: string;
  port?: number;
}

/** Typed options of an offer/answer, already validated by whoever built them. */
export interface MediaOptions {
  codec: CodecOptions;
  alwaysTranscode: boolean;
  ptime?: number;
  ptimeReverse?: number;
  mediaEcho?: MediaEchoMode;
  /** ICE toward the recipient of this SDP (rtpengine's `ICE` key). */
  ice?: IceMode;
  /** `reject ICE` on an offer: no ICE toward the offerer either (ICE=remove strips only the offer). */
  rejectIce?: boolean;
  rtcpMux: RtcpMuxMode[];
  /** Use the SDP's addresses as given (default behaviour; the flag is accepted for compatibility). */
  trustAddress: boolean;
  /** Replace SDP addresses by the signalling source (`received-from`). */
  sipSourceAddress: boolean;
  /** Never learn the peer from packets: always send to the SDP address. */
  asymmetric: boolean;
  /** Accept media only from the SDP address (or, once latched, the latched peer): no NAT learning. */
  strictSource: boolean;
  /** rtpengine's `media-handover`: a new source may take the peer over at any time. */
  mediaHandover: boolean;
  /** Latch to the first packet's source port but keep the SDP address. */
  portLatching: boolean;
  receivedFrom?: EndpointAddress;
  /** Address to advertise in SDP instead of the interface address. */
  mediaAddress?: string;
  addressFamily?: 'IP4' | 'IP6';
  replaceOrigin: boolean;
  replaceSessionConnection: boolean;
  label?: string;
  /** ng `direction`: the interfaces facing the offerer and the answerer (the creating offer only). */
  direction?: [string, string];
  /**
   * The profile the SDP going out of this offer gets (`transport-protocol`): RTP/AVP ↔ RTP/SAVP
   * bridges plain RTP and SDES-SRTP, UDP/TLS/RTP/SAVP(F) makes Tandem offer DTLS-SRTP.
   * Unset: the offerer's profile (or, on a re-offer, the profile the receiving side negotiated).
   */
  transportProtocol?: TransportProtocolName;
  /** SDES (RFC 4568) choices, as rtpengine's `SDES` key spells them. */
  sdes: SdesOptions;
  /**
   * rtpengine's `DTLS` key: `off` never offers DTLS-SRTP; `passive`/`active` is the a=setup Tandem
   * offers (RFC 5763 §5); unset offers `actpass` and lets the answer decide.
   */
  dtls?: DtlsMode;
  /** `generate-mid`: add a=mid to m= lines that have none (WebRTC peers need it for BUNDLE). */
  generateMid: boolean;
  /** `no-rtcp-attribute`: leave a=rtcp out of the outgoing SDP. */
  noRtcpAttribute: boolean;
}

export type DtlsMode = 'off' | 'passive' | 'active';

export type TransportProtocolName = 'RTP/AVP' | 'RTP/SAVP' | 'RTP/AVPF' | 'RTP/SAVPF' | 'UDP/TLS/RTP/SAVP' | 'UDP/TLS/RTP/SAVPF';
export const TRANSPORT_PROTOCOLS: readonly TransportProtocolName[] = ['RTP/AVP', 'RTP/SAVP', 'RTP/AVPF', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'UDP/TLS/RTP/SAVPF'];

export interface SdesOptions {
  /** `SDES=off`: never offer a=crypto. */
  off: boolean;
  /** `SDES=no-<suite>`: suites left out. */
  no: string[];
  /** `SDES=only-<suite>`: only these suites. */
  only: string[];
}

export interface OfferRequest {
  callId: string;
  fromTag: string;
  viaBranch?: string;
  sdp: string;
  options: MediaOptions;
}

export interface AnswerRequest extends OfferRequest {
  toTag: string;
}

export interface SdpResult {
  sdp: string;
  warnings: string[];
}

export interface DeleteRequest {
  callId: string;
  fromTag?: string;
  toTag?: string;
  /** Why, when it is not an ng `delete`: the operator's terminate (admin API, `tandem ctl`). */
  reason?: 'terminated';
}

export interface QueryRequest {
  callId: string;
  fromTag?: string;
  toTag?: string;
}

/** Counters of one direction of one socket, as rtpengine reports them. */
export interface PacketCounters {
  packets: number;
  bytes: number;
  errors: number;
}

export interface StreamStats {
  localAddress: string;
  localPort: number;
  family: 'IP4' | 'IP6';
  /** Where we send to (latched or from SDP). */
  endpoint?: EndpointAddress;
  /** What the SDP said. */
  advertisedEndpoint?: EndpointAddress;
  rtcp: boolean;
  /** Unix seconds of the last packet received, 0 if none. */
  lastPacket: number;
  ssrc?: number;
  stats: PacketCounters;
  /** RTP packets sent toward this stream's peer (relayed, echoed or generated); RTP streams of the local media plane only. */
  sent?: number;
  /** RFC 3550 receive statistics of what arrived on this socket. */
  lost: number;
  jitterMs: number;
  latched: boolean;
  /** Quality of the stream arriving on this socket (RTP streams only). */
  quality?: StreamQuality;
  /** Media control toward this stream's peer, once any was applied. */
  control?: { dtmfBlocked: number; mediaBlocked: number; silenced: number; replaced: number; generated: number; failed: number };
}

export interface MediaStats {
  index: number;
  type: string;
  protocol: string;
  codec?: string;
  transcoding: boolean;
  streams: StreamStats[];
}

export interface LegStats {
  tag: string;
  label?: string;
  /** The named media interface this side's sockets are on, when the call has named interfaces. */
  interface?: string;
  created: number;
  peerTag?: string;
  medias: MediaStats[];
}

export interface CallStats {
  callId: string;
  created: number;
  createdUs: number;
  /** Epoch ms of the first offer (the local media plane's; `created` is whole seconds). */
  createdMs?: number;
  lastSignal: number;
  legs: LegStats[];
  totals: { rtp: PacketCounters; rtcp: PacketCounters };
  /** Set when the call ended by itself (media timeout, worker failure). */
  ended?: string;
}

export interface GlobalStatistics {
  sessions: number;
  transcodedStreams: number;
  totalSessions: number;
  packetsPerSecond: number;
  bytesPerSecond: number;
  errorsPerSecond: number;
  workers: number;
  uptimeSeconds: number;
  endedByTimeout: number;
  endedByWorkerFailure: number;
  /** Tandem's own counters (a remote rtpengine does not report them). */
  rejectedMediaLimit?: number;
  workerFailures?: number;
  workerRespawns?: number;
  watchdogKills?: number;
  packetsGuarded?: number;
  /** Datagrams the batched socket layer dropped: longer than a ring slot, refused by the kernel on send, or for a closed socket. */
  packetsIoDropped?: number;
  /** Recording: packets not recorded (a full queue, a file too far behind) and write failures. */
  recordingDropped?: number;
  recordingErrors?: number;
}

/** ng `start recording` / `pause recording` / `stop recording` (and the `record-call` flag). */
export type RecordingAction = 'start' | 'pause' | 'stop';

export interface RecordingRequest {
  callId: string;
  action: RecordingAction;
  /** ng `metadata`: kept in the recording's sidecar JSON. */
  metadata?: string;
}

export interface RecordingResult {
  /** The recording's files (the sidecar JSON last); empty when the call was not being recorded. */
  files: string[];
}

/**
 * ng media control (rtpengine's block/unblock DTMF and media, silence/unsilence media, play/stop
 * media, play DTMF). Legs are chosen as rtpengine chooses them: `all`, a `fromTag` (for block
 * DTMF/media only with `directional`; play media plays *to* that leg, play DTMF plays *from* it),
 * optionally a `toTag` naming the receiving leg of a flow.
 */
export interface MediaControlRequest {
  callId: string;
  /** rtpengine's `label`: the leg whose offer/answer carried this label, instead of a from-tag. */
  label?: string;
  fromTag?: string;
  toTag?: string;
  all: boolean;
  directional: boolean;
  action: MediaControlAction;
}

export type MediaControlAction =
  | { kind: 'block-dtmf' | 'block-media' | 'silence'; on: boolean }
  | { kind: 'play'; source: { file: string } | { blob: Buffer }; repeat: number; startMs: number }
  | { kind: 'stop' }
  | { kind: 'dtmf'; code: number; durationMs: number; volumeDb: number; pauseMs: number };

export interface MediaControlResult {
  /** play media: what the playback lasts, all repeats, in ms. */
  durationMs?: number;
  /** stop media: where playback stood, in ms from the file's start. */
  lastFramePos?: number;
}

/** Quality of one RTP stream (rtpengine's per-SSRC MOS stats). MOS is × 10 (10–45). */
export interface StreamQuality {
  ssrc: number;
  /** `rtcp`: the receiving peer's RTCP receiver reports; `receive`: Tandem's own receive statistics. */
  source: 'rtcp' | 'receive';
  samples: number;
  average: QualityPoint;
  lowest: QualityPoint;
  highest: QualityPoint;
}

export interface QualityPoint {
  mos: number;
  /** Unix seconds when sampled. */
  reportedAt: number;
  packetLossPercent: number;
  jitterMs: number;
  /** Round-trip time of both legs (µs; 0 when no RTCP told it). */
  rttUs: number;
  /** Round-trip time of the receiving leg alone (µs). */
  rttLegUs: number;
}

/** Why the media plane ended a call by itself. */
export type CallEndCause = 'media-timeout' | 'worker-failure';

export interface CallEnd {
  cause: CallEndCause;
  /** Human-readable, as `query` reports it. */
  reason: string;
}

export interface MediaControl {
  /** What this media plane can transcode: the B2BUA checks offers against it before routing. */
  readonly codecs: CodecCapabilities;
  offer(req: OfferRequest): Promise<SdpResult>;
  answer(req: AnswerRequest): Promise<SdpResult>;
  delete(req: DeleteRequest): Promise<CallStats>;
  query(req: QueryRequest): Promise<CallStats>;
  list(limit?: number): Promise<string[]>;
  /**
   * Why a call that is no longer listed ended, if the media plane ended it by itself and still
   * remembers; undefined when unknown (e.g. deleted, or a media server that does not say).
   */
  ended?(callId: string): Promise<CallEnd | undefined>;
  statistics(): Promise<GlobalStatistics>;
  /** ng media control; a media plane without it answers those commands with an error. */
  control?(req: MediaControlRequest): Promise<MediaControlResult>;
  /** Recording (a media plane that cannot record leaves it out: ng answers an error). */
  record?(req: RecordingRequest): Promise<RecordingResult>;
  close(): Promise<void>;
}

export function defaultCodecOptions(): CodecOptions {
  return { strip: [], except: [], mask: [], transcode: [], offer: [], accept: [], consume: [] };
}

export function defaultMediaOptions(): MediaOptions {
  return {
    codec: defaultCodecOptions(),
    alwaysTranscode: false,
    rtcpMux: [],
    trustAddress: false,
    sipSourceAddress: false,
    asymmetric: false,
    strictSource: false,
    mediaHandover: false,
    portLatching: false,
    replaceOrigin: false,
    replaceSessionConnection: false,
    sdes: { off: false, no: [], only: [] },
    generateMid: false,
    noRtcpAttribute: false,
  };
}
