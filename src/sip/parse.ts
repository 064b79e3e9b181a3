import {
  SipParseError,
  type SipHeader,
  type SipMessage,
  type ResponseContext,
} from './message.js';
import {
  canonicalHeaderName,
  splitList,
  parseVia,
  parseNameAddr,
  parseCSeq,
  parseMaxForwards,
  parseContentLength,
  parseContentType,
  parseOptionTags,
  isToken,
  isValidCallId,
  isValidDate,
} from './headers.js';
import { parseUri } from './uri.js';

/**
 * SIP message parser (RFC 3261 §7, §18.3, grammar §25). It never throws on input: every fault
 * comes back as a SipParseError whose reason names it, with what a 400 needs when one can be sent.
 */
export type ParseResult = { ok: true; message: SipMessage; consumed: number } | { ok: false; error: SipParseError };

export interface ParseOptions {
  /** largest message accepted, headers and body together; default 64 KiB. */
  maxBytes?: number;
}

export const DEFAULT_MAX_BYTES = 64 * 1024;

const CRLF = 0x0d0a;
const HEAD_END = Buffer.from('\r\n\r\n');
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Headers that may appear once only; a second one is a 400 (RFC 4475 §3.3.8, §3.3.9). */
const SINGLE = new Set(['from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length', 'content-type']);
const DISPLAY: Record<string, string> = {
  from: 'From', to: 'To', 'call-id': 'Call-ID', cseq: 'CSeq', 'max-forwards': 'Max-Forwards',
  'content-length': 'Content-Length', 'content-type': 'Content-Type', via: 'Via', contact: 'Contact',
  route: 'Route', 'record-route': 'Record-Route', require: 'Require', supported: 'Supported',
  unsupported: 'Unsupported', 'proxy-require': 'Proxy-Require', date: 'Date',
};

interface StartLine {
  kind: 'request' | 'response';
  version: string;
  method: string;
  uri: string;
  status: number;
  reason: string;
  /** a fault found in a readable start line: reported after the headers so a response can be formed. */
  fault?: { reason: string; status: 400 | 505 };
}

type Outcome =
  | { state: 'ok'; message: SipMessage; consumed: number }
  | { state: 'error'; error: SipParseError; consumed?: number }
  | { state: 'incomplete' };

/** Skips CRLFs before a message: keep-alives (RFC 5626 §3.5.1) and RFC 3261 §7.5 leading CRLFs. */
function skipCrlf(buf: Buffer, pos: number): number {
  while (pos + 1 < buf.length && buf.readUInt16BE(pos) === CRLF) pos += 2;
  return pos;
}

/** Request-Line = Method SP Request-URI SP SIP-Version; Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.1, §7.2). */
function parseStartLine(line: string): StartLine | string {
  const status = /^(SIP\/[0-9]+\.[0-9]+) ([^ ]*)(?: (.*))?$/i.exec(line);
  if (status) {
    const start: StartLine = { kind: 'response', version: status[1].toUpperCase(), method: '', uri: '', status: 0, reason: status[3] ?? '' };
    if (!/^[1-6][0-9]{2}$/.test(status[2])) return 'invalid status code';
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(start.reason)) return 'invalid Reason-Phrase';
    start.status = Number(status[2]);
    if (start.version !== 'SIP/2.0') start.fault = { reason: 'SIP version not supported', status: 505 };
    return start;
  }
  if (/^[ \t]/.test(line) || line === '') return 'malformed request line';
  const parts = line.split(' ');
  const method = parts[0];
  if (!isToken(method)) return 'malformed request line';
  const start: StartLine = { kind: 'request', version: parts[parts.length - 1], method, uri: parts[1] ?? '', status: 0, reason: '' };
  const versionLike = /^SIP\/[0-9]+\.[0-9]+$/i.test(start.version);
  if (/[ \t]$/.test(line)) start.fault = { reason: 'trailing whitespace in request line', status: 400 };
  else if (line.includes('\t') || line.includes('  ')) start.fault = { reason: 'multiple spaces in request line', status: 400 };
  else if (parts.length > 3 && versionLike) start.fault = { reason: 'whitespace in Request-URI', status: 400 };
  else if (parts.length !== 3 || !versionLike) return 'malformed request line';
  if (start.fault) {
    const words = line.trim().split(/[ \t]+/);
    start.uri = words[1] ?? '';
    start.version = words[words.length - 1];
    return start;
  }
  start.version = start.version.toUpperCase();
  if (start.uri.startsWith('<')) start.fault = { reason: 'Request-URI in angle brackets', status: 400 };
  else {
    const uri = parseUri(start.uri);
    if (!uri.ok) start.fault = { reason: `invalid Request-URI (${uri.reason})`, status: 400 };
    // Headers are "not allowed" in a Request-URI (RFC 3261 §19.1.1 Table 1, RFC 4475 §3.1.2.11).
    else if (uri.uri.type === 'sip' && uri.uri.headers.length > 0) start.fault = { reason: 'Request-URI must not contain headers', status: 400 };
  }
  if (!start.fault && start.version !== 'SIP/2.0') start.fault = { reason: 'SIP version not supported', status: 505 };
  return start;
}

