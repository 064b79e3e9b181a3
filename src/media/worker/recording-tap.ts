import type { TransportAddress } from '../pool/protocol.js';

/**
 * The packet path's side of recording: a bridge side with a tap copies each RTP packet it receives
 * (after SRTP is removed) and each it sends (before SRTP is applied) into the worker's bounded
 * queue, and nothing else. Files are written later, off the packet path (recorder.ts). A full
 * queue drops the packet and counts it: recording never holds media up.
 */
export interface TappedPacket {
  sink: TapSink;
  bridge: number;
  side: 0 | 1;
  /** true: the side's peer sent it to us; false: we sent it to the peer. */
  inbound: boolean;
  data: Buffer;
  peer: TransportAddress | undefined;
  usec: number;
}

/** What consumes a tap's packets (a call's recording). */
export interface TapSink {
  readonly taking: boolean;
  consume(p: TappedPacket): void;
}

/** One queue per worker: many calls' taps push, one drain (scheduled on the next turn) empties it. */
export class RecordingQueue {
  dropped = 0;
  limit = 2048;
  private items: TappedPacket[] = [];
  private scheduled = false;

  push(p: TappedPacket): void {
    if (this.items.length >= this.limit) {
      this.dropped++;
      return;
    }
    this.items.push(p);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  get length(): number {
    return this.items.length;
  }

  /** Hands every queued packet to its sink; a sink that stopped taking meanwhile gets none. */
  readonly drain = (): void => {
    this.scheduled = false;
    const batch = this.items;
    this.items = [];
    for (const p of batch) if (p.sink.taking) p.sink.consume(p);
  };
}

/** Attached to both sides of one bridge while its call is recorded. */
export class RecordingTap {
  constructor(
    private readonly sink: TapSink,
    private readonly queue: RecordingQueue,
    readonly bridge: number,
  ) {}

  /** An RTP packet `from` the side's peer, as received (decrypted). */
  received(side: 0 | 1, buf: Buffer, len: number, from: TransportAddress): void {
    if (!this.sink.taking) return;
    this.queue.push({ sink: this.sink, bridge: this.bridge, side, inbound: true, data: Buffer.from(buf.subarray(0, len)), peer: { address: from.address, port: from.port }, usec: nowUsec() });
  }

  /** An RTP packet going out to the side's peer, as sent (before encryption). */
  sent(side: 0 | 1, buf: Buffer, len: number, to: TransportAddress | undefined): void {
    if (!this.sink.taking) return;
    this.queue.push({ sink: this.sink, bridge: this.bridge, side, inbound: false, data: Buffer.from(buf.subarray(0, len)), peer: to, usec: nowUsec() });
  }
}

export function nowUsec(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
