import { TandemError } from '../../common/errors.js';
import { formatEndpoint, type SipEndpoint, type StreamWatcher } from './types.js';

/**
 * A TCP/TLS/WebSocket connection closed or failed while a request sent on it still waited for its final
 * response (RFC 3261 §18.4, RFC 3263 §4.3): a transport error for that client transaction, which
 * the TU treats like a 503 and fails over on.
 */
export class ConnectionLostError extends TandemError {
  constructor(remote: SipEndpoint, cause?: Error) {
    super('CONNECTION_LOST', `${formatEndpoint(remote)} connection ${cause !== undefined ? `failed (${cause.message})` : 'closed by the peer'} before the final response`, {}, cause !== undefined ? { cause } : undefined);
    this.name = 'ConnectionLostError';
  }
}

/**
 * The client transactions waiting on one stream connection. Each is told once when the connection
 * goes; one that got its final response detaches itself first, so a long-lived trunk connection
 * holds only the transactions still open on it.
 */
export class StreamWatchers {
  private readonly watchers = new Set<StreamWatcher>();

  get size(): number {
    return this.watchers.size;
  }

  add(w: StreamWatcher): void {
    if (!w.watching) return;
    this.watchers.add(w);
    w.detach = () => this.watchers.delete(w);
  }

  /** The connection is gone: every watcher still waiting hears it; returns how many did. */
  lost(remote: SipEndpoint, cause: Error | undefined): number {
    const waiting = [...this.watchers].filter((w) => w.watching);
    this.watchers.clear();
    for (const w of waiting) {
      w.detach = undefined;
      w.connectionLost(new ConnectionLostError(remote, cause));
    }
    return waiting.length;
  }
}
