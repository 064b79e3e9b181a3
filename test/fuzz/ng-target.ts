import dgram from 'node:dgram';
import { encode, type BDict, type BValue } from '../../src/control/bencode.js';
import type { TestTandem } from '../helpers/tandem.js';
import { mulberry32, iterationSeed, type Rand } from './prng.js';
import { mutateBytes, mutateSdp, mutateText, EXTREME_NUMBERS } from './mutate.js';
import { ngSeeds, sdpSeeds } from './seeds.js';
import { admit, count, newResult, ProcessWatch, type FuzzCase, type TargetResult } from './harness.js';
import { NgProbe, readableCookie, checkNgReply, pokeMedia, retarget } from './wire.js';

/**
 * Target 1, ng over UDP: mutated SDPs inside valid offer/answer commands, mutated dictionaries,
 * and damaged datagrams. Every datagram with a readable cookie must get a well-formed reply (ok,
 * or error with an error-reason); the others are counted as malformed and dropped (ng-server's
 * documented behaviour). When an offer/answer succeeds, RTP and RTCP go to the ports it returned,
 * so the mutated SDP reaches the media plane. Afterwards `ping` still answers.
 */
const REPLY_TIMEOUT_MS = 2000;

const COMMANDS = ['ping', 'offer', 'answer', 'delete', 'query', 'list', 'statistics', 'OFFER', 'Ping', 'block media', 'play media', 'start recording', 'nope', ''];
const KEYS = ['command', 'call-id', 'from-tag', 'to-tag', 'sdp', 'flags', 'replace', 'direction', 'codec', 'transport-protocol', 'ICE', 'DTLS', 'SDES', 'rtcp-mux', 'ptime', 'ptime-reverse', 'supports', 'received-from', 'media-address', 'address family', 'via-branch', 'label', 'delete-delay', 'T.38', 'record-call'];

function randomValue(r: Rand, depth = 0): BValue {
  const k = r.int(depth > 3 ? 3 : 6);
  if (k === 0) return r.pick(EXTREME_NUMBERS.filter((n) => /^-?\d{1,15}$/.test(n)).map(Number));
  if (k === 1) return r.pick(['', 'x', 'PCMU', 'RTP/AVP', 'UDP/TLS/RTP/SAVPF', 'force', 'remove', 'strip', 'all', 'A'.repeat(r.pick([10, 4000])), '\u0000', 'é', '1234']);
  if (k === 2) return r.pick(COMMANDS);
  if (k === 3) return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
  if (k === 4) return { [r.pick(['strip', 'mask', 'transcode', 'offer', 'except', 'accept'])]: randomValue(r, depth + 1) };
  return Array.from({ length: r.pick([0, 1, 300]) }, () => 'x');
}

function mutateDict(d: BDict, r: Rand): { dict: BDict; ops: string[] } {
  const out: BDict = { ...d };
  const ops: string[] = [];
  for (let n = 1 + r.int(3); n > 0; n--) {
    const op = r.int(5);
    const keys = Object.keys(out);
    if (op === 0 && keys.length > 0) {
      const k = r.pick(keys);
      if (k === 'call-id') continue;
      delete out[k];
      ops.push(`delete:${k}`);
    } else if (op === 1) {
      const k = r.pick(KEYS);
      if (k === 'call-id') continue;
      out[k] = randomValue(r);
      ops.push(`set:${k}`);
    } else if (op === 2) {
      out.command = r.pick(COMMANDS);
      ops.push('command');
    } else if (op === 3) {
      const texts = keys.filter((x) => typeof out[x] === 'string' && x !== 'call-id' && x !== 'sdp');
      if (texts.length === 0) continue;
      const k = r.pick(texts);
      out[k] = mutateText(String(out[k]), r).value;
      ops.push(`text:${k}`);
    } else {
      out.flags = Array.from({ length: 1 + r.int(4) }, () => r.pick(['trust-address', 'symmetric', 'asymmetric', 'strict-source', 'WebRTC', 'SDES-off', 'generate-mid', 'codec-strip-all', 'codec-mask-PCMA', 'codec-transcode-1234', 'port-latching', 'no-rtcp-attribute', 'loop-protect', '', 'x'.repeat(200)]));
      ops.push('flags');
    }
  }
  return { dict: out, ops };
}

export interface NgTargetOptions {
  iterations: number;
  seed: number;
  /** replay one iteration (its own seed) instead of a run */
  only?: number;
  onProgress?: (done: number) => void;
}

