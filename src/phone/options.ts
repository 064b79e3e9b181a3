import { TandemError } from '../common/errors.js';
import { isLogLevel } from '../common/log.js';
import { wholeNumber } from '../config/values.js';
import { localAudioCodec, type LocalAudioCodec } from '../media/codecs/codec.js';
import { parseDigits } from './dtmf.js';

/**
 * `tandem call` and `tandem answer` options. Every fault is a CONFIG error naming the option;
 * the CLI turns it into exit code 2.
 */
export interface PhoneOptions {
  mode: 'call' | 'answer';
  /** call: the URI dialled. */
  target?: string;
  /** answer: where to listen. */
  listen?: { protocol: 'udp' | 'tcp'; address: string; port: number };
  transport?: 'udp' | 'tcp' | 'tls';
  user?: string;
  password?: string;
  codecs: LocalAudioCodec[];
  play?: string;
  /** Hz; 0 = silence. */
  tone: number;
  record?: string;
  dtmf: string;
  /** call: seconds from the answer to our BYE. answer: the same, 0 = until the caller hangs up. */
  durationS: number;
  /** call: seconds to wait for a final response; answer: for a call to arrive. */
  answerTimeoutS: number;
  json: boolean;
  tlsCa?: string;
  logLevel: string;
}

export const CALL_USAGE = `Usage: tandem call sip:USER@HOST[:PORT] [options]
  --transport udp|tcp|tls   (default: the URI's ;transport=, else udp; sips: is tls)
  --user U --password P     answer a 401/407 challenge once (the password shows in ps: prefer a test account)
  --codecs PCMA,PCMU,G722,opus  offered, in order (default PCMA,PCMU)
  --tone HZ | --play F.wav  what we send (default --tone 440; --tone 0 is silence; a WAV is looped)
  --record OUT.wav          what we hear, 8 kHz 16-bit mono
  --dtmf DIGITS             RFC 4733 telephone-events, from 1 s after the answer (0-9 * # A-D)
  --duration S              hang up S seconds after the answer (default 10)
  --answer-timeout S        give up (CANCEL) without a final response after S seconds (default 30)
  --tls-ca FILE             CA certificates for a TLS target (default the system's)
  --json                    one JSON object instead of the text summary
  --log-level LEVEL         SIP stack logs on stderr (default warn)
Exit: 0 connected and media both ways, 2 bad option, 3 refused (final 3xx-6xx, a second challenge),
      4 no answer (timeout, nothing listening, CANCELled), 5 connected without media both ways, 1 other.
`;

export const ANSWER_USAGE = `Usage: tandem answer [--listen udp|tcp:IP:PORT] [options]
  --listen udp:127.0.0.1:5062   where to take one call (default; loopback unless told)
  --codecs, --tone HZ | --play F.wav, --record OUT.wav, --dtmf, --json, --log-level: as tandem call (default --tone 1000)
  --duration S              hang up S seconds after answering (default 0: when the caller hangs up, at most 1 h)
  --answer-timeout S        give up if no call arrives within S seconds (default 60)
Exit codes as tandem call (4: no call arrived).
`;

const VALUE_OPTIONS = new Set(['--transport', '--user', '--password', '--codecs', '--play', '--tone', '--record', '--dtmf', '--duration', '--answer-timeout', '--tls-ca', '--log-level', '--listen']);
const CALL_ONLY = new Set(['--transport', '--user', '--password', '--tls-ca']);

function bad(option: string, why: string): never {
  throw new TandemError('CONFIG', `${option}: ${why}`);
}

