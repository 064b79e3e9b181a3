/**
 * The typed channel between the main thread (session/pool) and media workers.
 * Both sides import this file and nothing else of each other.
 *
 * A bridge is one media section (m= line) of a call: two sides, each a local RTP/RTCP
 * socket pair. Side 0 faces leg A (the offerer), side 1 faces leg B (the answerer).
 * A packet received on side s is processed by directions[s] and sent out of side 1-s.
 */

export const SAMPLE_CONVERSIONS = [
  'none', 'alaw-ulaw', 'ulaw-alaw', 'alaw-opus', 'ulaw-opus', 'opus-alaw', 'opus-ulaw',
  'alaw-g722', 'ulaw-g722', 'opus-g722', 'g722-alaw', 'g722-ulaw', 'g722-opus',
] as const;
export type SampleConversion = (typeof SAMPLE_CONVERSIONS)[number];

export interface PayloadRule {
  inPt: number;
  outPt: number;
  convert: SampleConversion;
  /** G.711 audio that may be repacketized to the direction's frame size (not telephone-event). */
  audio: boolean;
  /**
   * telephone-event (RFC 4733) and the clock rates it arrives and leaves with: malformed events are
   * dropped; where the direction transcodes Opus, timestamps follow the audio and durations scale.
   */
  event?: { inRate: number; outRate: number };
}

export type DirectionAction = 'relay' | 'echo' | 'drop';

export interface DirectionConfig {
  action: DirectionAction;
  /** Payload types not listed here are forwarded unchanged. */
  rules: PayloadRule[];
  /** Repacketize G.711 audio to frames of this many ms; 0 = keep the sender's framing. */
  outFrameMs: number;
  /** In-band DTMF found (Goertzel) in the G.711 this direction receives goes on as RFC 4733 events. */
  detectDtmf?: { law: 'alaw' | 'ulaw'; outPt: number; outRate: number };
  /** RFC 4733 events this direction receives go on as in-band tones in the G.711 it sends. */
  synthesizeDtmf?: { inPt: number; inRate: number; law: 'alaw' | 'ulaw'; outPt: number };
}

export interface TransportAddress {
  address: string;
  port: number;
}

export type LatchMode = 'symmetric' | 'asymmetric' | 'port';

export interface SideConfig {
  /** Where the SDP says this side's peer receives RTP / RTCP. */
  peerRtp?: TransportAddress;
  peerRtcp?: TransportAddress;
  rtcpMux: boolean;
  latch: LatchMode;
  strictSource: boolean;
  /** rtpengine's `media-handover`: a new source may take the peer over at any time. */
  mediaHandover?: boolean;
  /** Clock rate of what this side sends us, for jitter. */
  clockRate: number;
  /** SDES-SRTP on this side (RFC 3711/4568): we decrypt what it sends and encrypt what we send it. */
  srtp?: SrtpSideConfig;
  /** ICE-lite on this side (RFC 8445 §2.5): our credentials, to answer its connectivity checks. */
  ice?: { ufrag: string; pwd: string };
  /** DTLS-SRTP on this side (RFC 5763/5764): our role, our certificate, the peer's a=fingerprint. */
  dtls?: { role: 'server' | 'client'; certPem: string; keyPem: string; peerFingerprint: string };
  /** We offered DTLS toward this side and its answer (which fixes the roles) has not come yet. */
  awaitingDtls?: boolean;
}

export interface SrtpSideConfig {
  profile: 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';
  /** base64 master key||salt the peer encrypts with (its a=crypto). */
  recv: string;
  /** base64 master key||salt we encrypt with toward the peer (the a=crypto we gave it). */
  send: string;
}

export interface BridgeConfig {
  sides: [SideConfig, SideConfig];
  directions: [DirectionConfig, DirectionConfig];
  /** Transcoding or repacketizing: each leg's RTCP ends at Tandem, which sends each its own SR/RR. */
  terminateRtcp?: boolean;
  /** What each side is sent (its negotiated codec), for what Tandem generates toward it (worker/media-control.ts). */
  legs?: [LegCodec | undefined, LegCodec | undefined];
}

/** The audio a side is sent: its main codec's PT, clock and frame size, and its telephone-event PT if any. */
export interface LegCodec {
  codec: 'PCMA' | 'PCMU' | 'opus' | 'G722' | 'other';
  pt: number;
  clockRate: number;
  ptimeMs: number;
  eventPt?: number;
  eventClockRate?: number;
}

