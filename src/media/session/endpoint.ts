import { isIP } from 'node:net';
import { TandemError } from '../../common/errors.js';

/**
 * Where a peer's media goes, checked before it reaches a worker: an address or port the kernel
 * would refuse makes dgram.send throw inside a socket handler, which ends the worker and every
 * call on it. What the SDP (or the signalling source) says is untrusted network input.
 */

export interface CheckedEndpoint {
  /** RTP port (1..65535), or 0 for a disabled m= line. */
  port: number;
  /** RTCP port, or undefined when there is none we could send to (m= 65535 without rtcp-mux). */
  rtcpPort: number | undefined;
  /** a=rtcp values we ignored, for the warnings of the reply. */
  ignored: string[];
}

export function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * A unicast IP literal, or the unspecified address (hold, or a WebRTC answer's c=0.0.0.0 whose real
 * peer comes from ICE or DTLS). Multicast and broadcast are refused: we would spray media at a group.
 */
export function unicastProblem(address: string): string | undefined {
  const v = isIP(address);
  if (v === 0) return 'is not an IP address';
  if (v === 4) {
    const first = Number(address.split('.')[0]);
    if (first >= 224 && first <= 239) return 'is a multicast address';
    if (address === '255.255.255.255' || first >= 240) return 'is a broadcast or reserved address';
    return undefined;
  }
  if (/^ff/i.test(address)) return 'is a multicast address';
  return undefined;
}

/** Throws a BAD_SDP error naming the m= line when the address cannot carry unicast media. */
export function checkAddress(address: string, what: string, mediaIndex: number, callId: string): void {
  const problem = unicastProblem(address);
  if (problem !== undefined) throw new TandemError('BAD_SDP', `m= line ${mediaIndex}: ${what} "${address}" ${problem}`, { 'call-id': callId });
}

/**
 * The RTP/RTCP ports of one m= line. An a=rtcp port outside 1..65535 is ignored (RTCP then goes next
 * to RTP, as without the attribute); an m= port of 65535 without rtcp-mux and without a usable
 * a=rtcp has no RTCP port at all (RFC 3550 §11's "next odd port" does not exist), so RTCP toward that
 * peer is counted and dropped until the peer's own RTCP says where it is. (Whether the peer
 * multiplexes may change in the answer, so the port is worked out either way.)
 */
export function checkPorts(port: number, rtcpPort: number | undefined, mediaIndex: number, callId: string): CheckedEndpoint {
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TandemError('BAD_SDP', `m= line ${mediaIndex} has port ${String(port)} outside 0..65535`, { 'call-id': callId });
  const ignored: string[] = [];
  let rtcp: number | undefined;
  if (rtcpPort !== undefined) {
    if (isPort(rtcpPort)) rtcp = rtcpPort;
    else ignored.push(`m= line ${mediaIndex}: a=rtcp port ${String(rtcpPort)} is outside 1..65535 and was ignored`);
  }
  if (rtcp === undefined && port !== 0) rtcp = port + 1 <= 65535 ? port + 1 : undefined;
  return { port, rtcpPort: rtcp, ignored };
}
