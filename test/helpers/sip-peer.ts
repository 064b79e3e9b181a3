import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseSipMessage, parseSipStream } from '../../src/sip/parse.js';
import { serializeSipMessage } from '../../src/sip/serialize.js';
import { getCSeq, getHeader, getTo, type SipMessage, type SipRequest, type SipResponse } from '../../src/sip/message.js';

/**
 * A scriptable SIP endpoint on 127.0.0.1 (UDP or TCP) for B2BUA tests: it sends messages written
 * as text and waits for the ones a test expects. It never answers by itself, so every step of a
 * scenario is visible in the test (retransmissions over UDP show up as repeated messages).
 */
export interface Received {
  msg: SipMessage;
  from: { address: string; port: number };
}

export type Predicate = (m: SipMessage) => boolean;

export const isRequest = (method: string): Predicate => (m) => m.kind === 'request' && m.method === method;
export const isResponse = (status: number, method?: string): Predicate => (m) =>
  m.kind === 'response' && m.status === status && (method === undefined || getCSeq(m)?.method === method);

export class SipPeer {
  readonly inbox: Received[] = [];
  private waiters: { pred: Predicate; resolve: (r: Received) => void; from: number }[] = [];
  private udp?: dgram.Socket;
  private server?: net.Server;
  private conn?: net.Socket;
  private rest: Buffer = Buffer.alloc(0);
  readonly tag = randomBytes(4).toString('hex');
  port = 0;

  private constructor(readonly protocol: 'udp' | 'tcp') {}

  /** `address`: another loopback source (127.0.0.2…) for tests of who may do what. */
  static async udp(address = '127.0.0.1'): Promise<SipPeer> {
    const p = new SipPeer('udp');
    const s = dgram.createSocket('udp4');
    p.udp = s;
    s.on('message', (buf, rinfo) => {
      const r = parseSipMessage(buf);
      if (r.ok) p.push({ msg: r.message, from: { address: rinfo.address, port: rinfo.port } });
    });
    await new Promise<void>((res) => s.bind(0, address, () => res()));
    p.port = s.address().port;
    return p;
  }

  /** A TCP peer: it connects to `remote` (the B2BUA) and keeps that one connection. */
  static async tcp(remote: { address: string; port: number }): Promise<SipPeer> {
    const p = new SipPeer('tcp');
    const c = net.connect(remote.port, remote.address);
    await new Promise<void>((res, rej) => c.once('connect', res).once('error', rej));
    p.conn = c;
    p.port = c.localPort ?? 0;
    c.on('data', (d) => {
      const r = parseSipStream(Buffer.concat([p.rest, d]));
      p.rest = r.rest;
      for (const x of r.results) if (x.ok) p.push({ msg: x.message, from: remote });
    });
    c.on('error', () => undefined);
    return p;
  }

  private push(r: Received): void {
    this.inbox.push(r);
    const i = this.inbox.length - 1;
    this.waiters = this.waiters.filter((w) => {
      if (i >= w.from && w.pred(r.msg)) {
        w.resolve(r);
        return false;
      }
      return true;
    });
  }

  /** Sends raw text (`\n` line ends are turned into CRLF, Content-Length filled in) or a message. */
  send(message: string | SipMessage, to: { address: string; port: number }): void {
    let buf: Buffer;
    if (typeof message === 'string') {
      const [head, ...bodyParts] = message.replace(/\r?\n/g, '\r\n').split('\r\n\r\n');
      const body = bodyParts.join('\r\n\r\n');
      const withLength = /\r\nContent-Length:/i.test(head) ? head : `${head}\r\nContent-Length: ${Buffer.byteLength(body)}`;
      buf = Buffer.from(`${withLength}\r\n\r\n${body}`);
    } else buf = serializeSipMessage(message);
    if (this.udp !== undefined) this.udp.send(buf, to.port, to.address);
    else this.conn?.write(buf);
  }

  /** The next message matching `pred` that arrived at or after inbox index `from` (default: any not yet awaited). */
  next(pred: Predicate, timeoutMs = 3000, from = 0): Promise<Received> {
    const hit = this.inbox.slice(from).find((r) => pred(r.msg));
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (r: Received) => { clearTimeout(t); resolve(r); }, from };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out waiting; inbox: ${this.inbox.map((r) => (r.msg.kind === 'request' ? r.msg.method : `${r.msg.status} ${getCSeq(r.msg)?.method ?? ''}`)).join(', ')}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  count(pred: Predicate): number {
    return this.inbox.filter((r) => pred(r.msg)).length;
  }

  /** Answers a request it received: Via/From/To/Call-ID/CSeq copied, our tag on To. */
  reply(req: Received, status: number, opts: { reason?: string; sdp?: string; headers?: string[]; contactPort?: number } = {}): void {
    const m = req.msg as SipRequest;
    const lines = [`SIP/2.0 ${status} ${opts.reason ?? 'Whatever'}`];
    for (const h of m.headers) if (/^(via|v)$/i.test(h.name)) lines.push(`Via: ${h.value}`);
    lines.push(`From: ${getHeader(m, 'From') ?? ''}`);
    const to = getHeader(m, 'To') ?? '';
    lines.push(`To: ${getTo(m)?.tag === undefined && status > 100 ? `${to};tag=${this.tag}` : to}`);
    lines.push(`Call-ID: ${getHeader(m, 'Call-ID') ?? ''}`, `CSeq: ${getHeader(m, 'CSeq') ?? ''}`);
    if (status < 300 && status > 100) lines.push(`Contact: <sip:peer@127.0.0.1:${opts.contactPort ?? this.port}${this.protocol === 'tcp' ? ';transport=tcp' : ''}>`);
    lines.push(...(opts.headers ?? []));
    if (opts.sdp !== undefined) lines.push('Content-Type: application/sdp');
    this.send(`${lines.join('\n')}\n\n${opts.sdp ?? ''}`, req.from);
  }

  close(): void {
    this.udp?.close();
    this.conn?.destroy();
    this.server?.close();
  }
}

export function responseTo(r: Received): SipResponse {
  if (r.msg.kind !== 'response') throw new Error('not a response');
  return r.msg;
}

export function sdpOffer(port: number, codecs: { pt: number; name: string }[], extra: string[] = []): string {
  return [
    'v=0',
    `o=peer ${Date.now() % 100000} 1 IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP ${codecs.map((c) => c.pt).join(' ')}`,
    ...codecs.map((c) => `a=rtpmap:${c.pt} ${c.name}/8000`),
    ...extra,
    '',
  ].join('\r\n');
}
