import { decode, encode, type BDict } from './bencode.js';

/**
 * The ng datagram (rtpengine docs/ng_control_protocol.md): `<cookie><space><bencoded dict>`.
 * The reply repeats the cookie, which is how clients match replies to retransmitted requests.
 */
export class NgWireError extends Error {
  constructor(
    message: string,
    /** Set when the cookie was readable, so the server can still send an error reply. */
    readonly cookie?: string,
  ) {
    super(message);
    this.name = 'NgWireError';
  }
}

const MAX_COOKIE = 64;

export function parseNgDatagram(buf: Buffer): { cookie: string; message: BDict } {
  const sp = buf.indexOf(0x20);
  if (sp <= 0) throw new NgWireError('no cookie: expected "<cookie> <bencoded dict>"');
  if (sp > MAX_COOKIE) throw new NgWireError(`cookie longer than ${MAX_COOKIE} bytes`);
  const cookie = buf.toString('latin1', 0, sp);
  if (!/^[\x21-\x7e]+$/.test(cookie)) throw new NgWireError('cookie has non-printable bytes');
  let body;
  try {
    body = decode(buf.subarray(sp + 1));
  } catch (e) {
    throw new NgWireError(e instanceof Error ? e.message : String(e), cookie);
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw new NgWireError('message is not a dictionary', cookie);
  return { cookie, message: body };
}

export function formatNgDatagram(cookie: string, message: BDict): Buffer {
  return Buffer.concat([Buffer.from(`${cookie} `, 'latin1'), encode(message)]);
}
