import { BlockList, isIP } from 'node:net';

/**
 * Address lists (`IP` or `IP/prefix`, IPv4 or IPv6) for access control. Matching is Node's
 * BlockList, which also matches an IPv4-mapped IPv6 source (`::ffff:127.0.0.1`, what a dual-stack
 * socket reports) against IPv4 entries, so a rule cannot be bypassed by the address family.
 */
export interface AddressList {
  /** The entries as given, for logs. */
  readonly entries: readonly string[];
  has(address: string): boolean;
}

/** Why `entry` is not an IP or CIDR, or undefined when it is one. */
export function cidrError(entry: string): string | undefined {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry.trim());
  if (m === null) return `"${entry}" is not an IP address or CIDR`;
  const family = isIP(m[1]);
  if (family === 0) return `"${entry}" is not an IP address or CIDR`;
  if (m[2] !== undefined && Number(m[2]) > (family === 4 ? 32 : 128)) return `"${entry}": prefix /${m[2]} is longer than ${family === 4 ? 32 : 128}`;
  return undefined;
}

/** Builds a matcher. Throws RangeError naming the first bad entry (callers validate earlier). */
export function addressList(entries: readonly string[]): AddressList {
  const list = new BlockList();
  for (const raw of entries) {
    const bad = cidrError(raw);
    if (bad !== undefined) throw new RangeError(bad);
    const [ip, prefix] = raw.trim().split('/');
    const type = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
    list.addSubnet(ip, prefix === undefined ? (type === 'ipv4' ? 32 : 128) : Number(prefix), type);
  }
  return {
    entries: [...entries],
    has: (address) => {
      const family = isIP(address);
      return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

const LOOPBACK = addressList(['127.0.0.0/8', '::1/128']);

/** True for addresses only this host can reach (127/8, ::1, and their IPv4-mapped forms). */
export function isLoopback(address: string): boolean {
  return LOOPBACK.has(address);
}
