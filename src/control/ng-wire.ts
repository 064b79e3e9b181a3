import { decode, encode, type BDict } from './bencode.js';
import { TandemError, errorMessage } from '../common/errors.js';

/**
 * The ng datagram (rtpengine docs/ng_control_protocol.md, "Protocol"):
 *
 *   <cookie> SP <bencoded dictionary>
 *
 * The cookie is an opaque token chosen by the client (Kamailio: "<pid>_<counter>_<n>"); the reply
 * repeats it, which is how clients match replies to (retransmitted) requests and how the server's
 * cookie cache recognises a retransmission. We require it to be 1–64 printable ASCII bytes
 * without spaces, the same limit on both sides.
 */
export const MAX_COOKIE_LENGTH = 64;

/**
 * A datagram that is not `<cookie> <dict>`. `cookie` is set when the cookie part was readable, so
 * the server can still send `{result: "error"}` that the client will match; it is undefined when
 * there is nothing to reply to.
 */
export class NgWireError extends TandemError {
  readonly cookie: string | undefined;

  constructor(message: string, cookie?: string) {
    super('BAD_REQUEST', message);
    this.name = 'NgWireError';
    this.cookie = cookie;
  }
}

/** 1–64 bytes of printable ASCII (0x21–0x7e): no spaces, no control bytes, nothing non-ASCII. */
export function isValidCookie(cookie: string): boolean {
  if (cookie.length === 0 || cookie.length > MAX_COOKIE_LENGTH) return false;
  for (let i = 0; i < cookie.length; i++) {
    const c = cookie.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** Splits and decodes one datagram. Throws {@link NgWireError} (with the cookie when readable). */
export function parseNgDatagram(buf: Buffer): { cookie: string; message: BDict } {
  const sp = buf.indexOf(0x20);
  if (sp < 0) throw new NgWireError('no cookie: expected "<cookie> <bencoded dictionary>"');
  if (sp === 0) throw new NgWireError('empty cookie: datagram starts with a space');
  if (sp > MAX_COOKIE_LENGTH) throw new NgWireError(`cookie longer than ${MAX_COOKIE_LENGTH} bytes`);
  const cookie = buf.toString('latin1', 0, sp);
  if (!isValidCookie(cookie)) throw new NgWireError('cookie has non-printable bytes');
  let body;
  try {
    body = decode(buf.subarray(sp + 1));
  } catch (e) {
    throw new NgWireError(errorMessage(e), cookie);
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new NgWireError(`message is a ${Array.isArray(body) ? 'list' : typeof body}, not a dictionary`, cookie);
  }
  return { cookie, message: body };
}

/** `<cookie> <bencode(message)>`. Throws {@link NgWireError} on an invalid cookie. */
export function formatNgDatagram(cookie: string, message: BDict): Buffer {
  if (!isValidCookie(cookie)) throw new NgWireError(`invalid cookie ${JSON.stringify(cookie)}: want 1–${MAX_COOKIE_LENGTH} printable ASCII bytes without spaces`);
  const body = encode(message);
  const out = Buffer.allocUnsafe(cookie.length + 1 + body.length);
  out.write(cookie, 0, 'latin1');
  out[cookie.length] = 0x20;
  body.copy(out, cookie.length + 1);
  return out;
}
