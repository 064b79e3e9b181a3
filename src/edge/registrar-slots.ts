import type { Release, SourceResource } from './acl-sources.js';

/** What the registrar needs of the per-source limits (SourceLimits satisfies it). */
export interface RegistrationLimiter {
  acquire(kind: SourceResource, source: string): Release | undefined;
}

/** Slots taken for one REGISTER, before any binding changes: committed one by one, the rest given back. */
export interface SlotReservation {
  /** The binding `key` is now held by the reserved source: its slot moves there, the previous holder's goes back. */
  commit(key: string): void;
  /** Gives back every slot not committed (a later failure, or nothing left to do). Harmless twice. */
  cancel(): void;
}

/**
 * Which source holds each binding's `--max-registrations-per-source` slot. A binding holds exactly
 * one slot, of the source that last registered it: a refresh from the same IP takes nothing new, a
 * contact re-registered from another IP moves its slot there, and every way a binding goes
 * (unregister, wildcard, expiry, its connection closing) gives the slot back through `release`.
 */
export class BindingSlots {
  private readonly held = new Map<string, { source: string; release: Release }>();

  constructor(private readonly limiter: RegistrationLimiter | undefined) {}

  static key(aor: string, contact: string): string {
    return `${aor}\n${contact}`;
  }

  /** How many bindings have a slot (all of them, when a limiter is set). */
  get size(): number {
    return this.held.size;
  }

  /**
   * Slots for every binding in `keys` that `source` does not hold yet; all or nothing, so a
   * refused REGISTER changes nothing. Undefined when the source is at its limit.
   */
  reserve(keys: readonly string[], source: string): SlotReservation | undefined {
    const pending = new Map<string, Release>();
    const cancel = (): void => {
      for (const r of pending.values()) r();
      pending.clear();
    };
    if (this.limiter !== undefined) {
      for (const key of keys) {
        if (pending.has(key) || this.held.get(key)?.source === source) continue;
        const release = this.limiter.acquire('registration', source);
        if (release === undefined) {
          cancel();
          return undefined;
        }
        pending.set(key, release);
      }
    }
    return {
      commit: (key) => {
        const release = pending.get(key);
        if (release === undefined) return;
        pending.delete(key);
        this.held.get(key)?.release();
        this.held.set(key, { source, release });
      },
      cancel,
    };
  }

  /** The binding `key` is gone: its slot goes back to its source. */
  release(key: string): void {
    const h = this.held.get(key);
    if (h === undefined) return;
    this.held.delete(key);
    h.release();
  }

  /** Every slot back (the registrar closes). */
  clear(): void {
    for (const h of this.held.values()) h.release();
    this.held.clear();
  }
}
