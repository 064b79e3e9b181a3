import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { pino } from 'pino';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { randomBytes } from 'node:crypto';
import { SrtpContext } from '../../src/media/rtp/srtp.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig, type TandemConfig } from '../../src/config/config.js';
import { getCSeq, getHeader, getTo, getCallId, headerLines, type SipRequest } from '../../src/sip/message.js';
import { parseSdp, mediaCodecs } from '../../src/sdp/sdp.js';
import { SipPeer, isRequest, isResponse, sdpOffer, type Received } from '../helpers/sip-peer.js';
import { RtpPeer, rtpPacket, patternPayload } from '../helpers/rtp-peer.js';
import { WebRtcPeer } from '../helpers/webrtc-peer.js';
import { ALAW_TO_ULAW, ULAW_TO_ALAW } from '../../src/media/codecs/g711.js';
import { itWithPeers } from '../helpers/peers.js';

/**
 * The B2BUA with its real transports, transactions and the in-process media plane, between two
 * scripted SIP peers and two RTP peers on 127.0.0.1. Timers are shortened (T1 = 50 ms) so
 * timeouts happen within a test.
 */
let tandem: RunningTandem;
let caller: SipPeer;
let callee: SipPeer;
let callee2: SipPeer;
let sipUdp: { address: string; port: number };

async function start(over: Partial<TandemConfig>): Promise<void> {
  const base = 10000 + Math.floor(Math.random() * 45) * 400;
  tandem = await startTandem(
    {
      ...defaultConfig(),
      listenNg: { address: '127.0.0.1', port: 0 },
      listenSip: [
        { protocol: 'udp', address: '127.0.0.1', port: 0 },
        { protocol: 'tcp', address: '127.0.0.1', port: 0 },
      ],
      portMin: base,
      portMax: base + 399,
      numThreads: 1,
      logLevel: 'silent',
      sipT1: 50,
      sipT2: 400,
      sipT4: 500,
      ...over,
    },
    pino({ level: 'silent' }),
  );
  const udp = tandem.sip?.listeners.find((l) => l.protocol === 'udp');
  if (udp === undefined) throw new Error('no UDP SIP listener');
  sipUdp = { address: udp.address, port: udp.port };
}

beforeEach(async () => {
  caller = await SipPeer.udp();
  callee = await SipPeer.udp();
  callee2 = await SipPeer.udp();
});

afterEach(async () => {
  caller.close();
  callee.close();
  callee2.close();
  await tandem?.close();
});

let cseq = 1;
function invite(opts: { user?: string; sdp?: string; callId?: string; headers?: string[]; peer?: SipPeer } = {}): { text: string; callId: string } {
  const peer = opts.peer ?? caller;
  const callId = opts.callId ?? `call-${Math.random().toString(36).slice(2)}@127.0.0.1`;
  const text = [
    `INVITE sip:${opts.user ?? '100'}@127.0.0.1:${sipUdp.port} SIP/2.0`,
    `Via: SIP/2.0/${peer.protocol.toUpperCase()} 127.0.0.1:${peer.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: "Alice" <sip:alice@127.0.0.1>;tag=${peer.tag}`,
    `To: <sip:${opts.user ?? '100'}@127.0.0.1>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq++} INVITE`,
    `Contact: <sip:alice@127.0.0.1:${peer.port}${peer.protocol === 'tcp' ? ';transport=tcp' : ''}>`,
    'Subject: copied',
    'X-Secret-Topology: must not cross',
    ...(opts.headers ?? []),
    ...(opts.sdp !== undefined ? ['Content-Type: application/sdp'] : []),
    '',
    opts.sdp ?? '',
  ].join('\n');
  return { text, callId };
}

/** An in-dialog request from a peer, built from the dialog it saw. */
function inDialog(method: string, d: { callId: string; localTag: string; remoteTag: string; localUri: string; remoteUri: string; target: string; seq: number }, peer: SipPeer, sdp?: string): string {
  return [
    `${method} ${d.target} SIP/2.0`,
    `Via: SIP/2.0/${peer.protocol.toUpperCase()} 127.0.0.1:${peer.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: <${d.localUri}>;tag=${d.localTag}`,
    `To: <${d.remoteUri}>;tag=${d.remoteTag}`,
    `Call-ID: ${d.callId}`,
    `CSeq: ${d.seq} ${method}`,
    `Contact: <sip:peer@127.0.0.1:${peer.port}>`,
    ...(sdp !== undefined ? ['Content-Type: application/sdp'] : []),
    '',
    sdp ?? '',
  ].join('\n');
}

function contactUri(r: Received): string {
  const c = getHeader(r.msg, 'Contact') ?? '';
  return /<([^>]+)>/.exec(c)?.[1] ?? c;
}

function ack2xx(ok: Received, callId: string, peer: SipPeer): void {
  const seq = getCSeq(ok.msg)?.seq ?? 0;
  peer.send(
    [
      `ACK ${contactUri(ok)} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK${Math.random().toString(36).slice(2)}`,
      'Max-Forwards: 70',
      `From: ${getHeader(ok.msg, 'From') ?? ''}`,
      `To: ${getHeader(ok.msg, 'To') ?? ''}`,
      `Call-ID: ${callId}`,
      `CSeq: ${seq} ACK`,
      '',
      '',
    ].join('\n'),
    sipUdp,
  );
}

function codecNames(sdp: string): string[] {
  return mediaCodecs(parseSdp(sdp).session.media[0]).map((c) => c.name);
}

function audioPort(sdp: string): number {
  return parseSdp(sdp).session.media[0].port;
}

