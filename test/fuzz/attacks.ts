import type { FuzzCase } from './harness.js';

/**
 * The attacks of issue 10 ("Hostile peers") that this fuzzer found before they were fixed. Cases
 * matching one are sent like any other and counted by id; the suite checks that the default seeds
 * still produce each of them, so the fuzzer keeps guarding the fixes.
 */
export interface KnownAttack {
  id: string;
  what: string;
  targets: readonly string[];
  matches(c: FuzzCase): boolean;
}

/**
 * The RTCP port an SDP implies is not a port: m= port 65535 (RTCP on +1), a=rtcp:0, a=rtcp:70000,
 * and (found by this fuzzer, same missing check) a=rtcp values that are not digits at all:
 * a=rtcp:-1, a=rtcp:abc, an empty a=rtcp:.
 */
function rtcpPortOutOfRange(sdp: string): boolean {
  if (/^m=[^ \r\n]* +65535\b/m.test(sdp)) return true;
  for (const m of sdp.matchAll(/a=rtcp:([^\r\n]*)/g)) {
    const v = /^ *(\d+)(?: |$)/.exec(m[1]);
    if (v === null) return true;
    const p = Number(v[1]);
    if (p === 0 || p > 65535) return true;
  }
  return false;
}

export const ISSUE_10_ATTACKS: KnownAttack[] = [
  {
    id: 'rtcp-port-out-of-range',
    what: 'media worker dies relaying RTCP to a port that is not one (m=audio 65535, a=rtcp:0, a=rtcp:70000; also a=rtcp:-1, a=rtcp:abc, a=rtcp:)',
    targets: ['ng', 'sip-udp', 'sip-tcp'],
    matches: (c) => c.sdp !== undefined && rtcpPortOutOfRange(c.sdp),
  },
  {
    id: 'all-digit-codec-name',
    what: 'an INVITE whose SDP has an all-digit encoding name (a=rtpmap:8 1234/8000) never gets a final response',
    targets: ['sip-udp', 'sip-tcp'],
    matches: (c) => c.sdp !== undefined && /a=rtpmap: *\d+ +\d+(\/|\s|$)/m.test(c.sdp),
  },
  {
    id: 'first-packet-latching',
    what: "a stranger's packet sent before the peer's first one is latched as the peer, and the real peer is cut off",
    targets: ['media'],
    matches: (c) => c.kind === 'stranger-first',
  },
  {
    id: 'ng-cookie-cache',
    what: "the ng reply cache is keyed by cookie only: another client's request with a used cookie gets the old reply",
    targets: ['ng'],
    matches: (c) => c.kind === 'cookie-reuse',
  },
];
