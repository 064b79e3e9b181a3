/**
 * The bench's SIP endpoints over UDP on 127.0.0.1: a caller (UAC) and a callee (UAS) that place and
 * answer many calls at once. Minimal but correct RFC 3261 behaviour for this job: a branch per
 * transaction, INVITE/BYE retransmitted (Timer A/E) until answered, ACK for 2xx built from the route
 * set (Kamailio record-routes) and Contact, the callee's 200 retransmitted until ACK. It reuses
 * Tandem's parser and serializer (src/sip), like bench/lib/ng.ts reuses the ng client.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { parseSipMessage } from '../../src/sip/parse.js';
import { serializeSipMessage } from '../../src/sip/serialize.js';
import {
  getCSeq, getCallId, getContacts, getHeader, getRecordRoutes, getTo, getVias, headerLines,
  type SipHeader, type SipMessage, type SipRequest, type SipResponse,
} from '../../src/sip/message.js';
import { answerChallenge, pickChallenge, type DigestCredentials } from './sip-digest.js';

const T1 = 500;
const T2 = 4000;

export interface Addr {
  address: string;
  port: number;
}

function rand(): string {
  return randomBytes(6).toString('hex');
}

abstract class UdpEndpoint {
  protected readonly socket = dgram.createSocket('udp4');
  port = 0;

  async open(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(port, '127.0.0.1', () => resolve());
    });
    this.port = this.socket.address().port;
    this.socket.on('message', (buf, rinfo) => {
      const r = parseSipMessage(buf);
      if (r.ok) this.onMessage(r.message, { address: rinfo.address, port: rinfo.port });
    });
    return this;
  }

  protected send(msg: SipMessage, to: Addr): void {
    this.socket.send(serializeSipMessage(msg), to.port, to.address);
  }

  protected abstract onMessage(msg: SipMessage, from: Addr): void;

  close(): void {
    this.socket.close();
  }
}

function req(method: string, uri: string, headers: SipHeader[], body = ''): SipRequest {
  const h = [...headers];
  if (body) h.push({ name: 'Content-Type', value: 'application/sdp' });
  return { kind: 'request', version: 'SIP/2.0', method, uri, headers: h, body: Buffer.from(body) };
}

function res(to: SipRequest, status: number, reason: string, extra: SipHeader[], tag?: string, body = ''): SipResponse {
  const headers: SipHeader[] = headerLines(to, 'Via').map((value) => ({ name: 'Via', value }));
  headers.push({ name: 'From', value: getHeader(to, 'From') ?? '' });
  const toValue = getHeader(to, 'To') ?? '';
  headers.push({ name: 'To', value: tag !== undefined && getTo(to)?.tag === undefined ? `${toValue};tag=${tag}` : toValue });
  headers.push({ name: 'Call-ID', value: getHeader(to, 'Call-ID') ?? '' }, { name: 'CSeq', value: getHeader(to, 'CSeq') ?? '' }, ...extra);
  if (body) headers.push({ name: 'Content-Type', value: 'application/sdp' });
  return { kind: 'response', version: 'SIP/2.0', status, reason, headers, body: Buffer.from(body) };
}

export interface Dialog {
  callId: string;
  fromTag: string;
  toTag: string;
  from: string;
  to: string;
  target: string;
  routes: string[];
  next: Addr;
  cseq: number;
}

interface Pending {
  resolve: (r: SipResponse) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  giveUp: NodeJS.Timeout;
  provisional: boolean;
}

/** Where a loose-routed in-dialog request goes: the first route if any, else the target (IP literals only). */
export function nextHop(routes: string[], target: string, fallback: Addr): Addr {
  const uri = routes[0] ?? target;
  const m = /sips?:(?:[^@;>]+@)?([0-9.]+)(?::(\d+))?/.exec(uri);
  return m === null ? fallback : { address: m[1], port: m[2] !== undefined ? Number(m[2]) : 5060 };
}

/**
 * The caller's dialog from the 2xx to its INVITE (RFC 3261 §12.1.2): remote target = the 2xx's Contact,
 * route set = its Record-Routes in reverse order, remote tag = its To tag.
 */
export function uacDialog(r: SipResponse, o: { callId: string; fromTag: string; from: string; to: string; uri: string; fallback: Addr }): Dialog {
  const contacts = getContacts(r);
  const target = contacts !== '*' && contacts.length > 0 ? contacts[0].uriText : o.uri;
  const routes = getRecordRoutes(r).map((x) => `<${x.uriText}>`).reverse();
  return { callId: o.callId, fromTag: o.fromTag, toTag: getTo(r)?.tag ?? '', from: o.from, to: o.to, target, routes, next: nextHop(routes, target, o.fallback), cseq: 1 };
}

/** An in-dialog request from the caller (ACK for the 2xx, BYE): Request-URI = remote target, Route = route set. */
export function inDialogRequest(d: Dialog, method: string, cseq: number, via: string): SipRequest {
  return req(method, d.target, [
    { name: 'Via', value: via },
    ...d.routes.map((value) => ({ name: 'Route', value })),
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: `${d.from};tag=${d.fromTag}` },
    { name: 'To', value: `${d.to};tag=${d.toTag}` },
    { name: 'Call-ID', value: d.callId },
    { name: 'CSeq', value: `${cseq} ${method}` },
  ]);
}

