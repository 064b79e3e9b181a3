import { TandemError } from '../common/errors.js';

/**
 * Strict bencode, the encoding of rtpengine's ng protocol (rtpengine docs/ng_control_protocol.md).
 * Grammar (BitTorrent BEP 3, "bencoding"):
 *
 *   value  = int | string | list | dict
 *   int    = "i" ( "0" | ["-"] nzdigit *digit ) "e"      ; no "-0", no leading zeros
 *   string = ( "0" | nzdigit *digit ) ":" <that many bytes>
 *   list   = "l" *value "e"
 *   dict   = "d" *( string value ) "e"                   ; keys sorted by raw bytes on output
 *
 * Mapping to JS (documented choices):
 * - Strings decode as UTF-8 JS strings. Invalid UTF-8 becomes U+FFFD, so only valid UTF-8 (which
 *   is all ng sends: keys, flags, SDP) round-trips byte for byte. Encoding measures strings with
 *   their UTF-8 byte length.
 * - Integers are JS numbers and must be safe integers (|n| ≤ 2^53 − 1) both ways.
 * - Dictionaries decode as null-prototype objects, so a key named `__proto__` is plain data.
 * - Input dictionaries need not be sorted (Kamailio's rtpengine module sends them unsorted), but
 *   duplicate keys are rejected. Output dictionaries are always sorted by the keys' UTF-8 bytes.
 * - Containers nest at most {@link MAX_DEPTH} deep, both ways (ng messages nest 3–4 deep).
 * - Decoding stops after {@link MAX_ELEMENTS} values (strings, integers, lists, dictionaries and
 *   keys all count), so a datagram of `lelelele…` cannot make tens of thousands of objects.
 */
export type BValue = string | number | BValue[] | BDict;
export interface BDict {
  [key: string]: BValue;
}

/** Malformed bencode. `offset` is the byte where decoding failed (for encode: always 0). */
export class BencodeError extends TandemError {
  readonly offset: number;

  constructor(message: string, offset: number) {
    super('BENCODE', `bencode: ${message} at byte ${offset}`);
    this.name = 'BencodeError';
    this.offset = offset;
  }
}

/** Deepest nesting of lists/dictionaries accepted (a top-level list alone is depth 1). */
export const MAX_DEPTH = 64;

/**
 * Most values one decode accepts by default. An ng request is a few dozen (a WebRTC offer with
 * every flag: ~100) and a `list` reply one per call-id; 65507 bytes hold at most ~32 000.
 */
export const MAX_ELEMENTS = 10_000;

export interface DecodeOptions {
  /** Most values accepted (default {@link MAX_ELEMENTS}). */
  maxElements?: number;
}

const COLON = 0x3a;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const E = 0x65;
const I = 0x69;
const L = 0x6c;
const D = 0x64;
/** Longest length prefix we read: 9 digits is < 1 GB, more than any datagram or stream frame. */
const MAX_LEN_DIGITS = 9;
/** Longest integer body: "-9007199254740991" is 17 characters. */
const MAX_INT_CHARS = 17;

// ---------------------------------------------------------------------------------------------
// encode

/**
 * Encodes one value. The output is built as a JS string and converted to UTF-8 once: every
 * string's bytes sit between ASCII delimiters, so the concatenation encodes to exactly the
 * concatenation of the parts, and the length prefixes use the same UTF-8 byte count.
 */
export function encode(v: BValue): Buffer {
  return Buffer.from(encodeToString(v, 0), 'utf8');
}

function encodeToString(v: BValue, depth: number): string {
  if (typeof v === 'string') return `${Buffer.byteLength(v, 'utf8')}:${v}`;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new BencodeError(`cannot encode ${v}: not a safe integer`, 0);
    return `i${v === 0 ? 0 : v}e`; // -0 → "i0e"
  }
  if (depth >= MAX_DEPTH) throw new BencodeError(`nesting deeper than ${MAX_DEPTH}`, 0);
  if (Array.isArray(v)) {
    let s = 'l';
    for (const x of v) s += encodeToString(x, depth + 1);
    return s + 'e';
  }
  if (typeof v === 'object' && v !== null) {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) throw new BencodeError('cannot encode a non-plain object', 0);
    let s = 'd';
    for (const k of sortedKeys(v)) {
      const val = v[k];
      // Tolerate optional properties left undefined by callers building dicts from options.
      if (val === undefined) continue;
      s += `${Buffer.byteLength(k, 'utf8')}:${k}` + encodeToString(val, depth + 1);
    }
    return s + 'e';
  }
  throw new BencodeError(`cannot encode a value of type ${typeof v}`, 0);
}

const SURROGATE = /[\ud800-\udfff]/;

/**
 * Keys in raw UTF-8 byte order, as the spec requires. For strings without surrogates the UTF-16
 * order of Array#sort equals the code point order, which equals UTF-8 byte order; otherwise
 * compare the bytes (lone surrogates all become EF BF BD, so two keys may collide: rejected).
 */
