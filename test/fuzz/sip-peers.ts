import dgram from 'node:dgram';
import net from 'node:net';
import { parseSipMessage, parseSipStream } from '../../src/sip/parse.js';
import { getCSeq, getCallId, getHeader, type SipMessage, type SipResponse } from '../../src/sip/message.js';
import { RtpPeer } from '../helpers/rtp-peer.js';

/**
 * The two ends of the B2BUA for the SIP target: a callee that answers every INVITE at once (so
 * whatever the caller sent, leg B completes), and a caller that sends raw bytes and collects the
 * responses, over UDP or on a fresh TCP connection per case (a mutated Content-Length must not
 * desynchronise the next case).
 */
export class AutoCallee {
  readonly socket = dgram.createSocket('udp4');
  /** the body of the last INVITE received: where Tandem expects leg B's media */
  lastOfferSdp: string | undefined;
  invites = 0;
  /**
   * Offers by Subject (a header the B2BUA copies to leg B by default), for control calls only: a
   * late INVITE of a fuzz case can arrive after the control call's and overwrite lastOfferSdp.
   */
  readonly bySubject = new Map<string, string>();

  private constructor(readonly media: RtpPeer) {}

  static async open(): Promise<AutoCallee> {
    const c = new AutoCallee(await RtpPeer.open());
    c.socket.on('message', (buf, rinfo) => {
      const r = parseSipMessage(buf);
      if (!r.ok || r.message.kind !== 'request') return;
      const m = r.message;
      if (m.method === 'ACK') return;
      if (m.method === 'INVITE') {
        c.invites++;
        c.lastOfferSdp = m.body.toString('latin1');
        const subject = getHeader(m, 'Subject');
        if (subject !== undefined && subject.startsWith('control-')) c.bySubject.set(subject, c.lastOfferSdp);
        c.reply(m, 200, rinfo, sdpAnswer(c.media.port));
      } else c.reply(m, 200, rinfo);
    });
    await new Promise<void>((r) => c.socket.bind(0, '127.0.0.1', () => r()));
    return c;
  }

  get port(): number {
    return this.socket.address().port;
  }

  private reply(m: SipMessage, status: number, to: dgram.RemoteInfo, sdp?: string): void {
    const lines = [`SIP/2.0 ${status} OK`];
    for (const h of m.headers) if (/^(via|v)$/i.test(h.name)) lines.push(`Via: ${h.value}`);
    const toHeader = getHeader(m, 'To') ?? '';
    lines.push(
      `From: ${getHeader(m, 'From') ?? ''}`,
      `To: ${/;\s*tag=/i.test(toHeader) ? toHeader : `${toHeader};tag=callee`}`,
      `Call-ID: ${getHeader(m, 'Call-ID') ?? ''}`,
      `CSeq: ${getHeader(m, 'CSeq') ?? ''}`,
      `Contact: <sip:callee@127.0.0.1:${this.port}>`,
    );
    if (sdp !== undefined) lines.push('Content-Type: application/sdp');
    const body = sdp ?? '';
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    this.socket.send(Buffer.from(lines.join('\r\n')), to.port, to.address);
  }

  close(): void {
    this.socket.close();
    this.media.close();
  }
}

export function sdpAnswer(port: number): string {
  return ['v=0', 'o=callee 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 8 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');
}

/** A caller that sends raw requests and finds the responses to them. */
export class RawCaller {
  readonly responses: SipResponse[] = [];
  private readonly udp = dgram.createSocket('udp4');
  private readonly conns: net.Socket[] = [];

  private constructor(private readonly server: { udp: number; tcp: number }) {}

  static async open(server: { udp: number; tcp: number }): Promise<RawCaller> {
    const c = new RawCaller(server);
    c.udp.on('message', (buf) => c.take(buf));
    c.udp.on('error', () => undefined);
    await new Promise<void>((r) => c.udp.bind(0, '127.0.0.1', () => r()));
    return c;
  }

  get udpPort(): number {
    return this.udp.address().port;
  }

  private take(buf: Buffer): void {
    const r = parseSipMessage(buf);
    if (r.ok && r.message.kind === 'response') this.responses.push(r.message);
  }

  sendUdp(buf: Buffer): void {
    this.udp.send(buf, this.server.udp, '127.0.0.1');
  }

  /** A new TCP connection for one case; returns its local port (what Via must name). */
  async openTcp(): Promise<net.Socket> {
    const s = net.connect(this.server.tcp, '127.0.0.1');
    await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
    s.on('error', () => undefined);
    let rest: Buffer = Buffer.alloc(0);
    s.on('data', (d) => {
      const r = parseSipStream(Buffer.concat([rest, d]));
      rest = r.rest;
      for (const x of r.results) if (x.ok && x.message.kind === 'response') this.responses.push(x.message);
    });
    this.conns.push(s);
    s.once('close', () => this.conns.splice(this.conns.indexOf(s) >>> 0, 1));
    return s;
  }

  /** The first final response to (Call-ID, CSeq number) that arrives within timeoutMs. */
  async final(callId: string, seq: number, timeoutMs: number): Promise<SipResponse | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.responses.find((m) => m.status >= 200 && getCallId(m) === callId && getCSeq(m)?.seq === seq);
      if (hit !== undefined) return hit;
      if (Date.now() > end) return undefined;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  close(): void {
    this.udp.close();
    for (const s of this.conns) s.destroy();
    this.conns.length = 0;
  }
}