export function parseCodecs(text: string): LocalAudioCodec[] {
  const names = text.split(',').map((s) => s.trim());
  const out: LocalAudioCodec[] = [];
  for (const n of names) {
    const c = localAudioCodec(n);
    if (c === undefined) bad('--codecs', `"${n.slice(0, 32)}" is not one of PCMA, PCMU, G722, opus`);
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

export function parseListen(text: string): NonNullable<PhoneOptions['listen']> {
  const m = /^(udp|tcp):(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(text);
  if (m === null) bad('--listen', `"${text.slice(0, 64)}" is not udp:IP:PORT or tcp:IP:PORT (IPv4)`);
  if (m[2].split('.').some((o) => Number(o) > 255)) bad('--listen', `${m[2]} is not an IPv4 address`);
  return { protocol: m[1] as 'udp' | 'tcp', address: m[2], port: wholeNumber('', '--listen', m[3], 0, 65535) };
}

/** argv after `call`/`answer` → options, or 'help'. */
export function parsePhoneArgs(mode: 'call' | 'answer', argv: readonly string[]): PhoneOptions | 'help' {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return 'help';
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    if (name === '--json') {
      if (eq >= 0) bad('--json', 'takes no value');
      flags.add(name);
      continue;
    }
    if (!VALUE_OPTIONS.has(name) || (mode === 'answer' && CALL_ONLY.has(name)) || (mode === 'call' && name === '--listen')) bad(name.slice(0, 40), `unknown option for tandem ${mode}`);
    const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined || v === '') bad(name, 'needs a value');
    if (values.has(name)) bad(name, 'given twice');
    values.set(name, v);
  }
  const v = (k: string): string | undefined => values.get(k);
  let target: string | undefined;
  if (mode === 'call') {
    if (positional.length !== 1) bad('target', positional.length === 0 ? 'missing (tandem call sip:USER@HOST[:PORT])' : `one URI expected, got ${positional.length} words`);
    target = positional[0];
  } else if (positional.length > 0) bad(positional[0].slice(0, 40), 'unexpected argument (tandem answer takes options only)');
  const transport = v('--transport');
  if (transport !== undefined && !['udp', 'tcp', 'tls'].includes(transport)) bad('--transport', `"${transport.slice(0, 16)}" is not udp, tcp or tls`);
  const user = v('--user');
  const password = v('--password');
  if ((user === undefined) !== (password === undefined)) bad(user === undefined ? '--user' : '--password', '--user and --password go together');
  for (const [k, x] of [['--user', user], ['--password', password]] as const) if (x !== undefined && /[\r\n\0"\\]/.test(x)) bad(k, 'must not contain CR, LF, NUL, " or \\');
  if (v('--play') !== undefined && v('--tone') !== undefined) bad('--play', 'give --play or --tone, not both');
  const logLevel = v('--log-level') ?? 'warn';
  if (!isLogLevel(logLevel)) bad('--log-level', `"${logLevel.slice(0, 16)}" is not fatal, error, warn, info, debug, trace or silent`);
  const tone = v('--tone');
  const dtmf = v('--dtmf');
  return {
    mode,
    ...(target !== undefined ? { target } : {}),
    ...(mode === 'answer' ? { listen: parseListen(v('--listen') ?? 'udp:127.0.0.1:5062') } : {}),
    ...(transport !== undefined ? { transport: transport as 'udp' | 'tcp' | 'tls' } : {}),
    ...(user !== undefined && password !== undefined ? { user, password } : {}),
    codecs: parseCodecs(v('--codecs') ?? 'PCMA,PCMU'),
    ...(v('--play') !== undefined ? { play: v('--play') } : {}),
    tone: tone === undefined ? (v('--play') !== undefined ? 0 : mode === 'call' ? 440 : 1000) : toneHz(tone),
    ...(v('--record') !== undefined ? { record: v('--record') } : {}),
    dtmf: dtmf === undefined ? '' : parseDigits(dtmf),
    durationS: wholeNumber('', '--duration', v('--duration') ?? (mode === 'call' ? '10' : '0'), mode === 'call' ? 1 : 0, 3600),
    answerTimeoutS: wholeNumber('', '--answer-timeout', v('--answer-timeout') ?? (mode === 'call' ? '30' : '60'), 1, 3600),
    json: flags.has('--json'),
    ...(v('--tls-ca') !== undefined ? { tlsCa: v('--tls-ca') } : {}),
    logLevel,
  };
}

function toneHz(text: string): number {
  const hz = wholeNumber('', '--tone', text, 0, 3900);
  if (hz !== 0 && hz < 50) bad('--tone', `${hz} Hz: 0 (silence) or 50–3900`);
  return hz;
}
