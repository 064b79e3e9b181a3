import { readFileSync } from 'node:fs';
import type net from 'node:net';
import type { SipEndpoint } from './types.js';

/** Defaults of the stream-connection limits (TCP, TLS, WebSocket); each has an option and a counter. */
export const CONNECTION_DEFAULTS = {
  maxConnections: 1024,
  maxConnectionsPerSource: 32,
  /** a connection with no message in progress and none received or sent for this long is closed. */
  idleMs: 600_000,
  /** a message must be complete this long after its first byte (not reset per byte: slowloris). */
  messageMs: 10_000,
  tlsHandshakeMs: 5_000,
  /** WebSocket ping period; a peer that has not answered the previous ping by the next is terminated. */
  wsPingMs: 30_000,
} as const;

/**
 * Bytes we may have queued toward a peer that does not read: past this the connection is closed
 * (a peer that sends requests and never reads the responses would otherwise grow our memory).
 */
export const MAX_WRITE_BACKLOG = 1024 * 1024;

/** Assumed when the process's descriptor limit cannot be read (not Linux). */
export const DEFAULT_FD_LIMIT = 1024;

/**
 * The soft RLIMIT_NOFILE of this process. Node 20 has no process.getrlimit, so it is read from
 * /proc/self/limits on Linux; elsewhere the default above is assumed.
 */
export function readFdLimit(path = '/proc/self/limits'): { limit: number; source: string } {
  try {
    const line = readFileSync(path, 'latin1').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line === undefined ? undefined : /^Max open files\s+(\d+|unlimited)\s/.exec(line)?.[1];
    if (soft === 'unlimited') return { limit: Number.POSITIVE_INFINITY, source: path };
    if (soft !== undefined) return { limit: Number(soft), source: path };
  } catch {
    // not Linux, or /proc not mounted: fall through to the default
  }
  return { limit: DEFAULT_FD_LIMIT, source: 'default' };
}

/**
 * The connection cap actually enforced: the configured one, but never more than a quarter of the
 * descriptor limit, so that media sockets (two per port pair), the ng socket, worker threads and
 * files keep three quarters of the descriptors however many peers connect (an EMFILE must never
 * reach an ng offer).
 */
export function effectiveConnectionCap(configured: number, fdLimit: number): number {
  return Math.max(1, Math.min(configured, Math.floor(fdLimit / 4)));
}

export interface ConnectionLimitCounters {
  /** open stream sockets, inbound and outbound, handshakes in progress included. */
  open: number;
  refusedTotal: number;
  refusedPerSource: number;
}

/**
 * Counts every stream socket from the moment it exists (before any TLS or WebSocket handshake,
 * which is when descriptors are spent) until it closes, and refuses what goes over the caps.
 */
export class ConnectionLimits {
  private readonly perSource = new Map<string, number>();
  readonly counters: ConnectionLimitCounters = { open: 0, refusedTotal: 0, refusedPerSource: 0 };

  constructor(
    readonly maxTotal: number,
    readonly maxPerSource: number,
    /** asked first (access lists, flood bans): a refused socket is closed before it counts or handshakes. */
    private readonly gate?: (socket: net.Socket, local: SipEndpoint) => boolean,
  ) {}

  /**
   * An inbound socket just accepted: tracked until it closes, or destroyed at once (and counted)
   * when a cap is reached. Returns whether it was admitted.
   */
  admitInbound(socket: net.Socket, local?: SipEndpoint): boolean {
    const source = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (this.gate !== undefined && local !== undefined && !this.gate(socket, local)) {
      socket.destroy();
      return false;
    }
    if (this.counters.open >= this.maxTotal) {
      this.counters.refusedTotal++;
      socket.destroy();
      return false;
    }
    const n = this.perSource.get(source) ?? 0;
    if (n >= this.maxPerSource) {
      this.counters.refusedPerSource++;
      socket.destroy();
      return false;
    }
    this.perSource.set(source, n + 1);
    this.counters.open++;
    socket.once('close', () => {
      this.counters.open--;
      const left = (this.perSource.get(source) ?? 1) - 1;
      if (left <= 0) this.perSource.delete(source);
      else this.perSource.set(source, left);
    });
    return true;
  }

  /** Whether an outbound connection may be opened; it then counts toward the total until it closes. */
  admitOutbound(socket: () => net.Socket): net.Socket | undefined {
    if (this.counters.open >= this.maxTotal) {
      this.counters.refusedTotal++;
      return undefined;
    }
    const s = socket();
    this.counters.open++;
    s.once('close', () => this.counters.open--);
    return s;
  }
}
