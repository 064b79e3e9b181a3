import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { RecordCodec, RecordingStart, TransportAddress } from '../pool/protocol.js';
import { rtpHeaderLength } from '../rtp/packet.js';
import { decodeAlaw, decodeUlaw } from '../codecs/g711.js';
import { OpusDecoderStream } from '../codecs/opus.js';
import { Resampler } from '../codecs/resampler.js';
import { pcapGlobalHeader, pcapRecord, wavHeader, WAV_HEADER_BYTES } from './recording-format.js';
import { nowUsec, RecordingQueue, RecordingTap, type TappedPacket, type TapSink } from './recording-tap.js';
import { WavMixer } from './wav-mixer.js';

/**
 * A worker's recordings: one per recorded call, its taps on the call's bridges, and the files.
 * The packet path only copies into the queue (recording-tap.ts); the queue's drain runs on a later
 * turn of the event loop and turns packets into pcap records or decoded audio, and the writes go
 * to the file system through fs/promises (libuv's thread pool), gathered per file. A file whose
 * writes fall more than MAX_BACKLOG_BYTES behind drops what comes next (counted); a write that
 * fails (disk full, file removed) is logged once and ends that recording's writing, never the call.
 */
const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;
/** WAV audio is written this far behind the wall clock, so late packets still find their place. */
const WAV_LATENCY_USEC = 300_000;
const WAV_FLUSH_MS = 200;
const WAV_RATE = 8000;

/**
 * Appends to one file; the last write may fix a header at the start. What arrives while a write is
 * in flight is gathered and written with the next write, so a busy call costs a few writes a
 * second, not one per packet.
 */
class AppendFile {
  failed = false;
  private backlog = 0;
  private pending: Buffer[] = [];
  private writing: Promise<void> | undefined;

  private constructor(readonly path: string, private readonly fh: FileHandle, private readonly onError: (err: unknown, path: string) => void) {}

  static async create(path: string, first: Buffer, onError: (err: unknown, path: string) => void): Promise<AppendFile> {
    const fh = await open(path, 'wx', 0o640);
    const f = new AppendFile(path, fh, onError);
    f.append(first);
    return f;
  }

  /** false when the bytes were not taken (failed, or too far behind). */
  append(buf: Buffer): boolean {
    if (this.failed || this.backlog + buf.length > MAX_BACKLOG_BYTES) return false;
    this.backlog += buf.length;
    this.pending.push(buf);
    this.writing ??= this.writeLoop();
    return true;
  }

  private async writeLoop(): Promise<void> {
    // One turn later, so a drain's worth of appends goes out together.
    await new Promise<void>((r) => setImmediate(r));
    while (this.pending.length > 0 && !this.failed) {
      const batch = this.pending;
      this.pending = [];
      const buf = batch.length === 1 ? batch[0] : Buffer.concat(batch);
      try {
        // A regular file takes it all at once; a short write (a disk filling up) goes on from there.
        for (let off = 0; off < buf.length; ) {
          const n = (await this.fh.write(buf, off, buf.length - off)).bytesWritten;
          if (n <= 0) throw new Error(`write of ${buf.length - off} bytes wrote nothing`);
          off += n;
        }
      } catch (err) {
        this.failed = true;
        this.onError(err, this.path);
      }
      this.backlog -= buf.length;
    }
    this.writing = undefined;
  }

  async close(header?: Buffer): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    try {
      if (header !== undefined && !this.failed) await this.fh.write(header, 0, header.length, 0);
    } catch (err) {
      this.onError(err, this.path);
    }
    await this.fh.close().catch(() => undefined);
  }
}

/** Decodes what one side sends to 8 kHz for the WAV (G.711, Opus); other payload types are skipped. */
class SideDecoder {
  private opus: OpusDecoderStream | undefined;
  private down: Resampler | undefined;
  constructor(private readonly codecs: Map<number, RecordCodec>) {}

