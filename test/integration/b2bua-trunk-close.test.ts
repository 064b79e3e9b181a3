import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { parseSipStream } from '../../src/sip/parse.js';
import { serializeSipMessage } from '../../src/sip/serialize.js';
import { createResponse } from '../../src/sip/build.js';
import { getCSeq, getCallId, getHeader, type SipRequest } from '../../src/sip/message.js';
import { SipPeer, isRequest, isResponse, sdpOffer, type Received } from '../helpers/sip-peer.js';
import { RtpPeer } from '../helpers/rtp-peer.js';
import { describeWithPeers, peerPath } from '../helpers/peers.js';

/**
 * Issue 13 follow-up (RFC 3261 §17.1.4, §18.4; RFC 3263 §4.3): a trunk that closes the TCP/TLS
 * connection our INVITE went out on, before its final response, is a transport error at once: the
 * call fails over to the next target, or the caller hears 503 saying why, without waiting for
 * Timer B. T1 is the default 500 ms here, so Timer B is 32 s: every wait below is 3 s, and a
 * failover that waited for Timer B would fail the test, not slow it.
 */
type Behaviour = 'close' | 'reset' | 'ring-then-close' | 'answer';

/** A scripted trunk listening on TCP or TLS on 127.0.0.1; what it sees and does goes to `events`. */
class StreamTrunk {
  readonly requests: SipRequest[] = [];
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  private connections = 0;
  port = 0;

  constructor(
    readonly name: string,
    readonly protocol: 'tcp' | 'tls',
    private readonly behaviour: Behaviour,
    private readonly events: string[],
    private readonly rtpPort = 0,
  ) {}

