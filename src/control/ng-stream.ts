import { MAX_DEPTH, MAX_ELEMENTS } from './bencode.js';
import { MAX_COOKIE_LENGTH, isValidCookie } from './ng-wire.js';

/**
 * ng over TCP (rtpengine's `--listen-tcp-ng`, daemon/control_ng.c): the stream is the UDP messages
 * one after the other, `<cookie> SP <bencoded dictionary>`, with no length prefix; a message ends
 * where its dictionary does, and replies are framed the same way. This finds those ends as bytes
 * arrive. Each byte is examined a bounded number of times however the stream is split (a token
 * cut by a read boundary is read again from its start: at most 9 length digits or 20 integer
 * characters), so a peer dribbling bytes costs linear work.
 *
 * Whitespace between messages is skipped (a person typing into `nc` ends lines). What cannot be
 * framed (no cookie, bytes that are not bencode, a message over the size limit) ends the stream:
 * there is no way to find the next message. Everything else that is wrong inside a well-framed
 * message (a duplicate key, a list at the top) is left to the decoder, which answers it.
 */
export type NgFrame =
  | { kind: 'message'; bytes: Buffer }
  /** The stream cannot go on; `cookie` is set when an error reply can still be matched by the client. */
  | { kind: 'fatal'; reason: string; cookie?: string; tooLarge: boolean };

const SP = 0x20;
const COLON = 0x3a;
const E = 0x65;
const I = 0x69;
const L = 0x6c;
const D = 0x64;
const ZERO = 0x30;
const NINE = 0x39;
/** "i-9007199254740991e" and one more: an integer that has not ended by then never will. */
const MAX_INT_BYTES = 20;
const MAX_LEN_DIGITS = 9;

const isGap = (b: number): boolean => b === SP || b === 0x0a || b === 0x0d || b === 0x09;

export class NgStreamFramer {
  private store: Buffer = Buffer.allocUnsafe(4096);
  /** The current message starts at `start`; bytes held end at `end`. */
  private start = 0;
  private end = 0;
  /** Where scanning resumes. */
  private pos = 0;
  private bodyStart = 0;
  private cookie: string | undefined;
  private depth = 0;
  private elements = 0;
  private dead = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of an unfinished message held (0 between messages). */
  get pending(): number {
    return this.end - this.start;
  }

  /** Appends `chunk` and returns the messages it completed; after a `fatal` nothing more is read. */
  push(chunk: Buffer): NgFrame[] {
    if (this.dead) return [];
    const out: NgFrame[] = [];
    this.append(chunk);
    for (;;) {
      while (this.cookie === undefined && this.start < this.end && isGap(this.store[this.start])) this.start++;
      const f = this.next();
      if (f === undefined) break;
      out.push(f);
      if (f.kind === 'fatal') {
        this.dead = true;
        this.start = this.end = 0;
        break;
      }
    }
    return out;
  }

  private append(chunk: Buffer): void {
    // Move the unfinished message to the front (once per read, so pipelined messages cost nothing).
    if (this.start > 0) {
      this.store.copy(this.store, 0, this.start, this.end);
      this.end -= this.start;
      this.pos -= this.start;
      this.bodyStart -= this.start;
      this.start = 0;
    }
    if (this.end + chunk.length > this.store.length) {
      // Doubling keeps the copying linear; a message is refused past maxMessageBytes.
      const grown = Buffer.allocUnsafe(Math.max(this.store.length * 2, this.end + chunk.length));
      this.store.copy(grown, 0, 0, this.end);
      this.store = grown;
    }
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
  }

  /** One message or fatal error from the bytes held, or undefined when more are needed. */
  private next(): NgFrame | undefined {
    const b = this.store;
    if (this.start >= this.end) return undefined;
    if (this.cookie === undefined) {
      const limit = Math.min(this.end, this.start + MAX_COOKIE_LENGTH + 1);
      const sp = b.subarray(this.start, limit).indexOf(SP);
      if (sp < 0) return this.end - this.start > MAX_COOKIE_LENGTH ? this.fatal(`no cookie: no space in the first ${MAX_COOKIE_LENGTH + 1} bytes`) : undefined;
      const cookie = b.toString('latin1', this.start, this.start + sp);
      if (!isValidCookie(cookie)) return this.fatal(sp === 0 ? 'empty cookie' : 'cookie has non-printable bytes');
      this.cookie = cookie;
      this.bodyStart = this.pos = this.start + sp + 1;
      this.depth = 0;
      this.elements = 0;
    }
    for (;;) {
      if (this.pos - this.start > this.maxMessageBytes) return this.fatal(`message over ${this.maxMessageBytes} bytes`, true);
      if (this.pos >= this.end) return undefined;
      const at = this.pos;
      const c = b[at];
      if (at === this.bodyStart && c !== D) return this.fatal('the message is not a bencoded dictionary');
      if (c === E && this.depth > 0) {
        this.pos++;
        if (--this.depth === 0) return this.pos - this.start > this.maxMessageBytes ? this.fatal(`message over ${this.maxMessageBytes} bytes`, true) : this.complete();
        continue;
      }
      if (++this.elements > MAX_ELEMENTS) return this.fatal(`more than ${MAX_ELEMENTS} bencode values`);
      if (c === L || c === D) {
        if (++this.depth > MAX_DEPTH) return this.fatal(`bencode nested deeper than ${MAX_DEPTH}`);
        this.pos++;
        continue;
      }
      const end = c === I ? this.intEnd(at) : c >= ZERO && c <= NINE ? this.stringEnd(at) : 'bad';
      if (end === 'bad') return this.fatal(`byte 0x${c.toString(16).padStart(2, '0')} at ${at - this.bodyStart} of the dictionary is not bencode`);
      if (end === 'large') return this.fatal(`message over ${this.maxMessageBytes} bytes`, true);
      if (end === undefined) {
        // Cut by the end of what has arrived: the token is read again, from its start, next time.
        this.elements--;
        return undefined;
      }
      this.pos = end;
    }
  }

  private intEnd(at: number): number | 'bad' | undefined {
    const stop = Math.min(this.end, at + MAX_INT_BYTES);
    const e = this.store.subarray(at, stop).indexOf(E);
    if (e >= 0) return at + e + 1;
    return stop - at >= MAX_INT_BYTES ? 'bad' : undefined;
  }

  private stringEnd(at: number): number | 'bad' | 'large' | undefined {
    const b = this.store;
    let p = at;
    let len = 0;
    while (p < this.end && b[p] >= ZERO && b[p] <= NINE) {
      if (p - at >= MAX_LEN_DIGITS) return 'bad';
      len = len * 10 + (b[p] - ZERO);
      p++;
    }
    if (p >= this.end) return undefined;
    if (b[p] !== COLON) return 'bad';
    const stop = p + 1 + len;
    // Known too large before its bytes arrive: refuse now rather than buffer them.
    if (stop - this.start > this.maxMessageBytes) return 'large';
    return stop <= this.end ? stop : undefined;
  }

  private complete(): NgFrame {
    const bytes = Buffer.from(this.store.subarray(this.start, this.pos));
    this.start = this.pos;
    this.cookie = undefined;
    if (this.start === this.end) this.start = this.end = this.pos = 0;
    return { kind: 'message', bytes };
  }

  private fatal(reason: string, tooLarge = false): NgFrame {
    return { kind: 'fatal', reason, tooLarge, ...(this.cookie !== undefined ? { cookie: this.cookie } : {}) };
  }
}
