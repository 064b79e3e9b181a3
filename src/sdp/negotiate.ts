import type { SdpCodec } from './sdp.js';

/**
 * Codec planning for offer/answer through a transcoding media server (RFC 3264 §6, with
 * rtpengine's codec manipulation verbs). Pure: codec lists in, codec lists and a
 * transcoding plan out. The session layer turns the plan into worker payload rules.
 */

/** Codec manipulation as in ng's `codec` dictionary: names, `all`, or payload type numbers. */
export interface CodecOptions {
  strip: string[];
  except: string[];
  mask: string[];
  transcode: string[];
  offer: string[];
  accept: string[];
  consume: string[];
  /**
   * Tandem's own (not an ng key): the answerer's preference order. Codecs it names come first, in
   * that order; the rest keep their place; telephone-event and CN stay last. Set by B2BUA policy.
   */
  order?: string[];
}

/** Codecs that carry no audio of their own and follow the main codec (RFC 4733, RFC 3389). */
export function isSupplemental(c: SdpCodec): boolean {
  const n = c.name.toLowerCase();
  return n === 'telephone-event' || n === 'cn';
}

/** A format a media plane can add to an offer because it can produce it by transcoding. */
export interface AddableCodec {
  name: string;
  clockRate: number;
  channels: number;
  fmtp?: string;
  /** RFC 3551 static payload type, used when the offer leaves it free. */
  staticPt?: number;
}

/**
 * What the media plane in use can convert. The planner is pure and does not know which plane that
 * is: the local one answers from media/codecs' registry, an ng client from rtpengine's table.
 */
export interface CodecCapabilities {
  /** Whether audio in `from` can be converted to `to` (encoding names, any case; false when equal). */
  canTranscode(from: string, to: string): boolean;
  /** The SDP form of a codec the plane can add to an offer, by encoding name (any case). */
  addable(name: string): AddableCodec | undefined;
}

export function isG711(c: SdpCodec): boolean {
  const n = c.name.toUpperCase();
  return (n === 'PCMA' || n === 'PCMU') && c.clockRate === 8000;
}

/** Does a codec match an option entry: `all`, a payload type number, `NAME` or `NAME/RATE[/CH]`. */
export function codecMatches(c: SdpCodec, entry: string): boolean {
  const e = entry.trim();
  if (e.toLowerCase() === 'all' || e.toLowerCase() === 'full') return true;
  if (/^\d+$/.test(e)) return Number(e) === c.pt;
  const [name, rate, ch] = e.split('/');
  if (name.toLowerCase() !== c.name.toLowerCase()) return false;
  if (rate !== undefined && rate !== '' && Number(rate) !== c.clockRate) return false;
  if (ch !== undefined && ch !== '' && Number(ch) !== c.channels) return false;
  return true;
}

function matchesAny(c: SdpCodec, entries: string[]): boolean {
  return entries.some((e) => codecMatches(c, e));
}

function sameFormat(a: SdpCodec, b: SdpCodec): boolean {
  return a.name.toLowerCase() === b.name.toLowerCase() && a.clockRate === b.clockRate && a.channels === b.channels;
}

export interface OfferCodecPlan {
  /** What the offerer may send and receive: its codecs minus the stripped ones (masked ones stay). */
  offererCodecs: SdpCodec[];
  /** What goes in the offer to the answerer. */
  answererOffer: SdpCodec[];
  /** Codecs that exist only because we added them for transcoding. */
  added: SdpCodec[];
  /** `transcode: [telephone-event]`: DTMF crosses between events and in-band tones where only one side has events. */
  dtmfTranscode?: boolean;
  warnings: string[];
}

