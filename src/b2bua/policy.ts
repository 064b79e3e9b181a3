import { defaultMediaOptions, type MediaOptions } from '../media/api.js';
import { canTranscode } from '../sdp/negotiate.js';

/**
 * Codec normalisation per leg, declared once per route and applied to every offer in either
 * direction, so a re-INVITE cannot undo it. The B2BUA turns it into the media plane's options
 * (rtpengine's codec verbs), which is where Kamailio users otherwise hand-write direction-dependent
 * flags.
 */
export interface LegPolicy {
  /** codecs this leg may be offered, by name (`PCMA`) or payload type; undefined = whatever the peer brings. */
  codecs?: string[];
  /** packetization time this leg receives, ms. */
  ptime?: number;
  /** may the media plane transcode so this leg gets its codecs. */
  transcode: boolean;
  /** codecs never offered to this leg (Kamailio sdpops' sdp_remove_codecs_by_name/id, with media behind it). */
  strip: string[];
  /** if not empty, only these are offered to this leg (sdp_keep_codecs_by_name/id); telephone-event stays. */
  keep: string[];
  /**
   * Media security this leg gets: `sdes` = RTP/SAVP with SDES keys (RFC 4568), `none` = plain
   * RTP/AVP; undefined = whatever the other leg offers (crypto then passes end to end).
   */
  srtp?: 'sdes' | 'none';
}

export interface CallPolicy {
  a: LegPolicy;
  b: LegPolicy;
}

/** Who offers: `a-to-b` is leg A's SDP offered toward leg B (initial INVITE, A's re-INVITE). */
export type Direction = 'a-to-b' | 'b-to-a';

export function defaultLegPolicy(): LegPolicy {
  return { transcode: true, strip: [], keep: [] };
}

const SUPPLEMENTAL = ['telephone-event', 'CN'];

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The codec entries the receiving leg may be offered, or undefined when it takes anything. */
function allowedFor(leg: LegPolicy): string[] | undefined {
  let allowed = leg.codecs;
  if (leg.keep.length > 0) allowed = allowed === undefined ? [...leg.keep] : allowed.filter((c) => leg.keep.some((k) => sameName(k, c)));
  if (allowed === undefined) return undefined;
  return allowed.filter((c) => !leg.strip.some((s) => sameName(s, c)));
}

function legs(policy: CallPolicy, dir: Direction): { offerer: LegPolicy; answerer: LegPolicy } {
  return dir === 'a-to-b' ? { offerer: policy.a, answerer: policy.b } : { offerer: policy.b, answerer: policy.a };
}

/**
 * Options for an offer going to the answering leg:
 * - everything the answerer may not have is masked (`mask=all`, `except=<allowed>`): the offerer
 *   keeps it, so the media plane can still transcode from it;
 * - what the answerer wants but the offer lacks is added with `transcode=<allowed>` when the
 *   answerer's policy allows transcoding;
 * - the answerer's `strip` list is masked, the offerer's own `strip` list is stripped;
 * - `ptime` is what the answerer gets and `ptime-reverse` what the offerer gets (rtpengine's ng
 *   protocol: ptime applies to the SDP sent to the recipient of the offer, ptime-reverse to the
 *   other direction);
 * - both SDPs belong to the B2BUA, so origin and session connection are always replaced.
 */
export function offerMediaOptions(policy: CallPolicy, dir: Direction): MediaOptions {
  const { offerer, answerer } = legs(policy, dir);
  const o = defaultMediaOptions();
  o.replaceOrigin = true;
  o.replaceSessionConnection = true;
  const allowed = allowedFor(answerer);
  if (allowed !== undefined) {
    o.codec.mask = ['all'];
    const dtmfStripped = answerer.strip.some((s) => sameName(s, 'telephone-event'));
    o.codec.except = [...allowed, ...SUPPLEMENTAL.filter((s) => !(s === 'telephone-event' && dtmfStripped))];
    if (answerer.transcode) o.codec.transcode = allowed.filter((c) => !/^\d+$/.test(c));
  } else if (answerer.strip.length > 0) {
    o.codec.mask = [...answerer.strip];
  }
  if (offerer.strip.length > 0) o.codec.strip = [...offerer.strip];
  if (answerer.srtp === 'sdes') o.transportProtocol = 'RTP/SAVP';
  else if (answerer.srtp === 'none') o.transportProtocol = 'RTP/AVP';
  if (answerer.ptime !== undefined) o.ptime = answerer.ptime;
  if (offerer.ptime !== undefined) o.ptimeReverse = offerer.ptime;
  return o;
}

/** Options for the answer: the offer already fixed codecs and ptime (rtpengine reads ptime in offers only). */
export function answerMediaOptions(_policy: CallPolicy, _dir: Direction): MediaOptions {
  const o = defaultMediaOptions();
  o.replaceOrigin = true;
  o.replaceSessionConnection = true;
  return o;
}

/**
 * Can the answering leg be given at least one allowed audio codec from this offer? Returns why
 * not (for a 488 and its Warning), or null. Payload-type entries match by number only when the
 * offered list carries numbers, so they are judged by name here and left to the planner.
 */
export function checkOffer(policy: CallPolicy, dir: Direction, offeredCodecNames: string[]): string | null {
  const { offerer, answerer } = legs(policy, dir);
  const audio = offeredCodecNames.filter((n) => !SUPPLEMENTAL.some((s) => sameName(s, n)));
  const usable = audio.filter((n) => !offerer.strip.some((s) => sameName(s, n)));
  if (offerer.codecs !== undefined && !usable.some((n) => offerer.codecs?.some((c) => sameName(c, n) || /^\d+$/.test(c)))) {
    return `offer has none of ${offerer.codecs.join(', ')}`;
  }
  const allowed = allowedFor(answerer);
  if (allowed === undefined) return usable.length > 0 ? null : 'offer has no usable audio codec';
  const named = allowed.filter((c) => !/^\d+$/.test(c));
  if (named.length < allowed.length) return null;
  if (usable.some((n) => named.some((c) => sameName(c, n)))) return null;
  if (answerer.transcode && usable.some((n) => named.some((c) => canTranscode(n, c)))) return null;
  return answerer.transcode
    ? `none of ${usable.join(', ') || 'the offered codecs'} can be transcoded to ${named.join(', ')}`
    : `offer has none of ${named.join(', ')} and transcoding is off`;
}
