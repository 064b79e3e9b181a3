import { describe, expect, it } from 'vitest';
import type { BDict } from '../../src/control/bencode.js';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';

/**
 * The offer/answer flags `block DTMF`, `block media`, `inject DTMF` and the `DTMF-security` key over
 * real UDP: the flag blocks what the message's sender sends (the offerer on an offer, the answerer
 * on an answer), the other direction still passes, and the unblock commands let it through again
 * (the positive control for "nothing arrived"). Bad values are an ng error or a warning naming them.
 */
const tandem = tandemPerFile();

const PCMA_TE = { pts: [8, 101], rtpmaps: ['8 PCMA/8000', '101 telephone-event/8000'], extra: ['a=fmtp:101 0-16'] };

interface Call {
  id: string;
  a: RtpPeer;
  b: RtpPeer;
  toA: number;
  toB: number;
  offer: BDict;
  answer: BDict;
  close(): Promise<void>;
}

let calls = 0;
async function call(offerKeys: BDict = {}, answerKeys: BDict = {}): Promise<Call> {
  const id = `of-${++calls}`;
  const a = await RtpPeer.open();
  const b = await RtpPeer.open();
  const offer = await tandem.ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'A', sdp: sdpFor({ port: a.port, ...PCMA_TE }), ...offerKeys });
  expect(offer.result, String(offer['error-reason'])).toBe('ok');
  const answer = await tandem.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'A', 'to-tag': 'B', sdp: sdpFor({ port: b.port, ...PCMA_TE }), ...answerKeys });
  expect(answer.result, String(answer['error-reason'])).toBe('ok');
  return {
    id, a, b, offer, answer,
    toB: mediaTarget(String(answer.sdp)).port,
    toA: mediaTarget(String(offer.sdp)).port,
    async close() {
      await tandem.ng.request({ command: 'delete', 'call-id': id });
      a.close();
      b.close();
    },
  };
}

const ev = (code: number, duration: number): Buffer => Buffer.from([code, 10, duration >> 8, duration & 0xff]);
const audio = (k: number): Buffer => Buffer.alloc(160, 0x55 ^ (k & 0x0f));
const pt = (p: Buffer): number => p[1] & 0x7f;

/** `n` audio packets then `n` telephone-event packets from one leg toward the other, from `seq`. */
async function send(c: Call, from: 'a' | 'b', n: number, seq: number): Promise<void> {
  const peer = from === 'a' ? c.a : c.b;
  const port = from === 'a' ? c.toB : c.toA;
  const ssrc = from === 'a' ? 0x1111 : 0x2222;
  for (let k = 0; k < n; k++) await peer.send(rtpPacket({ pt: 8, seq: seq + k, ts: (seq + k) * 160, ssrc, payload: audio(k) }), port);
  for (let k = 0; k < n; k++) await peer.send(rtpPacket({ pt: 101, seq: seq + n + k, ts: (seq + n) * 160, ssrc, payload: ev(5, 160 * (k + 1)), marker: k === 0 }), port);
}

/** One audio packet: sent last, it proves that what was sent before it and did not arrive was dropped. */
async function marker(c: Call, from: 'a' | 'b', seq: number): Promise<void> {
  const ssrc = from === 'a' ? 0x1111 : 0x2222;
  await (from === 'a' ? c.a : c.b).send(rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc, payload: audio(0) }), from === 'a' ? c.toB : c.toA);
}

async function settle(peer: RtpPeer, n: number): Promise<number[]> {
  await peer.waitFor(n, 3000).catch(() => undefined);
  return peer.received.map(pt);
}

function control(q: BDict, tag: string): BDict {
  const medias = ((q.tags as BDict)[tag] as BDict).medias as BDict[];
  return ((medias[0].streams as BDict[])[0]['media control'] as BDict | undefined) ?? {};
}

const ctl = (command: string, c: Call, extra: BDict = {}): Promise<BDict> => tandem.ng.request({ command, 'call-id': c.id, ...extra });

describe('block DTMF flag on offer and answer', () => {
  it('on the offer: the offerer\'s events are dropped (counted), the answerer\'s pass; unblock DTMF lets them through', async () => {
    const c = await call({ flags: ['block DTMF'] });
    expect(c.offer.warning).toBeUndefined();
    await send(c, 'a', 3, 100);
    await marker(c, 'a', 110);
    expect(await settle(c.b, 4)).toEqual([8, 8, 8, 8]);
    await send(c, 'b', 2, 200);
    expect(await settle(c.a, 4)).toEqual([8, 8, 101, 101]);
    expect(control(await ctl('query', c), 'B')['DTMF blocked']).toBe(3);

    expect((await ctl('unblock DTMF', c, { 'from-tag': 'A', flags: ['directional'] })).result).toBe('ok');
    await send(c, 'a', 2, 300);
    expect((await settle(c.b, 8)).slice(4)).toEqual([8, 8, 101, 101]);
    await c.close();
  });

  it('on the answer (rtpp-flags, hyphen spelling): the answerer\'s events are dropped, the offerer\'s pass', async () => {
    const c = await call({}, { 'rtpp-flags': 'block-DTMF' });
    expect(c.answer.warning).toBeUndefined();
    await send(c, 'b', 2, 100);
    await marker(c, 'b', 110);
    expect(await settle(c.a, 3)).toEqual([8, 8, 8]);
    await send(c, 'a', 2, 200);
    expect(await settle(c.b, 4)).toEqual([8, 8, 101, 101]);
    await ctl('unblock DTMF', c, { 'from-tag': 'B', flags: ['directional'] });
    await send(c, 'b', 1, 300);
    expect((await settle(c.a, 5)).slice(3)).toEqual([8, 101]);
    await c.close();
  });

  it('DTMF-security=off blocks nothing; zero is a warning naming it and still drops the digits', async () => {
    const off = await call({ flags: ['block-dtmf'], 'DTMF-security': 'off' });
    expect(off.offer.warning).toBeUndefined();
    await send(off, 'a', 2, 100);
    expect(await settle(off.b, 4)).toEqual([8, 8, 101, 101]);
    await off.close();

    const zero = await call({ flags: ['block-dtmf'], 'DTMF-security': 'zero' });
    expect(String(zero.offer.warning)).toMatch(/DTMF-security=zero not supported/);
    await send(zero, 'a', 2, 100);
    await marker(zero, 'a', 110);
    expect(await settle(zero.b, 3)).toEqual([8, 8, 8]);
    await zero.close();
  });
});

