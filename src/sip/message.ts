import { TandemError } from '../common/errors.js';
import {
  canonicalHeaderName,
  LIST_HEADERS,
  splitList,
  parseVia,
  parseNameAddr,
  parseCSeq,
  parseMaxForwards,
  parseContentLength,
  parseContentType,
  parseOptionTags,
  type HeaderResult,
  type Via,
  type NameAddr,
  type CSeq,
  type ContentType,
} from './headers.js';

export type { Via, NameAddr, CSeq, ContentType };

/**
 * The SIP message model (RFC 3261 §7): a start line, an ordered list of header fields exactly as
 * received (original names, compact forms included, folding undone), and the body as octets.
 * Typed accessors below read the headers the stack needs; they expand compact forms and
 * comma-separated values.
 */
export interface SipHeader {
  /** the name as written (`v`, `Via`, `VIA`): compare with `canonicalHeaderName`. */
  name: string;
  /** the value with folding replaced by one SP and surrounding whitespace trimmed (§7.3.1). */
  value: string;
}

interface SipMessageBase {
  /** "SIP/2.0" */
  version: string;
  headers: SipHeader[];
  body: Buffer;
}

export interface SipRequest extends SipMessageBase {
  kind: 'request';
  method: string;
  /** Request-URI text as received; `parseUri` reads it (the parser already checked it). */
  uri: string;
}

export interface SipResponse extends SipMessageBase {
  kind: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** What a later layer needs to answer a malformed request with `400 <reason>` (RFC 3261 §8.2.6.2). */
export interface ResponseContext {
  method: string;
  uri: string;
  /** every Via value, top first, as received (split on commas). */
  via: string[];
  from: string;
  to: string;
  callId: string;
  cseq: string;
}

/**
 * A message that cannot be used. `reason` is short and names the fault, fit for a status line
 * (`400 Invalid Content-Length`); `status` is the response a request deserves (400, 505 for an
 * unknown SIP version, 513 for an oversized message); `response` is present when a response can be
 * formed at all (request, start line readable, Via/From/To/Call-ID/CSeq present and CSeq valid).
 * The code is BAD_REQUEST, as for a malformed ng request: the peer sent something unusable, and
 * `status` carries what SIP needs beyond that.
 */
export class SipParseError extends TandemError {
  readonly reason: string;
  readonly status: 400 | 505 | 513;
  readonly header?: string;
  readonly response?: ResponseContext;

  constructor(reason: string, opts: { status?: 400 | 505 | 513; header?: string; response?: ResponseContext } = {}) {
    super('BAD_REQUEST', reason, opts.header ? { header: opts.header } : {});
    this.name = 'SipParseError';
    this.reason = reason;
    this.status = opts.status ?? 400;
    if (opts.header !== undefined) this.header = opts.header;
    if (opts.response !== undefined) this.response = opts.response;
  }
}

/** Raw header lines (not split on commas) whose canonical name is `name` (full or compact, any case). */
export function headerLines(msg: SipMessage, name: string): string[] {
  const want = canonicalHeaderName(name);
  return msg.headers.filter((h) => canonicalHeaderName(h.name) === want).map((h) => h.value);
}

/**
 * All values of a header in order: list headers (§7.3.1) are split on commas outside quotes and
 * angle brackets, others are one value per line.
 */
export function headerValues(msg: SipMessage, name: string): string[] {
  const lines = headerLines(msg, name);
  if (!LIST_HEADERS.has(canonicalHeaderName(name))) return lines;
  return lines.flatMap((l) => {
    const r = splitList(l);
    return r.ok ? r.value : [l];
  });
}

/** The first value of a header, or undefined. */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  return headerLines(msg, name)[0];
}

/** Replaces every line of a header with one line (keeping the first line's position), or appends it. */
export function setHeader(msg: SipMessage, name: string, value: string): void {
  const want = canonicalHeaderName(name);
  const i = msg.headers.findIndex((h) => canonicalHeaderName(h.name) === want);
  removeHeader(msg, name);
  if (i < 0) msg.headers.push({ name, value });
  else msg.headers.splice(i, 0, { name, value });
}

