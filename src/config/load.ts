import { TandemError } from '../common/errors.js';
import { OPTIONS, applyOption, defaultConfig, validateConfig, type TandemConfig } from './config.js';
import { DEFAULT_LISTEN_HTTP, DEFAULT_SHUTDOWN_GRACE_S } from './ops-options.js';
import { applyConfigFile, type IgnoredOptions } from './config-file.js';

export type CliResult = { kind: 'run'; config: TandemConfig; ignored?: IgnoredOptions } | { kind: 'help' } | { kind: 'version' };

/** argv (without node and script) → config. Command line wins over the file. */
export function parseArgs(argv: string[]): CliResult {
  const cfg = defaultConfig();
  cfg.listenHttp = { ...DEFAULT_LISTEN_HTTP };
  cfg.shutdownGrace = DEFAULT_SHUTDOWN_GRACE_S;
  const pairs: [string, string][] = [];
  let configFile: string | undefined;
  let section: string | undefined;
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
    // --config is Tandem's older spelling; rtpengine's "none" means no file.
    if (m[1] === 'config-file' || m[1] === 'config') configFile = value.trim() === 'none' ? undefined : value;
    else if (m[1] === 'config-section') {
      if (!/^[^\][\s]+$/.test(value)) throw new TandemError('CONFIG', `--config-section: "${value}" is not a section name`);
      section = value;
    } else pairs.push([m[1], value]);
  }
  if (section !== undefined && configFile === undefined) throw new TandemError('CONFIG', '--config-section: only with --config-file');
  const ignored = configFile === undefined ? undefined : applyConfigFile(cfg, configFile, section ?? 'rtpengine', new Set(pairs.map(([k]) => k)));
  for (const [k, v] of pairs) applyOption(cfg, k, v);
  return { kind: 'run', config: validateConfig(cfg), ...(ignored !== undefined ? { ignored } : {}) };
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
    `  --${'config-file=FILE'.padEnd(24)} read options from FILE, rtpengine's config file: its [rtpengine] section, then [tandem]; key = value with the long option names; the command line wins; rtpengine's options Tandem lacks are logged and ignored (--config is the same; none = no file)`,
    `  --${'config-section=NAME'.padEnd(24)} the section of --config-file to read before [tandem] (default rtpengine)`,
    `  --${'help'.padEnd(24)} show this help`,
    `  --${'version'.padEnd(24)} show the version`,
    '',
  ].join('\n');
}
