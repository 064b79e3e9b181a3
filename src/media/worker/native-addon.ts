import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The batched UDP addon's surface (native/udp_batch.c); one instance per thread that loads it. */
export interface UdpBatchAddon {
  /** Starts the thread's epoll set; `onDrain(count)` runs once per filled ring. Returns the ring. */
  init(onDrain: (count: number) => void): ArrayBuffer;
  /** A bound, nonblocking socket's id; throws an Error whose `code` is the errno name (EADDRINUSE, EMFILE…). */
  bind(family: 4 | 6, address: string, port: number): number;
  /** Queued (copied) for the next flush; false when refused (bad id, address or length), counted. */
  send(id: number, buf: Uint8Array, len: number, port?: number, address?: string): boolean;
  flush(): void;
  /** connect(2) to a peer, or with no address back to unconnected; what was queued leaves first. */
  connect(id: number, port?: number, address?: string): boolean;
  close(id: number): void;
  localPort(id: number): number;
  stats(): UdpBatchStats;
  readonly ringSlots: number;
  readonly slotSize: number;
  readonly slotHeader: number;
  readonly slotData: number;
}

export interface UdpBatchStats {
  received: number;
  /** Datagrams longer than a slot: dropped. */
  truncated: number;
  recvErrors: number;
  drains: number;
  callbacks: number;
  callbackErrors: number;
  sent: number;
  sendErrors: number;
  /** Sends refused before the kernel: unknown socket, bad address, longer than a slot. */
  sendDropped: number;
  queueFullFlushes: number;
  openSockets: number;
}

export type AddonLoad = { ok: true; addon: UdpBatchAddon } | { ok: false; reason: string };

/** The build output of `native/build.mjs`; TANDEM_NATIVE_ADDON names another file (tests force a failure with it). */
export function addonPath(): string {
  const forced = process.env.TANDEM_NATIVE_ADDON;
  if (forced !== undefined && forced !== '') return forced;
  // src/media/worker and dist/media/worker are both three levels below the package root.
  return fileURLToPath(new URL('../../../native/build/Release/udp_batch.node', import.meta.url));
}

/** Loads the addon in this thread, or says why not (never throws). */
export function loadUdpBatch(): AddonLoad {
  const path = addonPath();
  try {
    const addon = createRequire(import.meta.url)(path) as UdpBatchAddon;
    if (typeof addon.init !== 'function' || typeof addon.bind !== 'function') return { ok: false, reason: `${path} is not the udp_batch addon` };
    return { ok: true, addon };
  } catch (err) {
    return { ok: false, reason: `${path}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
  }
}
