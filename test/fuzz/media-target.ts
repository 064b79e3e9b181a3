import { encode, type BDict } from '../../src/control/bencode.js';
import type { TestTandem } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { mulberry32, iterationSeed, type Rand } from './prng.js';
import { mutateBytes } from './mutate.js';
import { rtpSeed, rtcpSeed, stunSeed, dtlsSeed } from './seeds.js';
import { admit, count, eventually, newResult, ProcessWatch, type FuzzCase, type TargetResult } from './harness.js';
import { NgProbe, checkNgReply } from './wire.js';
import { SrtpContext } from '../../src/media/rtp/srtp.js';
import { serializeStun, STUN_TYPE, ATTR } from '../../src/media/rtp/stun.js';

/**
 * Target 3, the media plane: calls set up over ng (plain RTP, SDES-SRTP toward plain, DTLS-SRTP
 * with ICE toward plain) get mutated RTP/RTCP/STUN/DTLS packets at every Tandem port, from strangers
 * and from the latched peers themselves. The worker must stay up, a control call on the same
 * Tandem must keep relaying both ways (checked during and after the spray), the plain fuzzed call
 * must still relay its peers' packets, and query/statistics/list must still answer.
 */
interface Side {
  call: string;
  name: 'A' | 'B';
  /** the Tandem port this side's peer sends RTP to, and RTCP to */
  rtp: number;
  rtcp: number;
  peer: RtpPeer;
}

interface Call {
  id: string;
  a: Side;
  b: Side;
  /** SDES: the key side A offered, so the fuzzer can send SRTP that authenticates */
  srtpA?: SrtpContext;
  /** ICE: Tandem's credentials toward side A, so the fuzzer can send checks that authenticate */
  iceA?: { ufrag: string; pwd: string };
}

const PCMU = ['0 PCMU/8000'];
const SDES_KEY = Buffer.alloc(30, 9);
const FINGERPRINT = `sha-256 ${Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':')}`;

async function ng(probe: NgProbe, dict: BDict, tag: string): Promise<BDict> {
  const cookie = `fzm_${tag}_${Math.random().toString(36).slice(2, 8)}`;
  const reply = await probe.send(Buffer.concat([Buffer.from(`${cookie} `), encode(dict)]), cookie, 2000);
  if (reply === undefined) throw new Error(`no ng reply to ${String(dict.command)} ${tag}`);
  const got = checkNgReply(reply, cookie);
  if (got.dict === undefined || got.problem !== undefined) throw new Error(`bad ng reply to ${String(dict.command)} ${tag}: ${got.problem ?? ''}`);
  return got.dict;
}

function rtcpPortOf(sdp: string, rtp: number): number {
  const m = /^a=rtcp:(\d+)/m.exec(sdp);
  if (/^a=rtcp-mux/m.test(sdp)) return rtp;
  return m !== null ? Number(m[1]) : rtp + 1;
}

