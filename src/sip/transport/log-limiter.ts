/**
 * Rate limit for per-packet warnings: a peer that sends garbage must not be able to fill the disk
 * through our logs. The first line per key (source + reason) is written, then at most one per
 * interval, carrying how many were suppressed since; the transport's counters keep the totals.
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  /** lines not written, all keys together. */
  suppressed = 0;

  constructor(
    private readonly intervalMs = 10_000,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** undefined = do not log; otherwise log, with `suppressed` lines of this key skipped since the last. */
  allow(key: string): { suppressed: number } | undefined {
    const t = this.now();
    const entry = this.last.get(key);
    if (entry !== undefined && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      this.suppressed++;
      return undefined;
    }
    // Spoofed UDP sources could make the map grow without end: forget everything past a bound.
    if (entry === undefined && this.last.size >= this.maxKeys) this.last.clear();
    this.last.set(key, { at: t, suppressed: 0 });
    return { suppressed: entry?.suppressed ?? 0 };
  }
}