/** Adds a header line before the first existing line of that header (prepend Via/Record-Route), or first of all. */
export function prependHeader(msg: SipMessage, name: string, value: string): void {
  const want = canonicalHeaderName(name);
  const i = msg.headers.findIndex((h) => canonicalHeaderName(h.name) === want);
  msg.headers.splice(i < 0 ? 0 : i, 0, { name, value });
}

export function removeHeader(msg: SipMessage, name: string): void {
  const want = canonicalHeaderName(name);
  msg.headers = msg.headers.filter((h) => canonicalHeaderName(h.name) !== want);
}

function unwrap<T>(r: HeaderResult<T>, header: string): T {
  if (!r.ok) throw new SipParseError(r.reason, { header });
  return r.value;
}

function single<T>(msg: SipMessage, name: string, parse: (v: string) => HeaderResult<T>): T | undefined {
  const lines = headerLines(msg, name);
  if (lines.length === 0) return undefined;
  if (lines.length > 1) throw new SipParseError(`multiple ${name} headers`, { header: name });
  return unwrap(parse(lines[0]), name);
}

// Typed accessors. On a message from parseSipMessage they cannot fail (the parser checked these
// headers); on a hand-built message they throw SipParseError naming the header.

export function getVias(msg: SipMessage): Via[] {
  return headerValues(msg, 'Via').map((v) => unwrap(parseVia(v), 'Via'));
}

export function getFrom(msg: SipMessage): NameAddr | undefined {
  return single(msg, 'From', (v) => parseNameAddr(v, 'From'));
}

export function getTo(msg: SipMessage): NameAddr | undefined {
  return single(msg, 'To', (v) => parseNameAddr(v, 'To'));
}

export function getCallId(msg: SipMessage): string | undefined {
  return single(msg, 'Call-ID', (v) => ({ ok: true, value: v }));
}

export function getCSeq(msg: SipMessage): CSeq | undefined {
  return single(msg, 'CSeq', parseCSeq);
}

export function getMaxForwards(msg: SipMessage): number | undefined {
  return single(msg, 'Max-Forwards', parseMaxForwards);
}

export function getContentLength(msg: SipMessage): number | undefined {
  return single(msg, 'Content-Length', parseContentLength);
}

export function getContentType(msg: SipMessage): ContentType | undefined {
  return single(msg, 'Content-Type', parseContentType);
}

/** Contact values, or `'*'` for the wildcard of a REGISTER (RFC 3261 §10.2.2, §20.10). */
export function getContacts(msg: SipMessage): NameAddr[] | '*' {
  const values = headerValues(msg, 'Contact');
  if (values.length === 1 && values[0] === '*') return '*';
  return values.map((v) => unwrap(parseNameAddr(v, 'Contact'), 'Contact'));
}

export function getRoutes(msg: SipMessage): NameAddr[] {
  return headerValues(msg, 'Route').map((v) => unwrap(parseNameAddr(v, 'Route'), 'Route'));
}

export function getRecordRoutes(msg: SipMessage): NameAddr[] {
  return headerValues(msg, 'Record-Route').map((v) => unwrap(parseNameAddr(v, 'Record-Route'), 'Record-Route'));
}

export function getRequire(msg: SipMessage): string[] {
  return unwrap(parseOptionTags(headerValues(msg, 'Require'), 'Require'), 'Require');
}

export function getSupported(msg: SipMessage): string[] {
  return unwrap(parseOptionTags(headerValues(msg, 'Supported'), 'Supported'), 'Supported');
}

export function getUnsupported(msg: SipMessage): string[] {
  return unwrap(parseOptionTags(headerValues(msg, 'Unsupported'), 'Unsupported'), 'Unsupported');
}

export function getUserAgent(msg: SipMessage): string | undefined {
  return getHeader(msg, 'User-Agent');
}
