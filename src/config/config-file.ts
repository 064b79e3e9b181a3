import { readFileSync } from 'node:fs';
import { TandemError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { OPTIONS, applyOption, type TandemConfig } from './config.js';
import { isRtpengineOnlyOption, rtpengineValue } from './rtpengine-options.js';

/**
 * rtpengine's config file (`--config-file`, `--config-section`; glib's key file format, which
 * rtpengine reads): `[section]` headers, `key = value` lines with the long option names, `#` (and
 * `;`) comment lines, `\s \t \n \r \\` escapes, lists separated by `;` (`interface = a;b`).
 *
 * Tandem reads the named section (default `rtpengine`) and then `[tandem]`, whose values win
 * (the named section's value for the same key is not read); other sections are skipped. An option Tandem has is applied (unless the command line gives it:
 * the command line wins, and the file's value is then not even read); an option only rtpengine has
 * is ignored and reported once, as is, in the rtpengine section, a key neither knows (a newer
 * rtpengine's option, or a typo). In `[tandem]` an unknown key is an error. A malformed line is an
 * error naming file:line.
 */

/** Options whose file value Tandem does not apply, for one log line at start. */
export interface IgnoredOptions {
  file: string;
  section: string;
  /** rtpengine's options Tandem does not have, as `key (file:line)`. */
  rtpengineOnly: string[];
  /** keys neither knows. */
  unknown: string[];
}

interface Entry {
  section: string;
  key: string;
  value: string;
  line: number;
}

/** A bigger file is not a config file; reading it whole would be the fault. */
const MAX_FILE_BYTES = 1024 * 1024;

function unescape(v: string, where: string): string {
  return v.replace(/\\(.?)/g, (_m, c: string) => {
    const out = ({ s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' } as Record<string, string>)[c];
    if (out === undefined) throw new TandemError('CONFIG', `${where}invalid escape "\\${c}" (\\s \\n \\t \\r \\\\)`);
    return out;
  });
}

/** Every `key = value` of the file, with its section and line, and the sections. Throws CONFIG naming file:line. */
export function readKeyFile(path: string): { entries: Entry[]; sections: Set<string> } {
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_FILE_BYTES) throw new Error(`${buf.length} bytes, more than ${MAX_FILE_BYTES}`);
    // An editor's byte-order mark is not part of the first line.
    text = buf.toString('utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    throw new TandemError('CONFIG', `--config-file: cannot read ${path}: ${(e as Error).message}`);
  }
  const entries: Entry[] = [];
  const sections = new Set<string>();
  let section: string | undefined;
  text.split('\n').forEach((raw, i) => {
    const where = `${path}:${i + 1}: `;
    const t = raw.replace(/\r$/, '').trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
    if (t.startsWith('[')) {
      const m = /^\[([^\][]+)\]$/.exec(t);
      if (m === null) throw new TandemError('CONFIG', `${where}"${t.slice(0, 80)}" is not a [section] header`);
      section = m[1].trim();
      sections.add(section);
      return;
    }
    const eq = t.indexOf('=');
    if (eq < 0) throw new TandemError('CONFIG', `${where}expected key = value`);
    const key = t.slice(0, eq).trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new TandemError('CONFIG', `${where}"${key.slice(0, 80)}" is not an option name`);
    if (section === undefined) throw new TandemError('CONFIG', `${where}${key}: a key before any [section] (options go in [rtpengine] or [tandem])`);
    entries.push({ section, key: key.replace(/_/g, '-').toLowerCase(), value: unescape(t.slice(eq + 1).trim(), `${where}${key}: `), line: i + 1 });
  });
  return { entries, sections };
}

/**
 * Applies the file's `section` and `[tandem]` to `cfg`, skipping options in `fromCommandLine`.
 * Returns what was ignored.
 */
export function applyConfigFile(cfg: TandemConfig, path: string, section: string, fromCommandLine: ReadonlySet<string>): IgnoredOptions {
  const { entries, sections } = readKeyFile(path);
  const ignored: IgnoredOptions = { file: path, section, rtpengineOnly: [], unknown: [] };
  const chosen = entries.filter((e) => e.section === section);
  const tandem = section === 'tandem' ? [] : entries.filter((e) => e.section === 'tandem');
  if (!sections.has(section) && !sections.has('tandem'))
    throw new TandemError('CONFIG', `--config-file: ${path} has no [${section}]${section === 'tandem' ? '' : ' or [tandem]'} section (see --config-section)`);
  // [tandem] wins the way the command line does: the other section's value is not read at all
  // (so list options such as interface are replaced, not added to).
  const tandemKeys = new Set(tandem.map((e) => e.key));
  for (const e of [...chosen, ...tandem]) {
    const where = `${path}:${e.line}: `;
    if (e.key === 'config-file' || e.key === 'config-section' || e.key === 'config') throw new TandemError('CONFIG', `${where}${e.key}: only on the command line`);
    if (fromCommandLine.has(e.key) || (e.section !== 'tandem' && tandemKeys.has(e.key))) continue;
    if (OPTIONS.some((o) => o.name === e.key)) {
      applyOption(cfg, e.key, e.section === 'tandem' ? e.value : rtpengineValue(where, e.key, e.value), where);
      continue;
    }
    if (e.section === 'tandem') throw new TandemError('CONFIG', `${where}${e.key}: unknown option (see --help)`);
    (isRtpengineOnlyOption(e.key) ? ignored.rtpengineOnly : ignored.unknown).push(`${e.key} (${path}:${e.line})`);
  }
  return ignored;
}

/** One warn line at start for what the file had that Tandem does not apply (nothing when all applied). */
export function logIgnoredOptions(log: Logger, ignored: IgnoredOptions | undefined): void {
  if (ignored === undefined || ignored.rtpengineOnly.length + ignored.unknown.length === 0) return;
  log.warn({ file: ignored.file, section: ignored.section, rtpengineOnly: ignored.rtpengineOnly, unknown: ignored.unknown }, 'config file: options Tandem does not have are ignored');
}
