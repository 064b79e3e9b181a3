import { readFileSync } from 'node:fs';
import { TandemError } from '../common/errors.js';
import { OPTIONS, applyOption, defaultConfig, validateConfig, type TandemConfig } from './config.js';
import { DEFAULT_LISTEN_HTTP } from './ops-options.js';

export type CliResult = { kind: 'run'; config: TandemConfig } | { kind: 'help' } | { kind: 'version' };

/**
 * Reads an rtpengine-style config file: `[tandem]` (or `[rtpengine]`) section, `key = value`,
 * `#` comments. Keys are the long option names.
 */
export function readConfigFile(path: string, cfg: TandemConfig): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TandemError('CONFIG', `--config: cannot read ${path}: ${(e as Error).message}`);
  }
  let section = '';
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
    const sec = /^\[([^\]]+)\]$/.exec(t);
    if (sec !== null) {
      section = sec[1].trim();
      return;
    }
    const where = `${path}:${i + 1}: `;
    if (section !== 'tandem' && section !== 'rtpengine') throw new TandemError('CONFIG', `${where}settings belong in a [tandem] section`);
    const kv = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(t);
    if (kv === null) throw new TandemError('CONFIG', `${where}expected key = value`);
    applyOption(cfg, kv[1].replace(/_/g, '-'), kv[2], where);
  });
}

/** argv (without node and script) → config. Command line wins over the file. */
export function parseArgs(argv: string[]): CliResult {
  const cfg = defaultConfig();
  cfg.listenHttp = { ...DEFAULT_LISTEN_HTTP };
  const pairs: [string, string][] = [];
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return { kind: 'help' };
    if (a === '--version' || a === '-v') return { kind: 'version' };
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (m === null) throw new TandemError('CONFIG', `unexpected argument "${a}" (see --help)`);
    let value = m[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new TandemError('CONFIG', `--${m[1]}: needs a value`);
      i++;
    }
    if (m[1] === 'config') configFile = value;
    else pairs.push([m[1], value]);
  }
  if (configFile !== undefined) readConfigFile(configFile, cfg);
  for (const [k, v] of pairs) applyOption(cfg, k, v);
  return { kind: 'run', config: validateConfig(cfg) };
}

export function helpText(): string {
  const lines = OPTIONS.map((o) => `  --${`${o.name}=${o.arg}`.padEnd(24)} ${o.help}`);
  return [
    'Usage: tandem [options]',
    '       tandem call sip:USER@HOST[:PORT] [options]   one test call with real media (tandem call --help)',
    '       tandem answer [--listen udp:IP:PORT] [options]   answer one test call (tandem answer --help)',
    '       tandem passwd FILE USER [--realm=REALM]    set a password in an --auth-users file',
    '',
    'Media-aware SIP B2BUA with an rtpengine-compatible (ng protocol) media plane.',
    '',
    'Options:',
    ...lines,
    `  --${'config=FILE'.padEnd(24)} read options from FILE ([tandem] section, key = value)`,
    `  --${'help'.padEnd(24)} show this help`,
    `  --${'version'.padEnd(24)} show the version`,
    '',
  ].join('\n');
}
