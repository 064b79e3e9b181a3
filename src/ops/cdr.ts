import { createWriteStream, type WriteStream } from 'node:fs';
import type { Logger } from '../common/log.js';
import type { CallStats } from '../media/api.js';
import type { B2buaCall } from '../b2bua/call.js';
import { getFrom } from '../sip/message.js';
import { callSummary } from './admin-api.js';
import { callQuality } from './mos.js';
import { ngCallRecord, type NgCallRecord } from './ng-cdr.js';

/** One ended B2BUA call, one JSON line of --cdr. */
export interface CallRecord {
  kind: 'b2bua';
  callId: string;
  bCallId: string;
  route: string;
  from?: string;
  to?: string;
  ruri: string;
  source: string;
  setupTime: string;
  answerTime?: string;
  endTime: string;
  /** seconds from answer to end; 0 for a call never answered. */
  durationS: number;
  reason: string;
  /** the codec each leg spoke (the first m= line's), when the local media plane carried the call. */
  codecs?: { a?: string; b?: string };
  transcoded?: boolean;
  packets?: number;
  lost?: number;
  loss?: number;
  jitterMs?: number;
  mos?: number;
}

export interface CdrCounters {
  written: number;
  /** records dropped because the file did not take them (write error, or over 1 MiB queued). */
  dropped: number;
  /** records written without media figures (the media plane is remote, or said nothing in time). */
  withoutMedia: number;
  /** --cdr-url: records the server took (2xx), those it refused or that failed (not retried), and those dropped with the queue full. */
  posted: number;
  postFailed: number;
  postDropped: number;
}

export interface CdrOptions {
  file?: string;
  url?: string;
  log: Logger;
  /** how long one POST may take (default 5 s). */
  postTimeoutMs?: number;
}

/** How long a call's record waits for its media session's last statistics. */
const MEDIA_WAIT_MS = 2000;
/** Media statistics kept for a B2BUA call that ends after its media (a media timeout ends the media first). */
const RECENT_MEDIA = 4096;
const MAX_QUEUED_BYTES = 1024 * 1024;
/** Records waiting to be POSTed at most; more are dropped and counted. */
const MAX_POST_QUEUE = 1000;

/**
 * Call detail records: one JSON line per ended call in --cdr's file. The B2BUA says a call
 * ended (`callEnded`) and the local media plane gives the session's last counters (`mediaClosed`),
 * in either order; the record is written when both are in, or after 2 s without the media part.
 * A media session no B2BUA call owns (Kamailio's, over ng) gets its own record (`kind: "ng"`,
 * ng-cdr.ts) when it closes.
 */
export class CdrWriter {
  readonly counters: CdrCounters = { written: 0, dropped: 0, withoutMedia: 0, posted: 0, postFailed: 0, postDropped: 0 };
  private readonly stream: WriteStream | undefined;
  private readonly postQueue: string[] = [];
  private posting: Promise<void> | undefined;
  private readonly log: Logger;
  private closed = false;
  private readonly pending = new Map<string, { record: CallRecord; aTag: string; timer: NodeJS.Timeout }>();
  private readonly recent = new Map<string, CallStats>();
  /** B2BUA calls recorded without their media: a media session closing late is theirs, not an ng session. */
  private readonly recordedWithoutMedia = new Set<string>();
  /** Whether a live B2BUA call owns this media session (set once the SIP side runs). */
  isB2buaCall: (mediaCallId: string) => boolean = () => false;

  constructor(private readonly opts: CdrOptions) {
    this.log = opts.log;
    const file = opts.file;
    if (file !== undefined) {
      this.stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
      this.stream.on('error', (err) => this.log.error({ err, file }, 'CDR file write failed'));
    }
  }

  callEnded(call: B2buaCall, reason: string): void {
    const s = callSummary(call);
    const end = call.endedAt ?? Date.now();
    const record: CallRecord = {
      kind: 'b2bua',
      callId: call.mediaCallId,
      bCallId: call.bCallId,
      route: call.setup.routeName,
      ...(s.from !== undefined ? { from: s.from } : {}),
      ...(s.to !== undefined ? { to: s.to } : {}),
      ruri: call.setup.invite.uri,
      source: `${call.setup.inbound.source.protocol}:${call.setup.inbound.source.address}:${call.setup.inbound.source.port}`,
      setupTime: new Date(call.startedAt).toISOString(),
      ...(call.answeredAt !== undefined ? { answerTime: new Date(call.answeredAt).toISOString() } : {}),
      endTime: new Date(end).toISOString(),
      durationS: call.answeredAt === undefined ? 0 : Math.round((end - call.answeredAt) / 100) / 10,
      reason,
    };
    const aTag = getFrom(call.setup.invite)?.params.find((p) => p.name === 'tag')?.value ?? '';
    const media = this.recent.get(record.callId);
    if (media !== undefined) {
      this.recent.delete(record.callId);
      return this.write(withMedia(record, media, aTag));
    }
    const timer = setTimeout(() => {
      this.pending.delete(record.callId);
      this.counters.withoutMedia++;
      this.recordedWithoutMedia.add(record.callId);
      if (this.recordedWithoutMedia.size > RECENT_MEDIA) this.recordedWithoutMedia.delete(this.recordedWithoutMedia.values().next().value as string);
      this.write(record);
    }, MEDIA_WAIT_MS);
    this.pending.set(record.callId, { record, aTag, timer });
  }

