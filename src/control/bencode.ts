/**
 * Strict bencode (BitTorrent BEP 3), the encoding of rtpengine's ng protocol.
 * Strings decode as UTF-8 JS strings; dictionaries as null-prototype objects, so a key named
 * `__proto__` is plain data. Decoding rejects anything that is not exactly one value.
 */
export type BValue = string | number | BValue[] | BDict;
export interface BDict {
  [key: string]: BValue;
}

export class BencodeError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = 'BencodeError';
  }
}

const MAX_DEPTH = 64;
const COLON = 0x3a;
const E = 0x65;
const I = 0x69;
const L = 0x6c;
const D = 0x64;

export function encode(v: BValue): Buffer {
  const parts: Buffer[] = [];
  encodeInto(v, parts, 0);
  return Buffer.concat(parts);
}

function encodeInto(v: BValue, out: Buffer[], depth: number): void {
  if (depth > MAX_DEPTH) throw new BencodeError('nesting too deep', 0);
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    out.push(Buffer.from(`${b.length}:`), b);
  } else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new BencodeError(`cannot encode non-integer ${v}`, 0);
    out.push(Buffer.from(`i${v}e`));
  } else if (Array.isArray(v)) {
    out.push(Buffer.from('l'));
    for (const x of v) encodeInto(x, out, depth + 1);
    out.push(Buffer.from('e'));
  } else if (typeof v === 'object' && v !== null) {
    out.push(Buffer.from('d'));
    const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const k of keys) {
      const val = v[k];
      if (val === undefined) continue;
      encodeInto(k, out, depth + 1);
      encodeInto(val, out, depth + 1);
    }
    out.push(Buffer.from('e'));
  } else {
    throw new BencodeError(`cannot encode ${typeof v}`, 0);
  }
}

export function decode(input: Buffer | Uint8Array): BValue {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length === 0) throw new BencodeError('empty input', 0);
  const [value, end] = decodeAt(buf, 0, 0);
  if (end !== buf.length) throw new BencodeError('trailing bytes after the value', end);
  return value;
}

function decodeAt(buf: Buffer, pos: number, depth: number): [BValue, number] {
  if (depth > MAX_DEPTH) throw new BencodeError('nesting deeper than 64', pos);
  if (pos >= buf.length) throw new BencodeError('truncated input', pos);
  const c = buf[pos];
  if (c === I) return decodeInt(buf, pos);
  if (c === L) {
    const list: BValue[] = [];
    let p = pos + 1;
    for (;;) {
      if (p >= buf.length) throw new BencodeError('unterminated list', pos);
      if (buf[p] === E) return [list, p + 1];
      const [v, next] = decodeAt(buf, p, depth + 1);
      list.push(v);
      p = next;
    }
  }
  if (c === D) {
    const dict = Object.create(null) as BDict;
    let p = pos + 1;
    for (;;) {
      if (p >= buf.length) throw new BencodeError('unterminated dictionary', pos);
      if (buf[p] === E) return [dict, p + 1];
      if (buf[p] < 0x30 || buf[p] > 0x39) throw new BencodeError('dictionary key is not a string', p);
      const [k, afterKey] = decodeString(buf, p);
      if (Object.prototype.hasOwnProperty.call(dict, k)) throw new BencodeError(`duplicate key "${k}"`, p);
      const [v, next] = decodeAt(buf, afterKey, depth + 1);
      dict[k] = v;
      p = next;
    }
  }
  if (c >= 0x30 && c <= 0x39) return decodeString(buf, pos);
  throw new BencodeError(`unexpected byte 0x${c.toString(16)}`, pos);
}

function decodeInt(buf: Buffer, pos: number): [number, number] {
  const end = buf.indexOf(E, pos + 1);
  if (end < 0) throw new BencodeError('unterminated integer', pos);
  const text = buf.toString('latin1', pos + 1, end);
  if (!/^(0|-?[1-9]\d*)$/.test(text)) throw new BencodeError(`malformed integer "${text}"`, pos);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new BencodeError(`integer ${text} out of range`, pos);
  return [n, end + 1];
}

function decodeString(buf: Buffer, pos: number): [string, number] {
  let p = pos;
  while (p < buf.length && buf[p] !== COLON) {
    if (buf[p] < 0x30 || buf[p] > 0x39) throw new BencodeError('malformed string length', p);
    p++;
  }
  if (p >= buf.length) throw new BencodeError('truncated string length', pos);
  const lenText = buf.toString('latin1', pos, p);
  if (lenText.length > 1 && lenText[0] === '0') throw new BencodeError('string length with leading zero', pos);
  if (lenText.length > 9) throw new BencodeError('string length too large', pos);
  const len = Number(lenText);
  const start = p + 1;
  if (start + len > buf.length) throw new BencodeError(`string of ${len} bytes runs past the end`, pos);
  return [buf.toString('utf8', start, start + len), start + len];
}

