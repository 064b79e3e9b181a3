import { defaultMediaOptions, type MediaOptions } from '../media/api.js';
import type { CodecCapabilities } from '../sdp/negotiate.js';
import { TandemError } from '../common/errors.js';

/**
 * Codec policy per leg, declared once per route and turned into the media plane's options (ng's
 * `codec` dictionary) for every offer in either direction, so a re-INVITE from either side gets
 * the same treatment as the initial INVITE. This is what Kamailio users otherwise hand-write as
 * direction-dependent sdpops/rtpengine flags.
 *
 * Codec entries everywhere are a name (`PCMA`, `opus`, optionally `NAME/RATE[/CH]`) or an RTP
 * payload type number. Static payload types (RFC 3551 §6) are known by name too, so `8` and
 * `PCMA` are the same entry; a dynamic payload type (96–127) only matches that number in the SDP.
 */
export interface LegPolicy {
  /** codecs this leg may be offered, in preference order; undefined = whatever the peer brings. */
  codecs?: string[];
  /** packetization time this leg receives, ms. */
  ptime?: number;
  /** may the media plane transcode so this leg gets one of its `codecs`. */
  transcode: boolean;
  /** codecs removed from what this leg is offered and from what it sends (Kamailio sdpops' sdp_remove_codecs_by_*). */
  strip: string[];
  /** if non-empty, only these survive in what this leg is offered (sdp_keep_codecs_by_*); telephone-event stays unless stripped. */
  keep: string[];
  /**
   * Media security toward this leg (`--b-srtp`, routes files): `dtls` = UDP/TLS/RTP/SAVPF with
   * DTLS-SRTP (RFC 5763/5764) as a browser expects it, `sdes` = RTP/SAVP with SDES keys (RFC 4568),
   * `none` = plain RTP/AVP; undefined = as the other leg offers.
   */
  srtp?: 'dtls' | 'sdes' | 'none';
  /**
   * ICE toward this leg (`--b-ice`): `lite` = Tandem is an ICE-lite agent there (RFC 8445 §2.5),
   * `remove` = no ICE attributes; undefined = ICE only if the other leg does ICE (and with `dtls`).
   */
  ice?: 'lite' | 'remove';
  /** The media interface (--interface NAME) facing this leg: one call may bridge a private and a public network. */
  interface?: string;
}

export interface CallPolicy {
  a: LegPolicy;
  b: LegPolicy;
}

/** Who offers: `a-to-b` is leg A's SDP offered toward leg B (initial INVITE, A's re-INVITE). */
export type Direction = 'a-to-b' | 'b-to-a';

/** An open leg: takes whatever the peer brings; transcoding allowed once `codecs` is set. */
export function defaultLegPolicy(): LegPolicy {
  return { transcode: true, strip: [], keep: [] };
}

const DTMF = 'telephone-event';
/** RFC 3551 §6 static payload types, so `8` and `PCMA` compare equal. */
const STATIC_PT: Readonly<Record<string, string>> = { 0: 'pcmu', 3: 'gsm', 4: 'g723', 8: 'pcma', 9: 'g722', 13: 'cn', 18: 'g729' };

/** An entry's comparable key: lower-cased name without rate/channels, static PTs as names; dynamic PTs stay numbers. */
function key(entry: string): string {
  const e = entry.trim().toLowerCase();
  if (/^\d+$/.test(e)) return STATIC_PT[String(Number(e))] ?? String(Number(e));
  return e.split('/')[0];
}

function isDynamicPt(entry: string): boolean {
  return /^\d+$/.test(key(entry));
}

function sameEntry(a: string, b: string): boolean {
  return key(a) === key(b);
}

function isSupplementalName(name: string): boolean {
  const k = key(name);
  return k === DTMF || k === 'cn';
}

function legs(policy: CallPolicy, dir: Direction): { offerer: LegPolicy; receiver: LegPolicy; o: string; r: string } {
  return dir === 'a-to-b' ? { offerer: policy.a, receiver: policy.b, o: 'a', r: 'b' } : { offerer: policy.b, receiver: policy.a, o: 'b', r: 'a' };
}

/** What a leg may receive, resolved from codecs/keep/strip. */
interface Receiving {
  /** allowed entries in preference order; undefined = anything not stripped. */
  allowed: string[] | undefined;
  /** entries the media plane may add by transcoding (only from `codecs`, only with `transcode`). */
  targets: string[];
  /** telephone-event passes when the offerer has it. */
  dtmf: boolean;
}

