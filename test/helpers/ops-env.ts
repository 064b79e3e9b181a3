import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig, type TandemConfig } from '../../src/config/config.js';
import { getCSeq, getCallId, getHeader, getTo, type SipMessage } from '../../src/sip/message.js';
import { SipPeer, sdpOffer, type Received } from './sip-peer.js';
import { RtpPeer } from './rtp-peer.js';

/** Upper bound of a wait for a SIP message: generous, since the box may be busy with other suites (not a timing assertion). */
export const WAIT_MS = 10_000;

/**
 * A Tandem B2BUA with its admin listener on a free loopback port, a scripted caller and callee, and
 * the calls the operations tests place through it (real UDP SIP and RTP on 127.0.0.1).
 */
export class OpsEnv {
  private seq = 1;

  private constructor(
    readonly tandem: RunningTandem,
    readonly sip: { address: string; port: number },
    readonly admin: string,
    readonly caller: SipPeer,
    readonly callee: SipPeer,
  ) {}

  static async start(over: (callee: SipPeer) => Partial<TandemConfig> = () => ({})): Promise<OpsEnv> {
    const caller = await SipPeer.udp();
    const callee = await SipPeer.udp();
    const base = 10000 + Math.floor(Math.random() * 45) * 400;
    const tandem = await startTandem(
      {
        ...defaultConfig(),
        listenNg: { address: '127.0.0.1', port: 0 },
        listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
        listenHttp: { address: '127.0.0.1', port: 0 },
        portMin: base,
        portMax: base + 399,
        numThreads: 1,
        logLevel: 'silent',
        sipT1: 50,
        sipT2: 400,
        sipT4: 500,
        // A loaded test box (other suites beside this one) can lag the event loop past --overload-lag
        // while workers warm up; these tests are not about overload, so its 503 must not stand in the way.
        overloadLag: 0,
        route: `sip:127.0.0.1:${callee.port}`,
        bCodecs: ['PCMU'],
        ...over(callee),
      },
      pino({ level: process.env.TEST_LOG ?? 'silent' }),
    );
    const udp = tandem.sip?.listeners.find((l) => l.protocol === 'udp');
    const http = tandem.ops.address;
    if (udp === undefined || http === undefined) throw new Error('no UDP SIP or admin listener');
    return new OpsEnv(tandem, { address: udp.address, port: udp.port }, `http://127.0.0.1:${http.port}`, caller, callee);
  }

  invite(sdp: string, callId = `ops-${Math.random().toString(36).slice(2)}@127.0.0.1`): { text: string; callId: string } {
    const p = this.caller;
    const text = [
      `INVITE sip:100@127.0.0.1:${this.sip.port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${p.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
      'Max-Forwards: 70',
      `From: "Alice" <sip:alice@127.0.0.1>;tag=${p.tag}`,
      'To: <sip:100@127.0.0.1>',
      `Call-ID: ${callId}`,
      `CSeq: ${this.seq++} INVITE`,
      `Contact: <sip:alice@127.0.0.1:${p.port}>`,
      'Content-Type: application/sdp',
      '',
      sdp,
    ].join('\n');
    return { text, callId };
  }

  /** A call A (PCMA) → Tandem → B (answers PCMU): transcoded. Resolves once both legs are confirmed. */
  async call(): Promise<{ callId: string; aOk: Received; bInvite: Received; rtpA: RtpPeer; rtpB: RtpPeer }> {
    const rtpA = await RtpPeer.open();
    const rtpB = await RtpPeer.open();
    const { text, callId } = this.invite(sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]));
    const from = this.callee.count(() => true);
    this.caller.send(text, this.sip);
    const bInvite = await this.callee.next((m) => m.kind === 'request' && m.method === 'INVITE', WAIT_MS, from);
    this.callee.reply(bInvite, 200, { reason: 'OK', sdp: sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }]) });
    const aOk = await this.caller.next(finalFor(callId), WAIT_MS);
    const seq = getCSeq(aOk.msg)?.seq ?? 0;
    this.caller.send([`ACK ${contact(aOk)} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${this.caller.port};branch=z9hG4bK${Math.random().toString(36).slice(2)}`, 'Max-Forwards: 70', `From: ${getHeader(aOk.msg, 'From') ?? ''}`, `To: ${getHeader(aOk.msg, 'To') ?? ''}`, `Call-ID: ${callId}`, `CSeq: ${seq} ACK`, '', ''].join('\n'), this.sip);
    return { callId, aOk, bInvite, rtpA, rtpB };
  }

  /** BYE from the caller on a confirmed call; resolves with the 200. */
  async bye(callId: string, aOk: Received): Promise<Received> {
    this.caller.send(
      [`BYE ${contact(aOk)} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${this.caller.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`, 'Max-Forwards: 70', `From: <sip:alice@127.0.0.1>;tag=${this.caller.tag}`, `To: <sip:100@127.0.0.1>;tag=${getTo(aOk.msg)?.tag ?? ''}`, `Call-ID: ${callId}`, `CSeq: ${this.seq++ + 1000} BYE`, '', ''].join('\n'),
      this.sip,
    );
    return this.caller.next((m) => m.kind === 'response' && getCallId(m) === callId && getCSeq(m)?.method === 'BYE', WAIT_MS);
  }

  async http(method: 'GET' | 'POST', path: string, o: { body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string; json: () => Record<string, unknown> }> {
    const res = await fetch(`${this.admin}${path}`, { method, ...(o.body !== undefined ? { body: o.body } : {}), headers: { ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}), ...o.headers } });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
  }

  async metrics(): Promise<string> {
    return (await this.http('GET', '/metrics')).text;
  }

  async close(): Promise<void> {
    this.caller.close();
    this.callee.close();
    await this.tandem.close();
  }
}

/** The final response to the INVITE of `callId`. */
export const finalFor = (callId: string) => (m: SipMessage): boolean => m.kind === 'response' && m.status >= 200 && getCallId(m) === callId && getCSeq(m)?.method === 'INVITE';

function contact(r: Received): string {
  const c = getHeader(r.msg, 'Contact') ?? '';
  return /<([^>]+)>/.exec(c)?.[1] ?? c;
}

/** The value of one sample in Prometheus text (`name{labels}`, labels as written by prom-client), or undefined. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
