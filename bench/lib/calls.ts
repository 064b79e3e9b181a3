/**
 * Calls of one step: set up N calls (over ng or SIP, see signalling.ts), stream RTP both ways on a drift-free
 * schedule (pacer.ts), tear down (delete). This is the in-process generator; gen-pool.ts shares the legs
 * out among worker threads instead.
 */
import type dgram from 'node:dgram';
import { Histogram } from './metrics.js';
import type { CallSignalling, Established } from './signalling.js';
import { DirectionStats, Receiver, Sender, connectSocket, openSocket, type LegReceiver, type PacketOut } from './rtp-leg.js';
import { Pacer } from './pacer.js';
import { histogramData, summarizeDirection, type LoadSummary, type WindowLeg } from './summary.js';
import { buildSdp, parseSdp, PT } from './sdp.js';
import { encodedSignal, expectedSignal, SignalIndex, speechLikePcm } from './signal.js';
import { alawToLinear, rankTable, ulawToLinear, type G711Law } from './g711.js';
import type { Codec, Scenario } from './scenario.js';
import { upsample6Loop, withTail } from './audio.js';
import { AudioReceiver, LocatePrior, type AudioReference } from './audio-leg.js';
import { decodeLoop, encodeLoop, OPUS_FRAME } from './opus.js';

export interface Leg {
  socket: dgram.Socket;
  sender: Sender;
  receiver: LegReceiver;
}

export interface Call {
  callId: string;
  signalled: Established;
  caller: Leg;
  callee: Leg;
}

/** Per-scenario data built once: encoded signals, expected signals and their indexes. */
export interface Media {
  callerSignal: Buffer;
  calleeSignal: Buffer;
  atCallee: SignalIndex; // what the callee should receive
  atCaller: SignalIndex;
  calleeRank: Int16Array;
  callerRank: Int16Array;
}

const mediaCache = new Map<string, Media>();
export function mediaFor(sc: { callerCodec: G711Law; calleeCodec: G711Law }): Media {
  const key = `${sc.callerCodec}-${sc.calleeCodec}`;
  let m = mediaCache.get(key);
  if (!m) {
    m = {
      callerSignal: Buffer.from(encodedSignal(sc.callerCodec)),
      calleeSignal: Buffer.from(encodedSignal(sc.calleeCodec)),
      atCallee: new SignalIndex(expectedSignal(sc.callerCodec, sc.calleeCodec)),
      atCaller: new SignalIndex(expectedSignal(sc.calleeCodec, sc.callerCodec)),
      calleeRank: rankTable(sc.calleeCodec),
      callerRank: rankTable(sc.callerCodec),
    };
    mediaCache.set(key, m);
  }
  return m;
}

/**
 * What one codec sends and what its receivers compare against, for scenarios with Opus on a side (built
 * once per codec): the payload loop (G.711 bytes, or 600 pre-encoded 20 ms Opus packets of the same
 * speech-like signal interpolated to 48 kHz), and the reference — the loop as a decoder outputs it
 * (for Opus: our own packets decoded, so the encoder's look-ahead is not counted as the server's latency).
 */
export interface CodecMedia {
  signal: Buffer | Buffer[];
  reference: Float32Array; // 48 kHz, looped, with a tail
}

const codecCache = new Map<Codec, CodecMedia>();
/** Reference tail: the longest window located (2 × 200 ms at 8 kHz, in 48 kHz samples) and a margin. */
const REF_TAIL = 6 * 3200 + 64;
export function codecMedia(codec: Codec): CodecMedia {
  let m = codecCache.get(codec);
  if (m) return m;
  const pcm8 = speechLikePcm();
  if (codec === 'opus') {
    const up = upsample6Loop(pcm8);
    const pcm48 = Int16Array.from(up, (v) => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v)));
    const frames = encodeLoop(pcm48, 32000);
    m = { signal: frames, reference: withTail(Float32Array.from(decodeLoop(frames)), REF_TAIL) };
  } else {
    const bytes = encodedSignal(codec);
    const lin = linearTable(codec);
    const decoded = Float32Array.from(bytes.subarray(0, pcm8.length), (b) => lin[b]);
    m = { signal: Buffer.from(bytes), reference: withTail(upsample6Loop(decoded), REF_TAIL) };
  }
  codecCache.set(codec, m);
  return m;
}

/** G.711 code → linear sample. */
export function linearTable(law: G711Law): Float32Array {
  const f = law === 'PCMA' ? alawToLinear : ulawToLinear;
  return Float32Array.from({ length: 256 }, (_, b) => f(b));
}

