import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { formatUri, parseUri } from '../sip/uri.js';
import type { SipEndpoint, TransportProtocol } from '../sip/transport/types.js';
import type { SipLookup } from '../sip/dns.js';

/** An RFC 1123 host name (labels of letters, digits, hyphens), at most 253 characters. */
const HOSTNAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * A target or next-hop URI → where to send: port 5060, or 5061 for TLS (RFC 3261 §19.1.2); transport
 * from `;transport=`, sips: always TLS (§19.1). With `dns`, a host name gets a `lookup`, resolved per
 * call (RFC 3263, sip/dns.ts); without it (Path) the host must be an IP literal.
 */
export function parseTargetUri(uri: string, where: string, o: { dns?: boolean } = {}): { endpoint: SipEndpoint; uri: string; lookup?: SipLookup } {
  const r = parseUri(uri.trim());
  if (!r.ok) throw new TandemError('CONFIG', `${where}: "${uri}" is not a SIP URI (${r.reason})`);
  if (r.uri.type !== 'sip') throw new TandemError('CONFIG', `${where}: "${uri}" must be a sip: or sips: URI`);
  const host = r.uri.host.replace(/^\[|\]$/g, '');
  const named = isIP(host) === 0;
  if (named && o.dns !== true) throw new TandemError('CONFIG', `${where}: host "${r.uri.host}" must be an IP address`);
  if (named && !HOSTNAME.test(host)) throw new TandemError('CONFIG', `${where}: host "${r.uri.host}" is neither an IP address nor a host name`);
  const tp = r.uri.params.find((p) => p.name.toLowerCase() === 'transport')?.value?.toLowerCase();
  let protocol: TransportProtocol;
  if (r.uri.secure) {
    if (tp === 'udp') throw new TandemError('CONFIG', `${where}: a sips: URI cannot use transport=udp`);
    protocol = 'tls';
  } else if (tp === undefined || tp === 'udp') protocol = 'udp';
  else if (tp === 'tcp' || tp === 'tls') protocol = tp;
  else throw new TandemError('CONFIG', `${where}: transport "${tp ?? ''}" is not udp, tcp or tls`);
  const port = r.uri.port ?? (protocol === 'tls' ? 5061 : 5060);
  if (port < 1 || port > 65535) throw new TandemError('CONFIG', `${where}: port ${port} is not 1–65535`);
  const endpoint: SipEndpoint = { protocol, address: host, port };
  if (!named) return { uri: uri.trim(), endpoint };
  const transport = tp === undefined ? undefined : protocol;
  return { uri: uri.trim(), endpoint, lookup: { host, secure: r.uri.secure, ...(transport !== undefined ? { transport } : {}), ...(r.uri.port !== undefined ? { port } : {}) } };
}

/** Leg B's Request-URI: the target's, with the caller's user part when the target names none. */
export function legBRequestUri(callerUri: string, targetUri: string): string {
  const a = parseUri(callerUri);
  const t = parseUri(targetUri);
  if (!t.ok || t.uri.type !== 'sip') return targetUri;
  const uri = { ...t.uri };
  if (uri.user === undefined && a.ok && a.uri.type === 'sip' && a.uri.user !== undefined) uri.user = a.uri.user;
  // transport= tells the next hop nothing it needs in the Request-URI once we pick the flow.
  return formatUri(uri);
}