function receiving(leg: LegPolicy): Receiving {
  let allowed = leg.codecs;
  if (leg.keep.length > 0) allowed = allowed === undefined ? [...leg.keep] : allowed.filter((c) => leg.keep.some((k) => sameEntry(k, c)));
  const dtmf = !leg.strip.some((s) => key(s) === DTMF);
  if (allowed === undefined) return { allowed: undefined, targets: [], dtmf };
  allowed = allowed.filter((c) => !leg.strip.some((s) => sameEntry(s, c)) && key(c) !== DTMF);
  // `keep` alone filters (as sdpops does); only the `codecs` list is a promise worth transcoding for.
  const targets = leg.transcode && leg.codecs !== undefined ? allowed.filter((c) => !isSupplementalName(c)) : [];
  return { allowed, targets, dtmf };
}

/** The name the planner knows a transcoding target by (static PTs become names; dynamic PTs cannot be added). */
function targetName(entry: string): string | undefined {
  if (isDynamicPt(entry)) return undefined;
  return /^\d+$/.test(entry.trim()) ? key(entry).toUpperCase() : entry.trim();
}

/**
 * Options for an offer going from the offering leg O to the receiving leg R, in the planner's
 * terms (src/sdp/negotiate.ts, rtpengine's codec verbs):
 * - `strip` = O's strip list: O may not send these, so they are not even a transcoding source.
 * - R restricted (`codecs`/`keep`): `mask=[all]`, `except=[R's allowed…, telephone-event]`: R is
 *   offered only its allowed codecs that O has; masked codecs stay with O as transcoding sources.
 *   With R.transcode, `transcode=[R's codecs]` adds those O lacks when some O codec converts to them.
 *   `order` = R's allowed list when R has `codecs`, so R gets them in its own preference order.
 * - R open: `mask` = R's strip list.
 * - `except` overrides `strip` in the planner, so entries O strips are left out of `except` (and
 *   reach R only by transcoding, if R allows it).
 * - ptime: rtpengine's `ptime` is "used towards the endpoint receiving this offer" and
 *   `ptime-reverse` "towards the endpoint who has sent the offer", both read in offers only
 *   (ng_control_protocol.md). So `ptime` = R.ptime and `ptimeReverse` = O.ptime.
 * - Both SDPs belong to the B2BUA: origin and session connection are always replaced.
 */
export function offerMediaOptions(policy: CallPolicy, dir: Direction, offererAlsoStrips: string[] = []): MediaOptions {
  const { offerer, receiver } = legs(policy, dir);
  const o = defaultMediaOptions();
  o.replaceOrigin = true;
  o.replaceSessionConnection = true;
  // A WebRTC offerer requires rtcp-mux (RFC 8834 §5.1.1): keep it toward the offerer even when
  // the other leg demultiplexes (`demux` toward a plain RTP leg: a SIP phone is not asked to mux).
  o.rtcpMux = receiver.srtp === 'none' ? ['demux'] : ['accept'];
  const offererStrip = [...offerer.strip, ...offererAlsoStrips];
  o.codec.strip = offererStrip;
  const r = receiving(receiver);
  if (r.allowed === undefined) {
    o.codec.mask = [...receiver.strip];
  } else {
    const notStrippedByOfferer = (e: string): boolean => !offererStrip.some((s) => sameEntry(s, e));
    o.codec.mask = ['all'];
    o.codec.except = [...r.allowed, ...(r.dtmf ? [DTMF] : [])].filter(notStrippedByOfferer);
    o.codec.transcode = r.targets.map(targetName).filter((n): n is string => n !== undefined);
    // `codecs` is a preference; `keep` alone only filters and leaves the offer's order (as sdpops does).
    if (receiver.codecs !== undefined) o.codec.order = r.allowed.map((e) => targetName(e) ?? e);
  }
  if (receiver.srtp === 'dtls') {
    // What rtpengine's `WebRTC` flag stands for: a browser rejects an offer without ICE, rtcp-mux
    // or (for BUNDLE) a mid; it needs no a=crypto beside the fingerprint.
    o.transportProtocol = 'UDP/TLS/RTP/SAVPF';
    o.ice = receiver.ice === 'remove' ? 'remove' : 'force';
    o.rtcpMux = ['accept', 'offer', 'require'];
    o.generateMid = true;
    o.noRtcpAttribute = true;
    o.sdes.off = true;
  } else {
    if (receiver.srtp === 'sdes') o.transportProtocol = 'RTP/SAVP';
    else if (receiver.srtp === 'none') o.transportProtocol = 'RTP/AVP';
    if (receiver.ice === 'lite') o.ice = 'force';
    else if (receiver.ice === 'remove') o.ice = 'remove';
  }
  // A leg with `ice: remove` gets no ICE in answers to its own offers either.
  if (offerer.ice === 'remove') o.rejectIce = true;
  if (receiver.ptime !== undefined) o.ptime = receiver.ptime;
  // ng `direction`: [interface facing the offerer, facing the receiver]; the media plane heeds it on the creating offer.
  if (offerer.interface !== undefined && receiver.interface !== undefined) o.direction = [offerer.interface, receiver.interface];
  if (offerer.ptime !== undefined) o.ptimeReverse = offerer.ptime;
  return o;
}

