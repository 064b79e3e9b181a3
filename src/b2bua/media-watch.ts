import type { Logger } from '../common/log.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import type { MediaControl } from '../media/api.js';
import type { B2buaCall } from './call.js';
import { CallState } from './call-state.js';
import { REASON_MEDIA_TIMEOUT, REASON_WORKER_FAILED } from './status-map.js';

export interface MediaWatchOptions {
  media: MediaControl;
  clock: Clock;
  log: Logger;
  /** how often calls are checked against the media plane's list; 0 = never. */
  everyMs: number;
  calls: () => Iterable<B2buaCall>;
  counters: { mediaTimeouts: number; mediaFailures: number };
}

/**
 * Hangs up calls whose media session the media plane no longer has (media timeout, worker failure,
 * an operator's delete). It polls `list`, which works the same for LocalMedia and for a remote Tandem
 * or rtpengine over ng: ng has no event channel back.
 */
export class MediaWatch {
  private timer: TimerHandle | undefined;
  private checking = false;

  constructor(private readonly opts: MediaWatchOptions) {}

  start(): void {
    if (this.opts.everyMs <= 0) return;
    this.timer = this.opts.clock.setTimer(this.opts.everyMs, () => {
      void this.check().finally(() => {
        if (this.timer !== undefined) this.start();
      });
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    const now = this.opts.clock.now();
    const candidates = [...this.opts.calls()].filter((c) => c.state === CallState.Confirmed && now - c.lastMediaChangeMs > 2000);
    if (candidates.length === 0) return;
    this.checking = true;
    try {
      const listed = new Set(await this.opts.media.list(1_000_000));
      for (const call of candidates) {
        if (call.state !== CallState.Confirmed || listed.has(call.mediaCallId)) continue;
        // The BYE says what really happened: a dead media worker is not a silent peer.
        const end = await this.opts.media.ended?.(call.mediaCallId).catch(() => undefined);
        if (call.state !== CallState.Confirmed) continue;
        if (end?.cause === 'worker-failure') {
          this.opts.counters.mediaFailures++;
          call.log.warn({ reason: end.reason }, 'media session ended by a media worker failure; ending the call');
          call.end('media worker failed', { sipReason: REASON_WORKER_FAILED });
          continue;
        }
        this.opts.counters.mediaTimeouts++;
        call.log.warn('media session is gone from the media plane (timeout); ending the call');
        call.end('media timeout', { sipReason: REASON_MEDIA_TIMEOUT });
      }
    } catch (err) {
      this.opts.log.warn({ err }, 'media list failed; media timeouts not checked this round');
    } finally {
      this.checking = false;
    }
  }
}
