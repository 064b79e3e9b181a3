import type { MediaMessageHandler, MediaRemoteInfo, MediaSocket, MediaSocketFactory } from './media-socket.js';
import type { UdpBatchAddon, UdpBatchStats } from './native-addon.js';

/** Slot flag set by the addon: the datagram was longer than a slot (counted there, dropped here). */
const FLAG_TRUNCATED = 1;
/** IPv4 source names kept for reuse; a peer spraying sources only costs a clear now and then. */
const V4_NAMES_MAX = 4096;

export interface BatchIoCounters extends UdpBatchStats {
  /** Packets for a socket that was closed before its handler ran. */
  unclaimed: number;
  /** Packets whose handler threw past the bridge's own guard. */
  handlerErrors: number;
}

/**
 * The batched backend of one worker thread: the addon's epoll set and ring (native/udp_batch.c).
 * The addon calls `drain(count)` once per filled ring; each packet goes to its socket's handler as
 * a view into the ring with one reused source object, so the hot path allocates only that view.
 * Sends are copied into the addon's queue: during a drain they leave when it returns, outside one
 * (timers, DTLS, control) on a microtask.
 */
export class BatchIo {
  private readonly ring: Buffer;
  private readonly u32: Uint32Array;
  private readonly u16: Uint16Array;
  private readonly u8: Uint8Array;
  private readonly slotSize: number;
  private readonly header: number;
  private readonly handlers: (MediaMessageHandler | undefined)[] = [];
  private readonly rinfo: MediaRemoteInfo = { address: '', port: 0, family: 'IPv4', size: 0 };
  private readonly v4Names = new Map<number, string>();
  private draining = false;
  private flushQueued = false;
  private unclaimed = 0;
  private handlerErrors = 0;

  constructor(readonly addon: UdpBatchAddon) {
    const ab = addon.init((count) => this.drain(count));
    this.ring = Buffer.from(ab);
    this.u32 = new Uint32Array(ab);
    this.u16 = new Uint16Array(ab);
    this.u8 = new Uint8Array(ab);
    this.slotSize = addon.slotSize;
    this.header = addon.slotHeader;
  }

  readonly bind: MediaSocketFactory = async (family, address, port) => {
    const id = this.addon.bind(family, address, port);
    return new BatchMediaSocket(this, id);
  };

  listen(id: number, handler: MediaMessageHandler | undefined): void {
    this.handlers[id] = handler;
  }

  /** Queues a datagram; throws when the addon refuses it (the guard counts that like a dgram throw). */
  send(id: number, buf: Buffer, len: number, port?: number, address?: string): void {
    const ok = port === undefined ? this.addon.send(id, buf, len) : this.addon.send(id, buf, len, port, address);
    if (!this.draining && !this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
    }
    if (!ok) throw new RangeError(`batch send refused (socket ${id}, ${len} bytes, ${address ?? 'connected'}:${port ?? ''})`);
  }

  private readonly flushNow = (): void => {
    this.flushQueued = false;
    this.addon.flush();
  };

  counters(): BatchIoCounters {
    return { ...this.addon.stats(), unclaimed: this.unclaimed, handlerErrors: this.handlerErrors };
  }

  private drain(count: number): void {
    const { u32, u16, u8, ring, rinfo, handlers, slotSize, header } = this;
    this.draining = true;
    try {
      for (let i = 0; i < count; i++) {
        const base = i * slotSize;
        const w = base >>> 2;
        if ((u8[base + 11] & FLAG_TRUNCATED) !== 0) continue;
        const handler = handlers[u32[w]];
        if (handler === undefined) {
          this.unclaimed++;
          continue;
        }
        const len = u32[w + 1];
        rinfo.port = u16[(base + 8) >>> 1];
        rinfo.size = len;
        if (u8[base + 10] === 4) {
          rinfo.family = 'IPv4';
          rinfo.address = this.v4Name(u32[w + 3]);
        } else {
          rinfo.family = 'IPv6';
          rinfo.address = ring.toString('latin1', base + 17, base + 17 + u8[base + 16]);
        }
        try {
          handler(ring.subarray(base + header, base + header + len), rinfo);
        } catch {
          this.handlerErrors++;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** The raw address (network byte order read as a host-order u32) → its dotted text, cached. */
  private v4Name(raw: number): string {
    let name = this.v4Names.get(raw);
    if (name === undefined) {
      if (this.v4Names.size >= V4_NAMES_MAX) this.v4Names.clear();
      name = `${raw & 255}.${(raw >>> 8) & 255}.${(raw >>> 16) & 255}.${raw >>> 24}`;
      this.v4Names.set(raw, name);
    }
    return name;
  }
}

/**
 * A socket of the batched backend. connect() is connect(2) (the kernel then skips its route lookup
 * per send and filters other sources), done at once; should the kernel refuse it, sends without an
 * address still reach the peer, addressed.
 */
class BatchMediaSocket implements MediaSocket {
  /** Every send is copied into the addon's queue. */
  readonly copiesOnSend = true;
  private peerPort: number | undefined;
  private peerAddress: string | undefined;
  private kernelConnected = false;
  private closed = false;

  constructor(private readonly io: BatchIo, readonly id: number) {}

  send(buf: Buffer, len: number, port?: number, address?: string): void {
    if (this.closed) throw new Error('send on a closed media socket');
    if (port !== undefined || this.kernelConnected) this.io.send(this.id, buf, len, port, address);
    else this.io.send(this.id, buf, len, this.peerPort, this.peerAddress);
  }

  connect(port: number, address: string, done: () => void): void {
    this.peerPort = port;
    this.peerAddress = address;
    this.kernelConnected = !this.closed && this.io.addon.connect(this.id, port, address);
    done();
  }

  disconnect(): void {
    if (this.kernelConnected && !this.closed) this.io.addon.connect(this.id);
    this.kernelConnected = false;
    this.peerPort = undefined;
    this.peerAddress = undefined;
  }

  onMessage(handler: MediaMessageHandler): void {
    this.io.listen(this.id, handler);
  }

  close(): void {
    // Ids are reused once closed: a second close must not reach someone else's socket.
    if (this.closed) return;
    this.closed = true;
    this.io.listen(this.id, undefined);
    this.io.addon.close(this.id);
  }
}