  async start(pem?: { cert: string; key: string }): Promise<this> {
    const onSocket = (s: net.Socket): void => this.adopt(s);
    if (this.protocol === 'tls') {
      if (pem === undefined) throw new Error('a TLS trunk needs a certificate');
      const server = tls.createServer({ cert: pem.cert, key: pem.key }, onSocket);
      server.on('tlsClientError', () => undefined);
      this.server = server;
    } else this.server = net.createServer(onSocket);
    const server = this.server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  private adopt(s: net.Socket): void {
    const n = ++this.connections;
    this.sockets.add(s);
    this.events.push(`${this.name} connection ${n}`);
    let rest: Buffer = Buffer.alloc(0);
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
    s.on('data', (d: Buffer) => {
      const r = parseSipStream(Buffer.concat([rest, d]));
      rest = r.rest;
      for (const x of r.results) if (x.ok && x.message.kind === 'request') this.onRequest(s, x.message);
    });
  }

  private onRequest(s: net.Socket, req: SipRequest): void {
    this.requests.push(req);
    this.events.push(`${this.name} ${req.method}`);
    const send = (status: number, reason: string, extra: { sdp?: string } = {}): void => {
      const headers = status >= 200 && status < 300 ? [{ name: 'Contact', value: `<sip:trunk@127.0.0.1:${this.port};transport=${this.protocol}>` }] : [];
      if (extra.sdp !== undefined) headers.push({ name: 'Content-Type', value: 'application/sdp' });
      s.write(serializeSipMessage(createResponse(req, status, reason, { toTag: this.name, headers, ...(extra.sdp !== undefined ? { body: Buffer.from(extra.sdp) } : {}) })));
    };
    if (req.method === 'ACK') return;
    if (req.method !== 'INVITE' || this.behaviour === 'answer') {
      if (req.method === 'INVITE') send(200, 'OK', { sdp: sdpOffer(this.rtpPort, [{ pt: 8, name: 'PCMA' }]) });
      else send(200, 'OK');
      return;
    }
    if (this.behaviour === 'ring-then-close') send(180, 'Ringing');
    this.events.push(`${this.name} closes`);
    // The 180 (if any) is queued before the FIN; a reset throws away what is unsent, hence no 180 with it.
    if (this.behaviour === 'reset') s.resetAndDestroy();
    else s.end();
  }

  /** Closes every connection it holds (after a final response: the test of "nothing changes"). */
  closeConnections(): void {
    for (const s of this.sockets) s.end();
    this.events.push(`${this.name} closes`);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tandem-trunk-close-'));
let tandem: RunningTandem | undefined;
const trunks: StreamTrunk[] = [];
const peers: SipPeer[] = [];
const rtps: RtpPeer[] = [];

afterEach(async () => {
  for (const p of peers) p.close();
  for (const r of rtps) r.close();
  peers.length = 0;
  rtps.length = 0;
  await tandem?.close();
  tandem = undefined;
  for (const t of trunks) await t.stop();
  trunks.length = 0;
});

async function trunk(name: string, protocol: 'tcp' | 'tls', behaviour: Behaviour, events: string[], pem?: { cert: string; key: string }): Promise<StreamTrunk> {
  const rtp = await RtpPeer.open();
  rtps.push(rtp);
  const t = await new StreamTrunk(name, protocol, behaviour, events, rtp.port).start(pem);
  trunks.push(t);
  return t;
}

function targetUri(t: StreamTrunk): { uri: string; tlsVerify?: boolean } {
  // The TLS trunk's certificate is self-signed: verification is issue 10's subject, not this one's.
  return t.protocol === 'tls' ? { uri: `sips:127.0.0.1:${t.port}`, tlsVerify: false } : { uri: `sip:127.0.0.1:${t.port};transport=tcp` };
}

async function startWith(targets: StreamTrunk[]): Promise<{ address: string; port: number }> {
  const file = join(dir, `routes-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ routes: [{ name: 'trunks', targets: targets.map((t, i) => ({ ...targetUri(t), priority: i + 1 })) }] }));
  const base = 10000 + Math.floor(Math.random() * 45) * 400;
  tandem = await startTandem(
    {
      ...defaultConfig(),
      listenNg: { address: '127.0.0.1', port: 0 },
      listenSip: [
        { protocol: 'udp', address: '127.0.0.1', port: 0 },
        { protocol: 'tcp', address: '127.0.0.1', port: 0 },
      ],
      routesFile: file,
      listenHttp: { address: '127.0.0.1', port: 0 },
      portMin: base,
      portMax: base + 399,
      numThreads: 1,
      logLevel: 'silent',
    },
    pino({ level: 'silent' }),
  );
  const udp = tandem.sip?.listeners.find((l) => l.protocol === 'udp');
  if (udp === undefined) throw new Error('no UDP SIP listener');
  return udp;
}

let seq = 1;
function inviteText(caller: SipPeer, to: { port: number }, rtpPort: number, callId: string): string {
  return [
    `INVITE sip:100@127.0.0.1:${to.port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: <sip:alice@127.0.0.1>;tag=${caller.tag}`,
    'To: <sip:100@127.0.0.1>',
    `Call-ID: ${callId}`,
    `CSeq: ${seq++} INVITE`,
    `Contact: <sip:alice@127.0.0.1:${caller.port}>`,
    'Content-Type: application/sdp',
    '',
    sdpOffer(rtpPort, [{ pt: 8, name: 'PCMA' }]),
  ].join('\n');
}

/** ACK (for a 2xx: its own transaction; for a non-2xx: the INVITE's branch is not needed by Tandem's dialog match) or BYE from the caller. */
function inDialog(method: 'ACK' | 'BYE', final: Received, caller: SipPeer, to: { address: string; port: number }, cseq: number): void {
  const contact = /<([^>]+)>/.exec(getHeader(final.msg, 'Contact') ?? '')?.[1] ?? `sip:100@127.0.0.1:${to.port}`;
  caller.send(
    [
      `${method} ${contact} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
      'Max-Forwards: 70',
      `From: ${getHeader(final.msg, 'From') ?? ''}`,
      `To: ${getHeader(final.msg, 'To') ?? ''}`,
      `Call-ID: ${getCallId(final.msg) ?? ''}`,
      `CSeq: ${cseq} ${method}`,
      '',
      '',
    ].join('\n'),
    to,
  );
}

/** Places a call from a UDP caller; returns the caller and its Call-ID. */
async function placeCall(sip: { address: string; port: number }): Promise<{ caller: SipPeer; callId: string }> {
  const caller = await SipPeer.udp();
  const rtp = await RtpPeer.open();
  peers.push(caller);
  rtps.push(rtp);
  const callId = `close-${Math.random().toString(36).slice(2)}@127.0.0.1`;
  caller.send(inviteText(caller, sip, rtp.port, callId), sip);
  return { caller, callId };
}

function lostCount(): number {
  return tandem?.sip?.transport.stats().transactionsLost ?? -1;
}

async function failsOver(protocol: 'tcp' | 'tls', behaviour: Behaviour, pem?: { cert: string; key: string }): Promise<{ events: string[]; caller: SipPeer }> {
  const events: string[] = [];
  const first = await trunk('t1', protocol, behaviour, events, pem);
  const second = await trunk('t2', protocol, 'answer', events, pem);
  const sip = await startWith([first, second]);
  const { caller } = await placeCall(sip);
  const ok = await caller.next(isResponse(200, 'INVITE'), 3000);
  // The same leg B dialog moved on: the second trunk got the INVITE the first one dropped.
  expect(second.requests.filter((r) => r.method === 'INVITE')).toHaveLength(1);
  expect(getCallId(second.requests[0])).toBe(getCallId(first.requests[0]));
  expect(getCSeq(second.requests[0])?.seq).toBe((getCSeq(first.requests[0])?.seq ?? 0) + 1);
  expect(caller.count(isResponse(503))).toBe(0);
  expect(lostCount()).toBe(1);
  inDialog('ACK', ok, caller, sip, getCSeq(ok.msg)?.seq ?? 0);
  await expect.poll(() => second.requests.some((r) => r.method === 'ACK'), { timeout: 3000 }).toBe(true);
  return { events, caller };
}

describe('a TCP trunk that closes its connection before the final response', () => {
  it('after reading the INVITE: the call goes to the second target at once, which answers it', async () => {
    const { events } = await failsOver('tcp', 'close');
    expect(events.slice(0, 5)).toEqual(['t1 connection 1', 't1 INVITE', 't1 closes', 't2 connection 1', 't2 INVITE']);
  });

  it('by a reset (ECONNRESET): the same', async () => {
    const { events } = await failsOver('tcp', 'reset');
    expect(events.slice(0, 5)).toEqual(['t1 connection 1', 't1 INVITE', 't1 closes', 't2 connection 1', 't2 INVITE']);
  });

  it('after a 180 (Proceeding: the callee vanished): the same; the caller saw the 180 first', async () => {
    const { events, caller } = await failsOver('tcp', 'ring-then-close');
    expect(caller.count(isResponse(180, 'INVITE'))).toBe(1);
    expect(events.slice(0, 5)).toEqual(['t1 connection 1', 't1 INVITE', 't1 closes', 't2 connection 1', 't2 INVITE']);
  });

  it('with no second target: the caller gets 503 with a Warning saying the connection closed, and the call is gone', async () => {
    const events: string[] = [];
    const only = await trunk('t1', 'tcp', 'close', events);
    const sip = await startWith([only]);
    const { caller } = await placeCall(sip);
    const refused = await caller.next(isResponse(503, 'INVITE'), 3000);
    expect(getHeader(refused.msg, 'Warning')).toBe('399 tandem "next hop closed the connection before a final response"');
    inDialog('ACK', refused, caller, sip, getCSeq(refused.msg)?.seq ?? 0);
    const t = tandem;
    if (t === undefined) throw new Error('no tandem');
    await expect.poll(() => t.sip?.b2bua.calls().length, { timeout: 3000 }).toBe(0);
    await expect.poll(() => t.media.list(), { timeout: 3000 }).toEqual([]);
    expect(events).toEqual(['t1 connection 1', 't1 INVITE', 't1 closes']);
    expect(lostCount()).toBe(1);
    expect(await t.ops.metrics?.text()).toMatch(/tandem_sip_transport_faults_total\{reason="connection_lost"\} 1/);
  });

  it('after the final response a close changes nothing: the call stays up and its BYE goes over a new connection', async () => {
    const events: string[] = [];
    const only = await trunk('t1', 'tcp', 'answer', events);
    const sip = await startWith([only]);
    const { caller } = await placeCall(sip);
    const ok = await caller.next(isResponse(200, 'INVITE'), 3000);
    inDialog('ACK', ok, caller, sip, getCSeq(ok.msg)?.seq ?? 0);
    await expect.poll(() => only.requests.some((r) => r.method === 'ACK'), { timeout: 3000 }).toBe(true);
    only.closeConnections();
    const t = tandem;
    if (t === undefined) throw new Error('no tandem');
    await expect.poll(() => t.sip?.transport.stats().openConnections, { timeout: 3000 }).toBe(0);
    expect(t.sip?.b2bua.calls()).toHaveLength(1);
    // Positive control: the call is alive and reaches the trunk again.
    inDialog('BYE', ok, caller, sip, (getCSeq(ok.msg)?.seq ?? 0) + 1);
    await caller.next(isResponse(200, 'BYE'), 3000);
    await expect.poll(() => only.requests.some((r) => r.method === 'BYE'), { timeout: 3000 }).toBe(true);
    expect(events).toEqual(['t1 connection 1', 't1 INVITE', 't1 ACK', 't1 closes', 't1 connection 2', 't1 BYE']);
    expect(caller.count(isRequest('BYE'))).toBe(0);
    expect(caller.count(isResponse(503))).toBe(0);
    expect(lostCount()).toBe(0);
  });
});

let pem: { cert: string; key: string } | undefined;
beforeAll(() => {
  if (peerPath('openssl') === undefined) return;
  const k = join(dir, 'trunk.key');
  const c = join(dir, 'trunk.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=trunk', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', k, '-out', c], { stdio: 'ignore' });
  pem = { cert: readFileSync(c, 'utf8'), key: readFileSync(k, 'utf8') };
});

describeWithPeers('a TLS trunk that closes its connection before the final response', ['openssl'], () => {
  it('after reading the INVITE: the call goes to the second target at once', async () => {
    const { events } = await failsOver('tls', 'close', pem);
    expect(events.slice(0, 5)).toEqual(['t1 connection 1', 't1 INVITE', 't1 closes', 't2 connection 1', 't2 INVITE']);
  });
});
