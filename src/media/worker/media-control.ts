import type { ControlCommand, ControlCounters, LegCodec } from '../pool/protocol.js';
import { rtpHeaderLength } from '../rtp/packet.js';
import { EventGenerator, PcmGenerator, dtmfTone, frameMs, silencePayload, type FrameGenerator } from './generators.js';

/** Where generated packets leave: the side's send (SRTP and the latched socket), past this control. */
export interface GeneratedSink {
  sendGenerated(buf: Buffer, len: number): void;
}

/** play DTMF requests waiting behind the one playing (rtpengine queues them too). */
const MAX_QUEUED = 32;
/** Frames one late timer wake may send to catch up (100 ms at 20 ms). */
const MAX_CATCH_UP = 5;

type Job = { gen: FrameGenerator; pauseAfterMs: number };

/** How often the worker's frame clock looks for due frames: a frame leaves at most this late. */
const CLOCK_TICK_MS = 10;

/**
 * One timer per worker thread drives every generation, instead of a timer per stream: it runs only
 * while some control has a job, and each control sends the frames that are due by its own schedule.
 */
class FrameClock {
  private readonly active = new Set<SideControl>();
  private timer: NodeJS.Timeout | undefined;

  add(c: SideControl): void {
    this.active.add(c);
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        const now = performance.now();
        for (const x of this.active) x.tick(now);
      }, CLOCK_TICK_MS);
      this.timer.unref();
    }
  }

  remove(c: SideControl): void {
    this.active.delete(c);
    if (this.active.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

const frameClock = new FrameClock();

/**
 * ng media control toward one bridge side (rtpengine's block DTMF / block media / silence media,
 * play media / stop media, play DTMF). It exists once a command named the side, and then sees
 * every packet leaving toward the peer (`outgoing`, called from the side's emit): it drops
 * blocked packets, silences audio in place, and while it generates (a file, a tone, RFC 4733
 * events) it replaces what would have been relayed. The peer hears one stream: generated
 * packets continue the SSRC, sequence numbers and timestamps of the relayed ones, and relayed
 * packets after a generation are renumbered to continue from it.
 */
export class SideControl {
  readonly counters: ControlCounters = { dtmfBlocked: 0, mediaBlocked: 0, silenced: 0, replaced: 0, generated: 0, failed: 0 };
  private blockDtmf = false;
  private blockMedia = false;
  private silence = false;
  private leg: LegCodec | undefined;

  // The stream as the peer sees it: the last packet that left, relayed or generated.
  private ssrc = -1;
  private seq = 0;
  private ts = 0;
  private lastMs = 0;
  /** Offsets applied to relayed packets of `ssrc` after a generation, so they continue from it. */
  private seqOffset = 0;
  private tsOffset = 0;
  private resync = false;
  private markNext = false;

  private job: Job | undefined;
  private readonly queue: Job[] = [];
  private jobTs = 0;
  private jobMarker = false;
  private frameMs = 20;
  private jobStartMs = 0;
  /** Frames of the current job sent so far (the next is due at jobStartMs + jobFrames·frameMs). */
  private jobFrames = 0;
  /** The pause between queued DTMF events. */
  private pause: NodeJS.Timeout | undefined;

  constructor(private readonly sink: GeneratedSink) {}

  /** The stream as it stood before this control existed: the last packet sent, `agoMs` ago. */
  seed(ssrc: number, seq: number, ts: number, agoMs: number): void {
    this.ssrc = ssrc >>> 0;
    this.seq = seq & 0xffff;
    this.ts = ts >>> 0;
    this.lastMs = performance.now() - Math.max(0, agoMs);
  }

  setLeg(leg: LegCodec | undefined): void {
    this.leg = leg;
  }

  /** Applies one command; returns what the ng reply reports (play duration, stopped position). */
  apply(cmd: ControlCommand): { durationMs?: number; lastFramePos?: number } {
    switch (cmd.kind) {
      case 'block-dtmf':
        this.blockDtmf = cmd.on;
        return {};
      case 'block-media':
        this.blockMedia = cmd.on;
        return {};
      case 'silence':
        this.silence = cmd.on;
        return {};
      case 'play': {
        const leg = this.requireLeg();
        this.stopAll();
        this.start({ gen: new PcmGenerator(leg, cmd.pcm, cmd.repeat, cmd.startSample), pauseAfterMs: 0 });
        return { durationMs: PcmGenerator.durationMs(cmd.pcm.length, cmd.repeat, cmd.startSample) };
      }
      case 'stop': {
        const position = this.job?.gen.positionMs ?? 0;
        this.stopAll();
        return { lastFramePos: position };
      }
      case 'dtmf': {
        const leg = this.requireLeg();
        const gen = leg.eventPt !== undefined
          ? new EventGenerator(leg, cmd.code, cmd.durationMs, Math.abs(cmd.volumeDb))
          : new PcmGenerator(leg, dtmfTone(cmd.code, cmd.durationMs, cmd.volumeDb), 1, 0);
        const job = { gen, pauseAfterMs: cmd.pauseMs };
        if (this.job === undefined && this.pause === undefined) this.start(job);
        else if (this.queue.length < MAX_QUEUED) this.queue.push(job);
        else throw new Error(`too many DTMF events queued (${MAX_QUEUED})`);
        return {};
      }
    }
  }

  private requireLeg(): LegCodec {
    const leg = this.leg;
    if (leg === undefined || leg.codec === 'other') throw new Error(`the leg's codec (${leg === undefined ? 'none negotiated yet' : `PT ${leg.pt}`}) cannot carry generated audio: PCMA, PCMU, G.722 or Opus only`);
    return leg;
  }

  /**
   * A processed packet on its way to the peer: its new length, or -1 to drop it. Everything not
   * blocked is tracked, so a generation can continue the stream.
   */
  outgoing(buf: Buffer, len: number): number {
    if (len < 12) return len;
    const pt = buf[1] & 0x7f;
    const isEvent = this.leg?.eventPt === pt;
    if (this.job !== undefined) {
      this.counters.replaced++;
      return -1;
    }
    if (isEvent ? this.blockDtmf : this.blockMedia) {
      if (isEvent) this.counters.dtmfBlocked++;
      else this.counters.mediaBlocked++;
      return -1;
    }
    let outLen = len;
    if (this.silence && !isEvent && this.leg !== undefined && pt === this.leg.pt && this.leg.codec !== 'other') {
      const hdrLen = rtpHeaderLength(buf, len);
      if (hdrLen > 0) {
        outLen = silencePayload(buf, hdrLen, len, this.leg);
        this.counters.silenced++;
      }
    }
    this.continueStream(buf);
    return outLen;
  }

  /** Renumbers a relayed packet after a generation, and remembers where the stream stands. */
  private continueStream(buf: Buffer): void {
    const ssrc = buf.readUInt32BE(8);
    if (ssrc !== this.ssrc >>> 0 || this.ssrc < 0) {
      // Another source (or the first packet): its own numbering stands.
      this.resync = false;
      this.seqOffset = 0;
      this.tsOffset = 0;
    } else if (this.resync) {
      this.resync = false;
      this.seqOffset = (this.seq + 1 - buf.readUInt16BE(2)) & 0xffff;
      this.tsOffset = (this.ts + this.elapsedTs(performance.now()) - buf.readUInt32BE(4)) >>> 0;
      this.markNext = true;
    }
    if (this.seqOffset !== 0 || this.tsOffset !== 0) {
      buf.writeUInt16BE((buf.readUInt16BE(2) + this.seqOffset) & 0xffff, 2);
      buf.writeUInt32BE((buf.readUInt32BE(4) + this.tsOffset) >>> 0, 4);
    }
    if (this.markNext) {
      buf[1] |= 0x80;
      this.markNext = false;
    }
    this.ssrc = ssrc;
    this.seq = buf.readUInt16BE(2);
    this.ts = buf.readUInt32BE(4);
    // No clock read per relayed packet: while media flows the next frame is one frame on (NaN).
    this.lastMs = NaN;
  }

  /**
   * Clock units since the last packet left, at least one frame. After a relayed packet the time is
   * not kept (a clock read per packet costs more than it is worth): one frame, the next one's place
   * while media flows; after a silence the receiver takes the marker bit as a new talkspurt.
   */
  private elapsedTs(now: number): number {
    const frame = this.frameTs();
    if (Number.isNaN(this.lastMs)) return frame;
    return Math.max(frame, Math.round(((now - this.lastMs) * this.clockRate()) / 1000 / frame) * frame);
  }

  private clockRate(): number {
    return this.leg?.clockRate ?? 8000;
  }

  /** One frame of the leg's codec in its clock units (20 ms at 8 kHz until a leg is known). */
  private frameTs(): number {
    return ((this.leg !== undefined ? frameMs(this.leg) : 20) * this.clockRate()) / 1000;
  }

  private start(job: Job): void {
    const now = performance.now();
    if (this.ssrc < 0) {
      // Nothing has left toward this peer yet: a stream of our own.
      this.ssrc = (Math.random() * 0x100000000) >>> 0;
      this.seq = (Math.random() * 0x10000) & 0xffff;
      this.ts = (Math.random() * 0x100000000) >>> 0;
      this.jobTs = this.ts;
    } else this.jobTs = (this.ts + this.elapsedTs(now)) >>> 0;
    this.job = job;
    this.jobMarker = true;
    this.frameMs = this.leg !== undefined ? frameMs(this.leg) : 20;
    this.jobStartMs = now;
    this.jobFrames = 0;
    this.tick();
    if (this.job === job) frameClock.add(this);
  }

  /**
   * The frames of the current job that are due (the frame clock calls it). Due times count from
   * the job's start (frame n at start + n·ptime), so timer lateness does not accumulate into a
   * stream slower than real time; a late wake sends what is due, at most MAX_CATCH_UP frames.
   * Nothing may escape (it would end the worker): a throw ends the job, counted.
   */
  tick(now = performance.now()): void {
    const job = this.job;
    if (job === undefined) return;
    try {
      for (let n = 0; n < MAX_CATCH_UP && this.job === job && this.jobStartMs + this.jobFrames * this.frameMs <= now; n++) {
        this.jobFrames++;
        this.emitFrame(job);
      }
    } catch {
      this.counters.failed++;
      this.stopAll();
      return;
    }
    if (this.job !== job) return;
    // A wake so late that catching up is capped starts the schedule over from now.
    const due = this.jobStartMs + this.jobFrames * this.frameMs;
    if (due < now - MAX_CATCH_UP * this.frameMs) {
      this.jobStartMs = now;
      this.jobFrames = 0;
    }
  }

  private emitFrame(job: Job): void {
    const f = job.gen.next();
    if (f === null) {
      this.finish(job);
      return;
    }
    const pkt = Buffer.allocUnsafe(12 + f.payload.length);
    pkt[0] = 0x80;
    pkt[1] = (f.marker || this.jobMarker ? 0x80 : 0) | f.pt;
    this.jobMarker = false;
    this.seq = (this.seq + 1) & 0xffff;
    pkt.writeUInt16BE(this.seq, 2);
    pkt.writeUInt32BE((this.jobTs + f.tsOffset) >>> 0, 4);
    pkt.writeUInt32BE(this.ssrc >>> 0, 8);
    f.payload.copy(pkt, 12);
    this.ts = (this.jobTs + f.tsOffset) >>> 0;
    this.lastMs = performance.now();
    this.counters.generated++;
    this.sink.sendGenerated(pkt, pkt.length);
  }

  private finish(job: Job): void {
    this.clearTimer();
    this.job = undefined;
    // Relayed media resumes after what was generated: an event's packets all carry its start, so
    // the stream's position is the start plus the event's span, less the frame resync adds back.
    const endTs = this.jobTs + job.gen.spanTs - this.frameTs();
    if (((endTs - this.ts) | 0) > 0) this.ts = endTs >>> 0;
    this.resync = true;
    const next = this.queue.shift();
    if (next === undefined) return;
    this.pause = setTimeout(() => {
      this.pause = undefined;
      if (this.job === undefined) this.start(next);
      else this.queue.unshift(next);
    }, job.pauseAfterMs);
    this.pause.unref();
  }

  private stopAll(): void {
    this.queue.length = 0;
    this.clearPause();
    const job = this.job;
    if (job !== undefined) this.finish(job);
  }

  private clearTimer(): void {
    frameClock.remove(this);
  }

  private clearPause(): void {
    if (this.pause !== undefined) clearTimeout(this.pause);
    this.pause = undefined;
  }

  close(): void {
    this.queue.length = 0;
    this.job = undefined;
    this.clearTimer();
    this.clearPause();
  }
}
