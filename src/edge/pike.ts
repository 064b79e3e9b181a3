import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';

export interface PikeOptions {
  /** requests one source may send per window before it is banned. */
  limit: number;
  windowMs: number;
  /** first ban; each further offence doubles it, up to maxBanMs. */
  banMs: number;
  maxBanMs: number;
  /** sources tracked at once; past it the oldest quiet ones are dropped (a spoofed flood cannot grow it). */
  maxSources: number;
  isTrusted?: (address: string) => boolean;
  clock: Clock;
  log: Logger;
}

export const PIKE_DEFAULTS = { limit: 30, windowMs: 2000, banMs: 60_000, maxBanMs: 3_600_000, maxSources: 100_000 } as const;

export interface PikeCounters {
  /** requests (weights) counted. */
  counted: number;
  /** packets and connections dropped because their source is banned. */
  dropped: number;
  bans: number;
  /** bans that ran out, and bans lifted by lift(). */
  expired: number;
  lifted: number;
  /** sources forgotten to keep the table under maxSources. */
  evicted: number;
  /** new sources not tracked because the table was full of banned ones (let through). */
  untracked: number;
}

export interface BanInfo {
  source: string;
  /** the rate that tripped the ban, per window. */
  rate: number;
  offences: number;
  durationMs: number;
  remainingMs: number;
}

interface Entry {
  /** start of the current fixed window; `prev` is the count of the one before it. */
  windowStart: number;
  prev: number;
  cur: number;
  lastSeen: number;
  bannedUntil: number;
  banMs: number;
  banRate: number;
  offences: number;
}

/**
 * Flood defence in the manner of Kamailio's pike module: a per-source request rate over a sliding
 * window (two fixed windows, the older one weighted by how much of it still overlaps: O(1) memory
 * per source), and a ban for a source over the limit, doubled for each repeat offence. A banned
 * source gets nothing back at all. Trusted sources are not counted. The table of sources is capped
 * and swept, so spoofed sources cannot grow it without bound.
 */
export class Pike {
  private readonly sources = new Map<string, Entry>();
  readonly counters: PikeCounters = { counted: 0, dropped: 0, bans: 0, expired: 0, lifted: 0, evicted: 0, untracked: 0 };
  private lastSweep: number;

  constructor(private readonly opts: PikeOptions) {
    this.lastSweep = opts.clock.now();
  }

  /** Sources tracked now (banned ones included). */
  get size(): number {
    return this.sources.size;
  }

  /**
   * Counts `weight` requests from `source` (0 = only ask whether it is banned). False = drop it
   * without a word: banned now, or banned by this very request.
   */
  check(source: string, weight = 1): boolean {
    if (this.opts.isTrusted?.(source) === true) return true;
    const now = this.opts.clock.now();
    if (now - this.lastSweep >= this.opts.windowMs) this.sweep();
    let e = this.sources.get(source);
    if (e !== undefined && e.bannedUntil > 0) {
      if (now < e.bannedUntil) {
        this.counters.dropped++;
        return false;
      }
      this.unban(source, e, 'expired');
    }
    if (weight <= 0) return true;
    if (e === undefined) {
      if (this.sources.size >= this.opts.maxSources && !this.makeRoom()) {
        this.counters.untracked++;
        return true;
      }
      e = { windowStart: now, prev: 0, cur: 0, lastSeen: now, bannedUntil: 0, banMs: 0, banRate: 0, offences: 0 };
      this.sources.set(source, e);
    }
    this.counters.counted += weight;
    const rate = this.add(e, now, weight);
    if (rate <= this.opts.limit) return true;
    this.ban(source, e, now, rate);
    this.counters.dropped++;
    return false;
  }

  /** Extra weight for a source that did something suspicious (a failed authentication): may ban it. */
  penalize(source: string, weight: number): void {
    this.check(source, weight);
  }

  /** The sources banned now, longest remaining first. */
  bans(): BanInfo[] {
    const now = this.opts.clock.now();
    const out: BanInfo[] = [];
    for (const [source, e] of this.sources)
      if (e.bannedUntil > now) out.push({ source, rate: e.banRate, offences: e.offences, durationMs: e.banMs, remainingMs: e.bannedUntil - now });
    return out.sort((a, b) => b.remainingMs - a.remainingMs);
  }

  /** Lifts a ban (an operator's decision); its offence count is forgotten too. False = not banned. */
  lift(source: string): boolean {
    const e = this.sources.get(source);
    if (e === undefined || e.bannedUntil <= this.opts.clock.now()) return false;
    this.unban(source, e, 'lifted');
    this.sources.delete(source);
    return true;
  }

  /**
   * Ends bans that ran out (each logged) and forgets sources quiet for two windows, except those
   * whose offences must be remembered for escalation (kept until the longest ban would have ended).
   */
  sweep(): void {
    const now = this.opts.clock.now();
    this.lastSweep = now;
    for (const [source, e] of this.sources) {
      if (e.bannedUntil > 0) {
        if (now < e.bannedUntil) continue;
        this.unban(source, e, 'expired');
      }
      const keep = e.offences > 0 ? this.opts.maxBanMs : 2 * this.opts.windowMs;
      if (now - e.lastSeen >= keep) this.sources.delete(source);
    }
  }

  private add(e: Entry, now: number, weight: number): number {
    const w = this.opts.windowMs;
    const elapsed = now - e.windowStart;
    if (elapsed >= 2 * w) {
      e.prev = 0;
      e.cur = 0;
      e.windowStart = now - (elapsed % w);
    } else if (elapsed >= w) {
      e.prev = e.cur;
      e.cur = 0;
      e.windowStart += w;
    }
    e.cur += weight;
    e.lastSeen = now;
    const overlap = 1 - (now - e.windowStart) / w;
    return e.cur + e.prev * overlap;
  }

  private ban(source: string, e: Entry, now: number, rate: number): void {
    e.offences++;
    e.banMs = Math.min(this.opts.maxBanMs, this.opts.banMs * 2 ** Math.min(e.offences - 1, 30));
    e.bannedUntil = now + e.banMs;
    e.banRate = Math.round(rate);
    e.prev = 0;
    e.cur = 0;
    this.counters.bans++;
    this.opts.log.warn({ source, rate: e.banRate, windowMs: this.opts.windowMs, limit: this.opts.limit, durationMs: e.banMs, offences: e.offences }, 'flood: source banned');
  }

  private unban(source: string, e: Entry, why: 'expired' | 'lifted'): void {
    if (why === 'expired') this.counters.expired++;
    else this.counters.lifted++;
    this.opts.log.info({ source, rate: e.banRate, durationMs: e.banMs, offences: e.offences, why }, 'flood: ban ended');
    e.bannedUntil = 0;
    // The offence is remembered maxBanMs from here (sweep), so a return within that escalates.
    e.lastSeen = this.opts.clock.now();
    e.windowStart = e.lastSeen;
    e.prev = 0;
    e.cur = 0;
  }

  /** Frees one slot: the oldest-inserted source that is neither banned nor remembered for escalation. */
  private makeRoom(): boolean {
    this.sweep();
    if (this.sources.size < this.opts.maxSources) return true;
    let scanned = 0;
    for (const [source, e] of this.sources) {
      // Bounded scan: a table full of banned sources must not make every new packet walk it.
      if (++scanned > 64) break;
      if (e.bannedUntil === 0 && e.offences === 0) {
        this.sources.delete(source);
        this.counters.evicted++;
        return true;
      }
    }
    return false;
  }
}
