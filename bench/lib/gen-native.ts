/**
 * `--gen-io native`: a generator worker's packet I/O through bench/gen-io.c (a Node-API addon the bench
 * compiles with cc), instead of one dgram socket object per leg. Receiving: the addon drains every ready
 * socket into a slab of slots and calls onBatch once; each packet reaches its leg's Receiver as a view of
 * its slot. Sending: a Sender's send() copies its packet into a send slab, and the pacer's tick hands the
 * whole slab over in one call (flush).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileCached, type BuildResult } from './c-relay.js';
import type { LegReceiver, PacketOut } from './rtp-leg.js';

export const GEN_IO_SOURCE = fileURLToPath(new URL('../gen-io.c', import.meta.url));

/** Node's own headers (node_api.h, uv.h) beside its binary: /usr/bin/node → /usr/include/node. */
export function nodeIncludeDir(): string {
  return join(dirname(dirname(process.execPath)), 'include', 'node');
}

/** Compiles the addon (once per source version); a reason instead of a throw when it cannot be built. */
export function buildGenIo(o: { cacheDir?: string; path?: string } = {}): BuildResult {
  return compileCached({ source: GEN_IO_SOURCE, name: 'gen-io', suffix: '.node', flags: ['-O2', '-Wall', '-shared', '-fPIC', `-I${nodeIncludeDir()}`], ...o });
}

interface GenIoAddon {
  create(slab: Buffer, slotSize: number, meta: Int32Array, onBatch: (count: number) => void): object;
  openLeg(io: object): [number, number];
  connectLeg(io: object, leg: number, port: number, address: string): void;
  sendBatch(io: object, legs: Int32Array, lens: Int32Array, count: number, slab: Buffer, stride: number): number;
  closeLeg(io: object, leg: number): void;
  close(io: object): void;
  stats(io: object): [number, number, number];
}

const SLOT = 2048; // bytes per received datagram (RTP here is ≤ 12 + 240 + padding)
const SLOTS = 1024;
const STRIDE = 1500; // bytes per queued outgoing datagram
const QUEUE = 4096;

export class NativeIo {
  private readonly addon: GenIoAddon;
  private readonly io: object;
  private readonly recvSlab = Buffer.alloc(SLOT * SLOTS);
  private readonly meta = new Int32Array(2 * SLOTS);
  private readonly sendSlab = Buffer.alloc(STRIDE * QUEUE);
  private readonly sendLegs = new Int32Array(QUEUE);
  private readonly sendLens = new Int32Array(QUEUE);
  private queued = 0;
  private readonly receivers: (Pick<LegReceiver, 'onMessage'> | undefined)[] = [];
  sendErrors = 0;

  constructor(binary: string) {
    const mod = { exports: {} as GenIoAddon };
    process.dlopen(mod, binary);
    this.addon = mod.exports;
    this.io = this.addon.create(this.recvSlab, SLOT, this.meta, (n) => this.onBatch(n));
  }

  /** A new leg bound to 127.0.0.1: its id and port. */
  openLeg(): { leg: number; port: number } {
    const [leg, port] = this.addon.openLeg(this.io);
    return { leg, port };
  }

  connect(leg: number, port: number, address: string): void {
    this.addon.connectLeg(this.io, leg, port, address);
  }

  /** Where a Sender writes: the packet is queued until flush(). */
  out(leg: number): PacketOut {
    return { send: (msg, offset, length) => this.queue(leg, msg, offset, length) };
  }

  receiveWith(leg: number, r: Pick<LegReceiver, 'onMessage'>): void {
    this.receivers[leg] = r;
  }

  closeLeg(leg: number): void {
    this.receivers[leg] = undefined;
    this.addon.closeLeg(this.io, leg);
  }

  private queue(leg: number, msg: Buffer, offset: number, length: number): void {
    if (length > STRIDE) throw new Error(`gen-io: a ${length}-byte packet does not fit a ${STRIDE}-byte send slot`);
    if (this.queued === QUEUE) this.flush();
    msg.copy(this.sendSlab, this.queued * STRIDE, offset, offset + length);
    this.sendLegs[this.queued] = leg;
    this.sendLens[this.queued] = length;
    this.queued++;
  }

  /** Sends everything queued (the pacer calls it at the end of each tick). */
  flush(): void {
    if (this.queued === 0) return;
    const n = this.queued;
    this.queued = 0;
    this.sendErrors += n - this.addon.sendBatch(this.io, this.sendLegs, this.sendLens, n, this.sendSlab, STRIDE);
  }

  private onBatch(count: number): void {
    const meta = this.meta;
    for (let i = 0; i < count; i++) {
      const r = this.receivers[meta[2 * i]];
      if (r !== undefined) r.onMessage(this.recvSlab.subarray(i * SLOT, i * SLOT + meta[2 * i + 1]));
    }
  }

  /** [datagrams received, send errors, truncated] as the addon counted them. */
  stats(): [number, number, number] {
    return this.addon.stats(this.io);
  }

  close(): void {
    this.addon.close(this.io);
  }
}
