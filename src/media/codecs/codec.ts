/**
 * The codec registry the SDP and session code use: which codecs Tandem knows by name and clock rate,
 * their static RTP payload types (RFC 3551 §6, Table 4), and which pairs the media plane can transcode.
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
  // RFC 7587 §7: always opus/48000/2 in SDP, whatever is actually sent.
  { name: 'opus', clockRate: 48000, channels: 2 },
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

/** Pairs (lower-case "from>to") the media plane converts. PCMA↔PCMU: a byte table (see g711.ts). */
const TRANSCODABLE: ReadonlySet<string> = new Set(['pcma>pcmu', 'pcmu>pcma']);

/**
 * Whether the media plane can convert `fromName` to `toName` (names in any case). False for the same
 * codec on both sides: that needs no transcoding, so callers test for equality first.
 */
export function canTranscode(fromName: string, toName: string): boolean {
  return TRANSCODABLE.has(`${fromName.toLowerCase()}>${toName.toLowerCase()}`);
}

/** G.711 payload bytes per millisecond (8000 samples/s, one byte each): 160 bytes for ptime 20. */
export const g711BytesPerMs = 8;
