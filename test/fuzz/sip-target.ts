import dgram from 'node:dgram';
import type net from 'node:net';
import { parseSipMessage, parseSipStream, type ParseResult } from '../../src/sip/parse.js';
import { getCSeq, getCallId, getFrom, getHeader, getTo, getVias, type SipRequest, type SipResponse } from '../../src/sip/message.js';
import { startTestTandem, type TestTandem } from '../helpers/tandem.js';
import { rtpPacket } from '../helpers/rtp-peer.js';
import { mulberry32, iterationSeed, type Rand } from './prng.js';
import { mutateBytes, mutateSdp, mutateText } from './mutate.js';
import { sdpSeeds } from './seeds.js';
import { admit, count, eventually, newResult, ProcessWatch, type FuzzCase, type TargetResult } from './harness.js';
import { pokeMedia, retarget } from './wire.js';
import { AutoCallee, RawCaller } from './sip-peers.js';

/**
 * Target 2, SIP through the B2BUA over UDP and TCP: mutated INVITEs (headers, SDP bodies, the
 * whole text, raw bytes) to a Tandem routing to a callee that answers everything. Every request
 * Tandem's own parser accepts (and that is not an ACK) must get a final response; what it cannot
 * parse may be answered or dropped. Afterwards a clean call still completes with media both ways,
 * and the B2BUA's calls, the media plane's calls and the transaction layer's transactions return
 * to zero.
 */
const FINAL_TIMEOUT_MS = 3000;

export interface SipFuzzEnv {
  tandem: TestTandem;
  callee: AutoCallee;
  caller: RawCaller;
  server: { udp: number; tcp: number };
  close(): Promise<void>;
}

/** A Tandem with UDP and TCP SIP listeners and a route to an auto-answering callee; short timers. */
export async function startSipFuzzEnv(): Promise<SipFuzzEnv> {
  const callee = await AutoCallee.open();
  const tandem = await startTestTandem({
    numThreads: 1,
    listenSip: [
      { protocol: 'udp', address: '127.0.0.1', port: 0 },
      { protocol: 'tcp', address: '127.0.0.1', port: 0 },
    ],
    route: `sip:127.0.0.1:${callee.port}`,
    // 64·T1 (Timer B/F/H/J/L) is 1.6 s: transactions left by odd cases end within a run.
    sipT1: 25,
    sipT2: 200,
    sipT4: 250,
  });
  const ls = tandem.t.sip?.listeners ?? [];
  const server = { udp: ls.find((l) => l.protocol === 'udp')?.port ?? 0, tcp: ls.find((l) => l.protocol === 'tcp')?.port ?? 0 };
  const caller = await RawCaller.open(server);
  return {
    tandem,
    callee,
    caller,
    server,
    async close() {
      caller.close();
      callee.close();
      await tandem.close();
    },
  };
}

interface Invite {
  head: string[];
  sdp: string;
  callId: string;
}

function baseInvite(r: Rand, viaProto: 'UDP' | 'TCP', localPort: number, sdp: string, seed: number): Invite {
  const callId = `fz${seed.toString(36)}-${r.u32().toString(36)}@127.0.0.1`;
  const head = [
    `INVITE sip:${r.pick(['100', 'bob', '+4930123'])}@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/${viaProto} 127.0.0.1:${localPort};branch=z9hG4bK${r.u32().toString(36)};rport`,
    'Max-Forwards: 70',
    `From: "Alice" <sip:alice@127.0.0.1>;tag=${r.u32().toString(36)}`,
    'To: <sip:100@127.0.0.1>',
    `Call-ID: ${callId}`,
    `CSeq: ${1 + r.int(1000)} INVITE`,
    `Contact: <sip:alice@127.0.0.1:${localPort}${viaProto === 'TCP' ? ';transport=tcp' : ''}>`,
    'Subject: fuzz',
    'User-Agent: tandem-fuzz',
    'Content-Type: application/sdp',
  ];
  return { head, sdp, callId };
}

function assemble(head: string, body: string, withLength: boolean): Buffer {
  const cl = withLength ? `\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}` : '';
  return Buffer.from(`${head}${cl}\r\n\r\n${body}`, 'latin1');
}