  /** `reason`: the media plane's (deleted, terminated, media-timeout, worker-failure, closed). */
  mediaClosed(stats: CallStats, reason: string): void {
    const p = this.pending.get(stats.callId);
    if (p === undefined) {
      if (this.recordedWithoutMedia.delete(stats.callId)) return;
      if (!this.isB2buaCall(stats.callId)) return this.write(ngCallRecord(stats, reason, Date.now()));
      this.recent.set(stats.callId, stats);
      if (this.recent.size > RECENT_MEDIA) this.recent.delete(this.recent.keys().next().value as string);
      return;
    }
    clearTimeout(p.timer);
    this.pending.delete(stats.callId);
    this.write(withMedia(p.record, stats, p.aTag));
  }

  private write(record: CallRecord | NgCallRecord): void {
    if (this.closed) {
      this.counters.dropped++;
      return;
    }
    const line = JSON.stringify(record);
    if (this.opts.url !== undefined) this.post(line);
    if (this.stream === undefined) return;
    if (this.stream.destroyed || this.stream.writableLength > MAX_QUEUED_BYTES) {
      this.counters.dropped++;
      return;
    }
    this.stream.write(`${line}\n`, (err) => {
      if (err !== null && err !== undefined) this.counters.dropped++;
      else this.counters.written++;
    });
  }

  /** One POST at a time, in order; a slow or dead collector fills the bounded queue, never memory. */
  private post(json: string): void {
    if (this.postQueue.length >= MAX_POST_QUEUE) {
      this.counters.postDropped++;
      return;
    }
    this.postQueue.push(json);
    this.posting ??= this.drainPosts().finally(() => (this.posting = undefined));
  }

  private async drainPosts(): Promise<void> {
    const url = this.opts.url as string;
    for (let body = this.postQueue.shift(); body !== undefined; body = this.postQueue.shift()) {
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(this.opts.postTimeoutMs ?? 5000) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) this.counters.posted++;
        else this.failedPost(`HTTP ${res.status}`);
      } catch (err) {
        this.failedPost(err instanceof Error ? err.message : String(err));
      }
    }
  }

  private failedPost(why: string): void {
    this.counters.postFailed++;
    // The first failure, then one in a hundred: a dead collector must not flood the log.
    if (this.counters.postFailed % 100 === 1) this.log.warn({ url: this.opts.url, why, failed: this.counters.postFailed }, 'CDR POST failed (not retried)');
  }

  /** Writes what is pending without its media part, and closes the file. */
  close(): Promise<void> {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      this.counters.withoutMedia++;
      this.write(p.record);
    }
    this.closed = true;
    const posted = this.posting ?? Promise.resolve();
    const stream = this.stream;
    const written = stream === undefined ? Promise.resolve() : new Promise<void>((resolve) => stream.end(() => resolve()));
    // POSTs still queued get a moment (their own timeout bounds each), not a hang at shutdown.
    return Promise.all([written, Promise.race([posted, new Promise((r) => setTimeout(r, 2000).unref())])]).then(() => undefined);
  }
}

function withMedia(record: CallRecord, stats: CallStats, aTag: string): CallRecord {
  const q = callQuality(stats);
  const codecOf = (leg: 'a' | 'b'): string | undefined => stats.legs.find((l) => (l.tag === aTag) === (leg === 'a'))?.medias[0]?.codec;
  const a = codecOf('a');
  const b = codecOf('b');
  return {
    ...record,
    codecs: { ...(a !== undefined ? { a } : {}), ...(b !== undefined ? { b } : {}) },
    transcoded: stats.legs.some((l) => l.medias.some((m) => m.transcoding)),
    packets: q.packets,
    lost: q.lost,
    loss: Math.round(q.loss * 10_000) / 10_000,
    jitterMs: Math.round(q.jitterMs * 100) / 100,
    ...(q.mos !== undefined ? { mos: q.mos } : {}),
  };
}