/**
 * ng media control (block/silence/play media, play DTMF) applied to one bridge. `toward` is the
 * side whose peer is sent the result. PCM is 8 kHz mono, decoded and resampled on main.
 */
export type ControlCommand =
  | { kind: 'block-dtmf' | 'block-media' | 'silence'; toward: 0 | 1; on: boolean }
  | { kind: 'play'; toward: 0 | 1; pcm: Int16Array; repeat: number; startSample: number }
  | { kind: 'stop'; toward: 0 | 1 }
  | { kind: 'dtmf'; toward: 0 | 1; code: number; durationMs: number; volumeDb: number; pauseMs: number };

/** Media control counters and quality of one side, as `stats` reports them. */
export interface ControlCounters {
  /** telephone-event packets dropped toward this side while DTMF was blocked. */
  dtmfBlocked: number;
  /** Audio packets dropped toward this side while media was blocked. */
  mediaBlocked: number;
  /** Packets whose payload was replaced by silence. */
  silenced: number;
  /** Relayed packets replaced by what Tandem generated (played media, DTMF). */
  replaced: number;
  /** Packets Tandem generated toward this side. */
  generated: number;
  /** Generations ended because making or sending a packet threw (the call goes on). */
  failed: number;
}

/** One quality sample or an aggregate of them (rtpengine's SSRC stats block). */
export interface QualitySample {
  /** MOS × 10 (10–45), as rtpengine reports it. */
  mos: number;
  /** Epoch ms of the sample. */
  atMs: number;
  /** Packet loss in percent over the sample's interval. */
  lossPercent: number;
  jitterMs: number;
  /** Round-trip time in µs (0 when unknown). */
  rttUs: number;
}

export interface QualitySummary {
  /** Where the samples come from: the peer's RTCP receiver reports, or Tandem's own receive statistics. */
  source: 'rtcp' | 'receive';
  ssrc: number;
  samples: number;
  average: QualitySample;
  lowest: QualitySample;
  highest: QualitySample;
}

export interface CountersSnapshot {
  packets: number;
  bytes: number;
  errors: number;
}

export interface SideStats {
  rtp: CountersSnapshot;
  rtcp: CountersSnapshot;
  /** Packets this side sent out (relayed or echoed to its peer). */
  sent: number;
  lost: number;
  jitterMs: number;
  ssrc: number;
  /** Epoch ms of the last packet received on this side, 0 if none. */
  lastPacketMs: number;
  latched: boolean;
  peerRtp?: TransportAddress;
  peerRtcp?: TransportAddress;
  /** Media control toward this side, once any was applied. */
  control?: ControlCounters;
  /** Quality of what this side receives from its peer (Tandem's own receive statistics). */
  received?: QualitySummary;
  /** Quality the peer reports in its RTCP receiver reports about what we send it. */
  reported?: QualitySummary;
}

export interface BridgeStats {
  bridgeId: number;
  sides: [SideStats, SideStats];
}

export interface WorkerTotals {
  packets: number;
  bytes: number;
  errors: number;
  bridges: number;
  /** Packets dropped because handling or sending them threw (worker/guard.ts). */
  guarded: number;
  io?: WorkerIoCounters;
  /** Recording (worker/recorder.ts): packets dropped because the queue or a file's backlog was full, and write failures. */
  recordingDropped: number;
  recordingErrors: number;
  /** SRTP/SRTCP packets refused by the receive contexts (their own counters), since the worker started. */
  srtp: { authFailures: number; replays: number; malformed: number };
  /** The one-time set-ups done in this worker so far (media/codecs/set-ups.ts), in order. */
  setUps?: string[];
}

/**
 * A worker's one-time set-up before its ready message (worker/warm-up.ts): how long each step took
 * (ms; -1 = it failed), the set-ups it did, or `skipped` (TANDEM_WARMUP=off).
 */
export interface WarmUpReport {
  skipped: boolean;
  totalMs: number;
  codecsMs: number;
  srtpMs: number;
  dtlsMs: number;
  setUps: string[];
}

/** How a recording decodes one payload type a side sends (wav). */
export interface RecordCodec {
  pt: number;
  name: string;
  clockRate: number;
}

