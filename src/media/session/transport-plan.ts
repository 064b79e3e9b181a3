import { randomBytes } from 'node:crypto';
import type { MediaOptions } from '../api.js';
import { mediaCodecs, mediaConnection, isRtpMedia, type ParsedSdp, type SdpCodec } from '../../sdp/sdp.js';
import { isG711 } from '../../sdp/negotiate.js';
import type { MediaRewrite } from '../../sdp/rewrite.js';
import { checkAddress, checkPorts } from './endpoint.js';
import type { CallMedia, IceCredentials, PeerMedia, Side } from './call.js';

/**
 * The transport rules of offer/answer, one m= line at a time: where the peer is, rtcp-mux, ptime
 * framing, ICE-lite credentials, a=mid and BUNDLE, and the warnings for what we carry but do not
 * terminate. No sockets, no worker: SDP and options in, decisions out.
 */

type SdpMedia = ParsedSdp['session']['media'][number];

/** What a peer said about m= line i, its addresses checked (endpoint.ts) before a worker sees them. */
export function peerMedia(sdp: ParsedSdp, i: number, options: MediaOptions, callId: string, warnings: string[]): PeerMedia {
  const m = sdp.session.media[i];
  const conn = mediaConnection(sdp, m);
  // rtpengine trusts the SDP address unless told to use the signalling source instead.
  const address = options.sipSourceAddress && options.receivedFrom !== undefined ? options.receivedFrom.address : conn?.address;
  const ports = checkPorts(m.port, m.rtcp?.port, i, callId);
  warnings.push(...ports.ignored);
  if (m.port !== 0 && address !== undefined) checkAddress(address, 'connection address', i, callId);
  if (m.port !== 0 && m.rtcp?.address !== undefined) checkAddress(m.rtcp.address, 'a=rtcp address', i, callId);
  return {
    type: m.type,
    protocol: m.protocol,
    codecs: isRtpMedia(m) ? mediaCodecs(m) : [],
    address,
    family: conn?.family ?? 'IP4',
    port: m.port,
    rtcpPort: ports.rtcpPort,
    rtcpAddress: m.rtcp?.address,
    rtcpMux: m.rtcpMux !== undefined,
    ptime: m.ptime,
    ...(m.mid !== undefined ? { mid: String(m.mid) } : {}),
    options,
  };
}

/** rtcp-mux toward the answerer of an offer (RFC 5761), as the MediaRewrite fields say it. */
export function offerRtcpMux(offererMuxes: boolean, o: MediaOptions): Pick<MediaRewrite, 'rtcpMux' | 'rtcpFallback'> {
  const kept = offererMuxes && !o.rtcpMux.includes('demux') && !o.rtcpMux.includes('reject');
  // rtcp-mux-offer/require (RFC 5761 §5.1.3): offered to the answerer even if the offerer does
  // not multiplex; with `offer` alone a=rtcp still names the separate port in case it declines.
  const required = o.rtcpMux.includes('require');
  const offered = required || o.rtcpMux.includes('offer');
  return { rtcpMux: kept || offered, ...(!kept && offered && !required ? { rtcpFallback: true } : {}) };
}

/**
 * rtcp-mux back to the offerer: when it offered it and the answerer muxes too, or when the offer
 * or the answer said `accept` or `demux` (rtpengine: demux = not offered onward, accepted back).
 */
export function answerRtcpMux(offererMuxes: boolean, answererMuxes: boolean, answerOptions: MediaOptions, offerOptions: MediaOptions): boolean {
  const acceptMux = (o: MediaOptions): boolean => o.rtcpMux.includes('accept') || o.rtcpMux.includes('demux');
  return offererMuxes && (answererMuxes || acceptMux(answerOptions) || acceptMux(offerOptions));
}

export interface Framing {
  /** Frame length (ms) we cut toward each party; 0 leaves its media as it comes. */
  toAnswerer: number;
  toOfferer: number;
  /** The a=ptime the answer to the offerer carries, if a ptime was asked for. */
  ptimeToOfferer: number | undefined;
}

/**
 * Repacketize only where a ptime was asked for (rtpengine reads ptime keys in offers only):
 * `ptime` towards the answerer, `ptime-reverse` towards the offerer, which otherwise gets its own
 * ptime back if the answerer was moved to another one. Frames are cut where G.711 goes out, whatever
 * came in (G.711 of another ptime, or Opus decoded); Opus itself always goes out in 20 ms frames.
 */