export class Uac extends UdpEndpoint {
  private readonly pending = new Map<string, Pending>();
  /** The ACK sent for each established call's 2xx, resent if the 2xx is retransmitted (§13.2.2.4); dropped at BYE. */
  private readonly acks = new Map<string, { ack: SipRequest; to: Addr }>();
  /** set: a 401/407 to an INVITE is answered once with these (digest, qop=auth). */
  credentials: DigestCredentials | undefined;
  /** challenges answered. */
  challenges = 0;

  protected onMessage(msg: SipMessage, from: Addr): void {
    if (msg.kind !== 'response') {
      // A request to the caller (a BYE from the far end): accept it.
      if (msg.method !== 'ACK') this.send(res(msg, 200, 'OK', []), from);
      return;
    }
    const branch = getVias(msg)[0]?.branch ?? '';
    const p = this.pending.get(branch);
    if (p === undefined) {
      // A 2xx to an INVITE retransmitted after we ACKed it: the ACK was lost; ACK again (§13.2.2.4).
      if (msg.status >= 200 && msg.status < 300 && getCSeq(msg)?.method === 'INVITE') {
        const a = this.acks.get(getCallId(msg) ?? '');
        if (a !== undefined) this.send(a.ack, a.to);
      }
      return;
    }
    if (msg.status < 200) {
      if (!p.provisional) {
        p.provisional = true;
        clearTimeout(p.timer); // Timer A stops on a provisional (RFC 3261 §17.1.1.2)
      }
      return;
    }
    clearTimeout(p.timer);
    clearTimeout(p.giveUp);
    this.pending.delete(branch);
    p.resolve(msg);
  }

  /** Sends a request in a client transaction, retransmitting until a final response or 64·T1. */
  private transact(r: SipRequest, to: Addr, invite: boolean): Promise<SipResponse> {
    const branch = getVias(r)[0]?.branch ?? '';
    return new Promise((resolve, reject) => {
      let interval = T1;
      const resend = (): void => {
        this.send(r, to);
        interval = invite ? interval * 2 : Math.min(interval * 2, T2);
        p.timer = setTimeout(resend, interval);
      };
      const p: Pending = {
        resolve,
        reject,
        provisional: false,
        timer: setTimeout(resend, interval),
        giveUp: setTimeout(() => {
          clearTimeout(p.timer);
          this.pending.delete(branch);
          reject(new Error(`${r.method} timed out`));
        }, 64 * T1),
      };
      this.pending.set(branch, p);
      this.send(r, to);
    });
  }

  private via(): string {
    return `SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${rand()};rport`;
  }

  /** INVITE → final; ACKs it. Resolves with the dialog and the SDP of the 200, rejects on anything else. */
  async invite(o: { proxy: Addr; user: string; callId: string; sdp: string }): Promise<{ dialog: Dialog; sdp: string }> {
    const fromTag = rand();
    const from = `<sip:bench@127.0.0.1:${this.port}>`;
    const to = `<sip:${o.user}@${o.proxy.address}:${o.proxy.port}>`;
    const uri = `sip:${o.user}@${o.proxy.address}:${o.proxy.port}`;
    const send = async (cseq: number, extra: SipHeader[]): Promise<SipResponse> => {
      const invite = req(
        'INVITE',
        uri,
        [
          { name: 'Via', value: this.via() },
          { name: 'Max-Forwards', value: '70' },
          { name: 'From', value: `${from};tag=${fromTag}` },
          { name: 'To', value: to },
          { name: 'Call-ID', value: o.callId },
          { name: 'CSeq', value: `${cseq} INVITE` },
          { name: 'Contact', value: `<sip:bench@127.0.0.1:${this.port}>` },
          ...extra,
        ],
        o.sdp,
      );
      const r = await this.transact(invite, o.proxy, true);
      if (r.status >= 300) {
        // The INVITE client transaction ACKs a failure itself, same branch (§17.1.1.3).
        this.send(req('ACK', uri, [
          { name: 'Via', value: headerLines(invite, 'Via')[0] },
          { name: 'Max-Forwards', value: '70' },
          { name: 'From', value: `${from};tag=${fromTag}` },
          { name: 'To', value: getHeader(r, 'To') ?? to },
          { name: 'Call-ID', value: o.callId },
          { name: 'CSeq', value: `${cseq} ACK` },
        ]), o.proxy);
      }
      return r;
    };
    let cseq = 1;
    let r = await send(cseq, []);
    if ((r.status === 401 || r.status === 407) && this.credentials !== undefined) {
      // One answer to the challenge (§22.2): same Call-ID and From tag, CSeq + 1, a new branch.
      const header = r.status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate';
      const c = pickChallenge(headerLines(r, header), this.credentials.prefer);
      if (c === undefined) throw new Error(`INVITE answered ${r.status} without a digest challenge we can answer`);
      this.challenges++;
      cseq++;
      const value = answerChallenge(c, this.credentials, { method: 'INVITE', uri });
      r = await send(cseq, [{ name: r.status === 407 ? 'Proxy-Authorization' : 'Authorization', value }]);
    }
    if (r.status >= 300) throw new Error(`INVITE answered ${r.status} ${r.reason}`);
    const dialog = uacDialog(r, { callId: o.callId, fromTag, from, to, uri, fallback: o.proxy });
    dialog.cseq = cseq;
    // The ACK for a 2xx is its own transaction (new branch), sent along the route set; CSeq = the INVITE's.
    const ack = inDialogRequest(dialog, 'ACK', cseq, this.via());
    this.acks.set(o.callId, { ack, to: dialog.next });
    this.send(ack, dialog.next);
    return { dialog, sdp: r.body.toString() };
  }