/** What Tandem's own parser makes of the bytes, framed as the transport will frame them. */
function oracle(buf: Buffer, tcp: boolean): ParseResult | undefined {
  if (!tcp) return parseSipMessage(buf);
  const s = parseSipStream(buf);
  // A stream that cannot be framed is closed (RFC 3261 §18.3), and with it the way back for
  // a final response to an earlier request on it: nothing can be required then.
  if (s.fatal !== undefined) return undefined;
  return s.results[0];
}

/** A request that can and must be answered: parsed, not an ACK, with the headers a response needs. */
function mustAnswer(p: ParseResult | undefined): SipRequest | undefined {
  if (p === undefined || !p.ok || p.message.kind !== 'request' || p.message.method === 'ACK') return undefined;
  const m = p.message;
  try {
    // No branch: the transaction layer drops and counts it (its documented behaviour).
    const branch = getVias(m)[0]?.branch;
    if (branch === undefined || branch === '' || getFrom(m) === undefined || getTo(m) === undefined || getCallId(m) === undefined || getCSeq(m) === undefined) return undefined;
  } catch {
    return undefined;
  }
  return m;
}

export interface SipTargetOptions {
  iterations: number;
  seed: number;
  only?: number;
  /** 'udp', 'tcp' or both (alternating) */
  transports?: ('udp' | 'tcp')[];
  onProgress?: (done: number) => void;
}

export async function fuzzSip(env: SipFuzzEnv, opts: SipTargetOptions): Promise<TargetResult> {
  const res = newResult();
  const watch = new ProcessWatch(env.tandem.t);
  const media = dgram.createSocket('udp4');
  const sinkRtcp = dgram.createSocket('udp4');
  await new Promise<void>((r) => media.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => sinkRtcp.bind(0, '127.0.0.1', () => r()));
  const sdps = sdpSeeds().map((s) => retarget(s, media.address().port, sinkRtcp.address().port));
  const transports = opts.transports ?? ['udp', 'tcp'];
  const byCallId = new Map<string, FuzzCase>();
  try {
    const seeds = opts.only !== undefined ? [opts.only] : Array.from({ length: opts.iterations }, (_, i) => iterationSeed(opts.seed, i));
    for (const [i, seed] of seeds.entries()) {
      const r = mulberry32(seed);
      const proto = transports[i % transports.length];
      const tcp = proto === 'tcp';
      let conn: net.Socket | undefined;
      if (tcp) conn = await env.caller.openTcp();
      const localPort = tcp ? (conn?.localPort ?? 0) : env.caller.udpPort;
      const inv = baseInvite(r, tcp ? 'TCP' : 'UDP', localPort, r.pick(sdps), seed);
      const mode = r.pick(['sdp', 'sdp', 'headers', 'whole', 'bytes']);
      let ops: string[] = [];
      let sdp = inv.sdp;
      let head = inv.head.join('\r\n');
      let buf: Buffer;
      if (mode === 'sdp') {
        ({ value: sdp, ops } = mutateSdp(sdp, r));
        buf = assemble(head, sdp, true);
      } else if (mode === 'headers') {
        ({ value: head, ops } = mutateText(`${head}\r\nContent-Length: ${Buffer.byteLength(sdp, 'latin1')}`, r));
        buf = assemble(head, sdp, !/^(content-length|l)\s*:/im.test(head));
      } else if (mode === 'whole') {
        const m = mutateText(assemble(head, sdp, true).toString('latin1'), r);
        ops = m.ops;
        buf = Buffer.from(m.value, 'latin1');
      } else {
        const m = mutateBytes(assemble(head, sdp, true), r);
        ops = m.ops;
        buf = m.value;
      }
      const c: FuzzCase = { target: `sip-${proto}`, seed, kind: mode, ops, input: buf, sdp: buf.toString('latin1').split(/\r?\n\r?\n/).slice(1).join('\n\n') };
      if (buf.length > 65000 || !admit(res, c)) {
        conn?.destroy();
        continue;
      }
      const cid = /^(?:call-id|i)\s*:\s*([^\r\n]*)/im.exec(buf.toString('latin1'))?.[1]?.trim();
      if (cid !== undefined) byCallId.set(cid, c);
      const req = mustAnswer(oracle(buf, tcp));
      const invitesBefore = env.callee.invites;
      if (tcp) conn?.write(buf);
      else env.caller.sendUdp(buf);
      if (req !== undefined) {
        const callId = getCallId(req) ?? '';
        const seq = getCSeq(req)?.seq ?? 0;
        const fin = await env.caller.final(callId, seq, FINAL_TIMEOUT_MS);
        count(res, fin === undefined ? 'unanswered' : `final ${Math.floor(fin.status / 100)}xx`);
        if (fin === undefined) res.failures.push({ case: c, problem: `${req.method} (Call-ID ${JSON.stringify(callId)}, CSeq ${seq}) got no final response within ${FINAL_TIMEOUT_MS} ms` });
        else {
          const p = await finish(env, req, fin, conn, env.callee.invites > invitesBefore ? env.callee.lastOfferSdp : undefined, media, sdp);
          if (p !== undefined) res.failures.push({ case: c, problem: `the call it set up could not be ended: ${p}` });
        }
      } else {
        count(res, 'unparseable (no answer required)');
        await new Promise((r2) => setTimeout(r2, 2));
      }
      conn?.destroy();
      for (const p of watch.take()) res.failures.push({ case: c, problem: p });
      opts.onProgress?.(i + 1);
    }
    const last: FuzzCase = { target: 'sip', seed: opts.seed, kind: 'control-call', ops: [], input: Buffer.alloc(0) };
    const problem = await controlCall(env);
    if (problem !== undefined) res.failures.push({ case: last, problem });
    const t = env.tandem.t;
    const sip = t.sip;
    const drained = await eventually(async () => sip !== undefined && sip.b2bua.activeCalls() === 0 && (await t.media.list()).length === 0 && sip.transactions.counters.serverTransactions === 0 && sip.transactions.counters.clientTransactions === 0, 8000, 50);
    if (!drained && sip !== undefined) {
      const tc = sip.transactions.counters;
      const left = await t.media.list();
      res.failures.push({ case: last, problem: `counts did not return to zero: calls=${sip.b2bua.activeCalls()} media=${left.length} server txns=${tc.serverTransactions} client txns=${tc.clientTransactions}` });
      // The media call-id is leg A's Call-ID: name the cases whose calls are still up.
      for (const id of left) {
        const c = byCallId.get(id);
        if (c !== undefined) res.failures.push({ case: c, problem: `its call (Call-ID ${JSON.stringify(id)}) is still up after the run` });
      }
    }
    for (const p of watch.take()) res.failures.push({ case: last, problem: p });
  } finally {
    watch.close();
    media.close();
    sinkRtcp.close();
  }
  return res;
}