describe('blocking is the leg\'s, not the m= line\'s', () => {
  /** An SDP with one PCMA + telephone-event m= line per port. */
  const twoLines = (ports: number[]): string => {
    const one = sdpFor({ port: ports[0], ...PCMA_TE });
    const m = one.slice(one.indexOf('m=audio'));
    return one + m.replace(`m=audio ${ports[0]} `, `m=audio ${ports[1]} `);
  };
  const ports = (sdp: string): number[] => [...sdp.matchAll(/^m=audio (\d+) /gm)].map((x) => Number(x[1]));

  it('an m= line a re-offer adds is blocked too (rtpengine keeps it per participant); unblock DTMF reaches it', async () => {
    const c = await call({ flags: ['block DTMF'] });
    const a2 = await RtpPeer.open();
    const b2 = await RtpPeer.open();
    const reoffer = await ctl('offer', c, { 'from-tag': 'A', sdp: twoLines([c.a.port, a2.port]) });
    expect(reoffer.result, String(reoffer['error-reason'])).toBe('ok');
    const reanswer = await ctl('answer', c, { 'from-tag': 'A', 'to-tag': 'B', sdp: twoLines([c.b.port, b2.port]) });
    expect(reanswer.result, String(reanswer['error-reason'])).toBe('ok');
    const toB2 = ports(String(reanswer.sdp))[1];
    const line2: Call = { ...c, a: a2, b: b2, toB: toB2 };
    await send(line2, 'a', 2, 100);
    await marker(line2, 'a', 110);
    expect(await settle(b2, 3)).toEqual([8, 8, 8]);

    await ctl('unblock DTMF', c, { 'from-tag': 'A', flags: ['directional'] });
    await send(line2, 'a', 1, 200);
    expect((await settle(b2, 5)).slice(3)).toEqual([8, 101]);
    a2.close();
    b2.close();
    await c.close();
  });
});

describe('block media flag', () => {
  it('on the offer: the offerer\'s audio is dropped, its events and the answerer\'s audio pass; unblock media restores it', async () => {
    const c = await call({ flags: ['block-media'] });
    expect(c.offer.warning).toBeUndefined();
    await send(c, 'a', 3, 100);
    expect(await settle(c.b, 3)).toEqual([101, 101, 101]);
    await marker(c, 'b', 200);
    expect(await settle(c.a, 1)).toEqual([8]);
    expect(control(await ctl('query', c), 'B')['media blocked']).toBe(3);

    await ctl('unblock media', c, { 'from-tag': 'A', flags: ['directional'] });
    await send(c, 'a', 1, 300);
    expect((await settle(c.b, 5)).slice(3)).toEqual([8, 101]);
    await c.close();
  });
});

describe('inject DTMF flag', () => {
  it('is accepted without a warning on offer and answer, and play DTMF generates events', async () => {
    const c = await call({ flags: ['inject DTMF'] }, { 'rtpp-flags': 'inject-DTMF' });
    expect(c.offer.warning).toBeUndefined();
    expect(c.answer.warning).toBeUndefined();
    expect((await ctl('play DTMF', c, { 'from-tag': 'A', code: '5', duration: 100 })).result).toBe('ok');
    const got = await c.b.waitFor(3, 3000);
    expect(got.map(pt).every((p) => p === 101)).toBe(true);
    expect(got[0][12]).toBe(5);
    await c.close();
  });
});

describe('malformed values', () => {
  it('an unknown or non-string DTMF-security is an ng error naming the key; the offer is refused whole', async () => {
    const a = await RtpPeer.open();
    const offer = (extra: BDict): Promise<BDict> =>
      tandem.ng.request({ command: 'offer', 'call-id': 'of-bad', 'from-tag': 'A', sdp: sdpFor({ port: a.port, ...PCMA_TE }), flags: ['block-DTMF'], ...extra });
    const bad = await offer({ 'DTMF-security': 'shred' });
    expect(bad.result).toBe('error');
    expect(String(bad['error-reason'])).toMatch(/DTMF-security.*"shred"/);
    const list = await offer({ 'DTMF-security': ['drop'] });
    expect(list.result).toBe('error');
    expect(String(list['error-reason'])).toMatch(/DTMF-security.*must be a string/);
    // Refused before anything was set up: the call does not exist.
    expect((await tandem.ng.request({ command: 'query', 'call-id': 'of-bad' })).result).toBe('error');
    a.close();
  });

  it('DTMF-security without the flag, and the flag on the block DTMF command, are warnings that name them', async () => {
    const c = await call({ 'DTMF-security': 'drop' });
    expect(String(c.offer.warning)).toMatch(/DTMF-security does nothing .* without the block-DTMF flag/);
    const r = await ctl('block DTMF', c, { 'DTMF-security': 'tone' });
    expect(r.result).toBe('ok');
    expect(String(r.warning)).toMatch(/DTMF-security=tone not supported/);
    await send(c, 'a', 1, 100);
    await marker(c, 'a', 110);
    expect(await settle(c.b, 2)).toEqual([8, 8]);
    await c.close();
  });
});
