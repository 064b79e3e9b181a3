import type { BDict } from './bencode.js';
import { isTandemError } from '../common/errors.js';
import type { MediaControl, OfferRequest, SdpResult } from '../media/api.js';
import { NgFields, readMediaOptions } from './ng-options.js';
import { callStatsDict, statisticsDict } from './ng-stats.js';
import { mediaControlCommand } from './ng-media-control.js';

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

/** The ng command table: the one place that says which commands exist (rtpengine control_ng). */
export const COMMANDS: Readonly<Record<string, Handler>> = {
  ping: async () => ({ result: 'pong' }),

  offer: async (f, { media }) => {
    const { request, warnings } = sdpRequest(f);
    return sdpReply(await media.offer(request), warnings);
  },

  answer: async (f, { media }) => {
    const { request, warnings } = sdpRequest(f);
    return sdpReply(await media.answer({ ...request, toTag: f.requiredString('to-tag') }), warnings);
  },

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
};