  async bye(d: Dialog): Promise<void> {
    this.acks.delete(d.callId);
    d.cseq++;
    const r = await this.transact(inDialogRequest(d, 'BYE', d.cseq, this.via()), d.next, false);
    if (r.status >= 300) throw new Error(`BYE answered ${r.status} ${r.reason}`);
  }

  override close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      clearTimeout(p.giveUp);
      p.reject(new Error('caller closed'));
    }
    this.pending.clear();
    this.acks.clear();
    super.close();
  }
}

/** What the callee does with an INVITE: the SDP it answers with, chosen by the To user. */
export type Answerer = (user: string, offer: string) => string | undefined;

interface Answered {
  response: SipResponse;
  to: Addr;
  timer?: NodeJS.Timeout;
  giveUp?: NodeJS.Timeout;
}

export class Uas extends UdpEndpoint {
  private readonly answered = new Map<string, Answered>();
  private readonly tag = rand();
  answerer: Answerer = () => undefined;
  byes = 0;

  protected onMessage(msg: SipMessage, from: Addr): void {
    if (msg.kind === 'response') return;
    const key = `${getCallId(msg) ?? ''}|${getCSeq(msg)?.seq ?? 0}`;
    if (msg.method === 'INVITE') {
      const known = this.answered.get(key);
      if (known !== undefined) {
        this.send(known.response, known.to); // a retransmitted INVITE: the same answer again
        return;
      }
      const user = /sips?:([^@;>]+)@/.exec(getHeader(msg, 'To') ?? '')?.[1] ?? '';
      const sdp = this.answerer(user, msg.body.toString());
      const contact = { name: 'Contact', value: `<sip:callee@127.0.0.1:${this.port}>` };
      const rr = headerLines(msg, 'Record-Route').map((value) => ({ name: 'Record-Route', value }));
      const response = sdp === undefined ? res(msg, 404, 'Not Found', [], this.tag) : res(msg, 200, 'OK', [...rr, contact], this.tag, sdp);
      const a: Answered = { response, to: from };
      this.answered.set(key, a);
      this.send(response, from);
      if (sdp !== undefined) {
        // §13.3.1.4: retransmit the 2xx until the ACK.
        let interval = T1;
        const again = (): void => {
          this.send(response, from);
          interval = Math.min(interval * 2, T2);
          a.timer = setTimeout(again, interval);
        };
        a.timer = setTimeout(again, interval);
        a.giveUp = setTimeout(() => clearTimeout(a.timer), 64 * T1);
      } else {
        a.giveUp = setTimeout(() => this.answered.delete(key), 64 * T1);
      }
      return;
    }
    if (msg.method === 'ACK') {
      const a = this.answered.get(key);
      if (a !== undefined) {
        clearTimeout(a.timer);
        clearTimeout(a.giveUp);
        this.answered.delete(key);
      }
      return;
    }
    if (msg.method === 'BYE') this.byes++;
    this.send(res(msg, 200, 'OK', []), from);
  }

  override close(): void {
    for (const a of this.answered.values()) {
      clearTimeout(a.timer);
      clearTimeout(a.giveUp);
    }
    super.close();
  }
}

/** Sends OPTIONS until a 200 comes back (bounded): the SIP side of a system is up. */
export async function waitForSip(to: Addr, timeoutMs: number, abort?: () => string | undefined): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  let ok = false;
  s.on('message', (m) => {
    if (/^SIP\/2\.0 200 /.test(m.toString('latin1'))) ok = true;
  });
  const until = Date.now() + timeoutMs;
  try {
    for (let n = 1; !ok; n++) {
      const why = abort?.();
      if (why !== undefined) throw new Error(why);
      if (Date.now() > until) throw new Error(`no 200 to OPTIONS from ${to.address}:${to.port} within ${timeoutMs} ms`);
      const port = s.address().port;
      const text = [
        `OPTIONS sip:${to.address}:${to.port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${rand()};rport`,
        'Max-Forwards: 70',
        `From: <sip:probe@127.0.0.1:${port}>;tag=${rand()}`,
        `To: <sip:${to.address}:${to.port}>`,
        `Call-ID: probe-${rand()}`,
        `CSeq: ${n} OPTIONS`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      s.send(text, to.port, to.address);
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    s.close();
  }
}