/** Builds the codec list of an offer going to the answerer. */
export function planOfferCodecs(offerer: SdpCodec[], opts: CodecOptions, caps: CodecCapabilities): OfferCodecPlan {
  const warnings: string[] = [];
  const stripped = (c: SdpCodec): boolean => matchesAny(c, opts.strip) && !matchesAny(c, opts.except);
  const offererCodecs = offerer.filter((c) => !stripped(c));
  const masked = (c: SdpCodec): boolean =>
    (matchesAny(c, opts.mask) || matchesAny(c, opts.consume)) && !matchesAny(c, opts.except);
  const answererOffer = offererCodecs.filter((c) => !masked(c));
  // A stripped codec frees its payload type: a PCMA stripped from a browser's offer and then
  // added back for transcoding keeps its static 8.
  const used = new Set(offererCodecs.map((c) => c.pt));
  const added: SdpCodec[] = [];

  // `transcode: [telephone-event]` (rtpengine's spelling): offer DTMF events to the answerer even when
  // the offerer has none; the worker turns its in-band tones into events and events into tones.
  const wantDtmf = opts.transcode.some((e) => /^telephone-event(\/\d+)?$/i.test(e.trim()));
  for (const entry of [...opts.transcode, ...opts.offer]) {
    if (/^telephone-event(\/\d+)?$/i.test(entry.trim())) continue;
    const want = caps.addable(entry.split('/')[0]);
    if (want === undefined) {
      if (!/^\d+$/.test(entry) && entry.toLowerCase() !== 'all') warnings.push(`codec ${entry} cannot be transcoded yet; ignored`);
      continue;
    }
    const candidate: SdpCodec = { pt: -1, name: want.name, clockRate: want.clockRate, channels: want.channels, ...(want.fmtp !== undefined ? { fmtp: want.fmtp } : {}) };
    if (answererOffer.some((c) => sameFormat(c, candidate))) continue;
    if (!offererCodecs.some((c) => !isSupplemental(c) && caps.canTranscode(c.name, candidate.name))) {
      warnings.push(`codec ${entry}: nothing in the offer transcodes to it; not added`);
      continue;
    }
    candidate.pt = want.staticPt !== undefined && !used.has(want.staticPt) ? want.staticPt : freeDynamicPt(used);
    used.add(candidate.pt);
    added.push(candidate);
  }
  // Clock rates whose audio codecs we changed: only there does telephone-event follow the audio.
  const touched = new Set([
    ...added.map((c) => c.clockRate),
    ...offerer.filter((c) => !isSupplemental(c) && !answererOffer.includes(c)).map((c) => c.clockRate),
  ]);
  added.push(...dtmfForNewClockRates(answererOffer, added, touched, used));
  if (wantDtmf && !offererCodecs.some(isTelephoneEvent)) added.push(...dtmfForOffererWithout(answererOffer, added, used));
  // Added codecs go after the offerer's audio codecs but before telephone-event and CN.
  const firstSupp = answererOffer.findIndex(isSupplemental);
  const at = firstSupp < 0 ? answererOffer.length : firstSupp;
  answererOffer.splice(at, 0, ...added);
  dropStrayDtmf(answererOffer, touched);
  const order = opts.order;
  if (order !== undefined && order.length > 0) {
    const rank = (c: SdpCodec): number => {
      if (isSupplemental(c)) return order.length + 1;
      const i = order.findIndex((e) => codecMatches(c, e));
      return i < 0 ? order.length : i;
    };
    // Array.prototype.sort is stable: codecs of equal rank keep the offerer's order.
    answererOffer.sort((a, b) => rank(a) - rank(b));
  }
  return { offererCodecs, answererOffer, added, ...(wantDtmf ? { dtmfTranscode: true } : {}), warnings };
}

export function isTelephoneEvent(c: SdpCodec): boolean {
  return c.name.toLowerCase() === 'telephone-event';
}

/**
 * DTMF follows the audio clock (RFC 4733 §2.1: events share the stream's timestamps), so when the
 * offerer has telephone-event and we offer audio at a clock rate it has no telephone-event for (Opus
 * at 48 kHz added to G.711, or G.711 added to a browser's Opus), the recipient is offered
 * telephone-event at that rate too; the worker converts events between the clocks. This is what
 * rtpengine's supplemental-codec tracking does; we keep the offerer's fmtp (its event list).
 */