async function setUp(probe: NgProbe, id: string, kind: 'plain' | 'sdes' | 'dtls'): Promise<Call> {
  const pa = await RtpPeer.open();
  const pb = await RtpPeer.open();
  let offerSdp = sdpFor({ port: pa.port, pts: [0], rtpmaps: PCMU });
  const extra: BDict = {};
  if (kind === 'sdes') {
    offerSdp = sdpFor({ port: pa.port, pts: [0], rtpmaps: PCMU, extra: [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${SDES_KEY.toString('base64')}`] }).replace('RTP/AVP', 'RTP/SAVP');
    extra['transport-protocol'] = 'RTP/AVP';
  } else if (kind === 'dtls') {
    offerSdp = sdpFor({ port: pa.port, pts: [0], rtpmaps: PCMU, extra: ['a=rtcp-mux', `a=fingerprint:${FINGERPRINT}`, 'a=setup:actpass', 'a=ice-ufrag:fzuf', 'a=ice-pwd:fuzzpasswordfuzzpassword', `a=candidate:1 1 UDP 2130706431 127.0.0.1 ${pa.port} typ host`] }).replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');
    extra['transport-protocol'] = 'RTP/AVP';
    extra['rtcp-mux'] = ['accept'];
  }
  const offer = await ng(probe, { command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: offerSdp, ...extra }, `${id}o`);
  const answer = await ng(probe, { command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: pb.port, pts: [0], rtpmaps: PCMU }) }, `${id}a`);
  if (typeof offer.sdp !== 'string' || typeof answer.sdp !== 'string') throw new Error(`call ${id} (${kind}) was not set up: ${JSON.stringify([offer, answer])}`);
  const toB = mediaTarget(offer.sdp).port;
  const toA = mediaTarget(answer.sdp).port;
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(answer.sdp)?.[1];
  const pwd = /^a=ice-pwd:(\S+)/m.exec(answer.sdp)?.[1];
  return {
    id,
    ...(kind === 'sdes' ? { srtpA: new SrtpContext('AES_CM_128_HMAC_SHA1_80', SDES_KEY.subarray(0, 16), SDES_KEY.subarray(16)) } : {}),
    ...(ufrag !== undefined && pwd !== undefined ? { iceA: { ufrag, pwd } } : {}),
    a: { call: id, name: 'A', rtp: toA, rtcp: rtcpPortOf(answer.sdp, toA), peer: pa },
    b: { call: id, name: 'B', rtp: toB, rtcp: rtcpPortOf(offer.sdp, toB), peer: pb },
  };
}

const marked = (fill: number, seq: number): Buffer => rtpPacket({ pt: 0, seq, ts: seq * 160, ssrc: 0xc0c0 + fill, payload: Buffer.alloc(160, fill) });
const carries = (fill: number) => (b: Buffer): boolean => b.length === 172 && b[12] === fill && b[171] === fill;

/** A sends a marked packet to its Tandem port and B must get it, and back. Returns what failed. */
async function relays(c: Call, fill: number, seq: number): Promise<string | undefined> {
  await c.a.peer.send(marked(fill, seq), c.a.rtp);
  await c.b.peer.send(marked(fill + 1, seq), c.b.rtp);
  const ok = await eventually(() => c.b.peer.received.some(carries(fill)) && c.a.peer.received.some(carries(fill + 1)), 2000, 10);
  if (ok) return undefined;
  return `call ${c.id} stopped relaying (A→B ${c.b.peer.received.some(carries(fill))}, B→A ${c.a.peer.received.some(carries(fill + 1))})`;
}

/**
 * Packets that pass the first checks, so mutations reach what lies behind them: SRTP/SRTCP
 * mutated before it is protected with the SDES call's key, and ICE checks with mutated
 * attributes but a valid MESSAGE-INTEGRITY from Tandem's own password.
 */
let srtpSeq = 100;

function authenticated(r: Rand, kind: string, call: Call): { value: Buffer; ops: string[] } | undefined {
  if ((kind === 'srtp-keyed' || kind === 'srtcp-keyed') && call.srtpA !== undefined) {
    // Mostly the payload is damaged, so sequence numbers keep inside the replay window.
    const seed = kind === 'srtp-keyed' ? rtpSeed(0, (srtpSeq = (srtpSeq + 1) & 0xffff)) : rtcpSeed();
    const headerLen = kind === 'srtp-keyed' ? 12 : 8;
    const plain = r.chance(0.7) ? (({ value, ops }) => ({ value: Buffer.concat([seed.subarray(0, headerLen), value]), ops: ['payload', ...ops] }))(mutateBytes(seed.subarray(headerLen), r)) : mutateBytes(seed, r);
    try {
      return { value: kind === 'srtp-keyed' ? call.srtpA.protectRtp(plain.value) : call.srtpA.protectRtcp(plain.value), ops: [...plain.ops, 'protected'] };
    } catch {
      return undefined; // too broken for the sender's own SRTP code: not a case
    }
  }
  if (kind === 'stun-auth' && call.iceA !== undefined) {
    const u32 = (v: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(v >>> 0);
      return b;
    };
    const attrs = [
      { type: ATTR.username, value: Buffer.from(r.chance(0.8) ? `${call.iceA.ufrag}:fzuf` : r.pick(['', ':', `${call.iceA.ufrag}:`, 'x'.repeat(513)])) },
      { type: ATTR.priority, value: r.chance(0.8) ? u32(r.pick([0, 1, 0x7fffffff, 0xffffffff, r.u32()])) : r.bytes(r.int(9)) },
      ...(r.chance(0.5) ? [{ type: ATTR.useCandidate, value: r.chance(0.8) ? Buffer.alloc(0) : r.bytes(1 + r.int(8)) }] : []),
      ...(r.chance(0.5) ? [{ type: r.pick([ATTR.iceControlling, ATTR.iceControlled]), value: r.bytes(r.pick([8, 8, 0, 3])) }] : []),
      ...(r.chance(0.3) ? [{ type: r.int(0x10000), value: r.bytes(r.pick([0, 1, 4, 300])) }] : []),
      ...(r.chance(0.2) ? [{ type: ATTR.xorMappedAddress, value: r.bytes(r.pick([0, 4, 8, 20])) }] : []),
    ];
    const ops = ['stun-attrs'];
    const msg = serializeStun(
      { type: r.chance(0.9) ? STUN_TYPE.bindingRequest : r.pick([STUN_TYPE.bindingIndication, STUN_TYPE.bindingSuccess, STUN_TYPE.bindingError]), transactionId: r.bytes(12), attributes: attrs },
      { integrityKey: Buffer.from(call.iceA.pwd), fingerprint: r.chance(0.8) },
    );
    return { value: msg, ops };
  }
  return undefined;
}

function packet(r: Rand, kind: string): Buffer {
  if (kind === 'rtp') return rtpSeed(r.pick([0, 8, 13, 101, 127]), r.int(65536));
  if (kind === 'rtcp') return rtcpSeed();
  if (kind === 'stun') return stunSeed(r.pick(['fzuf:x', 'x:fzuf', '', 'a'.repeat(600)]));
  if (kind === 'dtls') return dtlsSeed();
  if (kind === 'srtp') return Buffer.concat([rtpSeed(0, r.int(65536)), r.bytes(10)]);
  return r.bytes(r.int(1500));
}

export interface MediaTargetOptions {
  iterations: number;
  seed: number;
  only?: number;
  /** control-call check every this many packets */
  checkEvery?: number;
  onProgress?: (done: number) => void;
}

export async function fuzzMedia(env: TestTandem, opts: MediaTargetOptions): Promise<TargetResult> {
  const res = newResult();
  const watch = new ProcessWatch(env.t);
  const probe = await NgProbe.open(env.t.ngAddress.port);
  const strangers = await Promise.all([RtpPeer.open(), RtpPeer.open(), RtpPeer.open()]);
  const run = opts.seed.toString(36);
  const control = await setUp(probe, `fzm-control-${run}`, 'plain');
  const calls = [await setUp(probe, `fzm-plain-${run}`, 'plain'), await setUp(probe, `fzm-sdes-${run}`, 'sdes'), await setUp(probe, `fzm-dtls-${run}`, 'dtls')];
  const all = [control, ...calls];
  const recent: FuzzCase[] = [];
  const fail = (c: FuzzCase, problem: string): void => {
    const before = recent.slice(0, -1).map((x) => x.seed);
    res.failures.push({ case: c, problem: before.length > 0 ? `${problem} (after this case or one of the ${before.length} before it: seeds ${before.join(' ')})` : problem });
  };
  let fill = 0x20;
  try {
    // Both peers of the plain calls speak first: from then on only they are the peers.
    for (const [i, c] of [control, calls[0]].entries()) {
      const p = await relays(c, (fill += 2), i + 1);
      if (p !== undefined) throw new Error(`setup: ${p}`);
    }
    await strangerFirst(probe, res, opts.seed, run);
    const seeds = opts.only !== undefined ? [opts.only] : Array.from({ length: opts.iterations }, (_, i) => iterationSeed(opts.seed, i));
    const checkEvery = opts.checkEvery ?? 100;
    for (const [i, seed] of seeds.entries()) {
      const r = mulberry32(seed);
      const call = r.pick(calls);
      let side = r.chance(0.5) ? call.a : call.b;
      let toRtcp = r.chance(0.3);
      const fromPeer = r.chance(0.4);
      let kind = r.pick(['rtp', 'rtp', 'rtcp', 'stun', 'dtls', 'srtp', 'random', 'srtp-keyed', 'srtcp-keyed', 'stun-auth']);
      let m = authenticated(r, kind, call);
      if (m !== undefined) {
        // Keyed for side A: that is where they authenticate.
        side = call.a;
        toRtcp = kind === 'srtcp-keyed';
      } else {
        if (kind.endsWith('-keyed') || kind === 'stun-auth') kind = 'random';
        const base = packet(r, kind);
        m = r.chance(0.8) ? mutateBytes(base, r) : { value: base, ops: ['none'] };
      }
      const c: FuzzCase = { target: 'media', seed, kind: `${kind}→${call.id}.${side.name}.${toRtcp ? 'rtcp' : 'rtp'} from ${fromPeer ? 'peer' : 'stranger'}`, ops: m.ops, input: m.value };
      if (!admit(res, c)) continue;
      count(res, kind);
      recent.push(c);
      if (recent.length > checkEvery) recent.shift();
      const from = fromPeer ? side.peer : r.pick(strangers);
      await from.send(m.value, toRtcp ? side.rtcp : side.rtp);
      if (i % 20 === 19) await new Promise((x) => setImmediate(x));
      const problems = watch.take();
      for (const p of problems) fail(c, p);
      if (i % checkEvery === checkEvery - 1 || i === seeds.length - 1 || problems.length > 0) {
        const p = await relays(control, (fill = fill >= 0xf0 ? 0x20 : fill + 2), 100 + i);
        if (p !== undefined) fail(c, `control ${p}`);
        for (const q of watch.take()) fail(c, q);
        recent.length = 0;
      }
      opts.onProgress?.(i + 1);
    }
    const last: FuzzCase = { target: 'media', seed: opts.seed, kind: 'after-spray', ops: [], input: Buffer.alloc(0) };
    for (const c of [control, calls[0]]) {
      const p = await relays(c, (fill = fill >= 0xf0 ? 0x20 : fill + 2), 60000);
      if (p !== undefined) res.failures.push({ case: last, problem: p });
    }
    for (const c of all) {
      const q = await ng(probe, { command: 'query', 'call-id': c.id }, `q${c.id}`);
      if (process.env.FUZZ_DEBUG === '1') process.stdout.write(`${c.id} ${JSON.stringify(q).slice(0, 1500)}\n`);
      if (q.result !== 'ok') res.failures.push({ case: last, problem: `query ${c.id}: ${JSON.stringify(q)}` });
    }
    const st = await ng(probe, { command: 'statistics' }, 'stats');
    if (st.result !== 'ok') res.failures.push({ case: last, problem: `statistics: ${JSON.stringify(st)}` });
    const list = await ng(probe, { command: 'list' }, 'list');
    if (!Array.isArray(list.calls) || !all.every((c) => (list.calls as unknown[]).includes(c.id))) res.failures.push({ case: last, problem: `list lost calls: ${JSON.stringify(list)}` });
    for (const p of watch.take()) res.failures.push({ case: last, problem: p });
  } finally {
    for (const c of all) {
      await ng(probe, { command: 'delete', 'call-id': c.id }, `d${c.id}`).catch(() => undefined);
      c.a.peer.close();
      c.b.peer.close();
    }
    for (const s of strangers) s.close();
    watch.close();
    probe.close();
  }
  return res;
}

/**
 * A stranger's packet reaches a fresh call before its peer's: the real peers must still be the
 * ones that get the media (issue 10, first-packet latching).
 */
async function strangerFirst(probe: NgProbe, res: TargetResult, seed: number, run: string): Promise<void> {
  const stranger = await RtpPeer.open();
  const c: FuzzCase = { target: 'media', seed, kind: 'stranger-first', ops: ['rtp from a stranger before the peer'], input: rtpSeed(0, 1) };
  if (!admit(res, c)) {
    stranger.close();
    return;
  }
  const call = await setUp(probe, `fzm-latch-${run}`, 'plain');
  try {
    await stranger.send(c.input, call.a.rtp);
    await stranger.send(c.input, call.b.rtp);
    await new Promise((r) => setTimeout(r, 20));
    // The real peers speak (each from the address its SDP announced). Until both have, a packet
    // may still go to whoever was learned (rtpengine's NAT model); after that, only to them.
    await call.a.peer.send(rtpSeed(0, 2), call.a.rtp);
    await call.b.peer.send(rtpSeed(0, 2), call.b.rtp);
    await new Promise((r) => setTimeout(r, 20));
    const p = await relays(call, 0x10, 3);
    if (p !== undefined) res.failures.push({ case: c, problem: `after a stranger spoke first: ${p}` });
    // The marked packets reached the peers (positive control): none may have reached the stranger.
    else if (stranger.received.some((b) => carries(0x10)(b) || carries(0x11)(b))) res.failures.push({ case: c, problem: 'after a stranger spoke first, the peers\' media also went to the stranger' });
  } finally {
    await ng(probe, { command: 'delete', 'call-id': call.id }, `d${call.id}`).catch(() => undefined);
    call.a.peer.close();
    call.b.peer.close();
    stranger.close();
  }
}
