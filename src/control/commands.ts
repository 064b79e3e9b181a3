import type { BDict } from './bencode.js';
import { errorMessage, isTandemError, TandemError } from '../common/errors.js';
import type { MediaControl, OfferRequest, RecordingAction, SdpResult } from '../media/api.js';
import { NgFields, normalizeKey, readMediaOptions } from './ng-options.js';
import { callStatsDict, statisticsDict } from './ng-stats.js';
import { mediaControlCommand } from './ng-media-control.js';
import { readOfferControl } from './ng-offer-control.js';

export interface CommandContext {
  media: MediaControl;
}

type Handler = (f: NgFields, ctx: CommandContext) => Promise<BDict>;

/** The keys offer and answer share, read once; option warnings travel with the reply. */
function sdpRequest(f: NgFields): { request: OfferRequest; warnings: string[] } {
  const { options, warnings } = readMediaOptions(f);
  const request: OfferRequest = {
    callId: f.requiredString('call-id'),
    fromTag: f.requiredString('from-tag'),
    viaBranch: f.string('via-branch'),
    sdp: f.requiredString('sdp'),
    options,
  };
  return { request, warnings };
}

function sdpReply(r: SdpResult, optionWarnings: string[]): BDict {
  const reply: BDict = { result: 'ok', sdp: r.sdp };
  const warnings = [...optionWarnings, ...r.warnings];
  if (warnings.length > 0) reply.warning = warnings.join('; ');
  return reply;
}

/**
 * rtpengine's `record call` key (`yes`/`on` starts, `no`/`off` stops) or the `record-call` flag
 * (also `record-call=yes` inside `rtpp-flags`) on an offer or answer.
 */
function recordCallAction(f: NgFields): RecordingAction | undefined {
  const flag = f.list('flags').map((x) => /^record-call(?:=(.*))?$/.exec(normalizeKey(x))).find((m) => m !== null);
  const v = (flag !== undefined ? (flag?.[1] ?? 'yes') : f.string('record-call'))?.trim().toLowerCase();
  if (v === undefined) return undefined;
  if (['yes', 'on', 'true', '1'].includes(v)) return 'start';
  if (['no', 'off', 'false', '0'].includes(v)) return 'stop';
  throw new TandemError('BAD_REQUEST', `key "record call" has unknown value "${v}" (yes, on, no or off)`);
}

function recorder(media: MediaControl): NonNullable<MediaControl['record']> {
  if (media.record === undefined) throw new TandemError('BAD_REQUEST', 'this media plane does not record');
  return media.record.bind(media);
}

/** Appends warnings to a reply's `warning` (one string, `; `-separated, as rtpengine sends it). */
function addWarnings(reply: BDict, more: string[]): void {
  const all = [reply.warning, ...more].filter((x): x is string => typeof x === 'string' && x !== '');
  if (all.length > 0) reply.warning = all.join('; ');
}

/**
 * An offer or answer, then what its flags ask of the running call: the `block DTMF`/`block media`
 * flags for the sender's leg (`sender` is the key naming it: the from-tag on an offer, the to-tag
 * on an answer) and recording. Those that cannot be done are warnings; the call goes on.
 */
async function sdpCommand(f: NgFields, media: MediaControl, sender: 'from-tag' | 'to-tag', run: (request: OfferRequest) => Promise<SdpResult>): Promise<BDict> {
  const { request, warnings } = sdpRequest(f);
  const record = recordCallAction(f);
  const control = readOfferControl(f, request.callId, f.requiredString(sender));
  const reply = sdpReply(await run(request), [...warnings, ...control.warnings]);
  for (const req of control.requests) {
    try {
      if (media.control === undefined) throw new TandemError('BAD_REQUEST', 'media control is not supported by this media plane');
      await media.control(req);
    } catch (err) {
      addWarnings(reply, [`${req.action.kind} not applied: ${errorMessage(err)}`]);
    }
  }
  if (record === undefined) return reply;
  try {
    await recorder(media)({ callId: request.callId, action: record, ...(f.has('metadata') ? { metadata: f.requiredString('metadata') } : {}) });
  } catch (err) {
    addWarnings(reply, [`recording not ${record === 'start' ? 'started' : 'stopped'}: ${errorMessage(err)}`]);
  }
  return reply;
}

function recordingCommand(action: RecordingAction): Handler {
  return async (f, { media }) => {
    const metadata = action === 'start' && f.has('metadata') ? f.requiredString('metadata') : undefined;
    await recorder(media)({ callId: f.requiredString('call-id'), action, ...(metadata !== undefined ? { metadata } : {}) });
    return { result: 'ok' };
  };
}

/** The ng command table: the one place that says which commands exist (rtpengine control_ng). */
export const COMMANDS: Readonly<Record<string, Handler>> = {
  ping: async () => ({ result: 'pong' }),

  offer: async (f, { media }) => sdpCommand(f, media, 'from-tag', (request) => media.offer(request)),

  answer: async (f, { media }) => sdpCommand(f, media, 'to-tag', (request) => media.answer({ ...request, toTag: f.requiredString('to-tag') })),

  delete: async (f, { media }) => {
    const callId = f.requiredString('call-id');
    try {
      const stats = await media.delete({ callId, fromTag: f.string('from-tag'), toTag: f.string('to-tag') });
      const reply: BDict = { result: 'ok', ...callStatsDict(stats) };
      if (f.has('delete-delay')) reply.warning = 'delete delay not supported yet: the call was deleted at once';
      return reply;
    } catch (err) {
      // rtpengine answers a delete of an unknown call with ok + warning, unless the `fatal` flag asks for an error.
      const fatal = f.list('flags').some((x) => x.toLowerCase() === 'fatal');
      if (!isTandemError(err) || err.code !== 'UNKNOWN_CALL' || fatal) throw err;
      return { result: 'ok', warning: `Call-ID not found or tags didn't match (${err.message})` };
    }
  },

  query: async (f, { media }) => {
    const stats = await media.query({ callId: f.requiredString('call-id'), fromTag: f.string('from-tag'), toTag: f.string('to-tag') });
    return { result: 'ok', ...callStatsDict(stats) };
  },

  list: async (f, { media }) => {
    const limit = f.integer('limit', 0, 1_000_000) ?? 32;
    return { result: 'ok', calls: await media.list(limit) };
  },

  statistics: async (_f, { media }) => ({ result: 'ok', ...statisticsDict(await media.statistics()) }),

  // Media control, rtpengine's spelling (the server lower-cases the command).
  'block dtmf': mediaControlCommand('block-dtmf', true),
  'unblock dtmf': mediaControlCommand('block-dtmf', false),
  'block media': mediaControlCommand('block-media', true),
  'unblock media': mediaControlCommand('block-media', false),
  'silence media': mediaControlCommand('silence', true),
  'unsilence media': mediaControlCommand('silence', false),
  'play media': mediaControlCommand('play'),
  'stop media': mediaControlCommand('stop'),
  'play dtmf': mediaControlCommand('dtmf'),
  'start recording': recordingCommand('start'),
  'pause recording': recordingCommand('pause'),
  'stop recording': recordingCommand('stop'),
};
