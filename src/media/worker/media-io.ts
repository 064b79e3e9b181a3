import type { WorkerIoCounters } from '../pool/protocol.js';
import { BatchIo } from './batch-io.js';
import { bindDgramSocket, type MediaIo, type MediaSocketFactory } from './media-socket.js';
import { loadUdpBatch } from './native-addon.js';

export interface WorkerIo {
  readonly kind: MediaIo;
  readonly bind: MediaSocketFactory;
  counters(): WorkerIoCounters;
}

/**
 * The worker's socket backend. Main chose `batch` only after loading the addon itself, so a load
 * failure here is unexpected; it is reported through `onFallback` and the worker runs on dgram.
 */
export function startMediaIo(wanted: MediaIo, onFallback: (reason: string) => void): WorkerIo {
  if (wanted === 'batch') {
    const load = loadUdpBatch();
    if (load.ok) {
      try {
        const io = new BatchIo(load.addon);
        return {
          kind: 'batch',
          bind: io.bind,
          counters: () => {
            const c = io.counters();
            return { io: 'batch', received: c.received, sent: c.sent, truncated: c.truncated, recvErrors: c.recvErrors, sendErrors: c.sendErrors, sendRefused: c.sendDropped, unclaimed: c.unclaimed + c.handlerErrors + c.callbackErrors };
          },
        };
      } catch (err) {
        onFallback(err instanceof Error ? err.message : String(err));
      }
    } else {
      onFallback(load.reason);
    }
  }
  return { kind: 'dgram', bind: bindDgramSocket, counters: () => ({ io: 'dgram', received: 0, sent: 0, truncated: 0, recvErrors: 0, sendErrors: 0, sendRefused: 0, unclaimed: 0 }) };
}
