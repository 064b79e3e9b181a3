import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { TandemError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { createResponse, newBranch } from '../sip/build.js';
import { SipResolver } from '../sip/dns.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { TransactionLayer } from '../sip/transaction/layer.js';
import type { ServerTransaction, TransactionUser } from '../sip/transaction/types.js';
import { SipTransportLayer, type SipListenSpec } from '../sip/transport/transport-layer.js';
import type { InboundMessage, SipEndpoint, TransportProtocol } from '../sip/transport/types.js';
import { parseUri, type SipUri } from '../sip/uri.js';

/**
 * The phone's SIP stack: Tandem's own transport and transaction layers on one local address, a
 * timeline of what crossed (ms from the start), and the Via/Contact it speaks with.
 */
export interface TimelineEntry {
  atMs: number;
  /** `→` sent, `←` received. */
  event: string;
}

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private readonly t0 = performance.now();
  note(event: string): void {
    this.entries.push({ atMs: Math.round(performance.now() - this.t0), event });
  }
  get elapsedMs(): number {
    return performance.now() - this.t0;
  }
}

export function responseLine(res: SipResponse, method?: string): string {
  return `← ${res.status} ${res.reason}${method !== undefined && method !== 'INVITE' ? ` (${method})` : ''}`;
}

export class PhoneSip {
  private user: Partial<TransactionUser> = {};
  readonly layer: TransactionLayer;

  private constructor(
    readonly transport: SipTransportLayer,
    readonly log: Logger,
  ) {
    this.layer = new TransactionLayer({
      sender: transport,
      log,
      user: {
        onRequest: (req, txn, inbound) => {
          if (this.user.onRequest !== undefined) this.user.onRequest(req, txn, inbound);
          else txn.respond(createResponse(req, 481));
        },
        onAck: (ack, inbound) => this.user.onAck?.(ack, inbound),
      },
    });
  }

  static async start(o: { listen: SipListenSpec[]; log: Logger; tlsCa?: string }): Promise<PhoneSip> {
    let holder: PhoneSip | undefined;
    const transport = await SipTransportLayer.start({
      listen: o.listen,
      log: o.log,
      ...(o.tlsCa !== undefined ? { tlsClient: { ca: o.tlsCa } } : {}),
      onMessage: (inbound: InboundMessage) => holder?.layer.receive(inbound),
    });
    holder = new PhoneSip(transport, o.log);
    return holder;
  }

  setUser(user: Partial<TransactionUser>): void {
    this.user = user;
  }

  via(protocol: TransportProtocol): string {
    const l = this.transport.localEndpoint(protocol);
    return `SIP/2.0/${protocol.toUpperCase()} ${l.address}:${l.port};branch=${newBranch()};rport`;
  }

  contact(protocol: TransportProtocol): string {
    const l = this.transport.localEndpoint(protocol);
    return `<sip:tandem@${l.address}:${l.port}${protocol === 'udp' ? '' : `;transport=${protocol}`}>`;
  }

  respond(txn: ServerTransaction, req: SipRequest, status: number, opts: Parameters<typeof createResponse>[3] = {}): SipResponse {
    const res = createResponse(req, status, undefined, opts);
    txn.respond(res);
    return res;
  }

  async close(): Promise<void> {
    this.layer.close();
    await this.transport.close();
  }
}

/** Where the call goes: the parsed URI, the first endpoint RFC 3263 gives, and the transport. */
export interface ResolvedTarget {
  uri: SipUri;
  text: string;
  endpoint: SipEndpoint;
}

/** A target URI (`sip:100@127.0.0.1:5060`, `sips:…`, a host name) → where to send; CONFIG errors name the option. */
export function parseTarget(text: string): SipUri {
  const r = parseUri(text);
  if (!r.ok) throw new TandemError('CONFIG', `target "${text.slice(0, 80)}": not a SIP URI (${r.reason})`);
  if (r.uri.type !== 'sip') throw new TandemError('CONFIG', `target "${text.slice(0, 80)}": only sip: and sips: URIs can be called`);
  return r.uri;
}

/** `--transport`, else the URI's `;transport=`; undefined leaves it to RFC 3263. */
export function targetTransport(uri: SipUri, transport: 'udp' | 'tcp' | 'tls' | undefined): 'udp' | 'tcp' | 'tls' | undefined {
  const tp = transport ?? uri.params.find((p) => p.name.toLowerCase() === 'transport')?.value?.toLowerCase();
  if (tp !== undefined && tp !== 'udp' && tp !== 'tcp' && tp !== 'tls') throw new TandemError('CONFIG', `target: transport ${tp.slice(0, 16)} is not udp, tcp or tls`);
  return tp;
}

export async function resolveTarget(uri: SipUri, text: string, tp: 'udp' | 'tcp' | 'tls' | undefined): Promise<ResolvedTarget> {
  const [first] = await new SipResolver().resolve({ host: uri.host, secure: uri.secure, ...(tp !== undefined ? { transport: tp } : {}), ...(uri.port !== undefined ? { port: uri.port } : {}) });
  const host = uri.host.replace(/^\[|\]$/g, '');
  const named = !/^[0-9.]+$/.test(host) && !host.includes(':');
  return { uri, text, endpoint: { ...first, ...(named ? { serverName: host } : {}) } };
}

/** The local address the system would send from toward `address` (no packet is sent). */
export async function localAddressToward(address: string): Promise<string> {
  const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(9, address, () => resolve());
    });
    return s.address().address;
  } catch (err) {
    throw new TandemError('CONFIG', `no route toward ${address}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
  } finally {
    s.close();
  }
}

export function readCaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TandemError('CONFIG', `--tls-ca: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
