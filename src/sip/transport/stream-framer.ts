import { parseSipMessage, parseSipStream, type ParseResult } from '../parse.js';
import { SipParseError, headerLines, type ResponseContext, type SipMessage } from '../message.js';
import { splitList } from '../headers.js';

const CR = 0x0d;
const LF = 0x0a;
const HEAD_END = Buffer.from('\r\n\r\n');
/** storage kept for an idle connection; a larger one (after a big message) is given back. */
const IDLE_CAPACITY = 4096;

export interface FramerOutput {
  /** each complete message, in order: parsed, or the fault that makes it unusable (the stream goes on). */
  results: ParseResult[];
  /** the stream cannot be framed any further (RFC 3261 §18.3): answer if possible, then close. */
  fatal?: SipParseError;
}

/**
 * Incremental Content-Length framing for one TCP/TLS connection. Bytes are appended to one growing
 * buffer; the search for the end of the header section resumes where the last read left it, and
 * once Content-Length is known nothing is scanned until the body is complete. Only then is the
 * message parsed, once: a peer dribbling a message byte by byte costs O(size), not O(size²).
 */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(IDLE_CAPACITY);
  private len = 0;
  /** bytes of the current message already searched for the header end. */
  private scanned = 0;
  /** total length of the current message, once its header section has been read. */
  private need: number | undefined;
  /** full parses run (a test hook: one per message however it was split). */
  parses = 0;

  constructor(private readonly maxBytes: number) {}

  /** Whether part of a message (anything but keep-alive CRLFs) is held. */
  get inProgress(): boolean {
    return this.len > 0 && !(this.len === 1 && this.buf[0] === CR);
  }

  push(chunk: Buffer): FramerOutput {
    this.append(chunk);
    const results: ParseResult[] = [];
    let off = 0;
    try {
      for (;;) {
        if (this.need === undefined) {
          // RFC 5626 §4.4.1 keep-alives (CRLF) between messages are not part of any message.
          while (off + 1 < this.len && this.buf[off] === CR && this.buf[off + 1] === LF) off += 2;
          if (off >= this.len) return { results };
          const from = Math.max(off, off + this.scanned - 3);
          const h = this.buf.subarray(0, this.len).indexOf(HEAD_END, from);
          if (h < 0) {
            this.scanned = this.len - off;
            if (this.scanned > this.maxBytes) return { results, fatal: tooLarge(this.buf.subarray(off, this.len), undefined) };
            return { results };
          }
          const bodyStart = h + 4 - off;
          if (bodyStart > this.maxBytes) return { results, fatal: tooLarge(this.buf.subarray(off, this.len), bodyStart) };
          const cl = contentLength(this.buf.toString('latin1', off, h));
          if (cl === undefined) return { results, fatal: this.framingFault(off, bodyStart) };
          this.need = bodyStart + cl;
          if (this.need > this.maxBytes) return { results, fatal: tooLarge(this.buf.subarray(off, this.len), bodyStart) };
        }
        if (this.len - off < this.need) return { results };
        this.parses++;
        const r = parseSipStream(this.buf.subarray(off, off + this.need), { maxBytes: this.maxBytes });
        const one = r.results[0];
        if (r.fatal !== undefined) return { results, fatal: r.fatal };
        if (one === undefined) return { results, fatal: new SipParseError('unreadable Content-Length on stream transport', { header: 'Content-Length' }) };
        results.push(one);
        off += this.need;
        this.need = undefined;
        this.scanned = 0;
      }
    } finally {
      this.consume(off);
    }
  }

  private framingFault(off: number, bodyStart: number): SipParseError {
    // Content-Length is missing, repeated or malformed: let the parser name the fault and find
    // what a 400 needs.
    this.parses++;
    const r = parseSipStream(this.buf.subarray(off, off + bodyStart), { maxBytes: this.maxBytes });
    return r.fatal ?? new SipParseError('unreadable Content-Length on stream transport', { header: 'Content-Length' });
  }

  private append(chunk: Buffer): void {
    if (this.len + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + chunk.length));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.len);
    this.len += chunk.length;
  }

  private consume(off: number): void {
    if (off === 0) return;
    if (off >= this.len) {
      this.len = 0;
      if (this.buf.length > IDLE_CAPACITY) this.buf = Buffer.alloc(IDLE_CAPACITY);
      return;
    }
    this.buf.copyWithin(0, off, this.len);
    this.len -= off;
  }
}

/** Content-Length from a header section (no final CRLF), or undefined when missing, repeated or not a number. */
function contentLength(head: string): number | undefined {
  let found: number | undefined;
  let count = 0;
  const lines = head.split('\r\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name !== 'content-length' && name !== 'l') continue;
    count++;
    let value = line.slice(colon + 1);
    // A folded value continues on lines starting with whitespace (RFC 3261 §7.3.1).
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1])) value += ' ' + lines[++i];
    const v = value.trim();
    if (!/^\d{1,10}$/.test(v)) return undefined;
    found = Number(v);
  }
  return count === 1 ? found : undefined;
}

/**
 * The 513 for a message over the size limit (RFC 3261 §18.1.1, §21.5.14), with what a response
 * needs when the part received so far has it: the header section when complete (`bodyStart`),
 * else every whole header line received.
 */
export function tooLarge(buf: Buffer, bodyStart: number | undefined): SipParseError {
  let head: Buffer;
  if (bodyStart !== undefined) head = buf.subarray(0, bodyStart - 4);
  else {
    const last = buf.lastIndexOf('\r\n');
    head = last < 0 ? Buffer.alloc(0) : buf.subarray(0, last);
  }
  const response = head.length === 0 ? undefined : contextOf(Buffer.concat([head, HEAD_END]));
  return new SipParseError('Message Too Large', { status: 513, ...(response !== undefined ? { response } : {}) });
}

/** For a datagram (UDP, one WebSocket message) over the limit: its header section, if it has one. */
export function datagramTooLarge(buf: Buffer): SipParseError {
  const h = buf.indexOf(HEAD_END);
  return tooLarge(buf, h < 0 ? undefined : h + 4);
}

function contextOf(head: Buffer): ResponseContext | undefined {
  // The header section alone, parsed as a datagram: a non-zero Content-Length makes it fail with
  // "body shorter than Content-Length", which carries the context when the headers allow a response.
  const r = parseSipMessage(head, { maxBytes: head.length + 1 });
  if (!r.ok) return r.error.response;
  return requestContext(r.message);
}

function requestContext(m: SipMessage): ResponseContext | undefined {
  if (m.kind !== 'request') return undefined;
  const via = headerLines(m, 'via').flatMap((v) => {
    const r = splitList(v);
    return r.ok ? r.value : [v];
  });
  const [from] = headerLines(m, 'from');
  const [to] = headerLines(m, 'to');
  const [callId] = headerLines(m, 'call-id');
  const [cseq] = headerLines(m, 'cseq');
  if (via.length === 0 || from === undefined || to === undefined || callId === undefined || cseq === undefined) return undefined;
  return { method: m.method, uri: m.uri, via, from, to, callId, cseq };
}
