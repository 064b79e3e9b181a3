import type { AddableCodec, CodecCapabilities } from '../sdp/negotiate.js';

/**
 * What a media node driven over ng can transcode. The ng protocol has no capability query, so this
 * is a documented table: rtpengine's README ("Transcoding") lists G.711 (A/µ-law), G.722, G.723.1,
 * G.729 (through bcg729), Speex, GSM, iLBC, Opus and AMR/AMR-WB, all converted through its decoder
 * to raw audio, so any pair of them. Debian's rtpengine-daemon is built with ffmpeg and bcg729.
 * Against a remote Tandem the table says more than it can do: an offer it cannot transcode then
 * fails at the media node with an ng error, which the B2BUA maps to a final response.
 */
const RTPENGINE_AUDIO: readonly AddableCodec[] = [
  { name: 'PCMU', clockRate: 8000, channels: 1, staticPt: 0 },
  { name: 'GSM', clockRate: 8000, channels: 1, staticPt: 3 },
  { name: 'G723', clockRate: 8000, channels: 1, staticPt: 4 },
  { name: 'PCMA', clockRate: 8000, channels: 1, staticPt: 8 },
  { name: 'G722', clockRate: 8000, channels: 1, staticPt: 9 },
  { name: 'G729', clockRate: 8000, channels: 1, staticPt: 18 },
  { name: 'speex', clockRate: 8000, channels: 1 },
  { name: 'iLBC', clockRate: 8000, channels: 1 },
  { name: 'opus', clockRate: 48000, channels: 2, fmtp: 'useinbandfec=1' },
  { name: 'AMR', clockRate: 8000, channels: 1 },
  { name: 'AMR-WB', clockRate: 16000, channels: 1 },
];

function find(name: string): AddableCodec | undefined {
  const n = name.toLowerCase();
  return RTPENGINE_AUDIO.find((c) => c.name.toLowerCase() === n);
}

export const RTPENGINE_CODEC_CAPABILITIES: CodecCapabilities = Object.freeze({
  canTranscode(from: string, to: string): boolean {
    return from.toLowerCase() !== to.toLowerCase() && find(from) !== undefined && find(to) !== undefined;
  },
  addable(name: string): AddableCodec | undefined {
    return find(name);
  },
});