  decode(pt: number, payload: Buffer): { samples: Int16Array; clockRate: number } | undefined {
    const c = this.codecs.get(pt);
    const name = c?.name.toLowerCase();
    if (c === undefined || payload.length === 0) return undefined;
    if (name === 'pcma' || name === 'pcmu') {
      const samples = new Int16Array(payload.length);
      if (name === 'pcma') decodeAlaw(payload, samples);
      else decodeUlaw(payload, samples);
      return { samples, clockRate: 8000 };
    }
    if (name === 'opus') {
      this.opus ??= new OpusDecoderStream();
      this.down ??= new Resampler('48k-to-8k');
      const pcm = this.opus.decode(payload);
      const usable = pcm.length - (pcm.length % 6);
      return { samples: this.down.process(pcm.subarray(0, usable)), clockRate: 48000 };
    }
    return undefined;
  }
}

/** The sockets a recorded bridge has: where each side's packets are faked to come from or go to. */
export interface TappableBridge {
  readonly bridgeId: number;
  readonly local: [TransportAddress, TransportAddress];
  readonly sides: [{ tap: RecordingTap | undefined }, { tap: RecordingTap | undefined }];
}

class CallRecording implements TapSink {
  paused = false;
  closed = false;
  failed = false;
  dropped = 0;
  readonly files: string[] = [];
  private pcap: AppendFile | undefined;
  private wav: AppendFile | undefined;
  private wavBytes = 0;
  private readonly mixer = new WavMixer();
  private readonly startUsec = nowUsec();
  private ipId = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly local = new Map<number, [TransportAddress, TransportAddress]>();
  /** The bridge whose audio goes into the WAV (the call's first), and its decoders per side. */
  private wavBridge = -1;
  private decoders: [SideDecoder, SideDecoder] | undefined;
  readonly bridges = new Set<number>();

  constructor(readonly callId: string, private readonly log: Logger, private readonly onWriteError: () => void) {}

  get taking(): boolean {
    return !this.paused && !this.closed && !this.failed;
  }