/** Both legs of a call in a scenario with Opus on a side: senders and AudioReceivers. */
function transcodedLegs(
  sc: Scenario,
  calleePtime: number,
  sa: dgram.Socket,
  sb: dgram.Socket,
  dirs: Directions,
  priors: { ab: LocatePrior; ba: LocatePrior },
  decodeOpus: boolean,
): { caller: Leg; callee: Leg } {
  const sender = (socket: dgram.Socket, codec: Codec, ptime: number): Sender => {
    const m = codecMedia(codec);
    const spp = (8000 * ptime) / 1000;
    if (codec === 'opus' && ptime !== OPUS_FRAME / 48) throw new Error(`the bench sends Opus in 20 ms frames, not ${ptime} ms`);
    return new Sender(socket, m.signal, PT[codec], spp, ptime, codec === 'opus' ? OPUS_FRAME : spp);
  };
  const receiver = (peer: Sender, peerCodec: Codec, own: Codec, stats: DirectionStats, prior: LocatePrior): AudioReceiver => {
    const ref: AudioReference = { ref48: codecMedia(peerCodec).reference, table: own === 'opus' ? undefined : linearTable(own) };
    const decode = own === 'opus' ? (decodeOpus ? 'opus' : 'none') : own === 'PCMA' ? 'alaw' : 'ulaw';
    return new AudioReceiver(peer, own === 'opus' ? 48000 : 8000, decode, ref, stats, prior);
  };
  const sendA = sender(sa, sc.callerCodec, sc.callerPtime);
  const sendB = sender(sb, sc.calleeCodec, calleePtime);
  sendA.stats = dirs.ab;
  sendB.stats = dirs.ba;
  return {
    caller: { socket: sa, sender: sendA, receiver: receiver(sendB, sc.calleeCodec, sc.callerCodec, dirs.ba, priors.ba) },
    callee: { socket: sb, sender: sendB, receiver: receiver(sendA, sc.callerCodec, sc.calleeCodec, dirs.ab, priors.ab) },
  };
}

/** Both legs of a G.711 call (relay, transcode, ptime): senders and Receivers, fed by their sockets. */
export function g711Legs(
  sc: { callerCodec: G711Law; calleeCodec: G711Law; callerPtime: number; calleePtime: number },
  sa: dgram.Socket,
  sb: dgram.Socket,
  dirs: Directions,
): { caller: Leg; callee: Leg } {
  const l = g711Pair(sc, sa, sb, dirs);
  sa.on('message', (m) => l.caller.receiver.onMessage(m));
  sb.on('message', (m) => l.callee.receiver.onMessage(m));
  return { caller: { socket: sa, ...l.caller }, callee: { socket: sb, ...l.callee } };
}

/** The senders and receivers of a G.711 call, whatever carries their packets (the caller feeds the receivers). */
export function g711Pair(
  sc: { callerCodec: G711Law; calleeCodec: G711Law; callerPtime: number; calleePtime: number },
  outA: PacketOut,
  outB: PacketOut,
  dirs: Directions,
): { caller: { sender: Sender; receiver: Receiver }; callee: { sender: Sender; receiver: Receiver } } {
  const media = mediaFor(sc);
  const sendA = new Sender(outA, media.callerSignal, PT[sc.callerCodec], (8000 * sc.callerPtime) / 1000, sc.callerPtime);
  const sendB = new Sender(outB, media.calleeSignal, PT[sc.calleeCodec], (8000 * sc.calleePtime) / 1000, sc.calleePtime);
  sendA.stats = dirs.ab;
  sendB.stats = dirs.ba;
  const recvB = new Receiver(sendA, media.atCallee, media.calleeRank, dirs.ab);
  const recvA = new Receiver(sendB, media.atCaller, media.callerRank, dirs.ba);
  return { caller: { sender: sendA, receiver: recvA }, callee: { sender: sendB, receiver: recvB } };
}

/** What step.ts drives: N calls whose legs stream on the main thread (CallSet) or in generator workers (WorkerCallSet). */
export interface LoadSet {
  readonly callsUp: number;
  readonly setupErrors: string[];
  setup(): Promise<void>;
  start(): void;
  startWindow(): void | Promise<void>;
  /** counters so far, for the progress line (worker sets: as of their last report) */
  progress(): LoadProgress;
  collect(): Promise<LoadSummary>;
  /** stops sending (receiving goes on until teardown) */
  stop(): void | Promise<void>;
  teardown(): Promise<void>;
}

export interface LoadProgress {
  sent: number;
  received: number;
  lagP99Ms: number;
}

export interface CallSetOptions {
  signalling: CallSignalling;
  scenario: Scenario;
  calls: number;
  runId: string;
  setupConcurrency?: number;
  /** Scenarios with Opus: how many calls decode the Opus they receive (the first ones); the rest only count packets. */
  decodeCalls?: number;
}

/** Both directions' stats: "a→b" is received by callees (sent by callers). */
export interface Directions {
  ab: DirectionStats;
  ba: DirectionStats;
}

export class CallSet implements LoadSet {
  readonly calls: Call[] = [];
  readonly dirs: Directions = { ab: new DirectionStats('a→b'), ba: new DirectionStats('b→a') };
  readonly timerLag = new Histogram(0.05, 20_000); // ms, up to 1 s
  /** transcoded audio: where the located streams of each direction lay, to narrow the next search */
  private readonly priors = { ab: new LocatePrior(), ba: new LocatePrior() };
  private pacer: Pacer | undefined;
  private readonly sentAtWindow = new Map<Sender, number>();
  setupErrors: string[] = [];

