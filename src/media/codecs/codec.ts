/**
 * The codec registry: which codecs Tandem knows by name and clock rate, their static RTP payload
 * types (RFC 3551 §6, Table 4), and which pairs the local media plane transcodes. This is the one
 * table: the session layer plans offers and answers with `LOCAL_CODEC_CAPABILITIES`, the B2BUA asks
 * the same object through MediaControl, and the worker configuration is derived from its pairs.
 */

export interface CodecInfo {
  /** Canonical encoding name as written in a=rtpmap: upper case for the RFC 3551 names ('PCMU'),
   *  the registered spelling otherwise ('telephone-event', 'opus'). */
  readonly name: string;
  /** RTP clock rate in Hz (the rtpmap rate, not always the sampling rate: G722 says 8000). */
  readonly clockRate: number;
  readonly channels: number;
  /** RFC 3551 static payload type; absent for codecs that only use dynamic types (96–127). */
  readonly staticPt?: number;
  /** The a=fmtp Tandem writes when it adds this codec to an offer. */
  readonly fmtp?: string;
}

export const KNOWN_CODECS: readonly CodecInfo[] = Object.freeze([
  { name: 'PCMU', clockRate: 8000, channels: 1, staticPt: 0 },
  { name: 'PCMA', clockRate: 8000, channels: 1, staticPt: 8 },
  // RFC 3551 §4.5.2: G722 samples at 16 kHz but its RTP clock is 8000 "for historical reasons".
  { name: 'G722', clockRate: 8000, channels: 1, staticPt: 9 },
  { name: 'CN', clockRate: 8000, channels: 1, staticPt: 13 },
  { name: 'G729', clockRate: 8000, channels: 1, staticPt: 18 },
  // RFC 4733 §2.1: telephone-event runs at the clock of the audio it accompanies; 48000 is WebRTC's (with opus).
  { name: 'telephone-event', clockRate: 8000, channels: 1 },
  { name: 'telephone-event', clockRate: 48000, channels: 1 },
  // RFC 7587 §7: always opus/48000/2 in SDP, whatever is actually sent; we send mono voice with in-band FEC.
  { name: 'opus', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' },
].map((c) => Object.freeze(c)));

/** The known codec with this encoding name (any case) and clock rate, or undefined. */
export function lookupCodec(name: string, clockRate: number): CodecInfo | undefined {
  const n = name.toLowerCase();
  return KNOWN_CODECS.find((c) => c.clockRate === clockRate && c.name.toLowerCase() === n);
}

/** The known codec with this static payload type (0–95), or undefined. */
export function codecByStaticPt(pt: number): CodecInfo | undefined {
  return KNOWN_CODECS.find((c) => c.staticPt === pt);
}

/** The audio codecs the local media plane decodes and encodes. */
export type LocalAudioCodec = 'PCMA' | 'PCMU' | 'opus' | 'G722';

/**
 * Pairs the local media plane converts: PCMA↔PCMU by a byte table (g711.ts), G.711↔Opus through
 * the 8↔48 kHz resampler and libopus (worker/opus-transcode.ts), G.722 (g722.ts, 16 kHz audio) with
 * each of the others through the 8↔16 and 16↔48 kHz resamplers (worker/pcm-transcode.ts).
 */
export const LOCAL_TRANSCODING: readonly (readonly [LocalAudioCodec, LocalAudioCodec])[] = [
  ['PCMA', 'PCMU'], ['PCMU', 'PCMA'],
  ['PCMA', 'opus'], ['PCMU', 'opus'], ['opus', 'PCMA'], ['opus', 'PCMU'],
  ['PCMA', 'G722'], ['PCMU', 'G722'], ['opus', 'G722'], ['G722', 'PCMA'], ['G722', 'PCMU'], ['G722', 'opus'],
];

const LOCAL_PAIRS: ReadonlySet<string> = new Set(LOCAL_TRANSCODING.map(([f, t]) => `${f.toLowerCase()}>${t.toLowerCase()}`));

/** The registry's spelling of a codec the local plane handles (any case in), or undefined. */
export function localAudioCodec(name: string): LocalAudioCodec | undefined {
  const n = name.toLowerCase();
  return n === 'pcma' ? 'PCMA' : n === 'pcmu' ? 'PCMU' : n === 'opus' ? 'opus' : n === 'g722' ? 'G722' : undefined;
}

/**
 * What the local media plane can convert and add to offers (sdp/negotiate's CodecCapabilities,
 * matched by shape). False for the same codec on both sides: that needs no transcoding.
 */
export const LOCAL_CODEC_CAPABILITIES = Object.freeze({
  canTranscode(from: string, to: string): boolean {
    return LOCAL_PAIRS.has(`${from.toLowerCase()}>${to.toLowerCase()}`);
  },
  addable(name: string): CodecInfo | undefined {
    const n = name.toLowerCase();
    if (!LOCAL_TRANSCODING.some(([, t]) => t.toLowerCase() === n)) return undefined;
    return KNOWN_CODECS.find((c) => c.name.toLowerCase() === n);
  },
});

/** G.711 payload bytes per millisecond (8000 samples/s, one byte each): 160 bytes for ptime 20. */
export const g711BytesPerMs = 8;