/** A call's recording as main starts it: where, how, and each bridge's payload types per side (side 0 = leg A). */
export interface RecordingStart {
  dir: string;
  /** File name without extension; main's sidecar JSON shares it. */
  base: string;
  method: 'pcap' | 'wav';
  /** Packets the worker's recording queue holds; more are dropped and counted. */
  queueLimit: number;
  bridges: { bridgeId: number; codecs: [RecordCodec[], RecordCodec[]] }[];
}

/** The worker's socket layer (`--io`); the batch backend's own counters (dgram has none: zeros). */
export interface WorkerIoCounters {
  io: 'batch' | 'dgram';
  received: number;
  sent: number;
  /** Datagrams longer than a ring slot (2048 bytes): dropped. */
  truncated: number;
  recvErrors: number;
  /** Datagrams the kernel refused (sendmmsg), e.g. after an ICMP unreachable. */
  sendErrors: number;
  /** Sends refused before the kernel (a bad destination, too long). */
  sendRefused: number;
  /** Packets for a socket closed before they were handled, or whose handling escaped the guard. */
  unclaimed: number;
}

/** The ports one bridge binds: [side0 RTP, side0 RTCP, side1 RTP, side1 RTCP]. */
export type BridgePorts = [number, number, number, number];

export type WorkerRequest =
  | { op: 'create'; id: number; bridgeId: number; callId: string; /** side 0's and side 1's bind address (media interfaces). */ addresses: [string, string]; ports: BridgePorts }
  | { op: 'configure'; id: number; bridgeId: number; config: BridgeConfig }
  | { op: 'destroy'; id: number; bridgeId: number }
  | { op: 'stats'; id: number; bridgeIds: number[] }
  | { op: 'control'; id: number; bridgeId: number; command: ControlCommand }
  | { op: 'totals'; id: number }
  /** The pool's watchdog: a worker that does not answer in time is replaced. */
  | { op: 'ping'; id: number }
  /** Start (or resume), pause or stop a call's recording; `start` is required to start. */
  | { op: 'record'; id: number; callId: string; action: 'start' | 'pause' | 'stop'; start?: RecordingStart }
  /** Test-only (refused unless WorkerInit.testOps): block the event loop, as a hung worker would. */
  | { op: 'block'; id: number; ms: number };

export type WorkerReplyResult =
  | { op: 'create'; bound: true }
  | { op: 'configure' }
  | { op: 'destroy'; stats?: BridgeStats }
  | { op: 'stats'; stats: BridgeStats[] }
  /** `durationMs`: what a play will last (all repeats); `lastFramePos`: where a stopped play was, in ms. */
  | { op: 'control'; durationMs?: number; lastFramePos?: number }
  | { op: 'totals'; totals: WorkerTotals }
  | { op: 'ping' }
  | { op: 'record'; files: string[] }
  | { op: 'block' };

export type WorkerMessage =
  /** `io` is the socket backend the worker runs on; `ioFallback` why it is not the one it was given; `warmUp` its one-time set-up. */
  | { kind: 'ready'; io?: 'batch' | 'dgram'; ioFallback?: string; warmUp?: WarmUpReport }
  | { kind: 'reply'; id: number; ok: true; result: WorkerReplyResult }
  | { kind: 'reply'; id: number; ok: false; error: string; code?: string }
  | { kind: 'event'; event: 'timeout'; bridgeId: number; idleMs: number }
  /** A DTLS-SRTP handshake on this side verified its peer: the keys, so main can store them (`--redis`). */
  | { kind: 'event'; event: 'dtls-keys'; bridgeId: number; side: 0 | 1; srtp: SrtpSideConfig };

export interface WorkerInit {
  workerIndex: number;
  logLevel: string;
  mediaTimeoutMs: number;
  /** The socket backend (`--io`): batch falls back to dgram (said in the ready message) when the addon does not load. Default dgram. */
  io?: 'batch' | 'dgram';
  /** Accept test-only requests (`block`). */
  testOps?: boolean;
  /** rtpengine's `--dtmf-no-suppress`: audio during a DTMF event is forwarded, not held back. */
  dtmfNoSuppress?: boolean;
  /** RFC 3550 §6.2 minimum interval of Tandem's own RTCP reports where it terminates RTCP (default 5000 ms); each interval is randomised around it (worker/rtcp-schedule.ts). */
  rtcpIntervalMs?: number;
}
