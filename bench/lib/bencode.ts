/**
 * Minimal bencode (BEP 3) for the ng protocol: strings (as UTF-8 text), integers, lists, dicts.
 * The bench keeps its own copy so it can drive any ng server without importing Tandem's src/.
 */
export type BValue = string | number | BValue[] | BDict;
export interface BDict {
  [key: string]: BValue;
}

export function bencode(v: BValue): Buffer {
  const parts: Buffer[] = [];
  enc(v, parts);
  return Buffer.concat(parts);
}

function enc(v: BValue, out: Buffer[]): void {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    out.push(Buffer.from(`${b.length}:`), b);
  } else if (typeof v === 'number') {
    out.push(Buffer.from(`i${Math.trunc(v)}e`));
  } else if (Array.isArray(v)) {
    out.push(Buffer.from('l'));
    for (const x of v) enc(x, out);
    out.push(Buffer.from('e'));
  } else {
    out.push(Buffer.from('d'));
    for (const k of Object.keys(v).sort()) {
      enc(k, out);
      enc(v[k], out);
    }
    out.push(Buffer.from('e'));
  }
}

export function bdecode(buf: Buffer): BValue {
  const r = dec(buf, 0);
  return r.v;
}

function dec(b: Buffer, i: number): { v: BValue; i: number } {
  const c = b[i];
  if (c === 0x69 /* i */) {
    const e = b.indexOf(0x65, i);
    if (e < 0) throw new Error('bencode: unterminated integer');
    return { v: Number(b.toString('latin1', i + 1, e)), i: e + 1 };
  }
  if (c === 0x6c /* l */) {
    const list: BValue[] = [];
    i++;
    while (b[i] !== 0x65) {
      if (i >= b.length) throw new Error('bencode: unterminated list');
      const r = dec(b, i);
      list.push(r.v);
      i = r.i;
    }
    return { v: list, i: i + 1 };
  }
  if (c === 0x64 /* d */) {
    const d: BDict = {};
    i++;
    while (b[i] !== 0x65) {
      if (i >= b.length) throw new Error('bencode: unterminated dict');
      const k = dec(b, i);
      const v = dec(b, k.i);
      d[String(k.v)] = v.v;
      i = v.i;
    }
    return { v: d, i: i + 1 };
  }
  if (c !== undefined && c >= 0x30 && c <= 0x39) {
    const colon = b.indexOf(0x3a, i);
    if (colon < 0) throw new Error('bencode: bad string length');
    const len = Number(b.toString('latin1', i, colon));
    const s = colon + 1;
    if (s + len > b.length) throw new Error('bencode: string past end');
    return { v: b.toString('utf8', s, s + len), i: s + len };
  }
  throw new Error(`bencode: unexpected byte ${c} at ${i}`);
}
