import { parseUri, isValidHost, type Uri } from './uri.js';

/**
 * Header-field value grammar (RFC 3261 §7.3, §20, §25.1). Every parser here is total: it returns
 * `{ ok: false, reason }` rather than throwing, so the message parser can turn the reason into a
 * `400 <reason>`.
 */
export type HeaderResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Compact forms (RFC 3261 §7.3.3 and §20; `o`, `u`, `r`, `b`, `y`, `x`, `j`, `d`, `a` from later RFCs). */
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event', // RFC 6665
  u: 'allow-events', // RFC 6665
  r: 'refer-to', // RFC 3515
  b: 'referred-by', // RFC 3892
  x: 'session-expires', // RFC 4028
  y: 'identity', // RFC 8224
  j: 'reject-contact', // RFC 3841
  d: 'request-disposition', // RFC 3841
  a: 'accept-contact', // RFC 3841
};

/** Lower-cased full header name for a name as received (case-insensitive, compact forms expanded). */
export function canonicalHeaderName(name: string): string {
  const n = name.toLowerCase();
  return COMPACT[n] ?? n;
}

/**
 * Headers whose grammar is `#element` (RFC 3261 §7.3.1): several values may share one line,
 * separated by commas outside quoted strings and angle brackets.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via', 'contact', 'route', 'record-route', 'require', 'supported', 'unsupported', 'proxy-require',
  'allow', 'accept', 'accept-encoding', 'accept-language', 'content-encoding', 'content-language',
  'allow-events', 'in-reply-to', 'path', 'service-route', 'warning', 'error-info', 'alert-info', 'call-info',
]);

export const TOKEN_CHAR = /^[A-Za-z0-9\-.!%*_+`'~]$/;
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Splits a `#element` value on commas that are outside quoted strings (with `\` escapes) and
 * angle brackets (RFC 3261 §7.3.1). Elements are trimmed; empty elements are kept so that
 * callers can reject them (RFC 4475 §3.1.2.1 `;;,;,,`).
 */
export function splitList(value: string): HeaderResult<string[]> {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') angle = true;
    else if (c === '>') angle = false;
    else if (c === ',' && !angle) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (quoted) return { ok: false, reason: 'unterminated quoted string' };
  if (angle) return { ok: false, reason: 'unterminated angle bracket' };
  out.push(value.slice(start).trim());
  return { ok: true, value: out };
}

/** A small cursor over one header value. SWS = optional whitespace (folding is already undone). */
class Scanner {
  i = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string {
    return this.s[this.i] ?? '';
  }
  ws(): boolean {
    const start = this.i;
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
    return this.i > start;
  }
  eat(c: string): boolean {
    if (this.peek() !== c) return false;
    this.i++;
    return true;
  }
  token(): string {
    const start = this.i;
    while (!this.done && TOKEN_CHAR.test(this.peek())) this.i++;
    return this.s.slice(start, this.i);
  }
  /** quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE; returns the unescaped text or null. */
  quoted(): string | null {
    if (!this.eat('"')) return null;
    let out = '';
    while (!this.done) {
      const c = this.s[this.i++];
      if (c === '"') return out;
      if (c === '\\') {
        if (this.done) return null;
        out += this.s[this.i++];
      } else out += c;
    }
    return null;
  }
}

export interface Param {
  name: string;
  /** null when the parameter has no `=value`; quoted values are returned unquoted. */
  value: string | null;
  quoted?: boolean;
}

/** `*( SEMI generic-param )` with SWS around `;` and `=` (RFC 3261 §25.1 generic-param, via-params). */
function params(sc: Scanner, what: string): HeaderResult<Param[]> {
  const out: Param[] = [];
  sc.ws();
  while (sc.eat(';')) {
    sc.ws();
    const name = sc.token();
    if (!name) return { ok: false, reason: `empty parameter in ${what}` };
    sc.ws();
    if (sc.eat('=')) {
      sc.ws();
      if (sc.peek() === '"') {
        const q = sc.quoted();
        if (q === null) return { ok: false, reason: `unterminated quoted string in ${what}` };
        out.push({ name, value: q, quoted: true });
      } else {
        // gen-value = token / host / quoted-string; via-received also allows a bare IPv6address.
        const start = sc.i;
        while (!sc.done && (TOKEN_CHAR.test(sc.peek()) || ':[]'.includes(sc.peek()))) sc.i++;
        const value = sc.s.slice(start, sc.i);
        if (!value) return { ok: false, reason: `empty parameter value in ${what}` };
        out.push({ name, value });
      }
    } else out.push({ name, value: null });
    sc.ws();
  }
  if (!sc.done) return { ok: false, reason: `malformed ${what}` };
  return { ok: true, value: out };
}

