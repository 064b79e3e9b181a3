import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig, type TandemConfig } from '../../src/config/config.js';
import { parseSipMessage } from '../../src/sip/parse.js';
import { getCSeq, getCallId, getHeader, type SipMessage } from '../../src/sip/message.js';
import { SipPeer, isResponse, sdpOffer, type Predicate } from '../helpers/sip-peer.js';
import { ackAndBye, autoAnswer, isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';

/**
 * Issue 12, the edge in front of the B2BUA, over real UDP/TCP on loopback: a flooding source is
 * banned and then hears nothing while a legitimate caller keeps completing calls; a denied source
 * hears nothing while an allowed one is answered; overload answers new INVITEs 503 while a BYE in a
 * call still gets its 200; a source over its call limit gets 503.
 */
const OFFER = sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]);
const toClose: { close(): void }[] = [];
let tandem: RunningTandem | undefined;

afterEach(async () => {
  for (const c of toClose.splice(0)) c.close();
  await tandem?.close();
  tandem = undefined;
});

async function start(over: Partial<TandemConfig>): Promise<{ sip: { address: string; port: number }; caller: SipPeer; callee: SipPeer }> {
  const caller = await SipPeer.udp();
  const callee = await SipPeer.udp();
  toClose.push({ close: autoAnswer(callee, (p) => sdpOffer(p, [{ pt: 0, name: 'PCMU' }])) }, caller, callee);
  const started = await startB2bua({ route: `sip:127.0.0.1:${callee.port}`, floodExempt: [], ...over });
  tandem = started.tandem;
  return { sip: started.sip, caller, callee };
}

/**
 * Sends `text` until `pred` matches what comes back, every 500 ms, 8 times at most: a UA's own
 * retransmission (same branch), which UDP needs while a flood fills the socket's receive buffer.
 */
async function sendUntil(peer: SipPeer, text: string, sip: { address: string; port: number }, pred: Predicate): Promise<SipMessage> {
  const from = peer.inbox.length;
  for (let i = 0; i < 8; i++) {
    peer.send(text, sip);
    const got = await peer.next(pred, 500, from).catch(() => undefined);
    if (got !== undefined) return got.msg;
  }
  throw new Error(`no answer to ${text.split('\n')[0]}`);
}

/** One whole call from `caller`: INVITE, 200, ACK, BYE, 200. Returns the INVITE's final status. */
async function call(caller: SipPeer, sip: { address: string; port: number }): Promise<number> {
  const inv = outOfDialog('INVITE', caller, sip, { sdp: OFFER });
  // Any response stops the retransmissions (RFC 3261 Timer A); then the final is awaited.
  await sendUntil(caller, inv.text, sip, (m) => m.kind === 'response' && getCallId(m) === inv.callId);
  const res = await caller.next(isFinalFor(inv.callId), 3000);
  if (res.msg.kind !== 'response' || res.msg.status !== 200) return res.msg.kind === 'response' ? res.msg.status : 0;
  const r = res.msg;
  const contact = /<([^>]+)>/.exec(getHeader(r, 'Contact') ?? '')?.[1] ?? `sip:127.0.0.1:${sip.port}`;
  const seq = getCSeq(r)?.seq ?? 1;
  const inDialog = (method: string, n: number): string =>
    [`${method} ${contact} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK${method}${Math.random().toString(36).slice(2)};rport`, 'Max-Forwards: 70',
      `From: ${getHeader(r, 'From') ?? ''}`, `To: ${getHeader(r, 'To') ?? ''}`, `Call-ID: ${inv.callId}`, `CSeq: ${n} ${method}`, '', ''].join('\n');
  caller.send(inDialog('ACK', seq), sip);
  const bye = await sendUntil(caller, inDialog('BYE', seq + 1), sip, isFinalFor(inv.callId, 'BYE'));
  return bye.kind === 'response' ? bye.status : 0;
}

/** OPTIONS from `caller` until answered (UDP: a burst may have filled the socket's buffer), bounded. */
async function optionsAnswered(caller: SipPeer, sip: { address: string; port: number }): Promise<void> {
  const ping = outOfDialog('OPTIONS', caller, sip);
  await sendUntil(caller, ping.text, sip, isFinalFor(ping.callId, 'OPTIONS'));
}

