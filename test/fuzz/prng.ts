/**
 * A seeded PRNG (mulberry32): the whole fuzz run is a function of its seed, so a failure printed
 * with its seed replays exactly (`npm run fuzz -- --seed N --iterations 1`).
 */
export interface Rand {
  readonly seed: number;
  /** uniform in [0, 2^32) */
  u32(): number;
  /** uniform integer in [0, n) (n ≥ 1) */
  int(n: number): number;
  /** true with probability p */
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  bytes(n: number): Buffer;
}

export function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  const u32 = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const int = (n: number): number => (n <= 1 ? 0 : Math.floor((u32() / 0x1_0000_0000) * n));
  return {
    seed: seed >>> 0,
    u32,
    int,
    chance: (p) => u32() / 0x1_0000_0000 < p,
    pick: <T>(xs: readonly T[]): T => {
      if (xs.length === 0) throw new Error('pick from an empty list');
      return xs[int(xs.length)];
    },
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = u32() & 0xff;
      return b;
    },
  };
}

/** A sub-seed for iteration i of a run: iterations replay on their own, without the ones before. */
export function iterationSeed(runSeed: number, i: number): number {
  return (Math.imul(runSeed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}