/** Sets up a call A (PCMA) → Tandem → B (gets PCMU) and returns everything a test needs next. */
async function connectedCall(): Promise<{
  callId: string;
  bInvite: Received;
  aOk: Received;
  rtpA: RtpPeer;
  rtpB: RtpPeer;
}> {
  const rtpA = await RtpPeer.open();
  const rtpB = await RtpPeer.open();
  const { text, callId } = invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }, { pt: 101, name: 'telephone-event' }]) });
  caller.send(text, sipUdp);
  const bInvite = await callee.next(isRequest('INVITE'));
  callee.reply(bInvite, 100, { reason: 'Trying' });
  callee.reply(bInvite, 180, { reason: 'Ringing' });
  await caller.next(isResponse(180));
  callee.reply(bInvite, 200, { reason: 'OK', sdp: sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }, { pt: 101, name: 'telephone-event' }]) });
  const aOk = await caller.next(isResponse(200, 'INVITE'));
  ack2xx(aOk, callId, caller);
  await callee.next(isRequest('ACK'));
  return { callId, bInvite, aOk, rtpA, rtpB };
}

describe('B2BUA call flows (UDP, local media plane)', () => {
  it('leg B is a new dialog with only configured headers, the policy codec, and transcoded media both ways; BYE ends both legs', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}`, bCodecs: ['PCMU'] });
    const { callId, bInvite, aOk, rtpA, rtpB } = await connectedCall();
    const b = bInvite.msg as SipRequest;
    // Topology hiding: new Call-ID, only Tandem's Via, no foreign headers.
    expect(getCallId(b)).not.toBe(callId);
    expect(headerLines(b, 'Via')).toHaveLength(1);
    expect(headerLines(b, 'Via')[0]).toContain(`127.0.0.1:${sipUdp.port}`);
    expect(getHeader(b, 'Subject')).toBe('copied');
    expect(getHeader(b, 'X-Secret-Topology')).toBeUndefined();
    expect(getHeader(b, 'Contact')).toContain(`127.0.0.1:${sipUdp.port}`);
    expect(b.uri).toBe(`sip:100@127.0.0.1:${callee.port}`);
    expect(getHeader(b, 'Max-Forwards')).toBe('69');
    // Policy: leg B sees PCMU (and DTMF) only; leg A keeps PCMA.
    expect(codecNames(b.body.toString())).toEqual(['PCMU', 'telephone-event']);
    const aSdp = aOk.msg.body.toString();
    expect(codecNames(aSdp)).toEqual(['PCMA', 'telephone-event']);

    // Media: A sends PCMA, B receives PCMU with the G.711 table applied, and back.
    const portToA = audioPort(aSdp);
    const portToB = audioPort(b.body.toString());
    const pa = patternPayload(160, 3);
    const pb = patternPayload(160, 5);
    for (let i = 0; i < 5; i++) {
      await rtpA.send(rtpPacket({ pt: 8, seq: i, ts: i * 160, ssrc: 1, payload: pa }), portToA);
      await rtpB.send(rtpPacket({ pt: 0, seq: i, ts: i * 160, ssrc: 2, payload: pb }), portToB);
    }
    const atB = await rtpB.waitFor(3);
    const atA = await rtpA.waitFor(3);
    expect(atB[0][1] & 0x7f).toBe(0);
    expect(atB[0].subarray(12)).toEqual(Buffer.from(pa.map((x) => ALAW_TO_ULAW()[x])));
    expect(atA[0][1] & 0x7f).toBe(8);
    expect(atA[0].subarray(12)).toEqual(Buffer.from(pb.map((x) => ULAW_TO_ALAW()[x])));
    expect(await tandem.media.list()).toEqual([callId]);

    // BYE from A: 200 to A, BYE to B on B's dialog, media gone.
    caller.send(
      inDialog('BYE', { callId, localTag: caller.tag, remoteTag: getTo(aOk.msg)?.tag ?? '', localUri: 'sip:alice@127.0.0.1', remoteUri: 'sip:100@127.0.0.1', target: contactUri(aOk), seq: 99 }, caller),
      sipUdp,
    );
    await caller.next(isResponse(200, 'BYE'));
    const bBye = await callee.next(isRequest('BYE'));
    expect(getCallId(bBye.msg)).toBe(getCallId(b));
    expect(getTo(bBye.msg)?.tag).toBe(callee.tag);
    callee.reply(bBye, 200, { reason: 'OK' });
    await expect.poll(() => tandem.media.list(), { timeout: 2000 }).toEqual([]);
    rtpA.close();
    rtpB.close();
  });

  it('183 with SDP is early media: the caller gets it with its own codec and media flows before the answer', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}`, bCodecs: ['PCMU'] });
    const rtpA = await RtpPeer.open();
    const rtpB = await RtpPeer.open();
    caller.send(invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) }).text, sipUdp);
    const bInvite = await callee.next(isRequest('INVITE'));
    callee.reply(bInvite, 183, { reason: 'Session Progress', sdp: sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }]) });
    const early = await caller.next(isResponse(183));
    const aSdp = early.msg.body.toString();
    expect(codecNames(aSdp)).toEqual(['PCMA']);
    // Ringback from the callee reaches the caller transcoded, before any 200.
    const tone = patternPayload(160, 9);
    await rtpB.send(rtpPacket({ pt: 0, seq: 1, ts: 160, ssrc: 7, payload: tone }), audioPort(bInvite.msg.body.toString()));
    const got = await rtpA.waitFor(1);
    expect(got[0][1] & 0x7f).toBe(8);
    expect(got[0].subarray(12)).toEqual(Buffer.from(tone.map((x) => ULAW_TO_ALAW()[x])));
    expect(caller.count(isResponse(200))).toBe(0);
    rtpA.close();
    rtpB.close();
  });

  it('an offerless INVITE: the callee\'s 200 carries the offer, the caller\'s ACK the answer, which reaches the callee in its ACK', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}` });
    const rtpA = await RtpPeer.open();
    const rtpB = await RtpPeer.open();
    const { text, callId } = invite({});
    caller.send(text, sipUdp);
    const bInvite = await callee.next(isRequest('INVITE'));
    expect(bInvite.msg.body.length).toBe(0);
    callee.reply(bInvite, 200, { reason: 'OK', sdp: sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }]) });
    const ok = await caller.next(isResponse(200, 'INVITE'));
    const offerToA = ok.msg.body.toString();
    expect(codecNames(offerToA)).toEqual(['PCMU']);
    const seq = getCSeq(ok.msg)?.seq ?? 0;
    caller.send(
      [
        `ACK ${contactUri(ok)} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bKlate${seq}`,
        'Max-Forwards: 70',
        `From: ${getHeader(ok.msg, 'From') ?? ''}`,
        `To: ${getHeader(ok.msg, 'To') ?? ''}`,
        `Call-ID: ${callId}`,
        `CSeq: ${seq} ACK`,
        'Content-Type: application/sdp',
        '',
        sdpOffer(rtpA.port, [{ pt: 0, name: 'PCMU' }]),
      ].join('\n'),
      sipUdp,
    );
    const bAck = await callee.next(isRequest('ACK'));
    expect(codecNames(bAck.msg.body.toString())).toEqual(['PCMU']);
    // Leg B was not ACKed before the caller had answered: an early ACK would have come before this one.
    expect(callee.count(isRequest('ACK'))).toBe(1);
    // Media flows with the ports the late offer/answer set up.
    const payload = patternPayload(160, 4);
    await rtpA.send(rtpPacket({ pt: 0, seq: 1, ts: 160, ssrc: 3, payload }), audioPort(offerToA));
    const atB = await rtpB.waitFor(1);
    expect(atB[0].subarray(12)).toEqual(payload);
    rtpA.close();
    rtpB.close();
  });

  it('CANCEL before answer: 200 for the CANCEL, 487 for the INVITE, CANCEL to leg B, media freed', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}` });
    const rtpA = await RtpPeer.open();
    const { text, callId } = invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) });
    caller.send(text, sipUdp);
    const bInvite = await callee.next(isRequest('INVITE'));
    callee.reply(bInvite, 180, { reason: 'Ringing' });
    await caller.next(isResponse(180));
    const via = headerLines(parseInvite(text), 'Via')[0];
    caller.send(
      [`CANCEL sip:100@127.0.0.1:${sipUdp.port} SIP/2.0`, `Via: ${via}`, 'Max-Forwards: 70', `From: "Alice" <sip:alice@127.0.0.1>;tag=${caller.tag}`, 'To: <sip:100@127.0.0.1>', `Call-ID: ${callId}`, `CSeq: ${getCSeq(parseInvite(text))?.seq ?? 0} CANCEL`, '', ''].join('\n'),
      sipUdp,
    );
    await caller.next(isResponse(200, 'CANCEL'));
    const r487 = await caller.next(isResponse(487, 'INVITE'));
    expect(getTo(r487.msg)?.tag).toBeDefined();
    const bCancel = await callee.next(isRequest('CANCEL'));
    expect(headerLines(bCancel.msg, 'Via')[0]).toBe(headerLines(bInvite.msg, 'Via')[0]);
    callee.reply(bCancel, 200, { reason: 'OK' });
    callee.reply(bInvite, 487, { reason: 'Request Terminated' });
    // The B2BUA's INVITE client transaction ACKs the 487 itself.
    await callee.next(isRequest('ACK'));
    await expect.poll(() => tandem.media.list(), { timeout: 2000 }).toEqual([]);
    rtpA.close();
  });

  it('re-INVITE from leg B (hold) reaches leg A through the media plane and the answer goes back', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}`, bCodecs: ['PCMU'] });
    const { callId, bInvite, aOk, rtpA, rtpB } = await connectedCall();
    const bOkTag = callee.tag;
    const bDialog = { callId: getCallId(bInvite.msg) ?? '', localTag: bOkTag, remoteTag: (getHeader(bInvite.msg, 'From') ?? '').replace(/.*tag=/, ''), localUri: 'sip:100@127.0.0.1', remoteUri: 'sip:alice@127.0.0.1', target: contactUri(bInvite), seq: 1 };
    const hold = sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }, { pt: 101, name: 'telephone-event' }], ['a=sendonly']);
    const mark = caller.inbox.length;
    callee.send(inDialog('INVITE', bDialog, callee, hold), sipUdp);
    const aReinvite = await caller.next(isRequest('INVITE'), 3000, mark);
    expect(getCallId(aReinvite.msg)).toBe(callId);
    const aHoldSdp = aReinvite.msg.body.toString();
    expect(aHoldSdp).toMatch(/a=sendonly/);
    expect(codecNames(aHoldSdp)).toEqual(['PCMA', 'telephone-event']);
    caller.reply(aReinvite, 200, { reason: 'OK', sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }, { pt: 101, name: 'telephone-event' }], ['a=recvonly']) });
    await caller.next(isRequest('ACK'), 3000, mark);
    const bOk = await callee.next(isResponse(200, 'INVITE'), 3000, 0);
    expect(bOk.msg.body.toString()).toMatch(/a=recvonly/);
    expect(codecNames(bOk.msg.body.toString())).toEqual(['PCMU', 'telephone-event']);
    void aOk;
    rtpA.close();
    rtpB.close();
  });

  it('an offerless re-INVITE from leg B: the caller\'s 2xx offer goes to B under B\'s policy, B\'s answer comes back in the ACK', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}`, bCodecs: ['PCMU'] });
    const { bInvite, rtpA, rtpB } = await connectedCall();
    const bDialog = { callId: getCallId(bInvite.msg) ?? '', localTag: callee.tag, remoteTag: (getHeader(bInvite.msg, 'From') ?? '').replace(/.*tag=/, ''), localUri: 'sip:100@127.0.0.1', remoteUri: 'sip:alice@127.0.0.1', target: contactUri(bInvite), seq: 7 };
    const markA = caller.inbox.length;
    callee.send(inDialog('INVITE', bDialog, callee), sipUdp);
    const aReinvite = await caller.next(isRequest('INVITE'), 3000, markA);
    expect(aReinvite.msg.body.length).toBe(0);
    caller.reply(aReinvite, 200, { reason: 'OK', sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }, { pt: 101, name: 'telephone-event' }]) });
    const bOk = await callee.next(isResponse(200, 'INVITE'), 3000, 0);
    const toB = bOk.msg.body.toString();
    expect(codecNames(toB)).toEqual(['PCMU', 'telephone-event']);
    callee.send(
      [
        `ACK ${contactUri(bOk)} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${callee.port};branch=z9hG4bKlateb`,
        'Max-Forwards: 70',
        `From: <sip:100@127.0.0.1>;tag=${callee.tag}`,
        `To: ${getHeader(bOk.msg, 'To') ?? ''}`,
        `Call-ID: ${bDialog.callId}`,
        'CSeq: 7 ACK',
        'Content-Type: application/sdp',
        '',
        sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }]),
      ].join('\n'),
      sipUdp,
    );
    const aAck = await caller.next(isRequest('ACK'), 3000, markA);
    expect(codecNames(aAck.msg.body.toString())).toEqual(['PCMA']);
    // Leg A was not ACKed before B had answered: an early ACK would have come before this one.
    expect(caller.count((m) => m.kind === 'request' && m.method === 'ACK')).toBe(1);
    rtpA.close();
    rtpB.close();
  });

  it('a second re-INVITE while one is pending gets 491', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}` });
    const { callId, aOk, rtpA, rtpB } = await connectedCall();
    const d = { callId, localTag: caller.tag, remoteTag: getTo(aOk.msg)?.tag ?? '', localUri: 'sip:alice@127.0.0.1', remoteUri: 'sip:100@127.0.0.1', target: contactUri(aOk), seq: 50 };
    const offer = sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]);
    caller.send(inDialog('INVITE', d, caller, offer), sipUdp);
    await callee.next((m) => m.kind === 'request' && m.method === 'INVITE' && getTo(m)?.tag !== undefined);
    caller.send(inDialog('INVITE', { ...d, seq: 51 }, caller, offer), sipUdp);
    await caller.next(isResponse(491, 'INVITE'));
    rtpA.close();
    rtpB.close();
  });

  it('fails over to the next target on 503 and relays a final 486 without failing over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-routes-'));
    const file = join(dir, 'routes.json');
    writeFileSync(
      file,
      JSON.stringify({
        routes: [
          {
            name: 'pair',
            match: {},
            targets: [
              { uri: `sip:127.0.0.1:${callee.port}`, weight: 1, priority: 1 },
              { uri: `sip:127.0.0.1:${callee2.port}`, weight: 1, priority: 2 },
            ],
            policy: { a: {}, b: { codecs: ['PCMA'], transcode: true } },
          },
        ],
      }),
    );
    await start({ routesFile: file });
    const rtpA = await RtpPeer.open();
    const { text } = invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) });
    caller.send(text, sipUdp);
    const first = await callee.next(isRequest('INVITE'));
    callee.reply(first, 503, { reason: 'Service Unavailable' });
    await callee.next(isRequest('ACK'));
    const second = await callee2.next(isRequest('INVITE'));
    expect(getCallId(second.msg)).toBe(getCallId(first.msg));
    callee2.reply(second, 486, { reason: 'Busy Here' });
    const busy = await caller.next(isResponse(486, 'INVITE'));
    expect((busy.msg as { reason: string }).reason).toBe('Busy Here');
    expect(caller.count(isResponse(200))).toBe(0);
    await expect.poll(() => tandem.media.list(), { timeout: 2000 }).toEqual([]);
    rtpA.close();
  });

  it('a target that never answers times out (Timer B) and the caller gets 408', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}` });
    const rtpA = await RtpPeer.open();
    caller.send(invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) }).text, sipUdp);
    // 64 × T1 = 3.2 s with T1 = 50 ms; the INVITE is retransmitted meanwhile (Timer A).
    await caller.next(isResponse(408, 'INVITE'), 6000);
    expect(callee.count(isRequest('INVITE'))).toBeGreaterThanOrEqual(5);
    rtpA.close();
  }, 10_000);

  it('media timeout ends the call with BYE on both legs', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}`, timeout: 1 });
    const { rtpA, rtpB } = await connectedCall();
    // No RTP at all: the media plane ends the call after 1 s; the watchdog polls every 5 s.
    const byeA = await caller.next(isRequest('BYE'), 9000);
    const byeB = await callee.next(isRequest('BYE'), 9000);
    expect(getHeader(byeA.msg, 'Reason')).toMatch(/media timeout/);
    expect(getHeader(byeB.msg, 'Reason')).toMatch(/media timeout/);
    rtpA.close();
    rtpB.close();
  }, 15_000);

  it('a media worker failure ends the call with BYE on both legs saying so, not "media timeout"', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}` });
    const { rtpA, rtpB } = await connectedCall();
    await tandem.media.pool.kill(0);
    const byeA = await caller.next(isRequest('BYE'), 9000);
    const byeB = await callee.next(isRequest('BYE'), 9000);
    expect(getHeader(byeA.msg, 'Reason')).toBe('SIP;cause=500;text="media worker failed"');
    expect(getHeader(byeB.msg, 'Reason')).toBe('SIP;cause=500;text="media worker failed"');
    rtpA.close();
    rtpB.close();
  }, 15_000);
});

