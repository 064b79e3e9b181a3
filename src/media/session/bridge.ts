import type { Logger } from '../../common/log.js';
import { TandemError, errorMessage } from '../../common/errors.js';
import type { RequestBody } from '../pool/channel.js';
import type { BridgePorts, BridgeStats, WorkerReplyResult } from '../pool/protocol.js';
import type { PortAllocator } from './ports.js';
import type { BridgeLease } from './call.js';

/** The worker a call's bridges live on, as the bridges need it: one request at a time. */
export interface BridgeWorker {
  request(body: RequestBody): Promise<WorkerReplyResult>;
}

/** Pairs tried before giving up: a port another program holds is skipped, not fatal. */
const BIND_RETRIES = 8;

/** A bridge the worker has bound: closing it destroys it there and frees its two port pairs. */
class BoundBridge implements BridgeLease {
  private closed = false;

  constructor(
    readonly id: number,
    readonly ports: BridgePorts,
    private readonly worker: BridgeWorker,
    private readonly allocator: PortAllocator,
    private readonly log: Logger,
  ) {}

  async close(workerGone: boolean): Promise<BridgeStats | undefined> {
    if (this.closed) return undefined;
    this.closed = true;
    let stats: BridgeStats | undefined;
    if (!workerGone) {
      try {
        const reply = await this.worker.request({ op: 'destroy', bridgeId: this.id });
        if (reply.op === 'destroy') stats = reply.stats;
      } catch (err) {
        // The call ends either way; only its last counters are lost.
        this.log.debug({ err, bridgeId: this.id }, 'bridge destroy failed; its ports are released anyway');
      }
    }
    this.allocator.release(this.ports[0]);
    this.allocator.release(this.ports[2]);
    return stats;
  }
}

/**
 * Binds bridges: takes two port pairs from the allocator and asks the call's worker to bind them,
 * moving on to other pairs when one is held by another program (EADDRINUSE, EACCES).
 */
export class BridgeBinder {
  private nextBridgeId = 1;

  constructor(private readonly allocator: PortAllocator) {}

  /**
   * Binds a bridge on the very ports a session had (a takeover: the peers keep sending there).
   * The ports must be in the range and free; a port the system will not give is an error, not retried.
   */
  async bindAt(callId: string, worker: BridgeWorker, log: Logger, addresses: [string, string], ports: BridgePorts): Promise<BridgeLease> {
    if (!this.allocator.take(ports[0])) throw new TandemError('NO_PORTS', `port ${ports[0]} is outside the range or taken`, { 'call-id': callId });
    if (!this.allocator.take(ports[2])) {
      this.allocator.release(ports[0]);
      throw new TandemError('NO_PORTS', `port ${ports[2]} is outside the range or taken`, { 'call-id': callId });
    }
    const bridgeId = this.nextBridgeId++;
    try {
      await worker.request({ op: 'create', bridgeId, callId, addresses, ports });
    } catch (err) {
      this.allocator.release(ports[0]);
      this.allocator.release(ports[2]);
      throw err;
    }
    return new BoundBridge(bridgeId, ports, worker, this.allocator, log);
  }

  /** `addresses`: where side 0's and side 1's sockets bind (the call's media interfaces). */
  async bind(callId: string, worker: BridgeWorker, log: Logger, addresses: [string, string]): Promise<BridgeLease> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < BIND_RETRIES; attempt++) {
      const a = this.allocator.allocate();
      let b: number;
      try {
        b = this.allocator.allocate();
      } catch (err) {
        this.allocator.release(a);
        throw err;
      }
      const ports: BridgePorts = [a, a + 1, b, b + 1];
      const bridgeId = this.nextBridgeId++;
      try {
        await worker.request({ op: 'create', bridgeId, callId, addresses, ports });
        return new BoundBridge(bridgeId, ports, worker, this.allocator, log);
      } catch (err) {
        lastErr = err;
        // The allocator moves on past these pairs, so a port held by another program is not retried at once.
        this.allocator.release(a);
        this.allocator.release(b);
        const os = (err as { osCode?: string }).osCode;
        if (os !== 'EADDRINUSE' && os !== 'EACCES') throw err;
        log.warn({ ports, err }, 'media port busy, trying another pair');
      }
    }
    throw new TandemError('NO_PORTS', `could not bind media ports: ${errorMessage(lastErr)}`, { 'call-id': callId });
  }
}