function dtmfForNewClockRates(offer: SdpCodec[], added: SdpCodec[], touched: Set<number>, used: Set<number>): SdpCodec[] {
  const template = offer.find(isTelephoneEvent);
  if (template === undefined) return [];
  const out: SdpCodec[] = [];
  for (const rate of touched) {
    const hasAudio = [...offer, ...added].some((c) => !isSupplemental(c) && c.clockRate === rate);
    if (!hasAudio || offer.some((c) => isTelephoneEvent(c) && c.clockRate === rate)) continue;
    const pt = freeDynamicPt(used);
    used.add(pt);
    out.push({ pt, name: template.name, clockRate: rate, channels: 1, fmtp: template.fmtp ?? '0-15' });
  }
  return out;
}

/** telephone-event at each audio clock rate of the offer, for an offerer that has none (`transcode: [telephone-event]`). */
function dtmfForOffererWithout(offer: SdpCodec[], added: SdpCodec[], used: Set<number>): SdpCodec[] {
  const rates = new Set([...offer, ...added].filter((c) => !isSupplemental(c) && !isTelephoneEvent(c)).map((c) => c.clockRate));
  return [...rates].map((clockRate) => {
    const pt = freeDynamicPt(used);
    used.add(pt);
    return { pt, name: 'telephone-event', clockRate, channels: 1, fmtp: '0-15' };
  });
}

/**
 * telephone-event at a clock rate whose audio codecs we took away has nothing to ride on (a
 * browser's telephone-event/48000 once Opus is masked toward a G.711 phone): rtpengine drops it, so
 * do we. Rates we did not touch keep whatever the offerer wrote.
 */
function dropStrayDtmf(codecs: SdpCodec[], touched: Set<number>): void {
  for (let i = codecs.length - 1; i >= 0; i--) {
    const c = codecs[i];
    if (!isTelephoneEvent(c) || !touched.has(c.clockRate)) continue;
    if (!codecs.some((a) => !isSupplemental(a) && a.clockRate === c.clockRate)) codecs.splice(i, 1);
  }
}

function freeDynamicPt(used: Set<number>): number {
  for (let pt = 96; pt <= 127; pt++) if (!used.has(pt)) return pt;
  for (let pt = 35; pt <= 63; pt++) if (!used.has(pt)) return pt;
  return 127;
}

export interface CodecMapping {
  /** Payload type as the offerer sends/receives it. */
  offererPt: number;
  /** Payload type as the answerer sends/receives it. */
  answererPt: number;
  offererCodec: SdpCodec;
  answererCodec: SdpCodec;
  /** Sample conversion needed between the two. */
  transcode: boolean;
}

export interface AnswerCodecPlan {
  /** What goes in the answer to the offerer. */
  offererAnswer: SdpCodec[];
  /** Payload mappings when transcoding is engaged; empty for plain pass-through. */
  mappings: CodecMapping[];
  transcoding: boolean;
  /**
   * Transcoding where only one side has telephone-event and the other speaks G.711: that side's
   * events become in-band tones toward the other, whose in-band DTMF becomes events (worker/inband-dtmf.ts).
   */
  inbandDtmf?: { eventSide: 'offerer' | 'answerer'; pt: number; clockRate: number };
  /** The audio codec each side ends up using (for stats and repacketization). */
  offererMain?: SdpCodec;
  answererMain?: SdpCodec;
  warnings: string[];
}

/**
 * Decides what the offerer gets in the answer. If the answerer picked a codec the offerer
 * has, media passes through untouched; if it picked one we added, we transcode from the
 * offerer's most preferred convertible codec. telephone-event survives when both sides have
 * it: the offerer gets back its own payload type, preferably at its audio codec's clock rate
 * (Opus 48 kHz ↔ G.711 8 kHz events are converted by the worker, same-rate ones only mapped).
 */