export function paramValue(ps: readonly Param[], name: string): string | null | undefined {
  const n = name.toLowerCase();
  return ps.find((p) => p.name.toLowerCase() === n)?.value;
}

export interface Via {
  protocol: string; // "SIP"
  version: string; // "2.0"
  transport: string; // upper-cased: UDP, TCP, TLS, SCTP, WS, ...
  host: string; // IPv6 references keep their brackets
  port?: number;
  params: Param[];
  branch?: string;
  received?: string;
  /** `rport` present: null without a value (request), the port number in a response (RFC 3581). */
  rport?: number | null;
}

/** via-parm = sent-protocol LWS sent-by *( SEMI via-params ) (RFC 3261 §20.42, §25.1). */
export function parseVia(text: string): HeaderResult<Via> {
  const sc = new Scanner(text);
  const protocol = sc.token();
  sc.ws();
  if (!protocol || !sc.eat('/')) return { ok: false, reason: 'malformed Via sent-protocol' };
  sc.ws();
  const version = sc.token();
  sc.ws();
  if (!version || !sc.eat('/')) return { ok: false, reason: 'malformed Via sent-protocol' };
  sc.ws();
  const transport = sc.token();
  if (!transport || !sc.ws()) return { ok: false, reason: 'malformed Via sent-protocol' };
  let host: string;
  if (sc.peek() === '[') {
    const close = sc.s.indexOf(']', sc.i);
    if (close < 0) return { ok: false, reason: 'malformed Via sent-by' };
    host = sc.s.slice(sc.i, close + 1);
    sc.i = close + 1;
  } else {
    host = sc.token();
  }
  if (!isValidHost(host)) return { ok: false, reason: 'malformed Via sent-by' };
  const via: Via = { protocol, version, transport: transport.toUpperCase(), host, params: [] };
  sc.ws();
  if (sc.eat(':')) {
    sc.ws();
    const port = sc.token();
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) return { ok: false, reason: 'malformed Via port' };
    via.port = Number(port);
  }
  const ps = params(sc, 'Via');
  if (!ps.ok) return ps;
  via.params = ps.value;
  const branch = paramValue(ps.value, 'branch');
  if (branch === null) return { ok: false, reason: 'Via branch without value' };
  if (branch !== undefined) via.branch = branch;
  const received = paramValue(ps.value, 'received');
  if (received !== undefined) {
    if (received === null || !(isValidHost(received) || isValidHost(`[${received}]`))) return { ok: false, reason: 'malformed Via received' };
    via.received = received;
  }
  const rport = paramValue(ps.value, 'rport');
  if (rport !== undefined) {
    if (rport !== null && !/^[0-9]{1,5}$/.test(rport)) return { ok: false, reason: 'malformed Via rport' };
    via.rport = rport === null ? null : Number(rport);
  }
  return { ok: true, value: via };
}

export interface NameAddr {
  /** display name, unquoted (quoted-pairs resolved); undefined when there is none. */
  displayName?: string;
  uri: Uri;
  /** the URI text as written, for byte-faithful relaying. */
  uriText: string;
  /** true when the URI was written inside `<>` (name-addr); false for a bare addr-spec. */
  angle: boolean;
  params: Param[];
  tag?: string;
}

/**
 * ( name-addr / addr-spec ) *( SEMI param ) — From, To, Contact, Route, Record-Route, Reply-To
 * (RFC 3261 §20.10, §25.1). A bare addr-spec ends at the first `;` (header parameters follow), and
 * a URI holding `,`, `?` or `;` MUST be in angle brackets (§20, RFC 4475 §3.1.2.13).
 */
