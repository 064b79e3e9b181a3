import type { WorkerReplyResult } from '../pool/protocol.js';

export interface Rates {
  packetsPerSecond: number;
  bytesPerSecond: number;
  errorsPerSecond: number;
  /** Packets the workers guarded, at the last sample. */
  guarded: number;
  /** Recording counters summed over the workers, at the last sample. */
  recordingDropped: number;
  recordingErrors: number;
  /** Datagrams the workers' batched socket layer dropped (truncated, refused on send, unclaimed), at the last sample. */
  ioDropped: number;
}

/** Samples closer together than this keep the previous rates: the division would be mostly noise. */
const MIN_INTERVAL_S = 0.05;

/**
 * Packet rates between two statistics requests, from the workers' cumulative counters. A worker
 * that does not answer is left out of that sample (its counters come back with it).
 */
export class RateSampler {
  private last: { packets: number; bytes: number; errors: number; atMs: number };
  private rates: Rates = { packetsPerSecond: 0, bytesPerSecond: 0, errorsPerSecond: 0, guarded: 0, ioDropped: 0, recordingDropped: 0, recordingErrors: 0 };

  constructor(nowMs = Date.now()) {
    this.last = { packets: 0, bytes: 0, errors: 0, atMs: nowMs };
  }

  /** Adds up the workers' `totals` replies and updates the rates. */
  sample(replies: PromiseSettledResult<WorkerReplyResult>[], nowMs = Date.now()): Rates {
    const sum = { packets: 0, bytes: 0, errors: 0, guarded: 0, ioDropped: 0, recordingDropped: 0, recordingErrors: 0 };
    for (const r of replies) {
      if (r.status === 'fulfilled' && r.value.op === 'totals') {
        sum.guarded += r.value.totals.guarded;
        sum.recordingDropped += r.value.totals.recordingDropped;
        sum.recordingErrors += r.value.totals.recordingErrors;
        const io = r.value.totals.io;
        // Refused sends are not here: the guard counted them when the send threw.
        if (io !== undefined) sum.ioDropped += io.truncated + io.sendErrors + io.unclaimed;
        sum.packets += r.value.totals.packets;
        sum.bytes += r.value.totals.bytes;
        sum.errors += r.value.totals.errors;
      }
    }
    this.rates.guarded = sum.guarded;
    this.rates.recordingDropped = sum.recordingDropped;
    this.rates.recordingErrors = sum.recordingErrors;
    this.rates.ioDropped = sum.ioDropped;
    const dt = (nowMs - this.last.atMs) / 1000;
    if (dt > MIN_INTERVAL_S) {
      const per = (now: number, before: number): number => Math.max(0, Math.round((now - before) / dt));
      this.rates = {
        packetsPerSecond: per(sum.packets, this.last.packets),
        bytesPerSecond: per(sum.bytes, this.last.bytes),
        errorsPerSecond: per(sum.errors, this.last.errors),
        guarded: sum.guarded,
        recordingDropped: sum.recordingDropped,
        recordingErrors: sum.recordingErrors,
        ioDropped: sum.ioDropped,
      };
      this.last = { packets: sum.packets, bytes: sum.bytes, errors: sum.errors, atMs: nowMs };
    }
    return { ...this.rates };
  }
}
