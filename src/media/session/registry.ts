import { TandemError } from '../../common/errors.js';
import type { CallEnd, CallEndCause } from '../api.js';
import type { CallMedia, MediaCall } from './call.js';

/** How long a call that ended on its own is remembered, so query/delete can say why. */
const TOMBSTONE_MS = 10 * 60_000;
const MAX_TOMBSTONES = 10_000;

/**
 * The live calls by call-id and by bridge id (worker events name a bridge), and the tombstones of
 * calls that ended on their own (media timeout, worker failure).
 */
export class CallRegistry {
  private readonly calls = new Map<string, MediaCall>();
  private readonly callByBridge = new Map<number, MediaCall>();
  private readonly tombstones = new Map<string, { reason: string; cause: CallEndCause; atMs: number }>();

  get size(): number {
    return this.calls.size;
  }

  get(callId: string): MediaCall | undefined {
    return this.calls.get(callId);
  }

  /** A live call, or the UNKNOWN_CALL error that names why it ended if a tombstone remembers it. */
  require(callId: string): MediaCall {
    const call = this.calls.get(callId);
    if (call === undefined) throw this.unknownCall(callId);
    return call;
  }

  /** A new call replaces the tombstone of an earlier one with the same call-id. */
  add(call: MediaCall): void {
    this.calls.set(call.callId, call);
    this.tombstones.delete(call.callId);
  }

  addMedia(call: MediaCall, media: CallMedia): void {
    this.callByBridge.set(media.bridgeId, call);
  }

  byBridge(bridgeId: number): MediaCall | undefined {
    return this.callByBridge.get(bridgeId);
  }

  /** Forgets a call and its bridges (closing it is the call's own business). */
  remove(call: MediaCall): void {
    if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
    for (const m of call.medias) if (this.callByBridge.get(m.bridgeId) === call) this.callByBridge.delete(m.bridgeId);
  }

  ids(): string[] {
    return [...this.calls.keys()];
  }

  all(): MediaCall[] {
    return [...this.calls.values()];
  }

  /** Remembers why a call ended; the oldest tombstones go past their age or the cap. */
  remember(callId: string, reason: string, cause: CallEndCause, now = Date.now()): void {
    this.tombstones.set(callId, { reason, cause, atMs: now });
    for (const [id, e] of this.tombstones) {
      if (now - e.atMs < TOMBSTONE_MS && this.tombstones.size <= MAX_TOMBSTONES) break;
      this.tombstones.delete(id);
    }
  }

  ended(callId: string): CallEnd | undefined {
    const e = this.tombstones.get(callId);
    return e === undefined ? undefined : { cause: e.cause, reason: e.reason };
  }

  unknownCall(callId: string): TandemError {
    const ended = this.tombstones.get(callId);
    if (ended !== undefined) return new TandemError('UNKNOWN_CALL', `Call ended: ${ended.reason}`, { 'call-id': callId });
    return new TandemError('UNKNOWN_CALL', 'Unknown call-id', { 'call-id': callId });
  }
}
