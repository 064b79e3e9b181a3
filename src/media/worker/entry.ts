import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../common/log.js';
import type { WorkerInit, WorkerMessage, WorkerReplyResult, WorkerRequest, BridgeStats } from '../pool/protocol.js';
import { MediaBridge } from './bridge.js';
import { WorkerClock } from './clock.js';
import { warmUpWorker } from './warm-up.js';
import { setUpsDone } from '../codecs/set-ups.js';
import { guardCounters, setGuardLog } from './guard.js';
import { Recorder } from './recorder.js';
import { dtmfSettings } from './dtmf.js';
import { RTCP_MIN_INTERVAL_MS, rtcpTickMs, rtcpTiming } from './rtcp-schedule.js';
import { startMediaIo } from './media-io.js';
import { addSrtpFailures } from './bridge-side.js';

/**
 * Media worker: owns the sockets of the bridges placed on it and runs their per-packet
 * loops. It keeps only what main sent it and answers requests on the typed channel.
 */
const init = workerData as WorkerInit;
const port = parentPort;
if (port === null) throw new Error('media worker must run in a worker thread');
const log = createLogger({ level: init.logLevel, name: `media-worker-${init.workerIndex}` });
setGuardLog(log);
dtmfSettings.suppressAudio = init.dtmfNoSuppress !== true;
// Before any bridge exists: each takes its RTCP minimum interval when it is made.
rtcpTiming.minIntervalMs = init.rtcpIntervalMs ?? RTCP_MIN_INTERVAL_MS;
const clock = new WorkerClock();
clock.start();
const bridges = new Map<number, MediaBridge>();
const recorder = new Recorder(log);
const bridgeOf = (id: number): MediaBridge | undefined => bridges.get(id);
/** SRTP failures of bridges already destroyed, so the worker's totals only grow. */
const closedSrtp = { authFailures: 0, replays: 0, malformed: 0 };
let ioFallback: string | undefined;
// Main logs a fallback once for all workers (from the ready message); here it is only debug.
const io = startMediaIo(init.io ?? 'dgram', (reason) => {
  ioFallback = reason;
  log.debug({ reason }, 'batched UDP addon unusable: running on dgram');
});

function post(msg: WorkerMessage): void {
  port!.postMessage(msg);
}

async function handle(req: WorkerRequest): Promise<WorkerReplyResult> {
  switch (req.op) {
    case 'create': {
      const id = req.bridgeId;
      const bridge = await MediaBridge.open(id, req.callId, req.addresses, req.ports, clock, io.bind, (side, srtp) => post({ kind: 'event', event: 'dtls-keys', bridgeId: id, side, srtp }));
      bridges.set(req.bridgeId, bridge);
      return { op: 'create', bound: true };
    }
    case 'configure': {
      const bridge = bridges.get(req.bridgeId);
      if (bridge === undefined) throw new Error(`no bridge ${req.bridgeId}`);
      bridge.configure(req.config, clock.coarseMs);
      return { op: 'configure' };
    }
    case 'control': {
      const bridge = bridges.get(req.bridgeId);
      if (bridge === undefined) throw new Error(`no bridge ${req.bridgeId}`);
      return { op: 'control', ...bridge.control(req.command) };
    }
    case 'destroy': {
      const bridge = bridges.get(req.bridgeId);
      if (bridge === undefined) return { op: 'destroy' };
      const stats = bridge.stats();
      // Taps come off synchronously; the files finish closing after the sockets do.
      const recordingClosed = recorder.bridgeClosed(bridge.callId, bridge.bridgeId, bridgeOf);
      for (const side of bridge.sides) addSrtpFailures(closedSrtp, side.srtpFailures());
      bridge.close();
      bridges.delete(req.bridgeId);
      await recordingClosed;
      return { op: 'destroy', stats };
    }
    case 'stats': {
      const stats: BridgeStats[] = [];
      for (const id of req.bridgeIds) {
        const b = bridges.get(id);
        if (b !== undefined) stats.push(b.stats());
      }
      return { op: 'stats', stats };
    }
    case 'totals': {
      let packets = 0;
      let bytes = 0;
      let errors = 0;
      const srtp = { ...closedSrtp };
      for (const b of bridges.values()) {
        for (const s of b.sides) {
          packets += s.rtpIn.packets + s.rtcpIn.packets;
          bytes += s.rtpIn.bytes + s.rtcpIn.bytes;
          errors += s.rtpIn.errors + s.rtcpIn.errors;
          addSrtpFailures(srtp, s.srtpFailures());
        }
      }
      return {
        op: 'totals',
        totals: { packets, bytes, errors, bridges: bridges.size, guarded: guardCounters.caught, io: io.counters(), recordingDropped: recorder.dropped, recordingErrors: recorder.errors, srtp, setUps: [...setUpsDone()] },
      };
    }
    case 'ping':
      return { op: 'ping' };
    case 'record': {
      if (req.action === 'pause') return { op: 'record', files: recorder.pause(req.callId) };
      if (req.action === 'stop') return { op: 'record', files: await recorder.stop(req.callId, bridgeOf) };
      if (req.start === undefined) throw new Error('record start without its settings');
      return { op: 'record', files: await recorder.start(req.callId, req.start, bridgeOf) };
    }
    case 'block': {
      if (init.testOps !== true) throw new Error('block is a test-only request');
      const until = Date.now() + req.ms;
      while (Date.now() < until) {
        // a hung worker: nothing else runs on this thread until the watchdog replaces it
      }
      return { op: 'block' };
    }
  }
}

port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (result) => post({ kind: 'reply', id: req.id, ok: true, result }),
    (err: unknown) => {
      const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
      const bridge = 'bridgeId' in req ? bridges.get(req.bridgeId) : undefined;
      log.warn({ op: req.op, callId: bridge?.callId ?? ('callId' in req ? req.callId : undefined), err }, 'worker request failed');
      post({ kind: 'reply', id: req.id, ok: false, error: err instanceof Error ? err.message : String(err), code });
    },
  );
});

// Media timeout: reported once per bridge; main decides what ending the call means.
if (init.mediaTimeoutMs > 0) {
  const check = setInterval(() => {
    const now = clock.coarseMs;
    for (const b of bridges.values()) {
      if (b.timeoutReported) continue;
      const idle = b.idleMs(now);
      if (idle >= init.mediaTimeoutMs) {
        b.timeoutReported = true;
        post({ kind: 'event', event: 'timeout', bridgeId: b.bridgeId, idleMs: idle });
      }
    }
  }, Math.min(1000, Math.max(50, Math.floor(init.mediaTimeoutMs / 4))));
  check.unref();
}

// Call quality (MOS) samples of every side's receive statistics, off the packet path.
const QUALITY_SAMPLE_MS = 5000;
const sampler = setInterval(() => {
  const now = clock.coarseMs;
  for (const b of bridges.values()) for (const s of b.sides) s.sampleQuality(now);
}, QUALITY_SAMPLE_MS);
sampler.unref();
// Tandem's own SR/RR toward legs whose RTCP it terminates (transcoded or repacketized bridges):
// each bridge keeps its own randomised schedule (rtcp-schedule.ts); this timer only looks for due ones.
const rtcpTimer = setInterval(() => {
  const now = Date.now();
  for (const b of bridges.values()) b.sendRtcpReports(now);
}, rtcpTickMs(rtcpTiming.minIntervalMs));
rtcpTimer.unref();

// The one-time set-up is done before the worker says it is ready: calls placed on it never pay for it.
const warmUp = await warmUpWorker(log);

post({ kind: 'ready', io: io.kind, ...(ioFallback !== undefined ? { ioFallback } : {}), warmUp });
