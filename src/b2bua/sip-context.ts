import type { Logger } from '../common/log.js';
import type { Clock } from '../common/clock.js';
import type { SipRequest, SipResponse, SipHeader } from '../sip/message.js';
import { getHeader } from '../sip/message.js';
import { createResponse, newBranch, newTag } from '../sip/build.js';
import { getTo } from '../sip/message.js';
import { ALLOW } from './methods.js';
import type { SipEndpoint, SipSender, TransportProtocol } from '../sip/transport/types.js';
import type { ClientTransaction, ClientTransactionHandler, ServerTransaction } from '../sip/transaction/types.js';
import type { UacAuthStats } from './uac-auth.js';
import type { MediaControl } from '../media/api.js';

/** The part of the transaction layer the B2BUA uses (a seam for tests and for the layer's owner). */
export interface TransactionApi {
  sendRequest(request: SipRequest, destination: SipEndpoint, handler: ClientTransactionHandler): ClientTransaction;
  findInviteServerTransaction(cancel: SipRequest): ServerTransaction | undefined;
}

/** `Allow` in every dialog-creating response and in-dialog request (RFC 3261 §20.5); see methods.ts. */
export { ALLOW } from './methods.js';

/** Leg B's serial failover (outbound.ts): route targets and X-Outbound-Proxy addresses alike. */
export interface LegBCounters {
  /** INVITEs sent to the next target or address after a 408/5xx, a timeout or a transport error. */
  legBFailovers: number;
  /** calls whose every target and address failed so: the caller's final response has a Warning saying so. */
  legBExhausted: number;
}

/** What every call shares: the stack below, the media plane, and how Tandem presents itself. */
export class SipContext {
  constructor(
    readonly transactions: TransactionApi,
    readonly sender: SipSender,
    readonly media: MediaControl,
    readonly clock: Clock,
    readonly log: Logger,
    /** Server / User-Agent value; undefined = send neither (RFC 3261 §20.35, §20.41 make both optional). */
    readonly userAgent: string | undefined,
    /** leg B's serial failover over every call (the B2BUA's own counters). */
    readonly counters: LegBCounters = { legBFailovers: 0, legBExhausted: 0 },
  ) {}

  /** the digest client toward trunks (uac-auth.ts), over every call. */
  readonly trunkAuth: UacAuthStats = { answered: 0, refused: 0 };

  /** `User-Agent` for a request we originate, when one is configured. */
  userAgentHeaders(): SipHeader[] {
    return this.userAgent === undefined ? [] : [{ name: 'User-Agent', value: this.userAgent }];
  }

  private hostPort(e: SipEndpoint): string {
    return `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
  }

  /** A top Via for a request we originate on `protocol` (rport asks for symmetric responses, RFC 3581). */
  via(protocol: TransportProtocol): string {
    const local = this.sender.localEndpoint(protocol);
    return `SIP/2.0/${protocol.toUpperCase()} ${this.hostPort(local)};branch=${newBranch()};rport`;
  }

  /** Our Contact on `protocol`: in-dialog requests come back to this listener. */
  contact(protocol: TransportProtocol): string {
    const local = this.sender.localEndpoint(protocol);
    const tp = protocol === 'udp' ? '' : `;transport=${protocol}`;
    return `<sip:tandem@${this.hostPort(local)}${tp}>`;
  }

  /** Responds on a server transaction; Server and (for dialog-creating responses) Contact/Allow added. */
  respond(
    txn: ServerTransaction,
    status: number,
    opts: { reason?: string; toTag?: string; contact?: string; sdp?: string; headers?: SipHeader[]; body?: Buffer; stateless?: boolean } = {},
  ): void {
    const headers: SipHeader[] = [];
    if (opts.contact !== undefined) headers.push({ name: 'Contact', value: opts.contact });
    if (opts.contact !== undefined) headers.push({ name: 'Allow', value: ALLOW });
    if (this.userAgent !== undefined) headers.push({ name: 'Server', value: this.userAgent });
    headers.push(...(opts.headers ?? []));
    const body = opts.sdp !== undefined ? Buffer.from(opts.sdp, 'utf8') : opts.body;
    if (opts.sdp !== undefined) headers.push({ name: 'Content-Type', value: 'application/sdp' });
    // RFC 3261 §8.2.6.2: a response to a request whose To has no tag gets one (100 excepted), also
    // when it refuses the request; a retransmitted request gets the same response again from the
    // transaction, so one tag per request.
    const toTag = opts.toTag ?? (status > 100 && getTo(txn.request)?.tag === undefined ? newTag() : undefined);
    const res = createResponse(txn.request, status, opts.reason, {
      ...(toTag !== undefined ? { toTag } : {}),
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    txn.respond(res, opts.stateless === true ? { stateless: true } : undefined);
  }

  /** Sends a request outside any transaction (ACK for a 2xx, RFC 3261 §13.2.2.4); failures are logged. */
  sendAck(ack: SipRequest, destination: SipEndpoint, log: Logger): void {
    this.sender.send(ack, destination).catch((err: unknown) => log.warn({ err }, 'ACK could not be sent'));
  }
}

/**
 * RFC 3261 §20.43 Warning naming why a request was refused: 305 (incompatible media format) by
 * default, 399 (miscellaneous) for an SDP we could not read. Quotes and line breaks of the text
 * are replaced so a peer's input cannot break the header.
 */
export function warning(why: string, code = 305): SipHeader {
  return { name: 'Warning', value: `${code} tandem "${why.replace(/["\\\r\n]/g, "'").slice(0, 200)}"` };
}

/** The SDP of a message, or undefined (no body, or not application/sdp). */
export function sdpBody(msg: SipRequest | SipResponse): string | undefined {
  if (msg.body.length === 0) return undefined;
  const ct = getHeader(msg, 'Content-Type');
  if (ct === undefined || !/^\s*application\/sdp\b/i.test(ct)) return undefined;
  return msg.body.toString('utf8');
}

/** Body and Content-Type of a message, for relaying INFO/MESSAGE payloads and their responses. */
export function relayedBody(msg: SipRequest | SipResponse): { headers: SipHeader[]; body: Buffer } {
  const headers: SipHeader[] = [];
  for (const name of ['Content-Type', 'Content-Disposition', 'Info-Package', 'Event']) {
    const v = getHeader(msg, name);
    if (v !== undefined) headers.push({ name, value: v });
  }
  return { headers, body: msg.body };
}