describe('B2BUA media security per leg', () => {
  it('--b-srtp=sdes: a plain caller reaches a callee over SDES-SRTP; media decrypts on both ends', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}`, bCodecs: ['PCMU'], bSrtp: 'sdes' });
    const rtpA = await RtpPeer.open();
    const rtpB = await RtpPeer.open();
    caller.send(invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) }).text, sipUdp);
    const bInvite = await callee.next(isRequest('INVITE'));
    const toB = bInvite.msg.body.toString();
    expect(toB).toMatch(/^m=audio \d+ RTP\/SAVP 0/m);
    const offered = [...toB.matchAll(/^a=crypto:(\d+) (\S+) inline:(\S+)/gm)];
    expect(offered.map((m) => m[2])).toEqual(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']);
    const bKey = randomBytes(30);
    const answer = sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }], [`a=crypto:${offered[0][1]} AES_CM_128_HMAC_SHA1_80 inline:${bKey.toString('base64')}`]).replace('RTP/AVP', 'RTP/SAVP');
    callee.reply(bInvite, 200, { reason: 'OK', sdp: answer });
    const ok = await caller.next(isResponse(200, 'INVITE'));
    const toA = ok.msg.body.toString();
    expect(toA).toMatch(/^m=audio \d+ RTP\/AVP 8/m);
    expect(toA).not.toMatch(/a=crypto/);
    // A → B: PCMA in, PCMU out, encrypted with the key Tandem offered B.
    const pa = patternPayload(160, 1);
    await rtpA.send(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 1, payload: pa }), audioPort(toA));
    const [enc] = await rtpB.waitFor(1);
    const fromTandem = new SrtpContext('AES_CM_128_HMAC_SHA1_80', Buffer.from(offered[0][3], 'base64').subarray(0, 16), Buffer.from(offered[0][3], 'base64').subarray(16));
    const dec = fromTandem.unprotectRtp(enc);
    expect(dec.ok && dec.packet.subarray(12).equals(Buffer.from(pa.map((x) => ALAW_TO_ULAW()[x])))).toBe(true);
    // B → A: SRTP with B's key in, plain PCMA out.
    const pb = patternPayload(160, 2);
    const fromB = new SrtpContext('AES_CM_128_HMAC_SHA1_80', bKey.subarray(0, 16), bKey.subarray(16));
    await rtpB.send(fromB.protectRtp(rtpPacket({ pt: 0, seq: 7, ts: 0, ssrc: 2, payload: pb })), audioPort(toB));
    const [plain] = await rtpA.waitFor(1);
    expect(plain.subarray(12)).toEqual(Buffer.from(pb.map((x) => ULAW_TO_ALAW()[x])));
    rtpA.close();
    rtpB.close();
  });
});

describe('B2BUA toward a WebRTC callee', () => {
  it('--b-srtp=dtls: a plain caller reaches a DTLS-SRTP callee (werift RTCPeerConnection); leg B gets a browser offer, leg A plain RTP; media both ways', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}`, bSrtp: 'dtls' });
    const rtpA = await RtpPeer.open();
    // a=ssrc: werift routes RTP by signalled SSRC only (browsers also take an unsignalled one).
    caller.send(invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }], ['a=ssrc:4660 cname:caller']) }).text, sipUdp);
    const bInvite = await callee.next(isRequest('INVITE'));
    const toB = bInvite.msg.body.toString();
    expect(toB).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 8\r?$/m);
    expect(toB).toMatch(/^a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r?$/m);
    expect(toB).toMatch(/^a=setup:actpass\r?$/m);
    expect(toB).toMatch(/^a=ice-lite\r?$/m);
    expect(toB).toMatch(/^a=ice-ufrag:\S+\r?$/m);
    expect(toB).toMatch(/^a=candidate:1 1 UDP \d+ 127\.0\.0\.1 \d+ typ host\r?$/m);
    expect(toB).toMatch(/^a=rtcp-mux\r?$/m);
    expect(toB).toMatch(/^a=mid:0\r?$/m);
    expect(toB).not.toMatch(/a=crypto/);

    const browser = WebRtcPeer.create();
    try {
      callee.reply(bInvite, 200, { reason: 'OK', sdp: await browser.answer(toB) });
      const ok = await caller.next(isResponse(200, 'INVITE'));
      const toA = ok.msg.body.toString();
      expect(toA).toMatch(/^m=audio \d+ RTP\/AVP 8\r?$/m);
      for (const gone of [/a=fingerprint/, /a=setup/, /a=ice-/, /a=candidate/, /a=mid/, /a=group/, /a=crypto/]) expect(toA).not.toMatch(gone);
      await browser.connected();

      const pa = patternPayload(160, 11);
      for (let i = 0; i < 3; i++) await rtpA.send(rtpPacket({ pt: 8, seq: i, ts: 160 * i, ssrc: 4660, payload: pa }), audioPort(toA));
      const [atBrowser] = await browser.waitFor(1);
      expect(atBrowser.payload).toEqual(pa);
      const pb = patternPayload(160, 12);
      await expect.poll(async () => {
        await browser.send(pb);
        return rtpA.received.length;
      }, { timeout: 3000, interval: 50 }).toBeGreaterThan(0);
      expect(rtpA.received[0].subarray(12)).toEqual(pb);
    } finally {
      await browser.close();
      rtpA.close();
    }
  });
});

