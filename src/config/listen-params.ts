import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { addressEntries } from './edge-options.js';

/** What `;name=value` parameters after a --listen-sip item set on that listener. */
export interface ListenParams {
  /** this listener's own access lists (`;allow=CIDR|CIDR;deny=CIDR`), on top of --sip-allow/--sip-deny. */
  allow?: string[];
  deny?: string[];
  /** `;advertise=HOST[:PORT]`: what Via, Contact and Call-ID say instead of the bound address (1:1 NAT). */
  advertise?: { host: string; port?: number };
}

/** RFC 3261 §25.1 hostname: dot-separated labels of letters, digits and inner hyphens. */
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;

/** `HOST`, `HOST:PORT`, `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`; `opt` names the option in errors. */
export function parseAdvertise(v: string, opt: string): { host: string; port?: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(v) ?? (isIP(v) === 6 ? [v, v, undefined, undefined] : null);
  const bad = (): TandemError => new TandemError('CONFIG', `${opt}: advertise=${v} must be HOST[:PORT] (a hostname, IPv4 or [IPv6], port 1–65535)`);
  if (m === null) throw bad();
  const host = m[1] ?? m[2];
  if (m[1] !== undefined ? isIP(host) !== 6 : isIP(host) !== 4 && (host.length > 253 || !HOSTNAME.test(host))) throw bad();
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) throw bad();
  return { host, ...(port !== undefined ? { port } : {}) };
}

/** The `;…` parameters of one --listen-sip item (`full`, for errors). */
export function parseListenParams(params: readonly string[], full: string, name: string, where: string): ListenParams {
  const out: ListenParams = {};
  for (const p of params) {
    const kv = /^(allow|deny|advertise)=(.*)$/i.exec(p.trim());
    if (kv === null) throw new TandemError('CONFIG', `${where}${name}: "${p}" in "${full}" must be allow=CIDR|CIDR, deny=CIDR|CIDR or advertise=HOST[:PORT]`);
    const key = kv[1].toLowerCase();
    if (key === 'advertise') out.advertise = parseAdvertise(kv[2].trim(), `${where}${name}`);
    else out[key as 'allow' | 'deny'] = addressEntries(where, name, kv[2], '|');
  }
  return out;
}
