import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { BridgeConfig, BridgePorts, BridgeStats, ControlCommand, SrtpSideConfig, TransportAddress } from '../pool/protocol.js';
import { BridgeSide } from './bridge-side.js';
import { DirectionProcessor } from './direction.js';
import { RtcpTerminator } from './rtcp-terminator.js';
import { RtcpSchedule, rtcpTiming } from './rtcp-schedule.js';
import type { WorkerClock } from './clock.js';
import type { MediaSocket, MediaSocketFactory } from './media-socket.js';

/** One media section of a call: two sides relaying to each other. */
export class MediaBridge {
  readonly createdMs: number;
  configuredMs: number;
  timeoutReported = false;
  /** When each side whose RTCP is terminated gets Tandem's next report (RFC 3550 §6.3.1, randomised). */
  readonly rtcpSchedule = new RtcpSchedule(rtcpTiming.minIntervalMs, rtcpTiming.seed());

  private constructor(
    readonly bridgeId: number,
    readonly callId: string,
    readonly sides: [BridgeSide, BridgeSide],
    clock: WorkerClock,
    /** Each side's local RTP address (a recording's pcap names it). */
    readonly local: [TransportAddress, TransportAddress],
  ) {
    this.createdMs = clock.coarseMs;
    this.configuredMs = this.createdMs;
    sides[0].target = sides[1];
    sides[1].target = sides[0];
    sides[0].processor = new DirectionProcessor(sides[1]);
    sides[1].processor = new DirectionProcessor(sides[0]);
  }

  /** Side 0 binds ports[0..1] on addresses[0], side 1 ports[2..3] on addresses[1] (one call may bridge two networks). */
  static async open(bridgeId: number, callId: string, addresses: [string, string], ports: BridgePorts, clock: WorkerClock, bind: MediaSocketFactory, onDtlsKeys?: (side: 0 | 1, srtp: SrtpSideConfig) => void): Promise<MediaBridge> {
    const opened: MediaSocket[] = [];
    try {
      for (const [i, port] of ports.entries()) {
        const address = addresses[i < 2 ? 0 : 1];
        opened.push(await bind(isIP(address) === 6 ? 6 : 4, address, port));
      }
    } catch (err) {
      for (const s of opened) s.close();
      throw err;
    }
    const sides: [BridgeSide, BridgeSide] = [
      new BridgeSide(0, callId, opened[0], opened[1], clock, (k) => onDtlsKeys?.(0, k)),
      new BridgeSide(1, callId, opened[2], opened[3], clock, (k) => onDtlsKeys?.(1, k)),
    ];
    return new MediaBridge(bridgeId, callId, sides, clock, [{ address: addresses[0], port: ports[0] }, { address: addresses[1], port: ports[2] }]);
  }

  configure(cfg: BridgeConfig, nowMs: number): void {
    this.configuredMs = nowMs;
    this.timeoutReported = false;
    for (const i of [0, 1] as const) {
      const side = this.sides[i];
      side.configure(cfg.sides[i]);
      side.setLeg(cfg.legs?.[i]);
      const dir = cfg.directions[i];
      side.setAction(dir.action);
      side.processor.configure(dir);
      side.rtcpTerm = cfg.terminateRtcp === true ? (side.rtcpTerm ?? new RtcpTerminator(this.cname)) : undefined;
      if (side.rtcpTerm !== undefined) this.rtcpSchedule.start(i, nowMs);
      else this.rtcpSchedule.stop(i);
    }
  }

  /** ng media control toward one side (block, silence, play media, play DTMF). */
  control(cmd: ControlCommand): { durationMs?: number; lastFramePos?: number } {
    return this.sides[cmd.toward].controlFor().apply(cmd);
  }

  /** RFC 3550 §6.5.1: one CNAME per endpoint; random, so it names neither the call nor the host. */
  private readonly cname = `${randomBytes(6).toString('hex')}@tandem`;

  /**
   * Each side whose RTCP is terminated gets Tandem's report when its schedule says it is due (the
   * worker's RTCP timer calls this every few tens of ms with the wall-clock time).
   */
  sendRtcpReports(nowMs: number): void {
    // Unrolled: this runs for every bridge on every tick, and a literal array would be allocated each time.
    if (this.rtcpSchedule.due(0, nowMs)) this.sides[0].sendReport(nowMs);
    if (this.rtcpSchedule.due(1, nowMs)) this.sides[1].sendReport(nowMs);
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