describe('B2BUA request screening', () => {
  beforeEach(async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}` });
  });

  it('answers OPTIONS to itself with 200 and Allow', async () => {
    caller.send(
      [`OPTIONS sip:127.0.0.1:${sipUdp.port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bKopt1`, 'Max-Forwards: 70', `From: <sip:mon@127.0.0.1>;tag=${caller.tag}`, 'To: <sip:127.0.0.1>', 'Call-ID: opt-1', 'CSeq: 1 OPTIONS', '', ''].join('\n'),
      sipUdp,
    );
    const ok = await caller.next(isResponse(200, 'OPTIONS'));
    expect(getHeader(ok.msg, 'Allow')).toContain('INVITE');
  });

  it('rejects Max-Forwards 0 (483), unknown Require (420 + Unsupported), unknown method (501), a loop (482), an unknown dialog (481)', async () => {
    const rtpA = await RtpPeer.open();
    const sdp = sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]);
    caller.send(invite({ sdp }).text.replace('Max-Forwards: 70', 'Max-Forwards: 0'), sipUdp);
    await caller.next(isResponse(483, 'INVITE'));
    caller.send(invite({ sdp, headers: ['Require: teleportation'] }).text, sipUdp);
    const r420 = await caller.next(isResponse(420, 'INVITE'));
    expect(getHeader(r420.msg, 'Unsupported')).toBe('teleportation');
    caller.send(invite({ sdp }).text.replace(/^INVITE/, 'FROBNICATE').replace('INVITE\n', 'FROBNICATE\n'), sipUdp);
    await caller.next(isResponse(501));
    caller.send(invite({ sdp, headers: [] }).text.replace(/^(Via: .*)$/m, `$1\nVia: SIP/2.0/UDP 127.0.0.1:${sipUdp.port};branch=z9hG4bKloop`), sipUdp);
    await caller.next(isResponse(482, 'INVITE'));
    caller.send(inDialog('BYE', { callId: 'nope', localTag: 'x', remoteTag: 'y', localUri: 'sip:a@127.0.0.1', remoteUri: 'sip:b@127.0.0.1', target: `sip:127.0.0.1:${sipUdp.port}`, seq: 1 }, caller), sipUdp);
    await caller.next(isResponse(481, 'BYE'));
    expect(callee.count(isRequest('INVITE'))).toBe(0);
    rtpA.close();
  });

  it('drops requests from a denied User-Agent without any answer, and still serves others', async () => {
    const rtpA = await RtpPeer.open();
    caller.send(invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]), headers: ['User-Agent: friendly-scanner'] }).text, sipUdp);
    caller.send([`OPTIONS sip:127.0.0.1:${sipUdp.port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bKopt2`, 'Max-Forwards: 70', `From: <sip:mon@127.0.0.1>;tag=${caller.tag}`, 'To: <sip:127.0.0.1>', 'Call-ID: opt-2', 'CSeq: 1 OPTIONS', '', ''].join('\n'), sipUdp);
    await caller.next(isResponse(200, 'OPTIONS'));
    expect(caller.inbox.filter((r) => r.msg.kind === 'response' && getCSeq(r.msg)?.method === 'INVITE')).toHaveLength(0);
    expect(callee.count(isRequest('INVITE'))).toBe(0);
    expect(tandem.sip?.b2bua.counters.dropped).toBe(1);
    rtpA.close();
  });

  it('rejects an offer the policy cannot satisfy with 488 and a Warning', async () => {
    await tandem.close();
    await start({ route: `sip:127.0.0.1:${callee.port}`, bCodecs: ['PCMU'], bTranscode: false });
    const rtpA = await RtpPeer.open();
    caller.send(invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) }).text, sipUdp);
    const r = await caller.next(isResponse(488, 'INVITE'));
    expect(getHeader(r.msg, 'Warning')).toMatch(/^305 /);
    expect(callee.count(isRequest('INVITE'))).toBe(0);
    rtpA.close();
  });
});

describe('B2BUA transport conversion', () => {
  it('a TCP caller reaches a UDP callee; responses go back over the caller’s connection', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port};transport=udp`, bCodecs: ['PCMU'] });
    const tcp = tandem.sip?.listeners.find((l) => l.protocol === 'tcp');
    if (tcp === undefined) throw new Error('no TCP listener');
    const tcpCaller = await SipPeer.tcp(tcp);
    const rtpA = await RtpPeer.open();
    const { text } = invite({ peer: tcpCaller, sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) });
    tcpCaller.send(text, tcp);
    const bInvite = await callee.next(isRequest('INVITE'));
    expect(headerLines(bInvite.msg, 'Via')[0]).toMatch(/^SIP\/2\.0\/UDP /);
    callee.reply(bInvite, 200, { reason: 'OK', sdp: sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]) });
    const ok = await tcpCaller.next(isResponse(200, 'INVITE'));
    expect(getHeader(ok.msg, 'Contact')).toContain('transport=tcp');
    tcpCaller.close();
    rtpA.close();
  });
});

