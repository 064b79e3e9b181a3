import type { SipEndpoint } from './types.js';
import type { ParseResult } from '../parse.js';

/**
 * What the transport asks before it spends anything on a source: a stream connection at accept, a
 * request (ACK excluded: it makes no transaction), or anything else (a response, an ACK, a
 * keepalive). False = drop without a word. main.ts wires the edge's access lists and flood defence.
 */
export type AdmitKind = 'connection' | 'request' | 'other';
export type AdmitHook = (source: SipEndpoint, local: SipEndpoint, kind: AdmitKind) => boolean;

/** Without parsing: a response (`SIP/2.0 …`), an ACK or a keepalive is not a request that starts work. */
export function datagramKind(buf: Buffer): 'request' | 'other' {
  if (buf.length < 8) return 'other';
  // 'SIP/' and 'ACK ' as little-endian 32-bit words: one read, no string.
  const head = buf.readUInt32LE(0);
  return head === 0x2f504953 || head === 0x204b4341 ? 'other' : 'request';
}

/** The remote end of an accepted socket, as the admit hook sees it. */
export function socketSource(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }, local: SipEndpoint): SipEndpoint {
  return { protocol: local.protocol, address: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 };
}

/** The same for a framed stream message. */
export function messageKind(r: ParseResult | { ok: false }): 'request' | 'other' {
  return r.ok && r.message.kind === 'request' && r.message.method !== 'ACK' ? 'request' : 'other';
}