  constructor(private readonly o: CallSetOptions) {}

  async setup(): Promise<void> {
    const conc = this.o.setupConcurrency ?? 16;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.o.calls) {
        const i = next++;
        try {
          this.calls.push(await this.setupCall(i));
        } catch (e) {
          this.setupErrors.push((e as Error).message);
          if (this.setupErrors.length >= 5 && this.calls.length === 0) return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(conc, this.o.calls) }, worker));
  }

  private async setupCall(i: number): Promise<Call> {
    const sc = this.o.scenario;
    const callId = `${this.o.runId}-${i}`;
    const [sa, sb] = await Promise.all([openSocket(), openSocket()]);
    try {
      let calleePtime = sc.calleePtime;
      const signalled = await this.o.signalling.establish(
        callId,
        buildSdp({ sessionId: 1000 + i, port: sa.address().port, codec: sc.callerCodec, ptime: sc.callerPtime }),
        (offerSdp) => {
          const offered = parseSdp(offerSdp);
          if (!offered.payloadTypes.includes(PT[sc.calleeCodec])) {
            throw new Error(`offer to callee lacks ${sc.calleeCodec}: m= payload types ${offered.payloadTypes.join(' ')}`);
          }
          calleePtime = offered.ptime ?? sc.calleePtime;
          return buildSdp({ sessionId: 2000 + i, port: sb.address().port, codec: sc.calleeCodec, ptime: calleePtime });
        },
      );
      const toCallee = parseSdp(signalled.toCallee);
      const toCaller = parseSdp(signalled.toCaller);
      if (!toCaller.payloadTypes.includes(PT[sc.callerCodec])) {
        await signalled.release().catch(() => undefined);
        throw new Error(`answer to caller lacks ${sc.callerCodec}: m= payload types ${toCaller.payloadTypes.join(' ')}`);
      }
      await Promise.all([connectSocket(sa, toCaller.port, toCaller.address), connectSocket(sb, toCallee.port, toCallee.address)]);
      const { callerCodec, calleeCodec } = sc;
      if (callerCodec === 'opus' || calleeCodec === 'opus') {
        const legs = transcodedLegs(sc, calleePtime, sa, sb, this.dirs, this.priors, i < (this.o.decodeCalls ?? 8));
        sa.on('message', (m) => legs.caller.receiver.onMessage(m));
        sb.on('message', (m) => legs.callee.receiver.onMessage(m));
        return { callId, signalled, ...legs };
      }
      return { callId, signalled, ...g711Legs({ callerCodec, calleeCodec, callerPtime: sc.callerPtime, calleePtime }, sa, sb, this.dirs) };
    } catch (e) {
      sa.close();
      sb.close();
      throw e;
    }
  }

  /** Starts streaming every call's two legs. */
  start(): void {
    this.pacer = new Pacer(this.calls.flatMap((c) => [c.caller.sender, c.callee.sender]), this.timerLag);
    this.pacer.start();
  }

  get callsUp(): number {
    return this.calls.length;
  }

  progress(): LoadProgress {
    const d = this.dirs;
    return { sent: d.ab.sent + d.ba.sent, received: d.ab.received + d.ba.received, lagP99Ms: this.timerLag.quantile(0.99) };
  }

  /** Starts the measured window: counters restart, send times and sequence state carry on. */
  startWindow(): void {
    this.sentAtWindow.clear();
    for (const c of this.calls) for (const l of [c.caller, c.callee]) this.sentAtWindow.set(l.sender, l.sender.packets);
    this.dirs.ab.reset();
    this.dirs.ba.reset();
    this.timerLag.reset();
    for (const c of this.calls) {
      c.caller.receiver.startWindow();
      c.callee.receiver.startWindow();
    }
  }

  /** Ends the measured window and sums it up. */
  async collect(): Promise<LoadSummary> {
    for (const c of this.calls) {
      c.caller.receiver.measuring = false;
      c.callee.receiver.measuring = false;
    }
    const leg = (r: LegReceiver): WindowLeg => ({
      receiver: r,
      peerSentAtWindow: this.sentAtWindow.get(r.peer) ?? 0,
      decodes: r instanceof AudioReceiver && r.decode !== 'none',
    });
    return {
      ab: summarizeDirection(this.dirs.ab, this.calls.map((c) => leg(c.callee.receiver))),
      ba: summarizeDirection(this.dirs.ba, this.calls.map((c) => leg(c.caller.receiver))),
      timerLag: histogramData(this.timerLag),
      workerElu: [],
      sendErrors: 0,
    };
  }

  stop(): void {
    this.pacer?.stop();
  }

  async teardown(): Promise<void> {
    this.stop();
    const conc = this.o.setupConcurrency ?? 16;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.calls.length) {
        const c = this.calls[next++];
        try {
          await c.signalled.release();
        } catch {
          /* counted nowhere: the step's numbers are already taken */
        }
        c.caller.socket.close();
        c.callee.socket.close();
      }
    };
    await Promise.all(Array.from({ length: Math.min(conc, Math.max(1, this.calls.length)) }, worker));
  }
}

export type { G711Law };
