/** Just enough SDP (RFC 4566) for the bench: build one audio m-line, read back address, port, ptime. */
import type { Codec } from './scenario.js';

/** RTP payload types: G.711's static ones (RFC 3551); Opus on 111, where browsers put it. */
export const PT: Record<Codec, number> = { PCMU: 0, PCMA: 8, opus: 111 };

/** a=rtpmap (and a=fmtp) of a codec; Opus is always `opus/48000/2` in SDP (RFC 7587 §7). */
function rtpmap(codec: Codec): string[] {
  const pt = PT[codec];
  if (codec === 'opus') return [`a=rtpmap:${pt} opus/48000/2`, `a=fmtp:${pt} minptime=10;useinbandfec=1`];
  return [`a=rtpmap:${pt} ${codec}/8000`];
}

export function buildSdp(opts: { sessionId: number; port: number; codec: Codec; ptime: number }): string {
  const pt = PT[opts.codec];
  return (
    [
      'v=0',
      `o=- ${opts.sessionId} 1 IN IP4 127.0.0.1`,
      's=tandem-bench',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${opts.port} RTP/AVP ${pt}`,
      ...rtpmap(opts.codec),
      `a=ptime:${opts.ptime}`,
      'a=sendrecv',
    ].join('\r\n') + '\r\n'
  );
}

export interface RemoteMedia {
  address: string;
  port: number;
  payloadTypes: number[];
  ptime?: number;
  rtcpPort?: number;
}

export function parseSdp(sdp: string): RemoteMedia {
  let sessionAddr: string | undefined;
  let mediaAddr: string | undefined;
  let port: number | undefined;
  let pts: number[] = [];
  let ptime: number | undefined;
  let rtcpPort: number | undefined;
  let inAudio = false;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      const m = /^m=(\w+) (\d+)(?:\/\d+)? \S+ ?(.*)$/.exec(line);
      inAudio = m?.[1] === 'audio' && port === undefined;
      if (inAudio && m) {
        port = Number(m[2]);
        pts = m[3].split(' ').filter(Boolean).map(Number);
      }
    } else if (line.startsWith('c=')) {
      const a = /^c=IN IP4 (\S+)/.exec(line)?.[1];
      if (port === undefined) sessionAddr = a;
      else if (inAudio) mediaAddr = a;
    } else if (inAudio && line.startsWith('a=ptime:')) {
      ptime = Number(line.slice(8));
    } else if (inAudio && line.startsWith('a=rtcp:')) {
      rtcpPort = Number(line.slice(7).split(' ')[0]);
    }
  }
  const address = mediaAddr ?? sessionAddr;
  if (port === undefined || !address) throw new Error(`SDP without audio address/port:\n${sdp}`);
  return { address, port, payloadTypes: pts, ptime, rtcpPort };
}
