import sdpTransform from 'sdp-transform';
import type { SessionDescription, MediaDescription } from 'sdp-transform';
import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { normalizeSession } from './normalize.js';

export type { SessionDescription, MediaDescription };

/** One payload type of an m= line (RFC 4566 §6 rtpmap/fmtp). */
export interface SdpCodec {
  pt: number;
  name: string;
  clockRate: number;
  channels: number;
  fmtp?: string;
}

/** RFC 3551 §6 static payload types that may appear without an a=rtpmap. */
const STATIC_PT: Record<number, [string, number, number]> = {
  0: ['PCMU', 8000, 1],
  3: ['GSM', 8000, 1],
  4: ['G723', 8000, 1],
  8: ['PCMA', 8000, 1],
  9: ['G722', 8000, 1],
  13: ['CN', 8000, 1],
  18: ['G729', 8000, 1],
};

export interface ParsedSdp {
  session: SessionDescription;
  /** o= line tokens kept as text: session ids are 64-bit and must survive unchanged. */
  originIds: { sessionId: string; sessionVersion: string };
}

const ORIGIN_LINE = /^o=(\S+) (\d+) (\d+) (\S+) (\S+) (\S+)\s*$/m;

/** Parses and validates an SDP body (RFC 4566). Anything we cannot use is a BAD_SDP error. */
export function parseSdp(text: string): ParsedSdp {
  if (typeof text !== 'string' || text.trim() === '') throw new TandemError('BAD_SDP', 'empty SDP');
  if (!/^v=0\r?$/m.test(text.split('\n', 1)[0] ?? '')) throw new TandemError('BAD_SDP', 'SDP must start with v=0');
  const origin = ORIGIN_LINE.exec(text);
  if (origin === null) throw new TandemError('BAD_SDP', 'missing or malformed o= line');
  let session: SessionDescription;
  try {
    session = normalizeSession(sdpTransform.parse(text));
  } catch (e) {
    throw new TandemError('BAD_SDP', `unparseable SDP: ${e instanceof Error ? e.message : String(e)}`);
  }
  const media = session.media ?? [];
  if (media.length === 0) throw new TandemError('BAD_SDP', 'SDP has no m= line');
  media.forEach((m, i) => {
    if (typeof m.type !== 'string' || !Number.isInteger(m.port) || m.port < 0 || m.port > 65535)
      throw new TandemError('BAD_SDP', `m= line ${i} has no valid port`);
    if (typeof m.protocol !== 'string' || m.protocol === '') throw new TandemError('BAD_SDP', `m= line ${i} has no protocol`);
    const pts = payloadTypes(m);
    if (pts === null) throw new TandemError('BAD_SDP', `m= line ${i} has invalid payload types`);
    for (const r of m.rtp ?? []) {
      // A clock rate of 0 or a channel count that is not a small positive integer makes no codec;
      // downstream they would divide by zero or size buffers from them. An empty one
      // (`a=rtpmap:8 PCMA/`) is read as absent, as before: the codec's default applies.
      const rate: unknown = r.rate;
      if (typeof rate === 'number' && !(Number.isInteger(rate) && rate >= 1 && rate <= 10_000_000))
        throw new TandemError('BAD_SDP', `m= line ${i}: a=rtpmap:${r.payload} has clock rate ${rate}`);
      const ch: unknown = r.encoding;
      if (ch !== undefined && ch !== '' && !(typeof ch === 'number' && Number.isInteger(ch) && ch >= 1 && ch <= 255))
        throw new TandemError('BAD_SDP', `m= line ${i}: a=rtpmap:${r.payload} has encoding parameters "${String(ch)}" (channels 1–255 expected)`);
    }
    if (m.port !== 0 && m.connection?.ip === undefined && session.connection?.ip === undefined)
      throw new TandemError('BAD_SDP', `m= line ${i} has no c= address (session or media level)`);
    // Media goes wherever the SDP says: only IP literals, never a name we would have to resolve.
    if (m.connection !== undefined && isIP(m.connection.ip.split('/')[0]) === 0)
      throw new TandemError('BAD_SDP', `m= line ${i}: c= address "${m.connection.ip}" is not an IP address`);
    if (m.rtcp?.address !== undefined && isIP(m.rtcp.address) === 0)
      throw new TandemError('BAD_SDP', `m= line ${i}: a=rtcp address "${m.rtcp.address}" is not an IP address`);
  });
  if (session.connection !== undefined && isIP(session.connection.ip.split('/')[0]) === 0)
    throw new TandemError('BAD_SDP', `c= address "${session.connection.ip}" is not an IP address`);
  return { session, originIds: { sessionId: origin[2], sessionVersion: origin[3] } };
}

