import { TandemError } from '../common/errors.js';

/** Shared state (`--redis`): media sessions and registrations written to Redis, taken over at start. */
export interface StateConfig {
  /** redis:// or rediss:// URL; undefined = state stays in this process. */
  redis?: string;
}

type StateKey = keyof StateConfig;

export const STATE_OPTIONS: readonly { key: StateKey; name: string; arg: string; help: string }[] = [
  { key: 'redis', name: 'redis', arg: 'URL', help: 'write media sessions and registrations to Redis (redis://[:PASSWORD@]HOST:PORT[/DB]); a Tandem started with the same URL and interface takes over the sessions a dead one left (default: none, state in memory)' },
];

export function isStateKey(key: string): key is StateKey {
  return STATE_OPTIONS.some((o) => o.key === key);
}

export function applyStateOption(cfg: StateConfig, _key: StateKey, name: string, v: string, where: string): void {
  if (v.toLowerCase() === 'none') {
    delete cfg.redis;
    return;
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new TandemError('CONFIG', `${where}${name}: "${v}" is not a URL (redis://HOST:PORT)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new TandemError('CONFIG', `${where}${name}: "${url.protocol}" must be redis: or rediss:`);
  if (url.hostname === '') throw new TandemError('CONFIG', `${where}${name}: needs a host`);
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,2}$/.test(url.pathname)) throw new TandemError('CONFIG', `${where}${name}: "${url.pathname}" must be a database number, e.g. /0`);
  cfg.redis = v;
}
