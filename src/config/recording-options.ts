import { isAbsolute, resolve } from 'node:path';
import { TandemError } from '../common/errors.js';
import { wholeNumber } from './values.js';

/** Call recording (ng `start recording`, the `record-call` flag), in rtpengine's option names. */
export interface RecordingConfig {
  /** Where recordings go; undefined = recording is off (ng recording commands get an error). */
  recordingDir?: string;
  recordingMethod: 'pcap' | 'wav';
  /** Packets each media worker's recording queue holds; more are dropped and counted, never waited for. */
  recordingQueue: number;
}

type RecordingKey = keyof RecordingConfig;

export const RECORDING_OPTIONS: readonly { key: RecordingKey; name: string; arg: string; help: string }[] = [
  { key: 'recordingDir', name: 'recording-dir', arg: 'DIR', help: 'directory recordings are written to (made if missing); without it recording is off' },
  { key: 'recordingMethod', name: 'recording-method', arg: 'pcap|wav', help: 'pcap: both legs\' RTP as received and sent, decrypted, with fake IPv4/UDP headers; wav: one stereo file per call, leg A left, leg B right (default pcap)' },
  { key: 'recordingQueue', name: 'recording-queue', arg: 'INT', help: 'packets each media worker queues for its recordings; more are dropped and counted (default 4096)' },
];

export function recordingDefaults(): RecordingConfig {
  return { recordingMethod: 'pcap', recordingQueue: 4096 };
}

export function isRecordingKey(key: string): key is RecordingKey {
  return RECORDING_OPTIONS.some((o) => o.key === key);
}

export function applyRecordingOption(cfg: RecordingConfig, key: RecordingKey, name: string, v: string, where: string): void {
  switch (key) {
    case 'recordingDir':
      if (v.trim() === '' || v.includes('\0')) throw new TandemError('CONFIG', `${where}${name}: needs a directory`);
      cfg.recordingDir = isAbsolute(v) ? v : resolve(v);
      return;
    case 'recordingMethod': {
      const m = v.trim().toLowerCase();
      if (m !== 'pcap' && m !== 'wav') throw new TandemError('CONFIG', `${where}${name}: "${v}" is not pcap or wav`);
      cfg.recordingMethod = m;
      return;
    }
    case 'recordingQueue':
      cfg.recordingQueue = wholeNumber(where, name, v, 16, 1_000_000);
  }
}

/** The media plane's recording and DTMF settings as LocalMedia takes them (main.ts passes them through). */
export function mediaRecordingOptions(c: RecordingConfig & { dtmfNoSuppress: boolean }): { dtmfNoSuppress?: true; recording: { dir?: string; method: 'pcap' | 'wav'; queueLimit: number } } {
  return {
    ...(c.dtmfNoSuppress ? { dtmfNoSuppress: true as const } : {}),
    recording: { ...(c.recordingDir !== undefined ? { dir: c.recordingDir } : {}), method: c.recordingMethod, queueLimit: c.recordingQueue },
  };
}