export async function fuzzNg(env: TestTandem, opts: NgTargetOptions): Promise<TargetResult> {
  const res = newResult();
  const watch = new ProcessWatch(env.t);
  const probe = await NgProbe.open(env.t.ngAddress.port);
  const other = await NgProbe.open(env.t.ngAddress.port);
  const media = dgram.createSocket('udp4');
  const sinkRtcp = dgram.createSocket('udp4');
  await new Promise<void>((r) => media.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => sinkRtcp.bind(0, '127.0.0.1', () => r()));
  const own = (sdp: string): string => retarget(sdp, media.address().port, sinkRtcp.address().port);
  const offers = ngSeeds().filter((d) => d.command === 'offer');
  const answers = ngSeeds().filter((d) => d.command === 'answer');
  const sdps = sdpSeeds();
  const callIds: string[] = [];
  const fail = (c: FuzzCase, problem: string): void => {
    res.failures.push({ case: c, problem });
  };
  try {
    const seeds = opts.only !== undefined ? [opts.only] : Array.from({ length: opts.iterations }, (_, i) => iterationSeed(opts.seed, i));
    for (const [i, seed] of seeds.entries()) {
      const r = mulberry32(seed);
      // Derived from the seed alone, so a replayed case sends the very same bytes.
      const cookie = `fz${seed.toString(36)}`;
      const callId = `fz-ng-${seed}`;
      const mode = r.pick(['offer-sdp', 'offer-sdp', 'answer-sdp', 'dict', 'raw', 'cookie-reuse']);
      let dict: BDict;
      let ops: string[] = [];
      let sdp: string | undefined;
      if (mode === 'offer-sdp' || mode === 'answer-sdp') {
        const base = own(r.chance(0.5) ? String(r.pick(offers).sdp) : r.pick(sdps));
        const m = mutateSdp(base, r);
        sdp = m.value;
        ops = m.ops;
        const template = mode === 'offer-sdp' ? r.pick(offers) : r.pick(answers);
        dict = { ...template, 'call-id': callId, sdp };
      } else {
        const seedDict = r.pick(ngSeeds());
        const m = mutateDict({ ...seedDict, 'call-id': callId, ...(typeof seedDict.sdp === 'string' ? { sdp: own(seedDict.sdp) } : {}) }, r);
        dict = m.dict;
        ops = m.ops;
        if (typeof dict.sdp === 'string') sdp = dict.sdp;
      }
      let datagram: Buffer;
      try {
        datagram = Buffer.concat([Buffer.from(`${cookie} `), encode(dict)]);
      } catch {
        continue; // a value bencode cannot carry (the mutator made a float): nothing to send
      }
      if (mode === 'raw') {
        const m = mutateBytes(datagram, r);
        datagram = m.value;
        ops = [...ops, ...m.ops];
      }
      // Not sendable over UDP (mutations pile up): no case.
      if (datagram.length > 65000) continue;
      const c: FuzzCase = { target: 'ng', seed, kind: mode, ops, input: datagram, ...(sdp !== undefined ? { sdp } : {}) };
      if (!admit(res, c)) continue;
      if (mode === 'answer-sdp') {
        // The answer needs its call: a valid offer first (its reply is not what is being tested).
        await probe.send(Buffer.concat([Buffer.from(`${cookie}o `), encode({ ...r.pick(offers), 'call-id': callId, sdp: own(String(r.pick(offers).sdp)) })]), `${cookie}o`, REPLY_TIMEOUT_MS);
      }
      callIds.push(callId);
      if (mode === 'cookie-reuse') {
        // Another client, another request, a cookie already used: it must get its own reply.
        await probe.send(datagram, cookie, REPLY_TIMEOUT_MS);
        const reply = await other.send(Buffer.from(`${cookie} d7:command4:pinge`), cookie, REPLY_TIMEOUT_MS);
        const got = reply === undefined ? undefined : checkNgReply(reply, cookie);
        if (got?.dict?.result !== 'pong') fail(c, `ping with a reused cookie from another client got ${reply === undefined ? 'no reply' : JSON.stringify(got?.dict)}`);
        continue;
      }
      const readable = readableCookie(datagram);
      const malformedBefore = env.t.ng.counters.malformed;
      const reply = await probe.send(datagram, readable, REPLY_TIMEOUT_MS);
      if (readable !== undefined) {
        if (reply === undefined) fail(c, `no ng reply within ${REPLY_TIMEOUT_MS} ms`);
        else {
          const got = checkNgReply(reply, readable);
          count(res, `result ${String(got.dict?.result)}`);
          if (got.problem !== undefined) fail(c, got.problem);
          else if (got.dict?.result === 'ok' && typeof got.dict.sdp === 'string') {
            await pokeMedia(media, got.dict.sdp, sdp);
            // A round trip through the call's worker: if the packets killed it, the exit is seen now.
            await probe.send(Buffer.from(`${cookie}q ${encode({ command: 'query', 'call-id': callId }).toString('latin1')}`, 'latin1'), `${cookie}q`, REPLY_TIMEOUT_MS);
          }
        }
      } else if ((count(res, 'no readable cookie'), true) && !(await waitFor(() => env.t.ng.counters.malformed > malformedBefore, 1000))) {
        fail(c, 'a datagram without a readable cookie was neither answered nor counted as malformed');
      }
      for (const p of watch.take()) fail(c, p);
      // Each case ends its call: a run must not exhaust the port range and turn later offers
      // into "Ran out of ports".
      await probe.send(Buffer.from(`${cookie}d ${encode({ command: 'delete', 'call-id': callId }).toString('latin1')}`, 'latin1'), `${cookie}d`, REPLY_TIMEOUT_MS);
      opts.onProgress?.(i + 1);
    }
    // Still answering: the positive control for "nothing crashed the control plane".
    const pong = await probe.send(Buffer.from('fz-final-ping d7:command4:pinge'), 'fz-final-ping', REPLY_TIMEOUT_MS);
    const last: FuzzCase = { target: 'ng', seed: opts.seed, kind: 'final-ping', ops: [], input: Buffer.from('d7:command4:pinge') };
    if (pong === undefined || checkNgReply(pong, 'fz-final-ping').dict?.result !== 'pong') fail(last, 'no pong after the run');
    for (const id of new Set(callIds)) await probe.send(Buffer.from(`fzdel${id} ${encode({ command: 'delete', 'call-id': id }).toString('latin1')}`, 'latin1'), `fzdel${id}`, REPLY_TIMEOUT_MS);
    for (const p of watch.take()) fail(last, p);
  } finally {
    watch.close();
    probe.close();
    other.close();
    media.close();
    sinkRtcp.close();
  }
  return res;
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}