/** ACKs a final response (the 2xx end to end, a non-2xx on the INVITE's branch), ends an answered call. */
async function finish(env: SipFuzzEnv, req: SipRequest, fin: SipResponse, conn: net.Socket | undefined, legBSdp: string | undefined, media: dgram.Socket, inputSdp: string): Promise<string | undefined> {
  if (req.method !== 'INVITE') return undefined;
  // Over TCP the ACK and BYE go on a connection of their own: whatever followed the fuzzed
  // request on its stream (a wrong Content-Length, a duplicate) would swallow them.
  const own = conn !== undefined ? await env.caller.openTcp() : undefined;
  const send = (text: string): void => {
    const b = Buffer.from(text, 'latin1');
    if (own !== undefined) own.write(b);
    else env.caller.sendUdp(b);
  };
  const seq = getCSeq(fin)?.seq ?? 0;
  const vias = fin.headers.filter((h) => /^(via|v)$/i.test(h.name)).map((h) => h.value);
  const proto = conn !== undefined ? 'TCP' : 'UDP';
  const port = own !== undefined ? (own.localPort ?? 0) : env.caller.udpPort;
  const common = [`From: ${getHeader(fin, 'From') ?? ''}`, `To: ${getHeader(fin, 'To') ?? ''}`, `Call-ID: ${getHeader(fin, 'Call-ID') ?? ''}`];
  const fresh = `Via: SIP/2.0/${proto} 127.0.0.1:${port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`;
  if (fin.status >= 300) {
    send([`ACK ${req.uri} SIP/2.0`, `Via: ${vias[0] ?? ''}`, 'Max-Forwards: 70', ...common, `CSeq: ${seq} ACK`, 'Content-Length: 0', '', ''].join('\r\n'));
    own?.end();
    return undefined;
  }
  send([`ACK sip:tandem@127.0.0.1 SIP/2.0`, fresh, 'Max-Forwards: 70', ...common, `CSeq: ${seq} ACK`, 'Content-Length: 0', '', ''].join('\r\n'));
  // Media toward leg B's ports: relayed to whatever the fuzzed SDP said leg A listens on.
  if (legBSdp !== undefined) {
    await pokeMedia(media, legBSdp, inputSdp);
    // A round trip through the call's worker (the media call-id is leg A's): a crash shows now.
    await env.tandem.ng.request({ command: 'query', 'call-id': getHeader(fin, 'Call-ID') ?? '' }).catch(() => undefined);
  }
  const byeFresh = `Via: SIP/2.0/${proto} 127.0.0.1:${port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`;
  send([`BYE sip:tandem@127.0.0.1 SIP/2.0`, byeFresh, 'Max-Forwards: 70', ...common, `CSeq: ${seq + 1} BYE`, 'Content-Length: 0', '', ''].join('\r\n'));
  const byeFinal = await env.caller.final(getHeader(fin, 'Call-ID') ?? '', seq + 1, 1000);
  own?.end();
  return byeFinal === undefined ? 'BYE got no final response' : byeFinal.status >= 300 ? `BYE got ${byeFinal.status} ${byeFinal.reason}` : undefined;
}