function parseInvite(text: string): SipRequest {
  const lines = text.split('\n');
  const headers = lines.slice(1, lines.indexOf('')).map((l) => {
    const i = l.indexOf(':');
    return { name: l.slice(0, i), value: l.slice(i + 1).trim() };
  });
  return { kind: 'request', version: 'SIP/2.0', method: 'INVITE', uri: lines[0].split(' ')[1], headers, body: Buffer.alloc(0) };
}

describe('B2BUA over TLS, in-dialog relays, outbound proxy, malformed input', () => {
  itWithPeers('a TLS caller reaches a UDP callee (self-signed certificate made with openssl)', ['openssl'], async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-tls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    await start({
      route: `sip:127.0.0.1:${callee.port}`,
      bCodecs: ['PCMU'],
      tlsCert: cert,
      tlsKey: key,
      listenSip: [
        { protocol: 'udp', address: '127.0.0.1', port: 0 },
        { protocol: 'tls', address: '127.0.0.1', port: 0 },
      ],
    });
    const tlsListener = tandem.sip?.listeners.find((l) => l.protocol === 'tls');
    if (tlsListener === undefined) throw new Error('no TLS listener');
    const socket = tls.connect({ host: '127.0.0.1', port: tlsListener.port, ca: readFileSync(cert) });
    await new Promise<void>((res, rej) => socket.once('secureConnect', res).once('error', rej));
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    const rtpA = await RtpPeer.open();
    const { text } = invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) });
    socket.write(text.replace(/\n/g, '\r\n').replace('SIP/2.0/UDP', 'SIP/2.0/TLS').replace(/\r\n\r\n/, `\r\nContent-Length: ${Buffer.byteLength(text.split('\n\n')[1] ?? '')}\r\n\r\n`));
    const bInvite = await callee.next(isRequest('INVITE'));
    expect(headerLines(bInvite.msg, 'Via')[0]).toMatch(/^SIP\/2\.0\/UDP /);
    callee.reply(bInvite, 200, { reason: 'OK', sdp: sdpOffer(40002, [{ pt: 0, name: 'PCMU' }]) });
    await expect.poll(() => got, { timeout: 3000 }).toMatch(/SIP\/2\.0 200 OK[\s\S]*Contact: <sip:tandem@127\.0\.0\.1:\d+;transport=tls>/);
    socket.destroy();
    rtpA.close();
  });

  it('relays INFO and UPDATE inside the dialog, with bodies and final responses', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}`, bCodecs: ['PCMU'] });
    const { callId, aOk, rtpA, rtpB } = await connectedCall();
    const d = { callId, localTag: caller.tag, remoteTag: getTo(aOk.msg)?.tag ?? '', localUri: 'sip:alice@127.0.0.1', remoteUri: 'sip:100@127.0.0.1', target: contactUri(aOk), seq: 1000 };
    caller.send(inDialog('INFO', d, caller).replace('\n\n', '\nContent-Type: application/dtmf-relay\n\nSignal=5\r\nDuration=160\r\n'), sipUdp);
    const info = await callee.next(isRequest('INFO'));
    expect(getHeader(info.msg, 'Content-Type')).toBe('application/dtmf-relay');
    expect(info.msg.body.toString()).toContain('Signal=5');
    callee.reply(info, 200, { reason: 'Fine' });
    const infoOk = await caller.next(isResponse(200, 'INFO'));
    expect((infoOk.msg as { reason: string }).reason).toBe('Fine');

    // A lower CSeq than the last one is out of order (RFC 3261 §12.2.2).
    caller.send(inDialog('INFO', { ...d, seq: 3 }, caller), sipUdp);
    const r500 = await caller.next(isResponse(500, 'INFO'));
    expect((r500.msg as { reason: string }).reason).toBe('CSeq Out Of Order');

    const mark = callee.inbox.length;
    caller.send(inDialog('UPDATE', { ...d, seq: 1001 }, caller, sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }], ['a=sendonly'])), sipUdp);
    const upd = await callee.next(isRequest('UPDATE'), 3000, mark);
    expect(codecNames(upd.msg.body.toString())).toEqual(['PCMU']);
    expect(upd.msg.body.toString()).toMatch(/a=sendonly/);
    callee.reply(upd, 200, { reason: 'OK', sdp: sdpOffer(rtpB.port, [{ pt: 0, name: 'PCMU' }], ['a=recvonly']) });
    const updOk = await caller.next(isResponse(200, 'UPDATE'));
    expect(codecNames(updOk.msg.body.toString())).toEqual(['PCMA']);
    rtpA.close();
    rtpB.close();
  });

  it('X-Outbound-Proxy from a trusted source picks leg B’s next hop and does not cross; from others it is ignored', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}`, trustedProxies: ['127.0.0.1'] });
    const rtpA = await RtpPeer.open();
    caller.send(invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]), headers: [`X-Outbound-Proxy: sip:127.0.0.1:${callee2.port}`] }).text, sipUdp);
    const viaProxy = await callee2.next(isRequest('INVITE'));
    expect(viaProxy.msg.kind === 'request' && viaProxy.msg.uri).toBe(`sip:100@127.0.0.1:${callee.port}`);
    expect(getHeader(viaProxy.msg, 'X-Outbound-Proxy')).toBeUndefined();
    expect(callee.count(isRequest('INVITE'))).toBe(0);
    rtpA.close();
  });

  it('a SIP-over-WebSocket caller (RFC 7118) reaches a UDP callee; responses and the callee\'s BYE come back over the WebSocket', async () => {
    await start({
      route: `sip:127.0.0.1:${callee.port}`,
      bCodecs: ['PCMU'],
      listenSip: [
        { protocol: 'udp', address: '127.0.0.1', port: 0 },
        { protocol: 'ws', address: '127.0.0.1', port: 0 },
      ],
    });
    const wsl = tandem.sip?.listeners.find((l) => l.protocol === 'ws');
    if (wsl === undefined) throw new Error('no ws listener');
    const ws = new WebSocket(`ws://127.0.0.1:${wsl.port}`, 'sip');
    await new Promise<void>((res, rej) => ws.once('open', () => res()).once('error', rej));
    expect(ws.protocol).toBe('sip');
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    const rtpA = await RtpPeer.open();
    const sdp = sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]);
    const inviteText = [
      `INVITE sip:100@127.0.0.1:${wsl.port};transport=ws SIP/2.0`,
      'Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1;rport',
      'Max-Forwards: 70',
      'From: <sip:alice@example.invalid>;tag=wstag',
      'To: <sip:100@127.0.0.1>',
      'Call-ID: ws-call-1',
      'CSeq: 1 INVITE',
      'Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>',
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(sdp)}`,
      '',
      sdp,
    ].join('\r\n');
    ws.send(inviteText);
    const bInvite = await callee.next(isRequest('INVITE'));
    expect(headerLines(bInvite.msg, 'Via')[0]).toMatch(/^SIP\/2\.0\/UDP /);
    callee.reply(bInvite, 200, { reason: 'OK', sdp: sdpOffer(40004, [{ pt: 0, name: 'PCMU' }]) });
    await expect.poll(() => got.find((m) => /^SIP\/2\.0 200 /.test(m)), { timeout: 3000 }).toBeDefined();
    const ok = got.find((m) => /^SIP\/2\.0 200 /.test(m)) ?? '';
    expect(ok).toMatch(/^Contact: <sip:tandem@127\.0\.0\.1:\d+;transport=ws>/m);
    expect(ok).toMatch(/^Via: SIP\/2\.0\/WS df7jal23ls0d\.invalid;branch=z9hG4bKws1;.*received=127\.0\.0\.1/m);
    // BYE from the callee reaches the browser over its WebSocket (RFC 7118 §5: the flow it opened).
    const toTag = /^To: .*;tag=(\S+)/m.exec(ok)?.[1] ?? '';
    ws.send([
      'ACK sip:tandem@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws2', 'Max-Forwards: 70',
      'From: <sip:alice@example.invalid>;tag=wstag', `To: <sip:100@127.0.0.1>;tag=${toTag}`, 'Call-ID: ws-call-1', 'CSeq: 1 ACK', 'Content-Length: 0', '', '',
    ].join('\r\n'));
    await callee.next(isRequest('ACK'));
    callee.send(inDialog('BYE', { callId: getCallId(bInvite.msg) ?? '', localTag: callee.tag, remoteTag: (getHeader(bInvite.msg, 'From') ?? '').replace(/.*tag=/, ''), localUri: 'sip:100@127.0.0.1', remoteUri: 'sip:alice@127.0.0.1', target: contactUri(bInvite), seq: 2 }, callee), sipUdp);
    await expect.poll(() => got.some((m) => /^BYE /.test(m)), { timeout: 3000 }).toBe(true);
    ws.close();
    rtpA.close();
  });

  it('SIP over WebSocket: garbage, binary junk, a bad request and an oversized message get a 400 or nothing; a wrong subprotocol is refused; the listener keeps serving', async () => {
    await start({
      route: `sip:127.0.0.1:${callee.port}`,
      listenSip: [
        { protocol: 'udp', address: '127.0.0.1', port: 0 },
        { protocol: 'ws', address: '127.0.0.1', port: 0 },
      ],
    });
    const wsl = tandem.sip?.listeners.find((l) => l.protocol === 'ws');
    if (wsl === undefined) throw new Error('no ws listener');
    const open = async (protocol: string): Promise<{ ws: WebSocket; got: string[]; closed: Promise<number> }> => {
      const ws = new WebSocket(`ws://127.0.0.1:${wsl.port}`, protocol);
      const got: string[] = [];
      ws.on('message', (d: Buffer) => got.push(d.toString()));
      const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
      ws.on('error', () => undefined);
      await new Promise<void>((res) => ws.once('open', () => res()).once('close', () => res()));
      return { ws, got, closed };
    };
    // RFC 7118 §4: no "sip" subprotocol, no SIP.
    const wrong = await open('chat');
    expect(wrong.ws.protocol).not.toBe('sip');
    expect(await wrong.closed).toBeGreaterThan(0);

    const a = await open('sip');
    for (let i = 0; i < 50; i++) a.ws.send(`garbage ${i} \u0000\u00ff`);
    a.ws.send(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80]));
    // A request whose CSeq method does not match: a 400 that names the fault, back over the socket.
    a.ws.send([
      'OPTIONS sip:127.0.0.1 SIP/2.0', 'Via: SIP/2.0/WS junk.invalid;branch=z9hG4bKwsbad', 'Max-Forwards: 70',
      'From: <sip:x@junk.invalid>;tag=j1', 'To: <sip:127.0.0.1>', 'Call-ID: ws-bad-1', 'CSeq: 1 INVITE', 'Content-Length: 0', '', '',
    ].join('\r\n'));
    await expect.poll(() => a.got.find((m) => /^SIP\/2\.0 400 /.test(m)), { timeout: 3000 }).toBeDefined();
    expect(a.got.find((m) => /^SIP\/2\.0 400 /.test(m))).toMatch(/^SIP\/2\.0 400 [^\r\n]*CSeq/i);
    expect(a.got.filter((m) => /^SIP\/2\.0 /.test(m))).toHaveLength(1);
    // Over the 64 KiB message limit: that connection is closed (1009), nothing else happens.
    a.ws.send('X'.repeat(70 * 1024));
    expect(await a.closed).toBe(1009);

    // A fresh connection is served as before.
    const b = await open('sip');
    b.ws.send([
      `OPTIONS sip:127.0.0.1:${wsl.port};transport=ws SIP/2.0`, 'Via: SIP/2.0/WS ok.invalid;branch=z9hG4bKwsok', 'Max-Forwards: 70',
      'From: <sip:mon@ok.invalid>;tag=o1', 'To: <sip:127.0.0.1>', 'Call-ID: ws-ok-1', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', '',
    ].join('\r\n'));
    await expect.poll(() => b.got.find((m) => /^SIP\/2\.0 200 /.test(m)), { timeout: 3000 }).toBeDefined();
    b.ws.close();
  });

  it('answers a malformed request with 400 naming the fault, and keeps serving', async () => {
    await start({ route: `sip:127.0.0.1:${callee.port}` });
    const rtpA = await RtpPeer.open();
    const bad = invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) }).text.replace('\n\nv=0', '\nContent-Length: 9999\n\nv=0');
    caller.send(bad, sipUdp);
    const r400 = await caller.next(isResponse(400));
    expect((r400.msg as { reason: string }).reason).toMatch(/Content-Length/i);
    for (let i = 0; i < 200; i++) caller.send(`garbage ${i} \u0000\u00ff`, sipUdp);
    caller.send(invite({ sdp: sdpOffer(rtpA.port, [{ pt: 8, name: 'PCMA' }]) }).text, sipUdp);
    await callee.next(isRequest('INVITE'));
    expect(tandem.sip?.transport.counters.dropped).toBeGreaterThanOrEqual(200);
    rtpA.close();
  });
});