/** RTP payload type numbers of an m= line, or null if any is not a number 0–127. */
export function payloadTypes(m: MediaDescription): number[] | null {
  const raw = String(m.payloads ?? '').trim();
  if (raw === '') return [];
  if (!m.protocol.includes('RTP')) return [];
  const out: number[] = [];
  for (const tok of raw.split(/\s+/)) {
    if (!/^\d{1,3}$/.test(tok)) return null;
    const pt = Number(tok);
    if (pt > 127) return null;
    out.push(pt);
  }
  return out;
}

export function isRtpMedia(m: MediaDescription): boolean {
  return m.protocol.includes('RTP');
}

/** The codecs of an m= line in offer order. */
export function mediaCodecs(m: MediaDescription): SdpCodec[] {
  const pts = payloadTypes(m) ?? [];
  return pts.map((pt) => {
    const map = m.rtp.find((r) => r.payload === pt);
    const fmtp = m.fmtp.find((f) => f.payload === pt)?.config;
    if (map !== undefined) {
      // parseSdp let through only numbers in range or nothing (an empty field) for these two.
      const rate: unknown = map.rate;
      const ch: unknown = map.encoding;
      return {
        pt,
        name: map.codec,
        clockRate: typeof rate === 'number' ? rate : (STATIC_PT[pt]?.[1] ?? 8000),
        channels: typeof ch === 'number' ? ch : 1,
        ...(fmtp !== undefined ? { fmtp } : {}),
      };
    }
    const st = STATIC_PT[pt];
    return { pt, name: st?.[0] ?? `PT${pt}`, clockRate: st?.[1] ?? 8000, channels: st?.[2] ?? 1, ...(fmtp !== undefined ? { fmtp } : {}) };
  });
}

/** Replaces the codec list of an m= line, keeping payloads, rtpmap, fmtp and rtcp-fb in step. */
export function setMediaCodecs(m: MediaDescription, codecs: SdpCodec[]): void {
  const keep = new Set(codecs.map((c) => c.pt));
  m.payloads = codecs.map((c) => c.pt).join(' ');
  m.rtp = codecs.map((c) => ({
    payload: c.pt,
    codec: c.name,
    rate: c.clockRate,
    ...(c.channels > 1 ? { encoding: c.channels } : {}),
  }));
  m.fmtp = codecs.filter((c) => c.fmtp !== undefined).map((c) => ({ payload: c.pt, config: c.fmtp as string }));
  if (m.rtcpFb !== undefined) {
    m.rtcpFb = m.rtcpFb.filter((fb) => fb.payload === '*' || keep.has(Number(fb.payload)));
    if (m.rtcpFb.length === 0) delete m.rtcpFb;
  }
}

export function serializeSdp(p: ParsedSdp): string {
  let out = sdpTransform.write(p.session);
  // sdp-transform writes the session version through Number(): put back the exact digits.
  out = out.replace(/^o=(\S+) \S+ \S+ /m, (_all, user: string) => `o=${user} ${p.originIds.sessionId} ${p.originIds.sessionVersion} `);
  return out;
}

/** Address and port the peer wants to receive RTP on for media i. */
export function mediaConnection(p: ParsedSdp, m: MediaDescription): { address: string; family: 'IP4' | 'IP6' } | undefined {
  const c = m.connection ?? p.session.connection;
  if (c === undefined) return undefined;
  return { address: c.ip.split('/')[0], family: c.version === 6 ? 'IP6' : 'IP4' };
}

/** The codec names of an SDP's active audio m= lines, in order (empty for SDP that does not parse). */
export function audioCodecNames(text: string): string[] {
  try {
    return parseSdp(text).session.media.filter((m) => m.type === 'audio' && m.port !== 0).flatMap((m) => mediaCodecs(m).map((c) => c.name));
  } catch {
    return [];
  }
}
