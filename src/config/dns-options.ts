import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { wholeNumber as whole } from './values.js';

/** DNS for named route targets and X-Outbound-Proxy (RFC 3263, src/sip/dns.ts). */
export interface DnsConfig {
  /** resolvers as node:dns takes them (`IP`, `IP:PORT`, `[IPv6]:PORT`); undefined = the system's (/etc/resolv.conf). */
  dnsServers?: string[];
  /** names (of one record type each) whose answers are cached. */
  dnsCacheSize: number;
  /** endpoints one target name may expand to, so a hostile zone cannot make one call try hundreds. */
  dnsMaxEndpoints: number;
}

type DnsKey = keyof DnsConfig;

export const DNS_OPTIONS: readonly { key: DnsKey; name: string; arg: string; help: string }[] = [
  { key: 'dnsServers', name: 'dns-server', arg: 'IP[:PORT],…', help: 'DNS servers for route targets and X-Outbound-Proxy given as host names (NAPTR/SRV/A/AAAA, RFC 3263) (default: the system\'s resolvers)' },
  { key: 'dnsCacheSize', name: 'dns-cache-size', arg: 'INT', help: 'DNS answers cached (by TTL; NAPTR, SRV and negative answers 60 s), the oldest dropped first (default 1000)' },
  { key: 'dnsMaxEndpoints', name: 'dns-max-endpoints', arg: 'INT', help: 'addresses one target or X-Outbound-Proxy name may expand to for failover; more records are ignored (default 16)' },
];

export function dnsDefaults(): DnsConfig {
  return { dnsCacheSize: 1000, dnsMaxEndpoints: 16 };
}

export function isDnsKey(key: string): key is DnsKey {
  return DNS_OPTIONS.some((o) => o.key === key);
}

/** `IP`, `IP:PORT` or `[IPv6]:PORT` → node:dns's spelling, or undefined. */
export function dnsServer(v: string): string | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(v);
  const ip = m === null ? v : (m[1] ?? m[2]);
  const port = m?.[3];
  if (isIP(ip) === 0 || (m === null && isIP(ip) !== 6) || (m?.[1] !== undefined && isIP(ip) !== 6) || (m?.[2] !== undefined && isIP(ip) !== 4)) return undefined;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return undefined;
  if (port === undefined) return ip;
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function applyDnsOption(cfg: DnsConfig, key: DnsKey, name: string, v: string, where: string): void {
  switch (key) {
    case 'dnsServers': {
      const list = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (list.length === 0) throw new TandemError('CONFIG', `${where}${name}: needs at least one IP[:PORT]`);
      cfg.dnsServers = list.map((s) => dnsServer(s) ?? (() => { throw new TandemError('CONFIG', `${where}${name}: "${s}" is not IP, IP:PORT or [IPv6]:PORT`); })());
      return;
    }
    case 'dnsCacheSize':
      cfg.dnsCacheSize = whole(where, name, v, 1, 1_000_000);
      return;
    case 'dnsMaxEndpoints':
      cfg.dnsMaxEndpoints = whole(where, name, v, 1, 64);
  }
}
