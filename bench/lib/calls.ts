/**
 * Calls of one step: set up N calls (over ng or SIP, see signalling.ts), stream RTP both ways on a drift-free
 * schedule, tear down (delete). The schedule is absolute: packet k of a leg is due at
 * start + phase + k·ptime, phases spread evenly over one ptime so the load is smooth, and every packet due
 * at a tick is sent in that tick (late ticks catch up; lateness is recorded as timer lag).
 */
import { performance } from 'node:perf_hooks';
import type dgram from 'node:dgram';
import { Histogram } from './metrics.js';
import type { CallSignalling, Established } from './signalling.js';
import { DirectionStats, Receiver, Sender, connectSocket, openSocket } from './rtp-leg.js';
import { buildSdp, parseSdp, PT } from './sdp.js';
import { encodedSignal, expectedSignal, SignalIndex } from './signal.js';
import { rankTable, type G711Law } from './g711.js';
import type { Scenario } from './scenario.js';

export interface Leg {
  socket: dgram.Socket;
  sender: Sender;
  receiver: Receiver;
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
export function mediaFor(sc: Scenario): Media {
  const key = `${sc.callerLaw}-${sc.calleeLaw}`;
  let m = mediaCache.get(key);
  if (!m) {
    m = {
      callerSignal: Buffer.from(encodedSignal(sc.callerLaw)),
      calleeSignal: Buffer.from(encodedSignal(sc.calleeLaw)),
      atCallee: new SignalIndex(expectedSignal(sc.callerLaw, sc.calleeLaw)),
      atCaller: new SignalIndex(expectedSignal(sc.calleeLaw, sc.callerLaw)),
      calleeRank: rankTable(sc.calleeLaw),
      callerRank: rankTable(sc.callerLaw),
    };
    mediaCache.set(key, m);
  }
  return m;
}

export interface CallSetOptions {
  signalling: CallSignalling;
  scenario: Scenario;
  calls: number;
  runId: string;
  setupConcurrency?: number;
}

/** Both directions' stats: "a→b" is received by callees (sent by callers). */
export interface Directions {
  ab: DirectionStats;
  ba: DirectionStats;
}

export class CallSet {
  readonly calls: Call[] = [];
  readonly dirs: Directions = { ab: new DirectionStats('a→b'), ba: new DirectionStats('b→a') };
  readonly timerLag = new Histogram(0.05, 20_000); // ms, up to 1 s
  private timer: NodeJS.Timeout | undefined;
  private running = false;
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
    const media = mediaFor(sc);
    const callId = `${this.o.runId}-${i}`;
    const [sa, sb] = await Promise.all([openSocket(), openSocket()]);
    try {
      let calleePtime = sc.calleePtime;
      const signalled = await this.o.signalling.establish(
        callId,
        buildSdp({ sessionId: 1000 + i, port: sa.address().port, law: sc.callerLaw, ptime: sc.callerPtime }),
        (offerSdp) => {
          const offered = parseSdp(offerSdp);
          if (!offered.payloadTypes.includes(PT[sc.calleeLaw])) {
            throw new Error(`offer to callee lacks ${sc.calleeLaw}: m= payload types ${offered.payloadTypes.join(' ')}`);
          }
          calleePtime = offered.ptime ?? sc.calleePtime;
          return buildSdp({ sessionId: 2000 + i, port: sb.address().port, law: sc.calleeLaw, ptime: calleePtime });
        },
      );
      const toCallee = parseSdp(signalled.toCallee);
      const toCaller = parseSdp(signalled.toCaller);
      if (!toCaller.payloadTypes.includes(PT[sc.callerLaw])) {
        await signalled.release().catch(() => undefined);
        throw new Error(`answer to caller lacks ${sc.callerLaw}: m= payload types ${toCaller.payloadTypes.join(' ')}`);
      }
      await Promise.all([connectSocket(sa, toCaller.port, toCaller.address), connectSocket(sb, toCallee.port, toCallee.address)]);
      const sendA = new Sender(sa, media.callerSignal, PT[sc.callerLaw], (8000 * sc.callerPtime) / 1000, sc.callerPtime);
      const sendB = new Sender(sb, media.calleeSignal, PT[sc.calleeLaw], (8000 * calleePtime) / 1000, calleePtime);
      sendA.stats = this.dirs.ab;
      sendB.stats = this.dirs.ba;
      const recvB = new Receiver(sendA, media.atCallee, media.calleeRank, this.dirs.ab);
      const recvA = new Receiver(sendB, media.atCaller, media.callerRank, this.dirs.ba);
      sa.on('message', (m) => recvA.onMessage(m));
      sb.on('message', (m) => recvB.onMessage(m));
      return { callId, signalled, caller: { socket: sa, sender: sendA, receiver: recvA }, callee: { socket: sb, sender: sendB, receiver: recvB } };
    } catch (e) {
      sa.close();
      sb.close();
      throw e;
    }
  }

  /** Starts streaming every call's two legs. */
  start(): void {
    const groups = new Map<number, Sender[]>();
    for (const c of this.calls) {
      for (const s of [c.caller.sender, c.callee.sender]) {
        const g = groups.get(s.ptimeMs) ?? [];
        g.push(s);
        groups.set(s.ptimeMs, g);
      }
    }
    const t0 = performance.now() + 5;
    const sched = [...groups.entries()].map(([ptime, senders]) => ({
      ptime,
      senders,
      phase: Float64Array.from(senders, (_, i) => (i * ptime) / senders.length),
      cycle: 0,
      cursor: 0,
    }));
    this.running = true;
    const lag = this.timerLag;
    const tick = (): void => {
      if (!this.running) return;
      const now = performance.now();
      let next = Infinity;
      for (const g of sched) {
        let due = t0 + g.cycle * g.ptime + g.phase[g.cursor];
        while (due <= now) {
          g.senders[g.cursor].send(now);
          lag.add(now - due);
          if (++g.cursor === g.senders.length) {
            g.cursor = 0;
            g.cycle++;
          }
          due = t0 + g.cycle * g.ptime + g.phase[g.cursor];
        }
        if (due < next) next = due;
      }
      // Node's timers have 1 ms resolution and fire at or after their time, up to ~1 ms late: aim 1 ms
      // early (a tick with nothing due just re-arms), so packets leave within ~1 ms of their deadline.
      this.timer = setTimeout(tick, Math.max(0, Math.floor(next - performance.now()) - 1));
    };
    this.timer = setTimeout(tick, 5);
  }

  /** Starts the measured window: counters restart, send times and sequence state carry on. */
  startWindow(): void {
    this.dirs.ab.reset();
    this.dirs.ba.reset();
    this.timerLag.reset();
    for (const c of this.calls) {
      c.caller.receiver.startWindow();
      c.callee.receiver.startWindow();
    }
  }

  stopWindow(): void {
    for (const c of this.calls) {
      c.caller.receiver.measuring = false;
      c.callee.receiver.measuring = false;
    }
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
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
