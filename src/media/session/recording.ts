import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError, errorMessage } from '../../common/errors.js';
import type { RecordingAction, RecordingResult } from '../api.js';
import type { RecordCodec, WorkerReplyResult, WorkerRequest } from '../pool/protocol.js';
import type { MediaCall } from './call.js';

/** `--recording-dir`, `--recording-method`, `--recording-queue`. */
export interface RecordingSettings {
  dir?: string;
  method: 'pcap' | 'wav';
  queueLimit: number;
}

type WorkerRecord = (body: Extract<WorkerRequest, { op: 'record' }> extends infer R ? Omit<R, 'id'> : never) => Promise<WorkerReplyResult>;

interface Sidecar {
  'call-id': string;
  method: string;
  tags: string[];
  metadata?: string;
  files: string[];
  started: string;
  stopped?: string;
}

/**
 * Main's half of recording: the call's worker writes the media files (worker/recorder.ts); here the
 * request is checked, the file name chosen and the sidecar JSON (ng `metadata`, tags, files, times)
 * written next to them. A directory that cannot be written is an error for the ng reply; the call
 * itself is not touched.
 */
export class CallRecordings {
  private readonly sidecars = new Map<string, { path: string; body: Sidecar }>();

  constructor(private readonly settings: RecordingSettings | undefined) {}

  async record(call: MediaCall, action: RecordingAction, metadata: string | undefined, worker: WorkerRecord): Promise<RecordingResult> {
    const s = this.settings;
    if (s?.dir === undefined) throw new TandemError('CONFIG', 'recording is off: start Tandem with --recording-dir', { 'call-id': call.callId });
    const known = this.sidecars.get(call.callId);
    if (action !== 'start') {
      const reply = await worker({ op: 'record', callId: call.callId, action });
      const files = reply.op === 'record' ? reply.files : [];
      if (known !== undefined && action === 'stop') await this.finish(call);
      return { files: known !== undefined ? [...files, known.path] : files };
    }
    const base = `${safeName(call.callId)}-${randomBytes(4).toString('hex')}`;
    let files: string[];
    try {
      const reply = await worker({
        op: 'record', callId: call.callId, action: 'start',
        start: { dir: s.dir, base, method: s.method, queueLimit: s.queueLimit, bridges: call.medias.map((m) => ({ bridgeId: m.bridgeId, codecs: [codecs(m.peer[0]?.codecs), codecs(m.peer[1]?.codecs)] })) },
      });
      files = reply.op === 'record' ? reply.files : [];
    } catch (err) {
      call.log.warn({ err, dir: s.dir }, 'recording not started');
      throw new TandemError('CONFIG', `recording not started: ${errorMessage(err)}`, { 'call-id': call.callId }, { cause: err });
    }
    if (known !== undefined) {
      // A resumed recording keeps its files; new metadata replaces the old.
      if (metadata !== undefined) known.body.metadata = metadata;
      await this.write(call, known.path, known.body);
      return { files: [...files, known.path] };
    }
    const path = join(s.dir, `${base}.json`);
    const body: Sidecar = {
      'call-id': call.callId, method: s.method, tags: call.tags.filter((t): t is string => t !== undefined), files,
      started: new Date().toISOString(), ...(metadata !== undefined ? { metadata } : {}),
    };
    this.sidecars.set(call.callId, { path, body });
    await this.write(call, path, body);
    call.log.info({ files, sidecar: path }, 'recording started');
    return { files: [...files, path] };
  }

  /** The call ended (deleted, timed out, its worker failed): the worker closed its files; the sidecar says when. */
  async finish(call: MediaCall): Promise<void> {
    const known = this.sidecars.get(call.callId);
    if (known === undefined) return;
    this.sidecars.delete(call.callId);
    known.body.stopped = new Date().toISOString();
    await this.write(call, known.path, known.body);
  }

  private async write(call: MediaCall, path: string, body: Sidecar): Promise<void> {
    try {
      await writeFile(path, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o640 });
    } catch (err) {
      // The media files go on; only the sidecar is missing, and the log says so.
      call.log.warn({ err, file: path }, 'recording sidecar not written');
    }
  }
}

function codecs(list: readonly { pt: number; name: string; clockRate: number }[] | undefined): RecordCodec[] {
  return (list ?? []).map((c) => ({ pt: c.pt, name: c.name, clockRate: c.clockRate }));
}

/** A call-id as a file name: what is not [A-Za-z0-9._-] becomes `_`, at most 80 characters. */
export function safeName(callId: string): string {
  const s = callId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  return s === '' || /^\.+$/.test(s) ? 'call' : s;
}
