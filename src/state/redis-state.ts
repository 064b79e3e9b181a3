import { Redis } from 'ioredis';
import type { Logger } from '../common/log.js';
import { TandemError, errorMessage } from '../common/errors.js';

export interface RedisStateCounters {
  /** values written (SET/HSET), deletes sent, commands Redis refused or that failed in transit. */
  writes: number;
  deletes: number;
  errors: number;
}

/**
 * Tandem's connection to Redis (`--redis=redis://…`): the one place ioredis is used. Writes are
 * sent without waiting (one connection keeps them in order), so a call's signalling never waits
 * for Redis; a failed write is counted and logged (rate-limited by ioredis's own reconnects), and
 * the next change of that session writes it whole again. Reads (a takeover at start) are awaited.
 */
export class RedisState {
  readonly counters: RedisStateCounters = { writes: 0, deletes: 0, errors: 0 };
  private lastErrorLogMs = 0;

  private constructor(
    readonly client: Redis,
    private readonly log: Logger,
  ) {}

  /** Connects (at most `timeoutMs`); an unreachable or refusing server is a CONFIG error naming --redis. */
  static async connect(url: string, log: Logger, timeoutMs = 5000): Promise<RedisState> {
    const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 2, enableAutoPipelining: true });
    // Without a listener, ioredis reports connection errors on stderr itself.
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      client.disconnect();
      throw new TandemError('CONFIG', `--redis: cannot reach ${redactUrl(url)}: ${errorMessage(err)}`, {}, { cause: err });
    }
    const state = new RedisState(client, log);
    client.on('error', (err: Error) => state.failed(err));
    return state;
  }

  set(key: string, value: string): void {
    this.counters.writes++;
    this.client.set(key, value).catch((err: unknown) => this.failed(err));
  }

  del(key: string): void {
    this.counters.deletes++;
    this.client.del(key).catch((err: unknown) => this.failed(err));
  }

  /** Every key under `prefix` with its value (SCAN, so a large store does not block Redis). */
  async loadAll(prefix: string): Promise<{ key: string; value: string }[]> {
    const out: { key: string; value: string }[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length === 0) continue;
      const values = await this.client.mget(...keys);
      keys.forEach((key, i) => {
        const value = values[i];
        if (typeof value === 'string') out.push({ key, value });
      });
    } while (cursor !== '0');
    return out;
  }

  /** Waits for what was sent, then closes the connection. */
  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private failed(err: unknown): void {
    this.counters.errors++;
    const now = Date.now();
    if (now - this.lastErrorLogMs < 10_000) return;
    this.lastErrorLogMs = now;
    this.log.warn({ err, errors: this.counters.errors }, 'redis: a write failed (state not saved until the next change)');
  }
}

/** A key prefix as a literal in a SCAN MATCH pattern. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** The URL without its password, for errors and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