  async openFiles(s: RecordingStart): Promise<void> {
    const onError = (err: unknown, path: string): void => {
      if (!this.failed) this.log.warn({ callId: this.callId, file: path, err }, 'recording write failed; this call is no longer recorded');
      this.failed = true;
      this.onWriteError();
    };
    try {
      await mkdir(s.dir, { recursive: true });
      const path = join(s.dir, `${s.base}.${s.method}`);
      const file = await AppendFile.create(path, s.method === 'pcap' ? pcapGlobalHeader() : wavHeader(2, WAV_RATE, 0), onError);
      if (s.method === 'pcap') this.pcap = file;
      else this.wav = file;
      this.files.push(path);
    } catch (err) {
      // CONFIG, not the errno: the pool would read EACCES as a port someone else holds.
      throw new TandemError('CONFIG', `cannot write the recording in ${s.dir}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
    }
    const first = s.bridges[0];
    if (this.wav !== undefined && first !== undefined) {
      this.wavBridge = first.bridgeId;
      this.decoders = [new SideDecoder(new Map(first.codecs[0].map((c) => [c.pt, c]))), new SideDecoder(new Map(first.codecs[1].map((c) => [c.pt, c])))];
      this.timer = setInterval(() => this.flushWav(false), WAV_FLUSH_MS);
      this.timer.unref();
    }
  }

  attach(bridge: TappableBridge, queue: RecordingQueue): void {
    this.local.set(bridge.bridgeId, bridge.local);
    this.bridges.add(bridge.bridgeId);
    const tap = new RecordingTap(this, queue, bridge.bridgeId);
    bridge.sides[0].tap = tap;
    bridge.sides[1].tap = tap;
  }

  consume(p: TappedPacket): void {
    if (this.pcap !== undefined) {
      const local = this.local.get(p.bridge)?.[p.side] ?? { address: '0.0.0.0', port: 0 };
      const peer = p.peer ?? { address: '0.0.0.0', port: 0 };
      const rec = p.inbound ? pcapRecord(p.data, peer, local, p.usec, this.ipId++) : pcapRecord(p.data, local, peer, p.usec, this.ipId++);
      if (!this.pcap.append(rec)) this.dropped++;
    }
    if (this.decoders !== undefined && p.inbound && p.bridge === this.wavBridge) {
      const hdr = rtpHeaderLength(p.data, p.data.length);
      if (hdr < 0) return;
      const end = p.data[0] & 0x20 ? p.data.length - p.data[p.data.length - 1] : p.data.length;
      let decoded: { samples: Int16Array; clockRate: number } | undefined;
      try {
        decoded = this.decoders[p.side].decode(p.data[1] & 0x7f, p.data.subarray(hdr, Math.max(hdr, end)));
      } catch {
        this.dropped++;
        return;
      }
      if (decoded === undefined) return;
      this.mixer.place(p.side, p.data.readUInt32BE(8), p.data.readUInt32BE(4), decoded.clockRate, p.usec - this.startUsec, decoded.samples);
    }
  }

  private flushWav(final: boolean): void {
    if (this.wav === undefined) return;
    const horizon = final ? this.mixer.end : Math.floor(((nowUsec() - this.startUsec - WAV_LATENCY_USEC) * WAV_RATE) / 1e6);
    if (this.paused && !final) return;
    for (let chunk = this.mixer.take(horizon); chunk !== undefined; chunk = this.mixer.take(horizon)) {
      if (this.wav.append(chunk)) this.wavBytes += chunk.length;
      else this.dropped++;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.flushWav(true);
    this.dropped += this.mixer.dropped;
    await this.pcap?.close();
    await this.wav?.close(wavHeader(2, WAV_RATE, this.wavBytes));
    this.log.info({ callId: this.callId, files: this.files, dropped: this.dropped, wavBytes: this.wav !== undefined ? this.wavBytes + WAV_HEADER_BYTES : undefined }, 'recording closed');
  }
}

/** The worker's recordings, by call-id. */
export class Recorder {
  readonly queue = new RecordingQueue();
  errors = 0;
  private closedDropped = 0;
  private readonly calls = new Map<string, CallRecording>();

  constructor(private readonly log: Logger) {}

  /** Packets not recorded: the queue was full, a file was too far behind, or audio could not be placed. */
  get dropped(): number {
    let n = this.queue.dropped + this.closedDropped;
    for (const c of this.calls.values()) n += c.dropped;
    return n;
  }

  /** Starts recording a call's bridges, or resumes a paused recording. Returns the files. */
  async start(callId: string, s: RecordingStart, bridgeOf: (id: number) => TappableBridge | undefined): Promise<string[]> {
    this.queue.limit = s.queueLimit;
    const existing = this.calls.get(callId);
    if (existing !== undefined) {
      existing.paused = false;
      return existing.files;
    }
    const rec = new CallRecording(callId, this.log, () => this.errors++);
    await rec.openFiles(s);
    this.calls.set(callId, rec);
    for (const b of s.bridges) {
      const bridge = bridgeOf(b.bridgeId);
      if (bridge !== undefined) rec.attach(bridge, this.queue);
    }
    this.log.info({ callId, files: rec.files }, 'recording started');
    return rec.files;
  }

  pause(callId: string): string[] {
    const rec = this.calls.get(callId);
    if (rec !== undefined) rec.paused = true;
    return rec?.files ?? [];
  }

  /** Stops a call's recording: taps off, what is queued written, files closed. */
  async stop(callId: string, bridgeOf: (id: number) => TappableBridge | undefined): Promise<string[]> {
    const rec = this.calls.get(callId);
    if (rec === undefined) return [];
    for (const id of rec.bridges) {
      const b = bridgeOf(id);
      if (b !== undefined) {
        b.sides[0].tap = undefined;
        b.sides[1].tap = undefined;
      }
    }
    this.queue.drain();
    this.calls.delete(callId);
    await rec.close();
    this.closedDropped += rec.dropped;
    return rec.files;
  }

  /**
   * A recorded bridge is going away; the recording ends with the call's last one. The caller awaits
   * the files' close so that the destroy reply (and the sidecar's `stopped`) comes after the WAV
   * header holds its final sizes.
   */
  async bridgeClosed(callId: string, bridgeId: number, bridgeOf: (id: number) => TappableBridge | undefined): Promise<void> {
    const rec = this.calls.get(callId);
    if (rec === undefined || !rec.bridges.has(bridgeId)) return;
    rec.bridges.delete(bridgeId);
    if (rec.bridges.size === 0) await this.stop(callId, bridgeOf);
  }
}
