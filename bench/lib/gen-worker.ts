/**
 * A generator worker thread (gen-pool.ts): owns the sockets of its share of the calls, sends on the
 * drift-free schedule (pacer.ts), receives and checks every packet (rtp-leg.ts), and hands back its
 * window's counters and histograms (summary.ts) to be merged with the other workers'. Its packets go
 * through dgram sockets, or through the native addon (gen-native.ts) when given one. Signalling stays on
 * the main thread: a call's two sockets are bound here, their ports go into the SDP there.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type dgram from 'node:dgram';
import { g711Legs, g711Pair } from './calls.js';
import { NativeIo } from './gen-native.js';
import { Histogram } from './metrics.js';
import { Pacer } from './pacer.js';
import { DirectionStats, connectSocket, openSocket, type LegReceiver, type Sender } from './rtp-leg.js';
import { histogramData, summarizeDirection, type LoadSummary } from './summary.js';
import type { GenReply, GenRequest, GenWorkerData } from './gen-pool.js';

const port = parentPort;
if (port === null) throw new Error('gen-worker.ts runs as a worker thread (gen-pool.ts)');
const init = workerData as GenWorkerData;

type Side = { sender: Sender; receiver: LegReceiver };
/** dgram: a call's two sockets; native: its two legs in the addon. */
const sockets = new Map<number, [dgram.Socket, dgram.Socket]>();
const nativeLegs = new Map<number, [number, number]>();
const native = init.nativeIo === undefined ? undefined : new NativeIo(init.nativeIo);
const calls = new Map<number, { caller: Side; callee: Side }>();
const dirs = { ab: new DirectionStats('a→b'), ba: new DirectionStats('b→a') };
const timerLag = new Histogram(0.05, 20_000); // ms, up to 1 s (as CallSet's)
const sentAtWindow = new Map<Sender, number>();
let sendErrorsAtWindow = 0;
let pacer: Pacer | undefined;

function closeCall(id: number): void {
  for (const s of sockets.get(id) ?? []) s.close();
  for (const l of nativeLegs.get(id) ?? []) native?.closeLeg(l);
  sockets.delete(id);
  nativeLegs.delete(id);
  calls.delete(id);
}

async function handle(m: GenRequest): Promise<Omit<GenReply, 'seq'>> {
  switch (m.op) {
    case 'open': {
      if (native) {
        const a = native.openLeg();
        const b = native.openLeg();
        nativeLegs.set(m.call, [a.leg, b.leg]);
        return { ok: true, ports: [a.port, b.port] };
      }
      const pair: [dgram.Socket, dgram.Socket] = [await openSocket(), await openSocket()];
      sockets.set(m.call, pair);
      return { ok: true, ports: [pair[0].address().port, pair[1].address().port] };
    }
    case 'connect': {
      const sc = init.scenario;
      const shape = { callerCodec: sc.callerCodec, calleeCodec: sc.calleeCodec, callerPtime: sc.callerPtime, calleePtime: m.calleePtime };
      const legs = nativeLegs.get(m.call);
      if (native && legs) {
        native.connect(legs[0], m.toCaller.port, m.toCaller.address);
        native.connect(legs[1], m.toCallee.port, m.toCallee.address);
        const call = g711Pair(shape, native.out(legs[0]), native.out(legs[1]), dirs);
        native.receiveWith(legs[0], call.caller.receiver);
        native.receiveWith(legs[1], call.callee.receiver);
        calls.set(m.call, call);
        return { ok: true };
      }
      const pair = sockets.get(m.call);
      if (pair === undefined) throw new Error(`call ${m.call}: no sockets (not opened, or closed)`);
      await Promise.all([connectSocket(pair[0], m.toCaller.port, m.toCaller.address), connectSocket(pair[1], m.toCallee.port, m.toCallee.address)]);
      calls.set(m.call, g711Legs(shape, pair[0], pair[1], dirs));
      return { ok: true };
    }
    case 'drop':
      closeCall(m.call);
      return { ok: true };
    case 'start':
      pacer = new Pacer([...calls.values()].flatMap((c) => [c.caller.sender, c.callee.sender]), timerLag, native ? () => native.flush() : undefined);
      pacer.start();
      return { ok: true };
    case 'window':
      sendErrorsAtWindow = native?.sendErrors ?? 0;
      sentAtWindow.clear();
      for (const c of calls.values()) for (const l of [c.caller, c.callee]) sentAtWindow.set(l.sender, l.sender.packets);
      dirs.ab.reset();
      dirs.ba.reset();
      timerLag.reset();
      for (const c of calls.values()) {
        c.caller.receiver.startWindow();
        c.callee.receiver.startWindow();
      }
      return { ok: true };
    case 'progress':
      return { ok: true, progress: { sent: dirs.ab.sent + dirs.ba.sent, received: dirs.ab.received + dirs.ba.received, lagP99Ms: timerLag.quantile(0.99) } };
    case 'collect': {
      const list = [...calls.values()];
      for (const c of list) c.caller.receiver.measuring = c.callee.receiver.measuring = false;
      const leg = (r: LegReceiver): { receiver: LegReceiver; peerSentAtWindow: number; decodes: boolean } => ({ receiver: r, peerSentAtWindow: sentAtWindow.get(r.peer) ?? 0, decodes: false });
      const summary: LoadSummary = {
        ab: summarizeDirection(dirs.ab, list.map((c) => leg(c.callee.receiver))),
        ba: summarizeDirection(dirs.ba, list.map((c) => leg(c.caller.receiver))),
        timerLag: histogramData(timerLag),
        workerElu: [],
        sendErrors: (native?.sendErrors ?? 0) - sendErrorsAtWindow,
      };
      return { ok: true, summary };
    }
    case 'stop':
      pacer?.stop();
      return { ok: true };
    case 'close':
      pacer?.stop();
      for (const id of [...sockets.keys(), ...nativeLegs.keys()]) closeCall(id);
      native?.close();
      return { ok: true };
  }
}

port.on('message', (m: GenRequest) => {
  handle(m).then(
    (r) => port.postMessage({ seq: m.seq, ...r }),
    (e: unknown) => port.postMessage({ seq: m.seq, ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
