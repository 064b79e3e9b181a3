import type { Logger } from '../common/log.js';
import type { Clock } from '../common/clock.js';
import { RedisState, redactUrl } from './redis-state.js';
import { RedisLocationStore } from './redis-location.js';

/** A store of one kind of state under a key prefix: what LocalMedia and the B2BUA write to. */
export interface PrefixStore {
  save(id: string, snapshot: string): void;
  remove(id: string): void;
}

/**
 * `--redis` as the composition root needs it: where each owner's state goes (keyed by the media
 * interface, so a Tandem with the same --redis and interface takes it over), and the takeover at
 * start. The owners decide what is written; this only knows keys.
 */
export class SharedState {
  private constructor(
    readonly redis: RedisState,
    private readonly ns: string,
    private readonly log: Logger,
    private readonly url: string,
  ) {}

  static async connect(url: string, mediaInterface: string, log: Logger): Promise<SharedState> {
    return new SharedState(await RedisState.connect(url, log.child({ component: 'redis' })), `tandem:${mediaInterface}:`, log, url);
  }

  get counters(): RedisState['counters'] {
    return this.redis.counters;
  }

  /** LocalMedia's sessions and its DTLS certificate. */
  mediaOptions(): { persist: PrefixStore; certificates: { load(): Promise<string | undefined>; save(text: string): void } } {
    const cert = `${this.ns}dtls-certificate`;
    return {
      persist: this.store('media'),
      certificates: { load: async () => (await this.redis.client.get(cert)) ?? undefined, save: (text) => this.redis.set(cert, text) },
    };
  }

  /** The B2BUA's confirmed calls. */
  dialogs(): PrefixStore {
    return this.store('dialog');
  }

  /** The registrar's bindings: shared by every Tandem on this Redis, whatever its interface. */
  locationStore(clock: Clock): RedisLocationStore {
    return new RedisLocationStore(this.redis.client, clock);
  }

  /** Reads what a dead process left of `kind` and hands it to `restore`; what cannot be restored is deleted. */
  async takeOver(kind: 'media' | 'dialog', restore: (snapshots: string[], dropped: (index: number) => void) => Promise<{ restored: number; failed: number }> | { restored: number; failed: number }): Promise<void> {
    const prefix = `${this.ns}${kind}:`;
    const stored = await this.redis.loadAll(prefix);
    const taken = await restore(stored.map((e) => e.value), (i) => this.redis.del(stored[i].key));
    this.log.info({ redis: redactUrl(this.url), prefix, stored: stored.length, ...taken }, kind === 'media' ? 'media sessions taken over from redis' : 'B2BUA calls taken over from redis');
  }

  close(): Promise<void> {
    return this.redis.close();
  }

  private store(kind: string): PrefixStore {
    const prefix = `${this.ns}${kind}:`;
    return { save: (id, s) => this.redis.set(prefix + id, s), remove: (id) => this.redis.del(prefix + id) };
  }
}
