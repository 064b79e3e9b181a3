/**
 * Per-key log rate limiting, so a hostile peer cannot flood the log by sending junk: the first
 * line for a key is logged, then at most one per interval, carrying how many were suppressed.
 * The key table is bounded; once full, new keys share one aggregate key (so a flood from many
 * spoofed sources still yields one line per interval, not one per source).
 */
export class LogLimiter {
  private readonly keys = new Map<string, { nextMs: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 10_000,
    private readonly maxKeys = 1024,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether to log a line for `key` now. Returns the number of lines suppressed since the last
   * logged one (0 for the first), or undefined when this line is to be suppressed.
   */
  admit(key: string): number | undefined {
    const t = this.now();
    let k = key;
    if (!this.keys.has(k) && this.keys.size >= this.maxKeys) k = '\0other';
    const s = this.keys.get(k);
    if (s === undefined) {
      this.keys.set(k, { nextMs: t + this.intervalMs, suppressed: 0 });
      return 0;
    }
    if (t < s.nextMs) {
      s.suppressed++;
      return undefined;
    }
    const n = s.suppressed;
    s.nextMs = t + this.intervalMs;
    s.suppressed = 0;
    return n;
  }

  /** Forgets keys quiet for a whole interval (their suppressed count is then 0 or stale). */
  sweep(): void {
    const t = this.now();
    for (const [k, s] of this.keys) if (t >= s.nextMs + this.intervalMs) this.keys.delete(k);
  }

  get size(): number {
    return this.keys.size;
  }
}
