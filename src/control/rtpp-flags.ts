import type { BDict, BValue } from './bencode.js';
import { TandemError } from '../common/errors.js';
import { normalizeKey } from './ng-keys.js';

/**
 * rtpengine's `rtpp-flags` (docs/ng_control_protocol.md, "parsing of option flags"): the flag string
 * of a Kamailio `rtpengine_offer("…")` sent whole, to be read as if each token had come as its key in
 * the ng dictionary:
 *
 *   replace-origin trust-address ICE=remove codec=[transcode=[PCMA PCMU] strip=[G729]] SDES-off
 *
 * - tokens are separated by whitespace; `key=value` sets a key, a bare token is a flag (`flags`), and
 *   so is `key=` with nothing after it (rtpengine reads it the same way);
 * - a value that starts with `[` is a list, or a dictionary when its first entry is `key=…`; they
 *   nest (`codec=[transcode=[PCMA PCMU]]`), and a dictionary takes only `key=value` entries;
 * - `codec-<op>-<name>`, `codec-<op>=<name or list>`, `transcode-<name>` and `transcode=…` go to the
 *   `codec` dictionary, as rtpengine does;
 * - `RTP/AVP` … `UDP/TLS/RTP/SAVPF`, and the parts `RTP`, `AVP`, `SRTP`, `AVPF`, `DTLS` combined, set
 *   `transport-protocol` (after every other token, as in rtpengine);
 * - `direction=NAME` twice, or the bare `internal`/`external`, make the `direction` list;
 * - a key given again adds to a list-valued key (`flags`, `rtcp-mux`, `SDES` …) and replaces any other.
 *
 * Keys come out normalized (ng-keys.ts). Malformed text (an unbalanced bracket, an empty key, a
 * dictionary entry without `=`, nesting or length past the limits) is a BAD_REQUEST naming the
 * problem and where it is, never a guess.
 */

export const MAX_RTPP_FLAGS_CHARS = 8192;
/** Brackets inside brackets; rtpengine's own use goes two deep (`codec=[transcode=[…]]`). */
export const MAX_RTPP_FLAGS_DEPTH = 8;

/** ng keys whose value is a list: a second token adds to it instead of replacing it. */
const LIST_KEYS: ReadonlySet<string> = new Set(['flags', 'replace', 'rtcp-mux', 'sdes', 'osrtp', 't38', 't.38', 'supports', 'direction', 'from-tags']);

const CODEC_OPS = 'strip|offer|mask|set|accept|except|transcode|consume|ignore';
const CODEC_FLAG = new RegExp(`^(?:codec-(${CODEC_OPS})|(transcode))-(.+)$`, 'i');
const CODEC_KEY = new RegExp(`^(?:codec-(${CODEC_OPS})|(transcode))$`, 'i');

const TRANSPORT_PARTS = new Set(['RTP', 'AVP', 'SRTP', 'AVPF', 'DTLS']);
const TRANSPORTS = new Set(['RTP/AVP', 'RTP/SAVP', 'RTP/AVPF', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'UDP/TLS/RTP/SAVPF']);

