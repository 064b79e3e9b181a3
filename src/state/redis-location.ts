import type { Redis } from 'ioredis';
import type { Clock } from '../common/clock.js';
import type { Binding, LocationStore } from '../edge/location.js';

/**
 * The registrar's location service in Redis (`--redis`), so a restarted Tandem, or several behind
 * one address, know the same registrations. One hash per AOR (contact → binding as JSON), a set of
 * the AORs, and a counter of bindings (the registrar's total limit reads it on every REGISTER).
 *
 * `expiresAt` is in the registrar's clock (monotonic, per process); it is stored as wall-clock time
 * and turned back on reading, so another process reads the same expiry.
 */
export class RedisLocationStore implements LocationStore {
  private readonly aors: string;
  private readonly count: string;

  constructor(
    private readonly redis: Redis,
    private readonly clock: Clock,
    private readonly prefix = 'tandem:location:',
  ) {
    this.aors = `${prefix}aors`;
    this.count = `${prefix}count`;
  }

  async put(binding: Binding): Promise<void> {
    const added = await this.redis.hset(this.key(binding.aor), binding.contact, JSON.stringify({ ...binding, expiresAt: this.toWall(binding.expiresAt) }));
    await this.redis.sadd(this.aors, binding.aor);
    if (added > 0) await this.redis.incrby(this.count, added);
  }

  async get(aor: string): Promise<Binding[]> {
    return this.decode(await this.redis.hgetall(this.key(aor)));
  }

  async remove(aor: string, contact?: string): Promise<number> {
    const key = this.key(aor);
    let n: number;
    if (contact !== undefined) n = await this.redis.hdel(key, contact);
    else {
      n = await this.redis.hlen(key);
      await this.redis.del(key);
    }
    if (n > 0) await this.redis.decrby(this.count, n);
    if ((await this.redis.hlen(key)) === 0) await this.redis.srem(this.aors, aor);
    return n;
  }

  /** Walks every AOR: fine for the registrar's sweep (every few seconds), not for a per-request path. */
  async expire(now: number): Promise<Binding[]> {
    const gone: Binding[] = [];
    for (const aor of await this.redis.smembers(this.aors)) {
      const expired = (await this.get(aor)).filter((b) => b.expiresAt <= now);
      for (const b of expired) if ((await this.remove(aor, b.contact)) > 0) gone.push(b);
    }
    return gone;
  }

  async list(): Promise<Binding[]> {
    const out: Binding[] = [];
    for (const aor of await this.redis.smembers(this.aors)) out.push(...(await this.get(aor)));
    return out;
  }

  async size(): Promise<number> {
    const n = Number(await this.redis.get(this.count));
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  private key(aor: string): string {
    return `${this.prefix}aor:${aor}`;
  }

  private toWall(clockMs: number): number {
    return Math.round(clockMs - this.clock.now() + Date.now());
  }

  private fromWall(wallMs: number): number {
    return wallMs - Date.now() + this.clock.now();
  }

  /** A value that does not parse (written by hand, or by something else) is skipped, not thrown. */
  private decode(fields: Record<string, string>): Binding[] {
    const out: Binding[] = [];
    for (const text of Object.values(fields)) {
      try {
        const b = JSON.parse(text) as Binding;
        if (typeof b.aor !== 'string' || typeof b.contact !== 'string' || typeof b.expiresAt !== 'number' || typeof b.flow !== 'object' || b.flow === null) continue;
        out.push({ ...b, expiresAt: this.fromWall(b.expiresAt) });
      } catch {
        // skipped: see above
      }
    }
    return out;
  }
}