/** Splits the header section into fields, undoing folding: CRLF followed by WSP is one SP (§7.3.1). */
function parseHeaderLines(lines: string[]): SipHeader[] | string {
  const headers: SipHeader[] = [];
  for (const line of lines) {
    if (line.includes('\r') || line.includes('\n')) return 'bare CR or LF in header';
    if (line[0] === ' ' || line[0] === '\t') {
      const last = headers[headers.length - 1];
      if (!last) return 'continuation line before first header';
      last.value = `${last.value} ${line.replace(/^[ \t]+/, '')}`;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).replace(/[ \t]+$/, '');
    if (!isToken(name)) return 'malformed header line';
    headers.push({ name, value: line.slice(colon + 1) });
  }
  for (const h of headers) h.value = h.value.replace(/^[ \t]+|[ \t]+$/g, '');
  return headers;
}

function linesOf(headers: SipHeader[], canonical: string): string[] {
  return headers.filter((h) => canonicalHeaderName(h.name) === canonical).map((h) => h.value);
}

/** What a `400` needs (§8.2.6.2): present only for a request whose CSeq is readable. */
function responseContext(start: StartLine, headers: SipHeader[]): ResponseContext | undefined {
  if (start.kind !== 'request') return undefined;
  const via = linesOf(headers, 'via').flatMap((v) => {
    const r = splitList(v);
    return r.ok ? r.value : [v];
  });
  const [from] = linesOf(headers, 'from');
  const [to] = linesOf(headers, 'to');
  const [callId] = linesOf(headers, 'call-id');
  const [cseq] = linesOf(headers, 'cseq');
  if (via.length === 0 || from === undefined || to === undefined || callId === undefined || cseq === undefined) return undefined;
  if (!parseCSeq(cseq).ok) return undefined;
  return { method: start.method, uri: start.uri, via, from, to, callId, cseq };
}

/** Checks one header field's value against its grammar; returns the fault or undefined. */
function checkHeader(canonical: string, value: string): string | undefined {
  const name = DISPLAY[canonical] ?? canonical;
  switch (canonical) {
    case 'via':
    case 'contact':
    case 'route':
    case 'record-route': {
      const list = splitList(value);
      if (!list.ok) return `${list.reason} in ${name}`;
      for (const v of list.value) {
        if (v === '') return `empty ${name} value`;
        if (canonical === 'via') {
          const r = parseVia(v);
          if (!r.ok) return r.reason;
        } else if (!(canonical === 'contact' && v === '*' && list.value.length === 1)) {
          const r = parseNameAddr(v, name);
          if (!r.ok) return r.reason;
        }
      }
      return undefined;
    }
    case 'from':
    case 'to': {
      const r = parseNameAddr(value, name);
      return r.ok ? undefined : r.reason;
    }
    case 'call-id':
      return isValidCallId(value) ? undefined : 'malformed Call-ID';
    case 'cseq': {
      const r = parseCSeq(value);
      return r.ok ? undefined : r.reason;
    }
    case 'max-forwards': {
      const r = parseMaxForwards(value);
      return r.ok ? undefined : r.reason;
    }
    case 'content-length': {
      const r = parseContentLength(value);
      return r.ok ? undefined : r.reason;
    }
    case 'content-type': {
      const r = parseContentType(value);
      return r.ok ? undefined : r.reason;
    }
    case 'require':
    case 'supported':
    case 'unsupported':
    case 'proxy-require': {
      const list = splitList(value);
      const r = list.ok ? parseOptionTags(list.value, name) : list;
      return r.ok ? undefined : r.reason;
    }
    case 'date':
      return isValidDate(value) ? undefined : 'malformed Date';
    default:
      return undefined;
  }
}