export function framing(
  offerOptions: MediaOptions, offerer: PeerMedia, answerer: PeerMedia,
  codecs: { toAnswerer: SdpCodec | undefined; toOfferer: SdpCodec | undefined }, warnings: string[],
): Framing {
  const toAnswerer = offerOptions.ptime ?? 0;
  let toOfferer = offerOptions.ptimeReverse ?? (toAnswerer > 0 ? offerer.ptime ?? 20 : 0);
  if (toOfferer > 0 && toOfferer === (toAnswerer || answerer.ptime)) toOfferer = 0;
  const framed = (ms: number, c: SdpCodec | undefined, who: string): number => {
    if (ms === 0 || (c !== undefined && isG711(c))) return ms;
    if (!(ms === 20 && c?.name.toLowerCase() === 'opus')) warnings.push(`ptime ${ms} toward the ${who} needs G.711 there (${c?.name ?? 'no codec'}); media keeps its framing`);
    return 0;
  };
  return {
    toAnswerer: framed(toAnswerer, codecs.toAnswerer, 'answerer'),
    toOfferer: framed(toOfferer, codecs.toOfferer, 'offerer'),
    ptimeToOfferer: toOfferer > 0 ? toOfferer : toAnswerer > 0 ? offerer.ptime ?? 20 : undefined,
  };
}

export function iceCredentials(): IceCredentials {
  // ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.4): ufrag ≥ 4, pwd ≥ 22 characters.
  const chars = (n: number): string => randomBytes(n).toString('base64').replace(/[^A-Za-z0-9+/]/g, 'x').slice(0, n);
  return { ufrag: chars(8), pwd: chars(24) };
}

/**
 * ICE-lite per side on an offer: an offerer that does ICE is answered as a lite agent (its checks
 * reach our port and get answered), and ICE=force/lite makes us a lite agent toward the recipient
 * as well. Credentials are made once per side and kept, so a re-offer does not restart ICE.
 */
export function iceOffer(sdp: ParsedSdp, m: SdpMedia, media: CallMedia, offerSide: Side, answerSide: Side, o: MediaOptions): { ice?: IceCredentials } {
  const offererDoesIce = m.iceUfrag !== undefined || sdp.session.iceUfrag !== undefined;
  // ICE=remove strips ICE from the offer going on; the offerer, if it does ICE, is still answered as
  // a lite agent unless the offer says `reject ICE` (rtpengine's split between the two).
  media.ice[offerSide] = offererDoesIce && o.rejectIce !== true ? (media.ice[offerSide] ?? iceCredentials()) : undefined;
  media.ice[answerSide] = o.ice === 'force' || o.ice === 'lite' ? (media.ice[answerSide] ?? iceCredentials()) : undefined;
  return media.ice[answerSide] !== undefined ? { ice: media.ice[answerSide] } : {};
}

/**
 * ICE in an answer speaks for the offerer's side, the one the answer goes to: Kamailio's WebRTC
 * configs remove ICE toward the phone on the offer and force it toward the browser on the reply.
 */
export function iceAnswer(media: CallMedia, offerSide: Side, o: MediaOptions): void {
  if (o.ice === 'force' || o.ice === 'lite') media.ice[offerSide] ??= iceCredentials();
  else if (o.ice === 'remove') media.ice[offerSide] = undefined;
}

/** A mid for an m= line that has none (`generate-mid`): its index, unless another line uses it. */
export function freshMid(used: Set<string>, index: number): string {
  let n = index;
  while (used.has(String(n))) n++;
  used.add(String(n));
  return String(n);
}

/**
 * `generate-mid` toward a WebRTC peer: a=group:BUNDLE naming the one m= line. Each m= line here
 * has its own ports, so with several lines no group is offered: a peer that bundled them would
 * send everything to the first line's port.
 */
export function bundleGroup(sdp: ParsedSdp, rewrites: (MediaRewrite | null)[], generateMid: boolean): { type: string; mids: string }[] | undefined {
  if (!generateMid || (sdp.session.groups?.length ?? 0) > 0) return undefined;
  const live = sdp.session.media.map((m, i) => ({ m, r: rewrites[i] })).filter((x) => x.r !== null && x.r !== undefined);
  if (live.length !== 1 || sdp.session.media.length !== 1) return undefined;
  const mid = live[0].r?.mid ?? live[0].m.mid;
  return mid === undefined ? undefined : [{ type: 'BUNDLE', mids: String(mid) }];
}

/** Things in an SDP we carry but do not terminate: say so instead of ignoring them. */
export function sdpWarnings(sdp: ParsedSdp, options: MediaOptions, dtlsTerminated: boolean): string[] {
  const w: string[] = [];
  const ms = sdp.session.media;
  if (options.transportProtocol === undefined && ms.some((m) => m.crypto !== undefined && m.crypto.length > 0))
    w.push('a=crypto passed through end to end (no transport-protocol given: SRTP is not terminated, no transcoding possible)');
  if (!dtlsTerminated && (ms.some((m) => m.fingerprint !== undefined) || sdp.session.fingerprint !== undefined))
    w.push('a=fingerprint passed through end to end (no transport-protocol given: DTLS-SRTP is not terminated)');
  if (options.ice === 'remove' && (ms.some((m) => m.candidates !== undefined || m.iceUfrag !== undefined) || sdp.session.iceUfrag !== undefined))
    w.push('ICE removed (ICE=remove): the peer must not need connectivity checks');
  return w;
}