function sortedKeys(d: BDict): string[] {
  const keys = Object.keys(d);
  if (!keys.some((k) => SURROGATE.test(k))) return keys.sort();
  const withBytes = keys.map((k) => ({ k, b: Buffer.from(k, 'utf8') }));
  withBytes.sort((x, y) => {
    const c = Buffer.compare(x.b, y.b);
    if (c === 0) throw new BencodeError(`keys encode to the same bytes: ${JSON.stringify(x.k)}, ${JSON.stringify(y.k)}`, 0);
    return c;
  });
  return withBytes.map((x) => x.k);
}

// ---------------------------------------------------------------------------------------------
// decode

/** Decodes exactly one value filling the whole input. Throws {@link BencodeError}. */
export function decode(input: Buffer | Uint8Array, opts: DecodeOptions = {}): BValue {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length === 0) throw new BencodeError('empty input', 0);
  const r = new Reader(buf, opts.maxElements ?? MAX_ELEMENTS);
  const value = r.value(0);
  if (r.pos !== buf.length) throw new BencodeError(`${buf.length - r.pos} trailing byte(s) after the value`, r.pos);
  return value;
}

class Reader {
  pos = 0;
  private elements = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly maxElements: number,
  ) {}

  private count(at: number): void {
    if (++this.elements > this.maxElements) throw new BencodeError(`more than ${this.maxElements} elements`, at);
  }

  value(depth: number): BValue {
    const { buf } = this;
    const at = this.pos;
    if (at >= buf.length) throw new BencodeError('truncated input: value expected', at);
    this.count(at);
    const c = buf[at];
    if (c === I) return this.int();
    if (c >= ZERO && c <= NINE) return this.string();
    if (c === L || c === D) {
      if (depth >= MAX_DEPTH) throw new BencodeError(`nesting deeper than ${MAX_DEPTH}`, at);
      return c === L ? this.list(depth + 1) : this.dict(depth + 1);
    }
    throw new BencodeError(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`, at);
  }

  private list(depth: number): BValue[] {
    const { buf } = this;
    const start = this.pos++;
    const out: BValue[] = [];
    for (;;) {
      if (this.pos >= buf.length) throw new BencodeError('truncated input: unterminated list', start);
      if (buf[this.pos] === E) {
        this.pos++;
        return out;
      }
      out.push(this.value(depth));
    }
  }

  private dict(depth: number): BDict {
    const { buf } = this;
    const start = this.pos++;
    const out = Object.create(null) as BDict;
    for (;;) {
      const at = this.pos;
      if (at >= buf.length) throw new BencodeError('truncated input: unterminated dictionary', start);
      if (buf[at] === E) {
        this.pos++;
        return out;
      }
      if (buf[at] < ZERO || buf[at] > NINE) throw new BencodeError('dictionary key is not a string', at);
      this.count(at);
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new BencodeError(`duplicate key ${JSON.stringify(key)}`, at);
      if (this.pos >= buf.length) throw new BencodeError(`truncated input: no value for key ${JSON.stringify(key)}`, this.pos);
      out[key] = this.value(depth);
    }
  }

  private int(): number {
    const { buf } = this;
    const start = this.pos;
    let p = start + 1;
    const neg = p < buf.length && buf[p] === MINUS;
    if (neg) p++;
    const digits = p;
    while (p < buf.length && buf[p] >= ZERO && buf[p] <= NINE) p++;
    if (p >= buf.length) throw new BencodeError('truncated input: unterminated integer', start);
    if (buf[p] !== E) throw new BencodeError(`unexpected byte 0x${buf[p].toString(16).padStart(2, '0')} in integer`, p);
    const n = p - digits;
    if (n === 0) throw new BencodeError('empty integer', start);
    if (buf[digits] === ZERO && (n > 1 || neg)) throw new BencodeError(neg ? 'negative zero' : 'integer with leading zero', start);
    if (p - start - 1 > MAX_INT_CHARS) throw new BencodeError('integer out of the safe range', start);
    const v = Number(buf.toString('latin1', start + 1, p));
    if (!Number.isSafeInteger(v)) throw new BencodeError('integer out of the safe range', start);
    this.pos = p + 1;
    return v;
  }

  private string(): string {
    const { buf } = this;
    const start = this.pos;
    let p = start;
    let len = 0;
    while (p < buf.length && buf[p] >= ZERO && buf[p] <= NINE) {
      if (p - start >= MAX_LEN_DIGITS) throw new BencodeError('string length too large', start);
      len = len * 10 + (buf[p] - ZERO);
      p++;
    }
    if (p >= buf.length) throw new BencodeError('truncated input: string length without ":"', start);
    if (buf[p] !== COLON) throw new BencodeError(`expected ":" after string length, got 0x${buf[p].toString(16).padStart(2, '0')}`, p);
    if (buf[start] === ZERO && p - start > 1) throw new BencodeError('string length with leading zero', start);
    const from = p + 1;
    if (len > buf.length - from) throw new BencodeError(`truncated input: string of ${len} bytes runs ${len - (buf.length - from)} past the end`, start);
    this.pos = from + len;
    return buf.toString('utf8', from, from + len);
  }
}