function parseOne(buf: Buffer, from: number, stream: boolean, maxBytes: number): Outcome {
  const pos = skipCrlf(buf, from);
  if (pos >= buf.length || (buf.length - pos === 1 && buf[pos] === 0x0d)) {
    return stream ? { state: 'incomplete' } : { state: 'error', error: new SipParseError('empty message') };
  }
  const tooLarge = (): Outcome => ({ state: 'error', error: new SipParseError('message too large', { status: 513 }) });
  if (!stream && buf.length - pos > maxBytes) return tooLarge();
  const headEnd = buf.indexOf(HEAD_END, pos);
  if (headEnd < 0) {
    if (stream) return buf.length - pos > maxBytes ? tooLarge() : { state: 'incomplete' };
    return { state: 'error', error: new SipParseError('missing empty line after headers') };
  }
  const bodyStart = headEnd + 4;
  if (bodyStart - pos > maxBytes) return tooLarge();

  const head = buf.subarray(pos, headEnd);
  let text: string;
  let encodingFault: string | undefined;
  try {
    text = UTF8.decode(head);
  } catch {
    text = head.toString('latin1');
    encodingFault = 'invalid UTF-8 in headers';
  }
  const lines = text.split('\r\n');
  const startLine = lines.shift() ?? '';
  const start = parseStartLine(startLine);
  const headers = parseHeaderLines(lines);

  // Framing first (§18.3): on a stream it decides whether the connection can go on at all.
  let contentLength: number | undefined;
  let framingFault: string | undefined;
  if (typeof headers === 'string') framingFault = headers;
  else {
    const cl = linesOf(headers, 'content-length');
    if (cl.length > 1) framingFault = 'multiple Content-Length headers';
    else if (cl.length === 1) {
      const r = parseContentLength(cl[0]);
      if (r.ok) contentLength = r.value;
      else framingFault = r.reason;
    } else if (stream) framingFault = 'missing Content-Length on stream transport';
  }
  if (stream) {
    if (framingFault !== undefined || contentLength === undefined) {
      // The stream cannot go on, but a readable request still deserves a 400 naming the fault.
      const response = typeof start !== 'string' && typeof headers !== 'string' ? responseContext(start, headers) : undefined;
      return { state: 'error', error: new SipParseError(framingFault ?? 'missing Content-Length on stream transport', { header: 'Content-Length', response }) };
    }
    if (bodyStart + contentLength - pos > maxBytes) return tooLarge();
    if (buf.length < bodyStart + contentLength) return { state: 'incomplete' };
  }
  const consumed = contentLength === undefined ? buf.length : bodyStart + contentLength;

  const fail = (reason: string, opts: { status?: 400 | 505 | 513; header?: string } = {}): Outcome => {
    const response = typeof start !== 'string' && typeof headers !== 'string' ? responseContext(start, headers) : undefined;
    return { state: 'error', error: new SipParseError(reason, { ...opts, response }), consumed: stream ? consumed : undefined };
  };
  if (typeof start === 'string') return fail(start);
  if (typeof headers === 'string') return fail(headers);
  if (encodingFault) return fail(encodingFault);
  if (start.fault) return fail(start.fault.reason, { status: start.fault.status });

  const seen = new Map<string, number>();
  for (const h of headers) {
    const canonical = canonicalHeaderName(h.name);
    const n = (seen.get(canonical) ?? 0) + 1;
    seen.set(canonical, n);
    const display = DISPLAY[canonical] ?? h.name;
    if (n > 1 && SINGLE.has(canonical)) return fail(`multiple ${display} headers`, { header: display });
    const fault = checkHeader(canonical, h.value);
    if (fault) return fail(fault, { header: display });
  }
  // Mandatory in every request and response (RFC 3261 §8.1.1, §20 table); Max-Forwards is left
  // to the application, since RFC 2543 requests lack it (RFC 4475 §3.4.1).
  for (const required of ['via', 'from', 'to', 'call-id', 'cseq']) {
    if (!seen.has(required)) return fail(`missing ${DISPLAY[required]}`, { header: DISPLAY[required] });
  }
  const cseq = parseCSeq(linesOf(headers, 'cseq')[0]);
  if (start.kind === 'request' && cseq.ok && cseq.value.method !== start.method) {
    return fail('CSeq method does not match request method', { header: 'CSeq' });
  }
  if (framingFault !== undefined) return fail(framingFault, { header: 'Content-Length' });

  // §18.3: on a datagram, octets past Content-Length are discarded; too few is an error.
  let body: Buffer;
  if (contentLength === undefined) body = buf.subarray(bodyStart);
  else if (buf.length - bodyStart < contentLength) return fail('body shorter than Content-Length', { header: 'Content-Length' });
  else body = buf.subarray(bodyStart, bodyStart + contentLength);
  body = Buffer.from(body); // own the bytes: the caller may reuse its receive buffer

  const message: SipMessage =
    start.kind === 'request'
      ? { kind: 'request', method: start.method, uri: start.uri, version: start.version, headers, body }
      : { kind: 'response', status: start.status, reason: start.reason, version: start.version, headers, body };
  return { state: 'ok', message, consumed };
}

