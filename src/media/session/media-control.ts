import { TandemError } from '../../common/errors.js';
import type { MediaControlRequest, MediaControlResult } from '../api.js';
import type { ControlCommand, WorkerReplyResult } from '../pool/protocol.js';
import type { RequestBody } from '../pool/channel.js';
import { otherSide, type MediaCall, type Side } from './call.js';
import { loadPlayable, PLAY_RATE } from './media-source.js';
import { legCodec } from './worker-config.js';

export interface ControlWorker {
  request(body: RequestBody): Promise<WorkerReplyResult>;
}

/**
 * ng media control on main: which sides a request names (rtpengine's rules, see
 * MediaControlRequest), the file or blob made into PCM (media-source.ts), then one `control`
 * request per audio bridge and side to the call's worker (worker/media-control.ts does the rest).
 */
export async function controlMedia(call: MediaCall, req: MediaControlRequest, worker: ControlWorker): Promise<MediaControlResult> {
  const toward = targetSides(call, req);
  const audio = call.medias.filter((m) => (m.peer[0]?.type ?? m.peer[1]?.type ?? 'audio') === 'audio');
  const a = req.action;
  let pcm: Int16Array | undefined;
  if (a.kind === 'play') pcm = await loadPlayable(a.source);
  if (a.kind === 'play' || a.kind === 'dtmf') {
    for (const s of toward) {
      if (!audio.some((m) => legCodec(m, s) !== undefined))
        throw new TandemError('BAD_REQUEST', `no negotiated audio toward tag "${call.tags[s] ?? ''}" yet (offer and answer first)`, { 'call-id': call.callId });
    }
  }
  const result: MediaControlResult = {};
  for (const m of audio) {
    for (const s of toward) {
      if ((a.kind === 'play' || a.kind === 'dtmf') && legCodec(m, s) === undefined) continue;
      const command: ControlCommand =
        a.kind === 'play' ? { kind: 'play', toward: s, pcm: pcm ?? new Int16Array(0), repeat: a.repeat, startSample: Math.round((a.startMs * PLAY_RATE) / 1000) }
        : a.kind === 'stop' ? { kind: 'stop', toward: s }
        : a.kind === 'dtmf' ? { kind: 'dtmf', toward: s, code: a.code, durationMs: a.durationMs, volumeDb: a.volumeDb, pauseMs: a.pauseMs }
        : { kind: a.kind, toward: s, on: a.on };
      const reply = await worker.request({ op: 'control', bridgeId: m.bridgeId, command });
      if (reply.op !== 'control') continue;
      result.durationMs ??= reply.durationMs;
      result.lastFramePos ??= reply.lastFramePos;
    }
  }
  if ('on' in a) for (const s of toward) call.blocking[a.kind][s] = a.on;
  call.log.info({ action: a.kind, ...('on' in a ? { on: a.on } : {}), toward: toward.map((s) => call.tags[s]) }, 'media control');
  return result;
}

function sideOf(call: MediaCall, tag: string, key: string): Side {
  const s = call.sideOfTag(tag);
  if (s === undefined) throw new TandemError('UNKNOWN_CALL', `${key} given, but no such tag exists`, { 'call-id': call.callId, tag });
  return s;
}

function sideOfLabel(call: MediaCall, label: string): Side {
  const s = call.labels[0] === label ? 0 : call.labels[1] === label ? 1 : undefined;
  if (s === undefined) throw new TandemError('UNKNOWN_CALL', 'No monologue matching the given label', { 'call-id': call.callId, label });
  return s;
}

/** The sides whose peers get the result (`toward`), by rtpengine's rules for each command. */
export function targetSides(call: MediaCall, req: MediaControlRequest): Side[] {
  const both: Side[] = [0, 1];
  // rtpengine looks at a label before the from-tag.
  const from = req.label !== undefined && req.label !== '' ? sideOfLabel(call, req.label)
    : req.fromTag !== undefined && req.fromTag !== '' ? sideOf(call, req.fromTag, 'From-tag') : undefined;
  const to = req.toTag !== undefined && req.toTag !== '' ? sideOf(call, req.toTag, 'To-tag') : undefined;
  const flow = (source: Side): Side[] => {
    const dest = to ?? otherSide(source);
    if (dest === source) throw new TandemError('BAD_REQUEST', 'from-tag and to-tag name the same leg: no media flow between them', { 'call-id': call.callId });
    return [dest];
  };
  const kind = req.action.kind;
  if (req.all) return both;
  switch (kind) {
    case 'block-dtmf':
    case 'block-media':
      // rtpengine ignores the from-tag of these without the `directional` flag: the whole call.
      return req.directional && from !== undefined ? flow(from) : both;
    case 'silence':
      return from !== undefined ? flow(from) : both;
    case 'play':
    case 'stop': {
      // Played *to* the selected participant.
      const target = from ?? to;
      if (target === undefined) throw new TandemError('BAD_REQUEST', 'No participant party specified (from-tag, to-tag or the all flag)', { 'call-id': call.callId });
      return [target];
    }
    case 'dtmf':
      // The selected participant generates the event; the other one hears it (rtpengine reads no
      // to-tag here, and Kamailio may send the from-tag as both).
      if (from === undefined) throw new TandemError('BAD_REQUEST', 'No participant party specified (from-tag or the all flag)', { 'call-id': call.callId });
      return [otherSide(from)];
  }
}

/**
 * Bridges the call's blocking and silencing has not been sent to yet (an m= line added by a
 * re-offer) get it, as rtpengine's per-participant state reaches every media of the participant.
 */
export async function syncControl(call: MediaCall, worker: ControlWorker): Promise<void> {
  for (const m of call.medias) {
    if (m.controlSynced) continue;
    m.controlSynced = true;
    if ((m.peer[0]?.type ?? m.peer[1]?.type ?? 'audio') !== 'audio') continue;
    for (const kind of ['block-dtmf', 'block-media', 'silence'] as const) {
      for (const s of [0, 1] as const) {
        if (call.blocking[kind][s]) await worker.request({ op: 'control', bridgeId: m.bridgeId, command: { kind, toward: s, on: true } });
      }
    }
  }
}