/** A clean call after the run: 200 OK, RTP both ways, BYE answered. Returns what went wrong. */
export async function controlCall(env: SipFuzzEnv): Promise<string | undefined> {
  const rtpA = dgram.createSocket('udp4');
  await new Promise<void>((r) => rtpA.bind(0, '127.0.0.1', () => r()));
  const gotA: Buffer[] = [];
  rtpA.on('message', (m) => gotA.push(m));
  try {
    // A fresh Call-ID, tag and branch each time: a repeated one would be a retransmission.
    const r = mulberry32(Date.now() ^ Math.floor(Math.random() * 0x7fffffff));
    const sdp = ['v=0', 'o=a 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${rtpA.address().port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
    const inv = baseInvite(r, 'UDP', env.caller.udpPort, sdp, 999999);
    const subject = `control-${r.u32().toString(36)}`;
    const req = inv.head.map((h) => (h.startsWith('Subject:') ? `Subject: ${subject}` : h)).join('\r\n');
    const before = env.callee.media.received.length;
    env.caller.sendUdp(assemble(req, sdp, true));
    const seq = Number(/CSeq: (\d+)/.exec(req)?.[1]);
    const fin = await env.caller.final(inv.callId, seq, FINAL_TIMEOUT_MS);
    if (fin === undefined || fin.status !== 200) return `control call: ${fin === undefined ? 'no final response' : `got ${fin.status}`}`;
    const parsed = parseSipMessage(assemble(req, sdp, true));
    if (!parsed.ok || parsed.message.kind !== 'request') return 'control call: cannot parse own INVITE';
    const toA = Number(/^m=audio (\d+)/m.exec(fin.body.toString())?.[1]);
    const toB = Number(/^m=audio (\d+)/m.exec(env.callee.bySubject.get(subject) ?? '')?.[1]);
    env.callee.bySubject.delete(subject);
    const pkt = (seqNo: number, fill: number): Buffer => rtpPacket({ pt: 0, seq: seqNo, ts: seqNo * 160, ssrc: 77, payload: Buffer.alloc(160, fill) });
    rtpA.send(pkt(1, 0x11), toA, '127.0.0.1');
    await env.callee.media.send(pkt(1, 0x22), toB);
    const ok = await eventually(() => env.callee.media.received.length > before && gotA.length > 0, 2000);
    const ended = await finish(env, parsed.message, fin, undefined, undefined, rtpA, sdp);
    if (ended !== undefined) return `control call: ${ended}`;
    if (!ok) return `control call: media did not flow (to callee: ${env.callee.media.received.length - before}, to caller: ${gotA.length})`;
    return undefined;
  } finally {
    rtpA.close();
  }
}