export function planAnswerCodecs(
  offer: OfferCodecPlan,
  answerer: SdpCodec[],
  opts: { alwaysTranscode: boolean },
  caps: CodecCapabilities,
): AnswerCodecPlan {
  const canTranscode = (from: SdpCodec, to: SdpCodec): boolean => caps.canTranscode(from.name, to.name);
  const warnings: string[] = [];
  const bMain = answerer.find((c) => !isSupplemental(c));
  if (bMain === undefined) {
    return { offererAnswer: answerer, mappings: [], transcoding: false, warnings };
  }
  const aSame = offer.offererCodecs.find((c) => !isSupplemental(c) && sameFormat(c, bMain));
  const aFirst = offer.offererCodecs.find((c) => !isSupplemental(c));
  const passThrough = aSame !== undefined && !(opts.alwaysTranscode && aFirst !== undefined && !sameFormat(aFirst, bMain) && canTranscode(aFirst, bMain));

  if (passThrough) {
    // The answerer used our offer's payload types, which are the offerer's: nothing to rewrite,
    // unless it picked a codec we added (then its PT is ours and must be mapped back).
    const mappings: CodecMapping[] = [];
    const offererAnswer = answerer.map((c) => {
      const a = offer.offererCodecs.find((x) => sameFormat(x, c));
      if (a === undefined || a.pt === c.pt) return c;
      mappings.push({ offererPt: a.pt, answererPt: c.pt, offererCodec: a, answererCodec: c, transcode: false });
      return { ...c, pt: a.pt };
    });
    return { offererAnswer, mappings, transcoding: false, offererMain: aSame, answererMain: bMain, warnings };
  }

  const aMain = opts.alwaysTranscode && aFirst !== undefined && canTranscode(aFirst, bMain)
    ? aFirst
    : offer.offererCodecs.find((c) => !isSupplemental(c) && canTranscode(c, bMain));
  if (aMain === undefined) {
    warnings.push(`answer codec ${bMain.name} cannot be transcoded to anything the offerer has`);
    return { offererAnswer: answerer, mappings: [], transcoding: false, answererMain: bMain, warnings };
  }
  const mappings: CodecMapping[] = [{ offererPt: aMain.pt, answererPt: bMain.pt, offererCodec: aMain, answererCodec: bMain, transcode: true }];
  const offererAnswer: SdpCodec[] = [aMain];
  // Each side's telephone-event at its own audio clock when it has one (the worker converts the
  // timestamps and durations between them); otherwise the same rate on both, as before.
  const bDtmf = answerer.find((c) => isTelephoneEvent(c) && c.clockRate === bMain.clockRate) ?? answerer.find(isTelephoneEvent);
  const aDtmfs = offer.offererCodecs.filter(isTelephoneEvent);
  const aDtmf = bDtmf === undefined
    ? undefined
    : (aDtmfs.find((c) => c.clockRate === aMain.clockRate) ?? aDtmfs.find((c) => c.clockRate === bDtmf.clockRate));
  let inbandDtmf: AnswerCodecPlan['inbandDtmf'];
  if (bDtmf !== undefined && aDtmf !== undefined) {
    offererAnswer.push(aDtmf);
    mappings.push({ offererPt: aDtmf.pt, answererPt: bDtmf.pt, offererCodec: aDtmf, answererCodec: bDtmf, transcode: false });
  } else if (bDtmf !== undefined && aDtmfs.length === 0 && isG711(aMain)) {
    inbandDtmf = { eventSide: 'answerer', pt: bDtmf.pt, clockRate: bDtmf.clockRate };
  } else if (bDtmf === undefined && isG711(bMain) && offer.dtmfTranscode === true) {
    // The offerer keeps its events (at its audio clock when it has them there); the answerer hears tones.
    const own = aDtmfs.find((c) => c.clockRate === aMain.clockRate) ?? aDtmfs[0];
    if (own !== undefined) {
      offererAnswer.push(own);
      inbandDtmf = { eventSide: 'offerer', pt: own.pt, clockRate: own.clockRate };
    }
  }
  return { offererAnswer, mappings, transcoding: true, offererMain: aMain, answererMain: bMain, warnings, ...(inbandDtmf !== undefined ? { inbandDtmf } : {}) };
}