export function parseNameAddr(text: string, what: string): HeaderResult<NameAddr> {
  const sc = new Scanner(text);
  let displayName: string | undefined;
  let uriText: string;
  let angle = false;
  if (sc.peek() === '"') {
    const q = sc.quoted();
    if (q === null) return { ok: false, reason: `unterminated quoted string in ${what}` };
    displayName = q;
    sc.ws();
    if (sc.peek() !== '<') return { ok: false, reason: `malformed ${what}` };
  }
  const lt = sc.s.indexOf('<', sc.i);
  if (sc.peek() === '<' || (displayName === undefined && lt >= 0)) {
    if (displayName === undefined && lt > sc.i) {
      // display-name = *(token LWS): RFC 4475 §3.1.1.6 says accept it without LWS before "<".
      const words = sc.s.slice(sc.i, lt).trim();
      if (!words.split(/[ \t]+/).every(isToken)) return { ok: false, reason: `invalid display name in ${what}` };
      displayName = words;
      sc.i = lt;
    }
    sc.i++;
    const gt = sc.s.indexOf('>', sc.i);
    if (gt < 0) return { ok: false, reason: `unterminated angle bracket in ${what}` };
    uriText = sc.s.slice(sc.i, gt);
    sc.i = gt + 1;
    angle = true;
    // LAQUOT = SWS "<" and RAQUOT = ">" SWS: no whitespace inside the brackets (RFC 4475 §3.1.2.14).
    if (/^[ \t]|[ \t]$/.test(uriText)) return { ok: false, reason: `whitespace inside angle brackets in ${what}` };
  } else {
    const semi = sc.s.indexOf(';', sc.i);
    uriText = sc.s.slice(sc.i, semi < 0 ? undefined : semi).trimEnd();
    sc.i = semi < 0 ? sc.s.length : semi;
    if (uriText.includes('?')) return { ok: false, reason: `URI with "?" must be in angle brackets in ${what}` };
    if (/\s/.test(uriText)) return { ok: false, reason: `invalid display name in ${what}` };
  }
  const uri = parseUri(uriText);
  if (!uri.ok) return { ok: false, reason: `${uri.reason} in ${what}` };
  const ps = params(sc, what);
  if (!ps.ok) return ps;
  const na: NameAddr = { uri: uri.uri, uriText, angle, params: ps.value };
  if (displayName !== undefined) na.displayName = displayName;
  const tag = paramValue(ps.value, 'tag');
  if (tag === null) return { ok: false, reason: `tag without value in ${what}` };
  if (tag !== undefined) na.tag = tag;
  return { ok: true, value: na };
}

export interface CSeq {
  seq: number;
  method: string;
}

/** CSeq = 1*DIGIT LWS Method; the number must fit 32 bits (RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.4). */
export function parseCSeq(text: string): HeaderResult<CSeq> {
  const m = /^([0-9]+)[ \t]+([^ \t]+)$/.exec(text);
  if (!m || !isToken(m[2])) return { ok: false, reason: 'malformed CSeq' };
  const seq = Number(m[1]);
  if (m[1].length > 10 || seq > 0xffffffff) return { ok: false, reason: 'CSeq number too large' };
  return { ok: true, value: { seq, method: m[2] } };
}

/** Max-Forwards = 1*DIGIT, 0..255 (RFC 3261 §20.22, RFC 4475 §3.1.2.4). */
export function parseMaxForwards(text: string): HeaderResult<number> {
  if (!/^[0-9]+$/.test(text)) return { ok: false, reason: 'malformed Max-Forwards' };
  const n = Number(text);
  if (n > 255) return { ok: false, reason: 'Max-Forwards too large' };
  return { ok: true, value: n };
}

/** Content-Length = 1*DIGIT (RFC 3261 §20.14); negative or absurd values are errors (RFC 4475 §3.1.2.3). */
export function parseContentLength(text: string): HeaderResult<number> {
  if (!/^[0-9]{1,9}$/.test(text)) return { ok: false, reason: 'invalid Content-Length' };
  return { ok: true, value: Number(text) };
}

/** callid = word [ "@" word ] (RFC 3261 §25.1). */
export function isValidCallId(text: string): boolean {
  return /^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+(@[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+)?$/.test(text);
}

export interface ContentType {
  type: string;
  subtype: string;
  params: Param[];
}

/** media-type = m-type SLASH m-subtype *(SEMI m-parameter) (RFC 3261 §20.15). */
export function parseContentType(text: string): HeaderResult<ContentType> {
  const sc = new Scanner(text);
  const type = sc.token();
  sc.ws();
  if (!type || !sc.eat('/')) return { ok: false, reason: 'malformed Content-Type' };
  sc.ws();
  const subtype = sc.token();
  if (!subtype) return { ok: false, reason: 'malformed Content-Type' };
  const ps = params(sc, 'Content-Type');
  if (!ps.ok) return ps;
  return { ok: true, value: { type: type.toLowerCase(), subtype: subtype.toLowerCase(), params: ps.value } };
}

/** option-tag lists: Require, Supported, Unsupported, Proxy-Require (RFC 3261 §20.32, §20.37, §20.40). */
export function parseOptionTags(values: readonly string[], what: string): HeaderResult<string[]> {
  const out: string[] = [];
  for (const v of values) {
    if (v === '') continue; // "Supported:" with no value is legal (§25.1)
    if (!isToken(v)) return { ok: false, reason: `malformed ${what}` };
    out.push(v);
  }
  return { ok: true, value: out };
}

const DAYS = 'Mon|Tue|Wed|Thu|Fri|Sat|Sun';
const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const RFC1123 = new RegExp(`^(?:${DAYS}), [0-9]{2} (?:${MONTHS}) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$`);

/** Date = rfc1123-date, always GMT (RFC 3261 §20.17, RFC 4475 §3.1.2.12). */
export function isValidDate(text: string): boolean {
  return RFC1123.test(text);
}