function fail(problem: string): never {
  throw new TandemError('BAD_REQUEST', `rtpp-flags: ${problem}`);
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

/** Reads the bracket syntax; what the tokens mean is decided by {@link parseRtppFlags}. */
class Reader {
  pos = 0;
  constructor(private readonly s: string) {}

  get done(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): string {
    return this.s[this.pos];
  }

  skipSpace(): void {
    while (!this.done && isSpace(this.s[this.pos])) this.pos++;
  }

  /** Characters up to whitespace or one of `stops`. */
  token(stops: string): string {
    const start = this.pos;
    while (!this.done && !isSpace(this.s[this.pos]) && !stops.includes(this.s[this.pos])) this.pos++;
    return this.s.slice(start, this.pos);
  }

  /** A value after `=`: a bracket list/dictionary, or text up to whitespace or a closing bracket. */
  value(depth: number): BValue {
    return this.peek() === '[' ? this.bracket(depth + 1) : this.token(']');
  }

  bracket(depth: number): BValue {
    const open = this.pos + 1;
    if (depth > MAX_RTPP_FLAGS_DEPTH) fail(`brackets nested more than ${MAX_RTPP_FLAGS_DEPTH} deep at character ${open}`);
    this.pos++;
    const list: BValue[] = [];
    let dict: BDict | undefined;
    for (;;) {
      this.skipSpace();
      if (this.done) fail(`"[" at character ${open} is never closed`);
      if (this.peek() === ']') {
        this.pos++;
        return dict ?? list;
      }
      const at = this.pos + 1;
      if (this.peek() === '[') {
        if (dict !== undefined) fail(`dictionary entry at character ${at} has no key (write key=[…])`);
        list.push(this.bracket(depth + 1));
        continue;
      }
      const tok = this.token(list.length === 0 ? '=]' : ']');
      if (this.peek() === '=' && list.length === 0) {
        if (tok === '') fail(`"=" at character ${at} has no key before it`);
        this.pos++;
        if (this.done || isSpace(this.peek()) || this.peek() === ']') fail(`key "${tok}" at character ${at} has no value`);
        dict ??= {};
        const k = normalizeKey(tok);
        dict[k] = mergeNgValue(k, dict[k], this.value(depth));
      } else if (dict !== undefined) fail(`dictionary entry "${tok}" at character ${at} has no "=" (a bracket is a dictionary when its first entry is key=value)`);
      else list.push(tok);
    }
  }
}

/** `rtpp-flags` text → the ng dictionary it stands for. Throws BAD_REQUEST naming the fault. */
export function parseRtppFlags(text: string): BDict {
  if (text.length > MAX_RTPP_FLAGS_CHARS) fail(`${text.length} characters, more than the limit of ${MAX_RTPP_FLAGS_CHARS}`);
  const r = new Reader(text);
  const out: BDict = {};
  const add = (key: string, v: BValue): void => {
    out[key] = mergeNgValue(key, out[key], v);
  };
  const transport: Transport = { srtp: false, avpf: false, dtls: false, any: false };
  for (;;) {
    r.skipSpace();
    if (r.done) break;
    const at = r.pos + 1;
    if (r.peek() === ']') fail(`"]" at character ${at} closes nothing`);
    if (r.peek() === '[') fail(`"[" at character ${at} has no key (write key=[…])`);
    if (r.peek() === '=') fail(`"=" at character ${at} has no key before it`);
    const tok = r.token('=[]');
    if (!r.done && r.peek() === '[') fail(`"[" at character ${r.pos + 1} must follow "=" (write ${tok}=[…])`);
    if (!r.done && r.peek() === ']') fail(`"]" at character ${r.pos + 1} closes nothing`);
    let value: BValue | undefined;
    if (!r.done && r.peek() === '=') {
      r.pos++;
      if (!r.done && !isSpace(r.peek())) value = r.value(0);
      if (!r.done && r.peek() === ']') fail(`"]" at character ${r.pos + 1} closes nothing`);
    }
    const key = normalizeKey(tok);
    if (key === 'rtpp-flags') fail(`rtpp-flags at character ${at} inside rtpp-flags`);
    if (value === undefined || value === '') {
      if (TRANSPORTS.has(tok) || TRANSPORT_PARTS.has(tok)) readTransport(transport, tok);
      else if (key === 'internal' || key === 'external') add('direction', key);
      else {
        const codec = CODEC_FLAG.exec(tok);
        if (codec !== null) add('codec', { [(codec[1] ?? codec[2]).toLowerCase()]: [codec[3]] });
        else add('flags', [tok]);
      }
      continue;
    }
    const codecKey = CODEC_KEY.exec(tok);
    if (codecKey !== null) {
      if (typeof value === 'object' && !Array.isArray(value)) fail(`${tok} takes a codec name or a list of them, not a dictionary`);
      add('codec', { [(codecKey[1] ?? codecKey[2]).toLowerCase()]: Array.isArray(value) ? value : [value] });
    } else add(key, value);
  }
  if (transport.any) out['transport-protocol'] = transportName(transport);
  return out;
}

interface Transport {
  srtp: boolean;
  avpf: boolean;
  dtls: boolean;
  any: boolean;
}

/**
 * rtpengine's transport flags: a whole profile sets all three properties, and the parts after it
 * change one each (`RTP`/`AVP` take security/feedback away, `SRTP`/`AVPF`/`DTLS` add them), so
 * `RTP/SAVP AVPF` is RTP/SAVPF.
 */
function readTransport(t: Transport, tok: string): void {
  t.any = true;
  if (TRANSPORTS.has(tok)) {
    t.dtls = tok.startsWith('UDP/TLS/');
    t.srtp = tok.includes('SAVP');
    t.avpf = tok.endsWith('F');
  } else if (tok === 'RTP') t.srtp = false;
  else if (tok === 'AVP') t.avpf = false;
  else if (tok === 'SRTP') t.srtp = true;
  else if (tok === 'AVPF') t.avpf = true;
  else t.dtls = true;
}

function transportName(t: Transport): string {
  // DTLS-SRTP is always secure, so DTLS with or without SRTP is the same profile.
  return `${t.dtls ? 'UDP/TLS/RTP/SAVP' : t.srtp ? 'RTP/SAVP' : 'RTP/AVP'}${t.avpf ? 'F' : ''}`;
}

const isDict = (v: BValue | undefined): v is BDict => typeof v === 'object' && !Array.isArray(v);

/**
 * A key's value when it arrives again: lists (and list-valued keys) add up, dictionaries merge key
 * by key, anything else is replaced by the newer value.
 */
export function mergeNgValue(key: string, old: BValue | undefined, v: BValue): BValue {
  if (old === undefined) return LIST_KEYS.has(key) && !Array.isArray(v) && !isDict(v) ? [v] : v;
  if (isDict(old) && isDict(v)) {
    const out: BDict = {};
    for (const [k, x] of Object.entries(old)) out[normalizeKey(k)] = x;
    for (const [k, x] of Object.entries(v)) {
      const nk = normalizeKey(k);
      out[nk] = mergeNgValue(nk, out[nk], x);
    }
    return out;
  }
  if (LIST_KEYS.has(key) || Array.isArray(old) || Array.isArray(v)) {
    if (isDict(old) || isDict(v)) return v;
    return [...(Array.isArray(old) ? old : [old]), ...(Array.isArray(v) ? v : [v])];
  }
  return v;
}
