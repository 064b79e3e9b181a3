import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { isLogLevel } from '../common/log.js';

/** Tandem's configuration. Option names follow rtpengine's so users can migrate. */
export interface TandemConfig {
  interface: string;
  listenNg: { address: string; port: number };
  portMin: number;
  portMax: number;
  numThreads: number;
  logLevel: string;
  maxSessions: number;
  /** Seconds without RTP before a call is ended. */
  timeout: number;
}

export interface OptionSpec {
  key: keyof TandemConfig;
  name: string;
  arg: string;
  help: string;
}

/** One table drives --help, the config file keys and validation. */
export const OPTIONS: readonly OptionSpec[] = [
  { key: 'interface', name: 'interface', arg: 'IP', help: 'address media sockets bind to and SDP advertises (default 127.0.0.1)' },
  { key: 'listenNg', name: 'listen-ng', arg: 'IP:PORT', help: 'ng control protocol listener (default 127.0.0.1:22222)' },
  { key: 'portMin', name: 'port-min', arg: 'INT', help: 'lowest media port (default 30000)' },
  { key: 'portMax', name: 'port-max', arg: 'INT', help: 'highest media port (default 40000)' },
  { key: 'numThreads', name: 'num-threads', arg: 'INT', help: 'media worker threads (default: number of cores)' },
  { key: 'logLevel', name: 'log-level', arg: 'LEVEL', help: 'fatal|error|warn|info|debug|trace (default info)' },
  { key: 'maxSessions', name: 'max-sessions', arg: 'INT', help: 'concurrent calls before answering "load limit" (default 0 = no limit)' },
  { key: 'timeout', name: 'timeout', arg: 'SECONDS', help: 'end a call after this long without media (default 60)' },
];

export function defaultConfig(): TandemConfig {
  return {
    interface: '127.0.0.1',
    listenNg: { address: '127.0.0.1', port: 22222 },
    portMin: 30000,
    portMax: 40000,
    numThreads: Math.max(1, availableParallelism()),
    logLevel: 'info',
    maxSessions: 0,
    timeout: 60,
  };
}

function int(name: string, raw: string, min: number, max: number, where: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new TandemError('CONFIG', `${where}${name}: "${raw}" is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new TandemError('CONFIG', `${where}${name}: ${n} is outside ${min}–${max}`);
  return n;
}

/** Applies one option given as text (from argv or a config file). `where` prefixes errors. */
export function applyOption(cfg: TandemConfig, name: string, raw: string, where = '--'): void {
  const spec = OPTIONS.find((o) => o.name === name);
  if (spec === undefined) throw new TandemError('CONFIG', `${where}${name}: unknown option (see --help)`);
  const v = raw.trim();
  switch (spec.key) {
    case 'interface':
      if (isIP(v) === 0) throw new TandemError('CONFIG', `${where}${name}: "${raw}" is not an IP address`);
      cfg.interface = v;
      break;
    case 'listenNg': {
      const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v) ?? /^(\d+)$/.exec(v);
      if (m === null) throw new TandemError('CONFIG', `${where}${name}: "${raw}" must be IP:PORT`);
      const address = m.length === 2 ? '127.0.0.1' : (m[1] ?? m[2]);
      const port = int(name, m.length === 2 ? m[1] : m[3], 0, 65535, where);
      if (isIP(address) === 0) throw new TandemError('CONFIG', `${where}${name}: "${address}" is not an IP address`);
      cfg.listenNg = { address, port };
      break;
    }
    case 'portMin':
      cfg.portMin = int(name, v, 1024, 65535, where);
      break;
    case 'portMax':
      cfg.portMax = int(name, v, 1024, 65535, where);
      break;
    case 'numThreads':
      cfg.numThreads = int(name, v, 1, 256, where);
      break;
    case 'logLevel':
      if (!isLogLevel(v)) throw new TandemError('CONFIG', `${where}${name}: "${raw}" is not one of fatal, error, warn, info, debug, trace, silent`);
      cfg.logLevel = v;
      break;
    case 'maxSessions':
      cfg.maxSessions = int(name, v, 0, 10_000_000, where);
      break;
    case 'timeout':
      cfg.timeout = int(name, v, 0, 86_400, where);
      break;
  }
}

/** Checks that need several options at once. */
export function validateConfig(cfg: TandemConfig): TandemConfig {
  if (cfg.portMin > cfg.portMax) throw new TandemError('CONFIG', `--port-min (${cfg.portMin}) is above --port-max (${cfg.portMax})`);
  if (cfg.portMax - cfg.portMin < 3) throw new TandemError('CONFIG', `--port-min/--port-max: the range must hold at least two port pairs`);
  return cfg;
}