/**
 * The offering leg's own `codecs` bind what it may use: when it offers some of them, the codecs it
 * offers outside that list are stripped, so its answer holds only allowed ones and the other leg gets them by transcoding
 * ("leg A is Opus only" makes a browser that also offers G.711 talk Opus). Only a route's explicit
 * list counts: the caller's pinned first offer must not strip what a re-INVITE from it adds.
 */
export function offererStrips(routePolicy: CallPolicy, dir: Direction, offeredNames: string[]): string[] {
  const own = legs(routePolicy, dir).offerer.codecs;
  if (own === undefined || own.some(isDynamicPt)) return [];
  const names = [...new Set(offeredNames.filter((n) => !isSupplementalName(n)))];
  const outside = names.filter((n) => !own.some((c) => matchesName(c, n)));
  // An offer with none of the leg's codecs (a callee's re-INVITE that changes codec) is left whole:
  // the media plane transcodes it, as before.
  return outside.length === names.length ? [] : outside;
}

/**
 * Options for the answer. The offer fixed codecs and ptime for both directions (rtpengine reads
 * codec manipulation, `ptime` and `ptime-reverse` in offers only), so only the B2BUA's ownership of
 * both SDPs is stated here.
 */
export function answerMediaOptions(_policy: CallPolicy, _dir: Direction): MediaOptions {
  const o = defaultMediaOptions();
  o.replaceOrigin = true;
  o.replaceSessionConnection = true;
  return o;
}

/**
 * A policy entry against a codec name from an SDP. Only the entry may be a payload type number: a
 * name in an SDP is a name (`a=rtpmap:96 8/8000` is a codec called "8", not PCMA), or an offer could
 * dress any codec up as an allowed static one.
 */
function matchesName(entry: string, name: string): boolean {
  return key(entry) === name.trim().toLowerCase().split('/')[0];
}

/**
 * Before offering: can this offer satisfy the policy? Returns a reason (for a 488 and its
 * Warning) or null. Judged on codec names only, so an allowed list with a dynamic payload type
 * number cannot be judged and is let through (the planner then decides). The offering leg is
 * checked too: its answer can only hold codecs it offered (RFC 3264 §6.1), so an offer with none
 * of its own allowed codecs cannot end within its policy.
 */
export function checkOffer(policy: CallPolicy, dir: Direction, offeredCodecNames: string[], caps: CodecCapabilities): string | null {
  const { offerer, receiver, o, r } = legs(policy, dir);
  const usable = offeredCodecNames.filter((n) => !offerer.strip.some((s) => matchesName(s, n)));
  const audio = usable.filter((n) => !isSupplementalName(n));
  if (audio.length === 0) return `offer has no usable audio codec (leg ${o})`;
  const own = offerer.codecs;
  if (own !== undefined && !own.some(isDynamicPt) && !audio.some((n) => own.some((c) => matchesName(c, n)))) {
    return `offer (${audio.join(', ')}) has none of ${own.join(', ')}, the codecs leg ${o} may use`;
  }
  const rx = receiving(receiver);
  if (rx.allowed === undefined) {
    if (audio.some((n) => !receiver.strip.some((s) => matchesName(s, n)))) return null;
    return `every offered codec (${audio.join(', ')}) is stripped for leg ${r}`;
  }
  const allowed = rx.allowed;
  if (allowed.length === 0) return `leg ${r} has no allowed codec left after keep/strip`;
  if (allowed.some(isDynamicPt)) return null;
  if (audio.some((n) => allowed.some((c) => matchesName(c, n)))) return null;
  const targets = rx.targets.map(targetName).filter((t): t is string => t !== undefined);
  if (audio.some((n) => targets.some((t) => caps.canTranscode(n, t.split('/')[0])))) return null;
  if (targets.length > 0) return `none of ${audio.join(', ')} can be transcoded to ${targets.join(', ')} for leg ${r}`;
  const why = receiver.codecs === undefined ? ' (keep filters, it does not transcode)' : ' and transcoding is off';
  return `offer (${audio.join(', ')}) has none of ${allowed.join(', ')}${why} (leg ${r})`;
}

/**
 * Checks a route's leg interfaces against the configured --interface names and gives a leg that
 * names none the first (default) interface, so a route naming only `b` still sends a full
 * `direction`. `where` prefixes errors (the routes file and route).
 */
export function resolveLegInterfaces(policy: CallPolicy, names: readonly string[], where: string): void {
  if (policy.a.interface === undefined && policy.b.interface === undefined) return;
  for (const leg of ['a', 'b'] as const) {
    const n = policy[leg].interface;
    if (n !== undefined && !names.includes(n))
      throw new TandemError('CONFIG', `${where}: policy.${leg}.interface "${n}" is not a configured --interface name (${names.length > 0 ? names.join(', ') : 'none configured'})`);
  }
  policy.a.interface ??= names[0];
  policy.b.interface ??= names[0];
}
