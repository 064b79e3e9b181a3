import { TandemError } from '../common/errors.js';

/** The media workers' socket layer (issue 14; src/media/worker/media-io.ts). */
export interface IoConfig {
  /** undefined = batch when the native addon loads, else dgram with one warning; given, it is required. */
  io?: 'batch' | 'dgram';
}

type IoKey = keyof IoConfig;

export const IO_OPTIONS: readonly { key: IoKey; name: string; arg: string; help: string }[] = [
  { key: 'io', name: 'io', arg: 'batch|dgram', help: 'media socket layer: batch (the native addon: one epoll set per worker, recvmmsg/sendmmsg) or dgram (node:dgram) (default batch when the addon is built, else dgram with a warning)' },
];

export function isIoKey(key: string): key is IoKey {
  return IO_OPTIONS.some((o) => o.key === key);
}

export function applyIoOption(cfg: IoConfig, _key: IoKey, name: string, v: string, where: string): void {
  if (v !== 'batch' && v !== 'dgram') throw new TandemError('CONFIG', `${where}${name}: "${v}" must be batch or dgram`);
  cfg.io = v;
}
