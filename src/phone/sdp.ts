import { TandemError } from '../common/errors.js';
import { localAudioCodec, type LocalAudioCodec } from '../media/codecs/codec.js';
import { mediaCodecs, mediaConnection, parseSdp } from '../sdp/sdp.js';

/**
 * The phone's SDP: one audio m= line with the codecs of `--codecs` and telephone-event at each of
 * their clock rates (RFC 4733 §2.1), and reading the far end's offer or answer back.
 */
export interface OfferedCodec {
  name: LocalAudioCodec;
  pt: number;
  clockRate: number;
}

const STATIC: Partial<Record<LocalAudioCodec, number>> = { PCMU: 0, PCMA: 8, G722: 9 };
const DTMF_PT: Record<number, number> = { 8000: 101, 48000: 102 };
const OPUS_PT = 111;

/** `--codecs` names → payload types (static for G.711, 111 for Opus). */
export function offeredCodecs(names: readonly LocalAudioCodec[]): OfferedCodec[] {
  return names.map((name) => ({ name, pt: STATIC[name] ?? OPUS_PT, clockRate: name === 'opus' ? 48000 : 8000 }));
}

export interface SdpParams {
  address: string;
  port: number;
  sessionId: number;
  version: number;
  codecs: readonly OfferedCodec[];
  /** telephone-event PT per clock rate; by default 101 at 8 kHz and 102 at 48 kHz. */
  dtmfPts?: Readonly<Record<number, number>>;
}

export function buildSdp(p: SdpParams): string {
  const dtmf = p.dtmfPts ?? DTMF_PT;
  const rates = [...new Set(p.codecs.map((c) => c.clockRate))].filter((r) => dtmf[r] !== undefined);
  const pts = [...p.codecs.map((c) => c.pt), ...rates.map((r) => dtmf[r])];
  const lines = [
    'v=0',
    `o=tandem ${p.sessionId} ${p.version} IN IP4 ${p.address}`,
    's=tandem call',
    `c=IN IP4 ${p.address}`,
    't=0 0',
    `m=audio ${p.port} RTP/AVP ${pts.join(' ')}`,
    ...p.codecs.map((c) => (c.name === 'opus' ? `a=rtpmap:${c.pt} opus/48000/2` : `a=rtpmap:${c.pt} ${c.name}/8000`)),
    ...p.codecs.filter((c) => c.name === 'opus').map((c) => `a=fmtp:${c.pt} minptime=10;useinbandfec=1`),
    ...rates.flatMap((r) => [`a=rtpmap:${dtmf[r]} telephone-event/${r}`, `a=fmtp:${dtmf[r]} 0-16`]),
    'a=ptime:20',
    'a=sendrecv',
  ];
  return `${lines.join('\r\n')}\r\n`;
}

/** What was agreed for the call's audio. */
export interface AgreedMedia {
  address: string;
  port: number;
  codec: OfferedCodec;
  /** telephone-event's PT at the codec's clock rate, if the far end has it. */
  dtmfPt: number | undefined;
}

/**
 * The far end's SDP (offer or answer) → the first of its audio codecs that we have, its address
 * and port, and its telephone-event PT at that clock rate. Faults are BAD_SDP/CODEC errors.
 */
export function agreeMedia(text: string, ours: readonly OfferedCodec[]): AgreedMedia {
  const parsed = parseSdp(text);
  const m = parsed.session.media.find((x) => x.type === 'audio' && x.port !== 0);
  if (m === undefined) throw new TandemError('BAD_SDP', 'no active audio m= line');
  const conn = mediaConnection(parsed, m);
  if (conn === undefined) throw new TandemError('BAD_SDP', 'no c= address for the audio');
  const theirs = mediaCodecs(m);
  for (const c of theirs) {
    const name = localAudioCodec(c.name);
    const mine = name === undefined ? undefined : ours.find((o) => o.name === name && o.clockRate === c.clockRate);
    if (mine === undefined) continue;
    const dtmf = theirs.find((d) => d.name.toLowerCase() === 'telephone-event' && d.clockRate === c.clockRate);
    // Their PT is what they receive (an answer echoes ours; an offer may choose its own).
    return { address: conn.address, port: m.port, codec: { ...mine, pt: c.pt }, dtmfPt: dtmf?.pt };
  }
  throw new TandemError('CODEC', `none of our codecs (${ours.map((o) => o.name).join(', ')}) in ${theirs.map((c) => c.name).join(', ') || 'nothing'}`);
}
