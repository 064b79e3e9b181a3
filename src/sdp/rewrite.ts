import { setMediaCodecs, serializeSdp, type ParsedSdp, type SdpCodec } from './sdp.js';

/** What one m= line becomes on its way out. */
export interface MediaRewrite {
  port: number;
  rtcpPort: number;
  rtcpMux: boolean;
  /**
   * rtcp-mux offered but not required (RFC 5761 §5.1.3): a=rtcp and the ICE candidates still name
   * the separate RTCP port, in case the answerer declines multiplexing.
   */
  rtcpFallback?: boolean;
  /** Leave a=rtcp out (`no-rtcp-attribute`; some WebRTC stacks reject its short form). */
  noRtcpAttribute?: boolean;
  codecs?: SdpCodec[];
  ptime?: number;
  /** We do not run ICE (yet): the peer's candidates would point around us. */
  removeIce: boolean;
  /** A new transport profile (RTP/AVP ↔ RTP/SAVP bridging). */
  protocol?: string;
  /** SDES a=crypto lines to put instead of the input's; `[]` removes them. Unset: left as they are. */
  crypto?: { id: number; suite: string; config: string }[];
  /** Our ICE-lite credentials and host candidate for this m= line (after the peer's ICE is removed). */
  ice?: { ufrag: string; pwd: string };
  /** a=mid to carry (the offerer's, in an answer to it). */
  mid?: string;
  /** DTLS-SRTP: our fingerprint and role (`a=fingerprint`, `a=setup`), or `remove` to drop the peer's. */
  dtls?: { fingerprint: string; setup: 'active' | 'passive' | 'actpass' } | 'remove';
}

export interface SdpRewrite {
  address: string;
  family: 'IP4' | 'IP6';
  replaceOrigin: boolean;
  /** One entry per m= line; null leaves a line alone (a rejected stream, port 0). */
  media: (MediaRewrite | null)[];
  /** a=group lines to set (BUNDLE in an answer to a WebRTC offerer). */
  groups?: { type: string; mids: string }[];
}

/**
 * Puts the media server into the SDP: every connection line that governs a rewritten m= line
 * points at us, ports are ours, a=rtcp names our RTCP port (as rtpengine does), and the
 * codec list and ptime are what negotiation decided. Pure: text in, text out.
 */
export function rewriteSdp(input: ParsedSdp, rw: SdpRewrite): string {
  const p: ParsedSdp = { session: structuredClone(input.session), originIds: input.originIds };
  const s = p.session;
  const ipVer = rw.family === 'IP6' ? 6 : 4;
  if (rw.replaceOrigin) {
    s.origin.address = rw.address;
    s.origin.ipVer = ipVer;
  }
  const allRewritten = s.media.every((_m, i) => rw.media[i] !== null && rw.media[i] !== undefined);
  if (s.connection !== undefined && allRewritten) s.connection = { version: ipVer, ip: rw.address };

  s.media.forEach((m, i) => {
    const r = rw.media[i];
    if (r === null || r === undefined) return;
    m.port = r.port;
    if (m.connection !== undefined || s.connection === undefined || !allRewritten) m.connection = { version: ipVer, ip: rw.address };
    if (r.codecs !== undefined) setMediaCodecs(m, r.codecs);
    if (r.ptime !== undefined) m.ptime = r.ptime;
    if (r.rtcpMux) {
      m.rtcpMux = 'rtcp-mux';
      m.rtcp = { port: r.rtcpFallback === true ? r.rtcpPort : r.port };
    } else {
      delete m.rtcpMux;
      m.rtcp = { port: r.rtcpPort };
    }
    if (r.noRtcpAttribute === true) delete m.rtcp;
    if (m.direction === undefined) m.direction = 'sendrecv';
    if (r.protocol !== undefined) m.protocol = r.protocol;
    if (r.crypto !== undefined) {
      if (r.crypto.length === 0) delete m.crypto;
      else m.crypto = r.crypto.map((c) => ({ ...c }));
    }
    if (r.removeIce || r.ice !== undefined) {
      delete m.candidates;
      delete m.iceUfrag;
      delete m.icePwd;
      delete m.iceOptions;
      delete m.endOfCandidates;
      delete m.remoteCandidates;
    }
    if (r.mid !== undefined) m.mid = r.mid;
    if (r.dtls !== undefined) {
      delete m.fingerprint;
      delete m.setup;
      // Toward a plain RTP endpoint the WebRTC bundling attributes mean nothing (RFC 9143 needs DTLS-era peers).
      if (r.dtls === 'remove') delete m.mid;
      if (r.dtls !== 'remove') {
        const [type, hash] = r.dtls.fingerprint.split(' ');
        m.fingerprint = { type, hash };
        m.setup = r.dtls.setup;
      }
    }
    if (r.ice !== undefined) {
      // One host candidate per component (RFC 8445 §5.1.2: type preference 126 for host).
      m.iceUfrag = r.ice.ufrag;
      m.icePwd = r.ice.pwd;
      const cand = (component: number, port: number) => ({ foundation: '1', component, transport: 'UDP', priority: (126 << 24) | (65535 << 8) | (256 - component), ip: rw.address, port, type: 'host' });
      m.candidates = r.rtcpMux && r.rtcpFallback !== true ? [cand(1, r.port)] : [cand(1, r.port), cand(2, r.rtcpPort)];
      m.endOfCandidates = 'end-of-candidates';
    }
  });
  if (rw.media.some((r) => r?.removeIce || r?.ice !== undefined)) {
    delete s.iceUfrag;
    delete s.icePwd;
    delete s.iceOptions;
    delete s.icelite;
  }
  if (rw.groups !== undefined) s.groups = rw.groups.map((g) => ({ ...g }));
  else if (rw.media.some((r) => r?.dtls === 'remove')) delete s.groups;
  // Fingerprints are per m= line here; a session-level one would contradict ours.
  if (rw.media.some((r) => r?.dtls !== undefined)) delete s.fingerprint;
  // A lite agent says so at session level (RFC 8839 §5.3).
  if (rw.media.some((r) => r?.ice !== undefined)) s.icelite = 'ice-lite';
  return serializeSdp(p);
}
