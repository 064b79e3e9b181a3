import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig, type TandemConfig } from '../../src/config/config.js';
import { getCSeq, getCallId, getHeader, type SipMessage } from '../../src/sip/message.js';
import type { SipPeer, Received } from './sip-peer.js';
import { ioFromEnv } from './tandem.js';

/**
 * A Tandem B2BUA on 127.0.0.1 (UDP SIP, local media, short SIP timers) for tests that attack it
 * through its SIP port, and the request texts those tests send.
 */
export async function startB2bua(over: Partial<TandemConfig>): Promise<{ tandem: RunningTandem; sip: { address: string; port: number } }> {
  const base = 10000 + Math.floor(Math.random() * 45) * 400;
  const tandem = await startTandem(
    {
      ...defaultConfig(),
      listenNg: { address: '127.0.0.1', port: 0 },
      listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
      portMin: base,
      portMax: base + 399,
      numThreads: 1,
      logLevel: 'silent',
      sipT1: 20,
      sipT2: 160,
      sipT4: 100,
      ...ioFromEnv(),
      ...over,
    },
    pino({ level: process.env.TEST_LOG ?? 'silent' }),
  );
  const udp = tandem.sip?.listeners.find((l) => l.protocol === 'udp');
  if (udp === undefined) throw new Error('no UDP SIP listener');
  return { tandem, sip: { address: udp.address, port: udp.port } };
}

let seq = 1;

/** An out-of-dialog request from `peer` (no To tag), with an SDP body when given. */
export function outOfDialog(method: string, peer: SipPeer, sip: { port: number }, o: { user?: string; sdp?: string; headers?: string[]; callId?: string } = {}): { text: string; callId: string; branch: string } {
  const callId = o.callId ?? `hostile-${Math.random().toString(36).slice(2)}@127.0.0.1`;
  const branch = `z9hG4bK${Math.random().toString(36).slice(2)}`;
  const user = o.user ?? '100';
  const text = [
    `${method} sip:${user}@127.0.0.1:${sip.port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: "Alice" <sip:alice@127.0.0.1>;tag=${peer.tag}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: ${callId}`,
    `CSeq: ${seq++} ${method}`,
    `Contact: <sip:alice@127.0.0.1:${peer.port}>`,
    ...(o.headers ?? []),
    ...(o.sdp !== undefined ? ['Content-Type: application/sdp'] : []),
    '',
    o.sdp ?? '',
  ].join('\n');
  return { text, callId, branch };
}

/** A final response (≥ 200) to the request with this Call-ID and CSeq method. */
export const isFinalFor = (callId: string, method = 'INVITE') => (m: SipMessage): boolean =>
  m.kind === 'response' && m.status >= 200 && getCallId(m) === callId && getCSeq(m)?.method === method;

/** ACK for a non-2xx final: same branch as the INVITE, the response's To (RFC 3261 §17.1.1.3). */
export function ackNon2xx(res: Received, invite: { text: string; branch: string }, peer: SipPeer, sip: { address: string; port: number }): void {
  const r = res.msg;
  const uri = invite.text.split('\n')[0].split(' ')[1];
  peer.send(
    [
      `ACK ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=${invite.branch};rport`,
      'Max-Forwards: 70',
      `From: ${getHeader(r, 'From') ?? ''}`,
      `To: ${getHeader(r, 'To') ?? ''}`,
      `Call-ID: ${getCallId(r) ?? ''}`,
      `CSeq: ${getCSeq(r)?.seq ?? 0} ACK`,
      '',
      '',
    ].join('\n'),
    sip,
  );
}

/** ACK for a 2xx (new branch, to the Contact) and then BYE in the same dialog. */
export function ackAndBye(ok: Received, peer: SipPeer, sip: { address: string; port: number }): void {
  const r = ok.msg;
  const contact = /<([^>]+)>/.exec(getHeader(r, 'Contact') ?? '')?.[1] ?? `sip:127.0.0.1:${sip.port}`;
  const common = (method: string, s: number): string[] => [
    `${method} ${contact} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: ${getHeader(r, 'From') ?? ''}`,
    `To: ${getHeader(r, 'To') ?? ''}`,
    `Call-ID: ${getCallId(r) ?? ''}`,
    `CSeq: ${s} ${method}`,
    '',
    '',
  ];
  const s = getCSeq(r)?.seq ?? 1;
  peer.send(common('ACK', s).join('\n'), sip);
  peer.send(common('BYE', s + 1).join('\n'), sip);
}

/** A callee that answers by itself: 200 with `sdp` to every INVITE, 200 to BYE, CANCEL, INFO, UPDATE. Call the result to stop it. */
export function autoAnswer(callee: SipPeer, sdp: (port: number) => string): () => void {
  let seen = 0;
  const timer = setInterval(() => {
    while (seen < callee.inbox.length) {
      const r = callee.inbox[seen++];
      if (r.msg.kind !== 'request') continue;
      const m = r.msg.method;
      if (m === 'INVITE') callee.reply(r, 200, { reason: 'OK', sdp: sdp(40000) });
      else if (m === 'BYE' || m === 'CANCEL' || m === 'INFO' || m === 'UPDATE') callee.reply(r, 200, { reason: 'OK' });
    }
  }, 2);
  return () => clearInterval(timer);
}