/** A raw UDP socket on another loopback source, recording the Call-IDs of everything it hears. */
async function rawSource(address: string): Promise<{ socket: dgram.Socket; heard: SipMessage[]; port: number }> {
  const socket = dgram.createSocket('udp4');
  const heard: SipMessage[] = [];
  socket.on('message', (buf) => {
    const r = parseSipMessage(buf);
    if (r.ok) heard.push(r.message);
  });
  await new Promise<void>((r) => socket.bind(0, address, () => r()));
  toClose.push(socket);
  return { socket, heard, port: socket.address().port };
}

function floodInvite(from: { port: number }, sip: { port: number }, i: number, source: string): string {
  return [
    `INVITE sip:${1000 + i}@127.0.0.1:${sip.port} SIP/2.0`,
    `Via: SIP/2.0/UDP ${source}:${from.port};branch=z9hG4bKflood${i}`,
    'Max-Forwards: 70',
    `From: <sip:scanner@${source}>;tag=f${i}`,
    `To: <sip:${1000 + i}@127.0.0.1>`,
    `Call-ID: flood-${i}@${source}`,
    `CSeq: 1 INVITE`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('flood defence (pike)', () => {
  it('500 INVITEs from 127.0.0.2: banned within the window, then not one response; a caller on 127.0.0.1 completes every call throughout', async () => {
    // 40 requests per 2 s: the legitimate caller sends 2 per call (INVITE, BYE; ACKs do not count),
    // a call every ~200 ms: about half the limit.
    const { sip, caller } = await start({ pike: { limit: 40, windowMs: 2000 }, pikeBan: 60 });
    const flood = await rawSource('127.0.0.2');
    const pike = tandem?.sip?.edge.pike;
    expect(pike).toBeDefined();

    const legit: number[] = [];
    let flooding = true;
    const caller$ = (async () => {
      // Bounded: at most 30 calls, and only while the flood and its aftermath last.
      for (let i = 0; i < 20 && (flooding || i < 8); i++) {
        legit.push(await call(caller, sip));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    for (let i = 0; i < 500; i++) flood.socket.send(floodInvite(flood, sip, i, '127.0.0.2'), sip.port, sip.address);
    // Banned by now: everything it sent after its 40th request was dropped at the door.
    await expect.poll(() => pike?.bans().map((b) => b.source), { timeout: 3000 }).toEqual(['127.0.0.2']);
    // A second wave after the ban, then a request from the legitimate caller as the positive control:
    // by the time its answer is back, Tandem has read the whole wave (same socket, in order).
    const droppedBefore = pike?.counters.dropped ?? 0;
    for (let i = 500; i < 550; i++) flood.socket.send(floodInvite(flood, sip, i, '127.0.0.2'), sip.port, sip.address);
    await optionsAnswered(caller, sip);
    flooding = false;
    await caller$;

    const answered = new Set(flood.heard.map((m) => getCallId(m)));
    expect([...answered].filter((id) => Number(/flood-(\d+)/.exec(id ?? '')?.[1]) >= 500)).toEqual([]);
    expect(answered.size).toBeLessThanOrEqual(40);
    // The kernel drops part of a burst this size (the socket's receive buffer); what Tandem read of
    // the second wave was dropped by the ban, unanswered.
    expect(pike?.counters.dropped).toBeGreaterThan(droppedBefore);
    expect(legit.length).toBeGreaterThanOrEqual(8);
    expect(legit.every((s) => s === 200), `legitimate calls: ${legit.join(',')}`).toBe(true);
    expect(tandem?.sip?.transport.stats().notAdmitted).toBe(pike?.counters.dropped);
    // Lifted by an operator: it is heard again.
    expect(pike?.lift('127.0.0.2')).toBe(true);
    const again = outOfDialog('OPTIONS', { port: flood.port, tag: 'x' } as SipPeer, sip);
    flood.socket.send(again.text.replace(/\n/g, '\r\n').replace('\r\n\r\n', '\r\nContent-Length: 0\r\n\r\n'), sip.port, sip.address);
    await expect.poll(() => flood.heard.some((m) => getCallId(m) === again.callId), { timeout: 3000 }).toBe(true);
  });

  it('a trusted source is never counted', async () => {
    const { sip } = await start({ pike: { limit: 5, windowMs: 2000 }, trusted: ['127.0.0.2'] });
    const src = await rawSource('127.0.0.2');
    for (let i = 0; i < 50; i++) src.socket.send(floodInvite(src, sip, i, '127.0.0.2').replace('INVITE sip', 'OPTIONS sip').replace('1 INVITE', '1 OPTIONS'), sip.port, sip.address);
    await expect.poll(() => new Set(src.heard.map((m) => getCallId(m))).size, { timeout: 3000 }).toBe(50);
    expect(tandem?.sip?.edge.pike?.bans()).toEqual([]);
  });
});

describe('access lists', () => {
  it('a denied source gets nothing, over UDP and TCP, while an allowed one is answered', async () => {
    const { sip, caller } = await start({
      sipDeny: ['127.0.0.3'],
      listenSip: [
        { protocol: 'udp', address: '127.0.0.1', port: 0 },
        { protocol: 'tcp', address: '127.0.0.1', port: 0 },
      ],
    });
    const denied = await rawSource('127.0.0.3');
    const req = (i: number): string => floodInvite(denied, sip, i, '127.0.0.3').replace('INVITE sip', 'OPTIONS sip').replace('1 INVITE', '1 OPTIONS');
    denied.socket.send(req(1), sip.port, sip.address);
    // positive control, sent after: when its answer is back, the denied request was read first
    const ok = outOfDialog('OPTIONS', caller, sip);
    caller.send(ok.text, sip);
    await caller.next(isResponse(200, 'OPTIONS'));
    expect(denied.heard).toEqual([]);
    expect(tandem?.sip?.edge.acl.counters.denied).toBe(1);

    // TCP: closed at accept, before a byte is read
    const tcp = tandem?.sip?.listeners.find((l) => l.protocol === 'tcp');
    if (tcp === undefined) throw new Error('no TCP listener');
    const s = net.connect({ port: tcp.port, host: tcp.address, localAddress: '127.0.0.3' });
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.on('error', () => undefined);
    s.on('connect', () => s.write(req(2)));
    await new Promise<void>((r) => s.once('close', () => r()));
    expect(got).toEqual([]);
    expect(tandem?.sip?.edge.acl.counters.denied).toBe(2);
    // the allowed source's TCP connection is answered
    const allowed = await SipPeer.tcp({ address: tcp.address, port: tcp.port });
    toClose.push(allowed);
    const o2 = outOfDialog('OPTIONS', allowed, { port: tcp.port });
    allowed.send(o2.text.replace('SIP/2.0/UDP', 'SIP/2.0/TCP'), tcp);
    await allowed.next(isResponse(200, 'OPTIONS'));
  });

  it('a listener\'s own allow list admits only what it names', async () => {
    const { sip, caller } = await start({ listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0, allow: ['127.0.0.1'] }] });
    const other = await rawSource('127.0.0.4');
    other.socket.send(floodInvite(other, sip, 1, '127.0.0.4'), sip.port, sip.address);
    const ok = outOfDialog('OPTIONS', caller, sip);
    caller.send(ok.text, sip);
    await caller.next(isResponse(200, 'OPTIONS'));
    expect(other.heard).toEqual([]);
  });
});

describe('overload and per-source limits', () => {
  it('overload (media ports under the threshold): a new INVITE gets 503 with Retry-After, the BYE of the call up gets 200, then calls are taken again', async () => {
    // 200 port pairs; one call takes 2, so with a call up 198 < 199 are free.
    const { sip, caller } = await start({ overloadMinPorts: 199, overloadRetryAfter: { min: 5, max: 15 } });
    const inv = outOfDialog('INVITE', caller, sip, { sdp: OFFER });
    caller.send(inv.text, sip);
    const ok = await caller.next(isFinalFor(inv.callId));
    expect(ok.msg.kind === 'response' && ok.msg.status).toBe(200);

    const second = outOfDialog('INVITE', caller, sip, { sdp: OFFER });
    caller.send(second.text, sip);
    const refused = (await caller.next(isFinalFor(second.callId))).msg;
    expect(refused.kind === 'response' && refused.status).toBe(503);
    expect(Number(getHeader(refused, 'Retry-After'))).toBeGreaterThanOrEqual(5);
    expect(Number(getHeader(refused, 'Retry-After'))).toBeLessThanOrEqual(15);
    expect(tandem?.sip?.edge.overload.counters).toEqual({ refused: 1, episodes: 1 });

    ackAndBye(ok, caller, sip);
    const bye = (await caller.next(isFinalFor(inv.callId, 'BYE'))).msg;
    expect(bye.kind === 'response' && bye.status).toBe(200);
    // the media session is deleted just after the BYE's 200; then the ports are back and so are calls
    await expect.poll(() => tandem?.media.freePorts, { timeout: 3000 }).toBe(200);
    expect(await call(caller, sip)).toBe(200);
  });

  it('a source holding --max-calls-per-source calls gets 503 for the next one, and a slot back when a call ends', async () => {
    const { sip, caller } = await start({ maxCallsPerSource: 1 });
    const inv = outOfDialog('INVITE', caller, sip, { sdp: OFFER });
    caller.send(inv.text, sip);
    const ok = await caller.next(isFinalFor(inv.callId));
    const second = outOfDialog('INVITE', caller, sip, { sdp: OFFER });
    caller.send(second.text, sip);
    const refused = (await caller.next(isFinalFor(second.callId))).msg;
    expect(refused.kind === 'response' && [refused.status, refused.reason]).toEqual([503, 'Too Many Calls From This Source']);
    expect(tandem?.sip?.edge.sourceLimits.counters.refusedCalls).toBe(1);
    ackAndBye(ok, caller, sip);
    await caller.next(isFinalFor(inv.callId, 'BYE'));
    expect(await call(caller, sip)).toBe(200);
  });
});

describe('the ban list, for operators', () => {
  it('SIGUSR2 logs the bans and counters; a ban and its lifting are logged with source, rate and duration', async () => {
    const lines: { msg: string; bans?: { source: string }[]; source?: string; rate?: number; durationMs?: number; why?: string }[] = [];
    tandem = await startTandem(
      {
        ...defaultConfig(),
        listenNg: { address: '127.0.0.1', port: 0 },
        listenSip: [
          { protocol: 'udp', address: '127.0.0.1', port: 0 },
          { protocol: 'tcp', address: '127.0.0.1', port: 0 },
        ],
        numThreads: 1,
        logLevel: 'info',
        floodExempt: [],
        pike: { limit: 5, windowMs: 2000 },
      },
      pino({ level: 'info' }, { write: (t: string) => lines.push(JSON.parse(t) as { msg: string }) }),
    );
    const sip = tandem.sip?.listeners.find((l) => l.protocol === 'udp');
    const tcp = tandem.sip?.listeners.find((l) => l.protocol === 'tcp');
    if (sip === undefined || tcp === undefined) throw new Error('no listener');
    const src = await rawSource('127.0.0.5');
    for (let i = 0; i < 20; i++) src.socket.send(floodInvite(src, sip, i, '127.0.0.5'), sip.port, sip.address);
    await expect.poll(() => tandem?.sip?.edge.pike?.bans().length, { timeout: 3000 }).toBe(1);
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(lines.find((l) => l.msg === 'edge state (SIGUSR2)')?.bans?.map((b) => b.source)).toEqual(['127.0.0.5']);
    expect(lines.find((l) => l.msg === 'flood: source banned')).toMatchObject({ source: '127.0.0.5', rate: 6, durationMs: 60_000 });
    // banned over UDP, refused over TCP too: closed at accept, nothing read or answered
    const refusedBefore = tandem.sip?.transport.stats().notAdmitted ?? 0;
    const s = net.connect({ port: tcp.port, host: tcp.address, localAddress: '127.0.0.5' });
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('close', () => r()));
    expect(got).toEqual([]);
    expect(tandem.sip?.transport.stats().notAdmitted).toBe(refusedBefore + 1);
    tandem.sip?.edge.pike?.lift('127.0.0.5');
    expect(lines.find((l) => l.msg === 'flood: ban ended')).toMatchObject({ source: '127.0.0.5', why: 'lifted' });
  });
});