/**
 * Parses one message from a datagram (or any buffer holding one whole message). A body longer than
 * Content-Length is truncated and a shorter one is an error (RFC 3261 §18.3); without
 * Content-Length the body runs to the end of the buffer. `consumed` counts leading CRLFs too.
 */
export function parseSipMessage(buf: Buffer, opts: ParseOptions = {}): ParseResult {
  let out: Outcome;
  try {
    out = parseOne(buf, 0, false, opts.maxBytes ?? DEFAULT_MAX_BYTES);
  } catch (e) {
    // Defence in depth: the contract is "never throws on input".
    return { ok: false, error: new SipParseError(`internal parser error: ${e instanceof Error ? e.message : String(e)}`) };
  }
  if (out.state === 'ok') return { ok: true, message: out.message, consumed: out.consumed };
  if (out.state === 'error') return { ok: false, error: out.error };
  return { ok: false, error: new SipParseError('empty message') };
}

export interface StreamParseResult {
  /** each message framed from the buffer, in order: a message or the fault that made it unusable. */
  results: ParseResult[];
  /** bytes of an incomplete message, to prepend to the next read. */
  rest: Buffer;
  /**
   * Set when framing is impossible (no or bad Content-Length, unreadable header section, size
   * limit): the stream cannot be resynchronised and the connection should be closed (§18.3).
   */
  fatal?: SipParseError;
}

/**
 * Frames messages on a stream transport (TCP, TLS) by Content-Length, which is mandatory there
 * (RFC 3261 §18.3, §20.14). Leading CRLFs (keep-alives) are skipped.
 */
export function parseSipStream(buf: Buffer, opts: ParseOptions = {}): StreamParseResult {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const results: ParseResult[] = [];
  let pos = 0;
  for (;;) {
    pos = skipCrlf(buf, pos);
    if (pos >= buf.length) return { results, rest: Buffer.alloc(0) };
    let out: Outcome;
    try {
      out = parseOne(buf, pos, true, maxBytes);
    } catch (e) {
      out = { state: 'error', error: new SipParseError(`internal parser error: ${e instanceof Error ? e.message : String(e)}`) };
    }
    if (out.state === 'incomplete') return { results, rest: Buffer.from(buf.subarray(pos)) };
    if (out.state === 'error' && out.consumed === undefined) return { results, rest: Buffer.from(buf.subarray(pos)), fatal: out.error };
    if (out.state === 'ok') results.push({ ok: true, message: out.message, consumed: out.consumed - pos });
    else results.push({ ok: false, error: out.error });
    pos = out.consumed ?? buf.length;
  }
}
