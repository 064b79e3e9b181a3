// A minimal but correct RFC 3261 user agent over UDP on 127.0.0.1 for e2e tests.
// Enough for: UAC INVITE (Timer A retransmissions, ACK for 2xx built from the route set, ACK for
// non-2xx), UAS answering INVITE (100 + 200 retransmitted until ACK), BYE both ways, OPTIONS probes.
// Each UA owns an RTP endpoint on 127.0.0.1 that it advertises in its SDP.
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import sdpTransform from 'sdp-transform';
import { RtpEndpoint } from './rtp.js';

// ---------- message model and parser ----------

export interface SipMessage {
  isRequest: boolean;
  method: string; // request method, or the CSeq method for responses
  uri: string; // request URI ('' for responses)
  status: number; // 0 for requests
  reason: string;
  headers: Array<[string, string]>; // [lower-case long name, value] in order
  body: string;
  from: { address: string; port: number };
}

const COMPACT: Record<string, string> = {
  v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length',
  c: 'content-type', k: 'supported', s: 'subject', e: 'content-encoding',
};
// Headers whose values may be comma-separated lists (RFC 3261 7.3.1).
const LIST_HEADERS = new Set(['via', 'route', 'record-route', 'contact', 'allow', 'supported']);

/** Splits a header value on commas that are not inside quotes or <...>. */
function splitList(v: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i];
    if (quoted) {
      if (ch === '\\') {
        cur += ch + (v[i + 1] ?? '');
        i++;
        continue;
      }
      if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') depth++;
    else if (ch === '>') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export function parseSip(buf: Buffer, from: { address: string; port: number }): SipMessage {
  const text = buf.toString('utf8');
  const sep = text.search(/\r?\n\r?\n/);
  if (sep < 0) throw new Error('SIP message without end of headers');
  const head = text.slice(0, sep);
  const bodyStart = sep + (text.slice(sep).match(/^\r?\n\r?\n/)?.[0].length ?? 0);
  const rawLines = head.split(/\r?\n/);
  // unfold continuation lines
  const lines: string[] = [];
  for (const l of rawLines) {
    if (/^[ \t]/.test(l) && lines.length) lines[lines.length - 1] += ' ' + l.trim();
    else lines.push(l);
  }
  const start = lines.shift() ?? '';
  const headers: Array<[string, string]> = [];
  for (const l of lines) {
    const c = l.indexOf(':');
    if (c < 0) continue;
    let name = l.slice(0, c).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    const value = l.slice(c + 1).trim();
    if (LIST_HEADERS.has(name)) for (const v of splitList(value)) headers.push([name, v]);
    else headers.push([name, value]);
  }
  const clen = headers.find(([n]) => n === 'content-length');
  const bodyBuf = Buffer.from(text.slice(bodyStart), 'utf8');
  const body = clen ? bodyBuf.subarray(0, Number(clen[1])).toString('utf8') : bodyBuf.toString('utf8');
  const cseq = headers.find(([n]) => n === 'cseq')?.[1] ?? '';
  let m: RegExpMatchArray | null;
  if ((m = start.match(/^SIP\/2\.0\s+(\d{3})\s*(.*)$/))) {
    return { isRequest: false, method: cseq.split(/\s+/)[1] ?? '', uri: '', status: Number(m[1]), reason: m[2], headers, body, from };
  }
  if ((m = start.match(/^([A-Z]+)\s+(\S+)\s+SIP\/2\.0$/))) {
    return { isRequest: true, method: m[1], uri: m[2], status: 0, reason: '', headers, body, from };
  }
  throw new Error(`bad SIP start line: ${start}`);
}

export function hdr(msg: SipMessage, name: string): string | undefined {
  return msg.headers.find(([n]) => n === name)?.[1];
}
export function hdrAll(msg: SipMessage, name: string): string[] {
  return msg.headers.filter(([n]) => n === name).map(([, v]) => v);
}
/** The `tag` parameter of a From/To value. */
export function tagOf(v: string | undefined): string | undefined {
  return v?.match(/;\s*tag=([^;>\s]+)/i)?.[1];
}
/** The URI inside <...> (or the bare URI before parameters) of a name-addr/addr-spec value. */
export function uriOf(v: string): string {
  const m = v.match(/<([^>]*)>/);
  if (m) return m[1];
  return v.split(';')[0].trim();
}
/** host and port of a SIP URI (default port 5060). */
export function hostPortOf(uri: string): { address: string; port: number } {
  const m = uri.match(/^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?/i);
  if (!m) throw new Error(`cannot parse SIP URI ${uri}`);
  return { address: m[1], port: m[2] ? Number(m[2]) : 5060 };
}
function viaBranch(v: string | undefined): string | undefined {
  return v?.match(/;\s*branch=([^;\s]+)/i)?.[1];
}

// ---------- SDP ----------

export function audioSdp(opts: { user: string; port: number; rtcpPort?: number; codecs: Array<{ pt: number; name: string; rate?: number; fmtp?: string }>; sessionId?: number }): string {
  const id = opts.sessionId ?? Math.floor(Math.random() * 1e9);
  const lines = [
    'v=0',
    `o=${opts.user} ${id} ${id} IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${opts.port} RTP/AVP ${opts.codecs.map((c) => c.pt).join(' ')}`,
  ];
  for (const c of opts.codecs) {
    lines.push(`a=rtpmap:${c.pt} ${c.name}/${c.rate ?? 8000}`);
    if (c.fmtp) lines.push(`a=fmtp:${c.pt} ${c.fmtp}`);
  }
  if (opts.rtcpPort) lines.push(`a=rtcp:${opts.rtcpPort}`);
  lines.push('a=ptime:20', 'a=sendrecv');
  return lines.join('\r\n') + '\r\n';
}

export interface AudioSdpInfo {
  address: string;
  port: number;
  payloads: number[];
  codecs: Map<number, string>; // pt -> "PCMU/8000"
}

export function parseAudioSdp(sdp: string): AudioSdpInfo {
  const s = sdpTransform.parse(sdp);
  const m = s.media.find((x) => x.type === 'audio');
  if (!m) throw new Error(`SDP without audio m-line:\n${sdp}`);
  const address = m.connection?.ip ?? s.connection?.ip;
  if (!address) throw new Error(`SDP without connection address:\n${sdp}`);
  const payloads = String(m.payloads ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const codecs = new Map<number, string>();
  for (const r of m.rtp ?? []) codecs.set(r.payload, `${r.codec}/${r.rate ?? ''}`);
  return { address, port: m.port, payloads, codecs };
}

// ---------- UA ----------

export interface Dialog {
  callId: string;
  localTag: string;
  remoteTag: string;
  localUri: string; // From/To URI of this side (name-addr value without tag)
  remoteUri: string;
  remoteTarget: string; // Contact URI of the peer
  routeSet: string[]; // Route header values, in the order they go into requests
  localCSeq: number;
  inviteCSeq: number;
  /** The SDP the peer sent in the INVITE (UAS) or in the 200 (UAC). */
  remoteSdp: string;
  isUac: boolean;
}

type ResponseWaiter = (res: SipMessage) => void;

const rnd = (n = 8): string => randomBytes(n).toString('hex');
const newBranch = (): string => `z9hG4bK${rnd(8)}`;

export class SipUa {
  /** Every message received (for assertions and diagnostics). */
  readonly log: Array<{ dir: 'in' | 'out'; text: string }> = [];
  private waiters = new Map<string, ResponseWaiter>(); // client transaction branch -> waiter
  private requestHandlers: Array<(req: SipMessage) => boolean> = [];
  private closed = false;
  readonly dialogs: Dialog[] = [];
  readonly byesReceived: SipMessage[] = [];

  private constructor(
    readonly user: string,
    readonly sock: Socket,
    readonly rtp: RtpEndpoint,
  ) {
    sock.on('message', (buf, rinfo) => this.onMessage(buf, { address: rinfo.address, port: rinfo.port }));
    sock.on('error', () => undefined);
  }

  static async create(user: string): Promise<SipUa> {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => resolve());
    });
    return new SipUa(user, sock, await RtpEndpoint.open());
  }

  get port(): number {
    return this.sock.address().port;
  }
  get contact(): string {
    return `<sip:${this.user}@127.0.0.1:${this.port};transport=udp>`;
  }
  get aor(): string {
    return `<sip:${this.user}@127.0.0.1>`;
  }

  close(): void {
    this.closed = true;
    this.waiters.clear();
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
    this.rtp.close();
  }

  private send(text: string, to: { address: string; port: number }): void {
    if (this.closed) return;
    this.log.push({ dir: 'out', text });
    this.sock.send(Buffer.from(text, 'utf8'), to.port, to.address);
  }

  private onMessage(buf: Buffer, from: { address: string; port: number }): void {
    let msg: SipMessage;
    try {
      msg = parseSip(buf, from);
    } catch {
      return; // keep-alives, garbage
    }
    this.log.push({ dir: 'in', text: buf.toString('utf8') });
    if (!msg.isRequest) {
      const w = this.waiters.get(viaBranch(hdr(msg, 'via')) ?? '');
      if (w) w(msg);
      return;
    }
    for (const h of this.requestHandlers) if (h(msg)) return;
    this.handleInDialog(msg);
  }

  // ----- building messages -----

  private build(startLine: string, headers: Array<[string, string]>, body = '', contentType = 'application/sdp'): string {
    const all = [...headers];
    if (body) all.push(['Content-Type', contentType]);
    all.push(['Content-Length', String(Buffer.byteLength(body, 'utf8'))]);
    return `${startLine}\r\n${all.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n${body}`;
  }

  private via(branch: string): string {
    return `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch};rport`;
  }

  /** Where a request inside the dialog goes (RFC 3261 12.2.1.1 loose routing) and its R-URI/Route. */
  private target(d: Dialog): { ruri: string; routes: string[]; dest: { address: string; port: number } } {
    if (d.routeSet.length === 0) return { ruri: d.remoteTarget, routes: [], dest: hostPortOf(d.remoteTarget) };
    const first = uriOf(d.routeSet[0]);
    if (!/;lr\b/i.test(first)) throw new Error(`strict routing is not supported by the test UA: ${first}`);
    return { ruri: d.remoteTarget, routes: d.routeSet, dest: hostPortOf(first) };
  }

  private response(req: SipMessage, status: number, reason: string, extra: Array<[string, string]> = [], body = '', toTag?: string): string {
    const h: Array<[string, string]> = [];
    for (const v of hdrAll(req, 'via')) h.push(['Via', v]);
    h.push(['From', hdr(req, 'from') ?? '']);
    let to = hdr(req, 'to') ?? '';
    if (toTag && !tagOf(to)) to += `;tag=${toTag}`;
    h.push(['To', to]);
    h.push(['Call-ID', hdr(req, 'call-id') ?? '']);
    h.push(['CSeq', hdr(req, 'cseq') ?? '']);
    h.push(...extra);
    return this.build(`SIP/2.0 ${status} ${reason}`, h, body);
  }

  /** Where responses to `req` go: the top Via's sent-by, honouring received/rport (RFC 3581). */
  private responseDest(req: SipMessage): { address: string; port: number } {
    const v = hdr(req, 'via') ?? '';
    const m = v.match(/SIP\/2\.0\/UDP\s+([^;:\s]+)(?::(\d+))?/i);
    const received = v.match(/;\s*received=([^;\s]+)/i)?.[1];
    const rport = v.match(/;\s*rport=(\d+)/i)?.[1];
    return {
      address: received ?? m?.[1] ?? req.from.address,
      port: rport ? Number(rport) : m?.[2] ? Number(m[2]) : 5060,
    };
  }

  // ----- client transactions -----

  /**
   * Sends a non-INVITE request and waits for its final response (Timer E retransmissions up to T2,
   * bounded by `timeoutMs`).
   */
  private async nonInvite(text: string, branch: string, dest: { address: string; port: number }, timeoutMs = 8000): Promise<SipMessage> {
    return new Promise<SipMessage>((resolve, reject) => {
      let interval = 500;
      let gotProvisional = false;
      let timer: NodeJS.Timeout | undefined;
      const deadline = setTimeout(() => {
        clearTimeout(timer);
        this.waiters.delete(branch);
        reject(new Error(`no final response within ${timeoutMs} ms to:\n${text.split('\r\n')[0]}`));
      }, timeoutMs);
      const retransmit = (): void => {
        this.send(text, dest);
        interval = Math.min(gotProvisional ? 4000 : interval * 2, 4000);
        timer = setTimeout(retransmit, interval);
      };
      this.waiters.set(branch, (res) => {
        if (res.status < 200) {
          gotProvisional = true;
          return;
        }
        clearTimeout(timer);
        clearTimeout(deadline);
        this.waiters.delete(branch);
        resolve(res);
      });
      this.send(text, dest);
      timer = setTimeout(retransmit, interval);
    });
  }

  /** OPTIONS to `dest`; resolves with the final response (used as a readiness probe). */
  async options(dest: { address: string; port: number }, timeoutMs = 1000): Promise<SipMessage> {
    const branch = newBranch();
    const uri = `sip:${dest.address}:${dest.port}`;
    const text = this.build(`OPTIONS ${uri} SIP/2.0`, [
      ['Via', this.via(branch)],
      ['Max-Forwards', '70'],
      ['From', `${this.aor};tag=${rnd(4)}`],
      ['To', `<${uri}>`],
      ['Call-ID', `${rnd(8)}@127.0.0.1`],
      ['CSeq', '1 OPTIONS'],
      ['Contact', this.contact],
    ]);
    return this.nonInvite(text, branch, dest, timeoutMs);
  }

  /**
   * Sends an INVITE with `sdp` to `proxy` (outbound proxy) for `requestUri`, waits for the final
   * response, ACKs it and returns the confirmed dialog. Throws on a non-2xx final response.
   */
  async invite(opts: { proxy: { address: string; port: number }; requestUri: string; to: string; sdp: string; timeoutMs?: number }): Promise<{ dialog: Dialog; response: SipMessage; provisional: SipMessage[] }> {
    const branch = newBranch();
    const callId = `${rnd(10)}@127.0.0.1`;
    const localTag = rnd(6);
    const cseq = 1;
    const from = `${this.aor};tag=${localTag}`;
    const text = this.build(
      `INVITE ${opts.requestUri} SIP/2.0`,
      [
        ['Via', this.via(branch)],
        ['Max-Forwards', '70'],
        ['From', from],
        ['To', opts.to],
        ['Call-ID', callId],
        ['CSeq', `${cseq} INVITE`],
        ['Contact', this.contact],
        ['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS'],
        ['User-Agent', 'tandem-e2e-ua'],
      ],
      opts.sdp,
    );
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const provisional: SipMessage[] = [];
    let dialog: Dialog | undefined;
    let ackText = '';
    let ackDest = opts.proxy;
    const response = await new Promise<SipMessage>((resolve, reject) => {
      let interval = 500;
      let timer: NodeJS.Timeout | undefined;
      const deadline = setTimeout(() => {
        clearTimeout(timer);
        this.waiters.delete(branch);
        reject(new Error(`INVITE: no final response within ${timeoutMs} ms`));
      }, timeoutMs);
      const retransmit = (): void => {
        this.send(text, opts.proxy); // Timer A
        interval *= 2;
        timer = setTimeout(retransmit, interval);
      };
      this.waiters.set(branch, (res) => {
        if (res.status < 200) {
          provisional.push(res);
          clearTimeout(timer); // a provisional response stops Timer A
          return;
        }
        if (res.status >= 300) {
          // ACK for a non-2xx final response: same branch, hop-by-hop to the proxy (17.1.1.3).
          const ack = this.build(`ACK ${opts.requestUri} SIP/2.0`, [
            ['Via', this.via(branch)],
            ['Max-Forwards', '70'],
            ['From', from],
            ['To', hdr(res, 'to') ?? opts.to],
            ['Call-ID', callId],
            ['CSeq', `${cseq} ACK`],
          ]);
          this.send(ack, opts.proxy);
          if (!dialog) {
            clearTimeout(timer);
            clearTimeout(deadline);
            this.waiters.delete(branch);
            reject(new Error(`INVITE rejected: ${res.status} ${res.reason}`));
          }
          return;
        }
        if (dialog) {
          // 200 retransmission: the ACK got lost, send it again (13.2.2.4).
          this.send(ackText, ackDest);
          return;
        }
        clearTimeout(timer);
        clearTimeout(deadline);
        const toHdr = hdr(res, 'to') ?? '';
        const contact = hdr(res, 'contact');
        if (!contact) {
          reject(new Error('200 OK to INVITE without Contact'));
          return;
        }
        dialog = {
          callId,
          localTag,
          remoteTag: tagOf(toHdr) ?? '',
          localUri: this.aor,
          remoteUri: toHdr.replace(/;\s*tag=[^;>\s]+/i, ''),
          remoteTarget: uriOf(contact),
          routeSet: hdrAll(res, 'record-route').reverse(), // UAC: reverse order (12.1.2)
          localCSeq: cseq,
          inviteCSeq: cseq,
          remoteSdp: res.body,
          isUac: true,
        };
        const t = this.target(dialog);
        ackDest = t.dest;
        ackText = this.build(`ACK ${t.ruri} SIP/2.0`, [
          ['Via', this.via(newBranch())], // ACK for 2xx is its own transaction (new branch)
          ...t.routes.map((r): [string, string] => ['Route', r]),
          ['Max-Forwards', '70'],
          ['From', from],
          ['To', toHdr],
          ['Call-ID', callId],
          ['CSeq', `${cseq} ACK`],
          ['Contact', this.contact],
        ]);
        this.send(ackText, ackDest);
        this.dialogs.push(dialog);
        // keep the waiter registered for a while to re-ACK 200 retransmissions (bounded)
        setTimeout(() => this.waiters.delete(branch), 5000).unref();
        resolve(res);
      });
      this.send(text, opts.proxy);
      timer = setTimeout(retransmit, interval);
    });
    if (!dialog) throw new Error('INVITE: no dialog');
    return { dialog, response, provisional };
  }

  /** Sends BYE in `dialog` through its route set; resolves with the final response. */
  async bye(d: Dialog, timeoutMs = 8000): Promise<SipMessage> {
    const branch = newBranch();
    const t = this.target(d);
    d.localCSeq++;
    const local = `${d.localUri};tag=${d.localTag}`;
    const remote = `${d.remoteUri};tag=${d.remoteTag}`;
    const text = this.build(`BYE ${t.ruri} SIP/2.0`, [
      ['Via', this.via(branch)],
      ...t.routes.map((r): [string, string] => ['Route', r]),
      ['Max-Forwards', '70'],
      ['From', local],
      ['To', remote],
      ['Call-ID', d.callId],
      ['CSeq', `${d.localCSeq} BYE`],
    ]);
    return this.nonInvite(text, branch, t.dest, timeoutMs);
  }

  /** Sends a body-less request of `method` in `dialog` with `headers`; resolves with the final response. */
  async request(d: Dialog, method: string, headers: Array<[string, string]> = [], timeoutMs = 8000): Promise<SipMessage> {
    const branch = newBranch();
    const t = this.target(d);
    d.localCSeq++;
    const text = this.build(`${method} ${t.ruri} SIP/2.0`, [
      ['Via', this.via(branch)],
      ...t.routes.map((r): [string, string] => ['Route', r]),
      ['Max-Forwards', '70'],
      ['From', `${d.localUri};tag=${d.localTag}`],
      ['To', `${d.remoteUri};tag=${d.remoteTag}`],
      ['Call-ID', d.callId],
      ['CSeq', `${d.localCSeq} ${method}`],
      ...headers,
    ]);
    return this.nonInvite(text, branch, t.dest, timeoutMs);
  }

  // ----- server side -----

  /**
   * Answers the next INVITE with 100 and then 200 carrying `sdp` (retransmitted per Timer G until
   * the ACK arrives). Resolves with the confirmed dialog once the ACK arrived; rejects after
   * `timeoutMs`.
   */
  answerNextInvite(opts: { sdp: string; timeoutMs?: number }): Promise<{ invite: SipMessage; dialog: Dialog }> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      let invite: SipMessage | undefined;
      let okText = '';
      let okDest = { address: '127.0.0.1', port: 5060 };
      let dialog: Dialog | undefined;
      let timer: NodeJS.Timeout | undefined;
      const localTag = rnd(6);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        clearTimeout(deadline);
        this.requestHandlers = this.requestHandlers.filter((h) => h !== handler);
        if (err) reject(err);
        else if (invite && dialog) resolve({ invite, dialog });
      };
      const deadline = setTimeout(() => finish(new Error(`callee: no INVITE+ACK within ${timeoutMs} ms`)), timeoutMs);
      const handler = (req: SipMessage): boolean => {
        if (req.method === 'INVITE') {
          if (invite) {
            // retransmission of the same INVITE: repeat the last response
            if (hdr(req, 'call-id') === hdr(invite, 'call-id')) {
              this.send(okText, okDest);
              return true;
            }
            return false;
          }
          invite = req;
          okDest = this.responseDest(req);
          this.send(this.response(req, 100, 'Trying'), okDest);
          const contact = hdr(req, 'contact');
          const toHdr = hdr(req, 'to') ?? '';
          const cseqNum = Number((hdr(req, 'cseq') ?? '0').split(/\s+/)[0]);
          dialog = {
            callId: hdr(req, 'call-id') ?? '',
            localTag,
            remoteTag: tagOf(hdr(req, 'from')) ?? '',
            localUri: toHdr.replace(/;\s*tag=[^;>\s]+/i, ''),
            remoteUri: (hdr(req, 'from') ?? '').replace(/;\s*tag=[^;>\s]+/i, ''),
            remoteTarget: contact ? uriOf(contact) : '',
            routeSet: hdrAll(req, 'record-route'), // UAS: same order (12.1.1)
            localCSeq: Math.floor(Math.random() * 1000) + 1,
            inviteCSeq: cseqNum,
            remoteSdp: req.body,
            isUac: false,
          };
          okText = this.response(
            req,
            200,
            'OK',
            [
              ...hdrAll(req, 'record-route').map((r): [string, string] => ['Record-Route', r]),
              ['Contact', this.contact],
              ['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS'],
            ],
            opts.sdp,
            localTag,
          );
          this.send(okText, okDest);
          let interval = 500; // Timer G, capped at T2
          const again = (): void => {
            this.send(okText, okDest);
            interval = Math.min(interval * 2, 4000);
            timer = setTimeout(again, interval);
          };
          timer = setTimeout(again, interval);
          return true;
        }
        if (req.method === 'ACK' && invite && dialog && hdr(req, 'call-id') === dialog.callId) {
          this.dialogs.push(dialog);
          finish();
          return true;
        }
        return false;
      };
      this.requestHandlers.push(handler);
    });
  }

  /** Requests no pending handler took: BYE/OPTIONS answered here, anything else 481/405. */
  private handleInDialog(req: SipMessage): void {
    const dest = this.responseDest(req);
    if (req.method === 'ACK') return; // stray ACK (e.g. retransmission): absorb
    if (req.method === 'OPTIONS') {
      this.send(this.response(req, 200, 'OK', [['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS']]), dest);
      return;
    }
    const d = this.dialogs.find((x) => x.callId === hdr(req, 'call-id') && x.localTag === tagOf(hdr(req, 'to')));
    if (req.method === 'BYE') {
      if (!d) {
        this.send(this.response(req, 481, 'Call/Transaction Does Not Exist'), dest);
        return;
      }
      this.byesReceived.push(req);
      this.send(this.response(req, 200, 'OK'), dest);
      return;
    }
    if (req.method === 'INVITE') {
      this.send(this.response(req, 486, 'Busy Here', [], '', rnd(4)), dest);
      return;
    }
    this.send(this.response(req, 405, 'Method Not Allowed', [['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS']]), dest);
  }

  /** The received messages as text (for failure diagnostics). */
  dump(last = 20): string {
    return this.log
      .slice(-last)
      .map((m) => `--- ${m.dir} ---\n${m.text}`)
      .join('\n');
  }
}
