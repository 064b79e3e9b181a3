import { TandemError } from '../../common/errors.js';
import type { MediaOptions } from '../api.js';
import type { MediaCall } from './call.js';

/** What the admission refused, by reason: the operator's view of `load limit` replies. */
export interface AdmissionCounters {
  sessionLimit: number;
  transcodeLimit: number;
  draining: number;
}

/** A call transcodes (or repacketizes) on at least one of its m= lines. */
export function callTranscodes(call: MediaCall): boolean {
  return call.medias.some((m) => m.transcoding);
}

/** An offer that asks for codecs we would make, or forces transcoding, may end up transcoding. */
function mayTranscode(options: MediaOptions): boolean {
  return options.alwaysTranscode || options.codec.transcode.length > 0 || options.ptime !== undefined;
}

/**
 * Which offers the local media plane takes: the session limit (`--max-sessions`, changed at run time
 * by `tandem ctl maxsessions`), the transcoding limit (`--max-transcodes`) and draining. Every
 * refusal is a LOAD_LIMIT error, which the ng server answers as rtpengine does (`load limit`) and
 * the B2BUA as 503.
 *
 * Transcoding is decided by the answer, so an offer that may transcode reserves a place until its
 * answer shows whether it does: two offers racing for the last place cannot both get it.
 */
export class Admission {
  readonly counters: AdmissionCounters = { sessionLimit: 0, transcodeLimit: 0, draining: 0 };
  private readonly reserved = new Set<string>();
  draining = false;

  constructor(
    public maxSessions: number,
    public maxTranscodes: number,
  ) {}

  /** Throws LOAD_LIMIT when an offer for a call that does not exist yet must be refused. */
  checkNewCall(callId: string, liveSessions: number): void {
    if (this.draining) {
      this.counters.draining++;
      throw new TandemError('LOAD_LIMIT', 'Parallel session limit reached (draining)', { 'call-id': callId });
    }
    if (this.maxSessions > 0 && liveSessions >= this.maxSessions) {
      this.counters.sessionLimit++;
      throw new TandemError('LOAD_LIMIT', 'Parallel session limit reached', { 'call-id': callId });
    }
  }

  /**
   * Before an offer is planned: one that may transcode takes a place, unless its call already holds
   * one. `calls` are the live calls (their count of transcoding ones is taken here, at offer time).
   */
  checkTranscode(call: MediaCall | undefined, callId: string, options: MediaOptions, calls: Iterable<MediaCall>): void {
    if (this.maxTranscodes === 0 || !mayTranscode(options)) return;
    if (this.reserved.has(callId) || (call !== undefined && callTranscodes(call))) return;
    if (this.transcodingCalls(calls) >= this.maxTranscodes) {
      this.counters.transcodeLimit++;
      throw new TandemError('LOAD_LIMIT', 'Transcoding session limit reached', { 'call-id': callId });
    }
    this.reserved.add(callId);
  }

  /** After an answer (or when the call ends): the place stays taken only while the call transcodes. */
  settle(call: MediaCall, ended = false): void {
    if (ended || !callTranscodes(call)) this.reserved.delete(call.callId);
  }

  /** Calls that transcode now, or whose offer reserved a place and has no answer yet. */
  transcodingCalls(calls: Iterable<MediaCall>): number {
    let n = 0;
    for (const c of calls) if (this.reserved.has(c.callId) || callTranscodes(c)) n++;
    return n;
  }
}
