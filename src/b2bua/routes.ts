import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { parseUri } from '../sip/uri.js';
import type { SipEndpoint, TransportProtocol } from '../sip/transport/types.js';
import { defaultLegPolicy, type CallPolicy, type LegPolicy } from './policy.js';

/**
 * Routes: which calls go where, and with which codec policy. The file is JSON:
 *
 *   {
 *     "routes": [
 *       { "name": "trunk",
 *         "match": { "userPrefix": "00", "domain": "example.com", "source": "127.0.0.0/8" },
 *         "targets": [ { "uri": "sip:127.0.0.1:5080;transport=udp", "priority": 1, "weight": 1 },
 *                      { "uri": "sip:127.0.0.1:5081", "priority": 2 } ],
 *         "policy": { "b": { "codecs": ["PCMA"], "ptime": 20, "transcode": true } } }
 *     ],
 *     "trustedProxySources": ["127.0.0.1"]
 *   }
 *
 * The first route whose every `match` key fits wins. Targets are tried in ascending priority
 * (failover on 408, 5xx, timeout or transport error); among equal priorities the order is drawn by
 * weight, as RFC 2782 does for SRV. Target hosts must be IP literals: Tandem does no DNS.
 */
export interface RouteTarget {
  uri: string;
  endpoint: SipEndpoint;
  weight: number;
  priority: number;
}

export interface RouteMatch {
  userPrefix?: string;
  domain?: string;
  /** an IP or CIDR (v4 or v6). */
  source?: string;
}

export interface Route {
  name: string;
  match: RouteMatch;
  targets: RouteTarget[];
  policy: CallPolicy;
}

export interface RouteTable {
  routes: Route[];
  /** sources whose X-Outbound-Proxy header is obeyed. */
  trustedProxySources: string[];
}

function fail(file: string, path: string, msg: string): never {
  throw new TandemError('CONFIG', `${file}: ${path}: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(file: string, path: string, o: Record<string, unknown>, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(file, `${path}.${k}`, `unknown key (expected one of ${keys.join(', ')})`);
}

function str(file: string, path: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') fail(file, path, 'must be a non-empty string');
  return v;
}

function strList(file: string, path: string, v: unknown): string[] {
  if (!Array.isArray(v)) fail(file, path, 'must be a list of strings');
  return v.map((x, i) => {
    if (typeof x === 'number' && Number.isInteger(x)) return String(x);
    return str(file, `${path}[${i}]`, x);
  });
}

function posInt(file: string, path: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(file, path, `must be a whole number ${min}–${max}`);
  return v;
}

/** An IP or CIDR as [address bytes, prefix length], or undefined. */
function parseCidr(text: string): { bytes: number[]; bits: number } | undefined {
  const [addr, len] = text.split('/');
  const v = isIP(addr);
  if (v === 0) return undefined;
  const bytes = v === 4 ? addr.split('.').map(Number) : ipv6Bytes(addr);
  const max = v === 4 ? 32 : 128;
  const bits = len === undefined ? max : Number(len);
  if (!/^\d*$/.test(len ?? '') || !Number.isInteger(bits) || bits < 0 || bits > max) return undefined;
  return { bytes, bits };
}

function ipv6Bytes(addr: string): number[] {
  const [head, tail] = addr.split('::');
  const part = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').flatMap((g) => {
    if (g.includes('.')) return g.split('.').map(Number);
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  }));
  const h = part(head);
  const t = part(tail);
  return [...h, ...new Array<number>(16 - h.length - t.length).fill(0), ...t];
}

export function addressMatches(address: string, cidr: string): boolean {
  const net = parseCidr(cidr);
  const a = parseCidr(address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1'));
  if (net === undefined || a === undefined || net.bytes.length !== a.bytes.length) return false;
  for (let i = 0; i < net.bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((net.bytes[byte] & mask) !== (a.bytes[byte] & mask)) return false;
  }
  return true;
}

/** A target URI → where to send. Host must be an IP literal; port 5060 (5061 for TLS) by default. */
export function parseTargetUri(uri: string, where: string): { endpoint: SipEndpoint; uri: string } {
  const r = parseUri(uri);
  if (!r.ok) throw new TandemError('CONFIG', `${where}: "${uri}" is not a SIP URI (${r.reason})`);
  if (r.uri.type !== 'sip') throw new TandemError('CONFIG', `${where}: "${uri}" must be a sip: or sips: URI`);
  const host = r.uri.host.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0) throw new TandemError('CONFIG', `${where}: "${r.uri.host}" must be an IP address (Tandem does no DNS)`);
  const tp = r.uri.params.find((p) => p.name.toLowerCase() === 'transport')?.value?.toLowerCase();
  let protocol: TransportProtocol;
  if (r.uri.secure) protocol = 'tls';
  else if (tp === undefined || tp === 'udp') protocol = 'udp';
  else if (tp === 'tcp' || tp === 'tls') protocol = tp;
  else throw new TandemError('CONFIG', `${where}: transport "${tp}" is not udp, tcp or tls`);
  return { uri, endpoint: { protocol, address: host, port: r.uri.port ?? (protocol === 'tls' ? 5061 : 5060) } };
}

function legPolicy(file: string, path: string, v: unknown): LegPolicy {
  const p = defaultLegPolicy();
  if (v === undefined) return p;
  if (!isObject(v)) fail(file, path, 'must be an object');
  onlyKeys(file, path, v, ['codecs', 'ptime', 'transcode', 'strip', 'keep', 'srtp']);
  if (v.codecs !== undefined && v.codecs !== null) {
    p.codecs = strList(file, `${path}.codecs`, v.codecs);
    if (p.codecs.length === 0) fail(file, `${path}.codecs`, 'must name at least one codec (or be left out)');
  }
  if (v.ptime !== undefined) p.ptime = posInt(file, `${path}.ptime`, v.ptime, 10, 200);
  if (v.transcode !== undefined) {
    if (typeof v.transcode !== 'boolean') fail(file, `${path}.transcode`, 'must be true or false');
    p.transcode = v.transcode;
  }
  if (v.strip !== undefined) p.strip = strList(file, `${path}.strip`, v.strip);
  if (v.keep !== undefined) p.keep = strList(file, `${path}.keep`, v.keep);
  if (v.srtp !== undefined) {
    if (v.srtp !== 'sdes' && v.srtp !== 'none') fail(file, `${path}.srtp`, 'must be "sdes" or "none"');
    p.srtp = v.srtp;
  }
  return p;
}

function route(file: string, path: string, v: unknown): Route {
  if (!isObject(v)) fail(file, path, 'must be an object');
  onlyKeys(file, path, v, ['name', 'match', 'targets', 'policy']);
  const name = v.name === undefined ? path : str(file, `${path}.name`, v.name);
  const match: RouteMatch = {};
  if (v.match !== undefined) {
    if (!isObject(v.match)) fail(file, `${path}.match`, 'must be an object');
    onlyKeys(file, `${path}.match`, v.match, ['userPrefix', 'domain', 'source']);
    if (v.match.userPrefix !== undefined) match.userPrefix = str(file, `${path}.match.userPrefix`, v.match.userPrefix);
    if (v.match.domain !== undefined) match.domain = str(file, `${path}.match.domain`, v.match.domain).toLowerCase();
    if (v.match.source !== undefined) {
      const s = str(file, `${path}.match.source`, v.match.source);
      if (parseCidr(s) === undefined) fail(file, `${path}.match.source`, `"${s}" is not an IP address or CIDR`);
      match.source = s;
    }
  }
  if (!Array.isArray(v.targets) || v.targets.length === 0) fail(file, `${path}.targets`, 'must be a non-empty list');
  const targets = v.targets.map((t: unknown, i: number): RouteTarget => {
    const tp = `${path}.targets[${i}]`;
    if (!isObject(t)) fail(file, tp, 'must be an object');
    onlyKeys(file, tp, t, ['uri', 'weight', 'priority']);
    const { endpoint, uri } = parseTargetUri(str(file, `${tp}.uri`, t.uri), `${file}: ${tp}.uri`);
    return {
      uri,
      endpoint,
      weight: t.weight === undefined ? 1 : posInt(file, `${tp}.weight`, t.weight, 0, 65535),
      priority: t.priority === undefined ? i + 1 : posInt(file, `${tp}.priority`, t.priority, 0, 65535),
    };
  });
  let policy: CallPolicy = { a: defaultLegPolicy(), b: defaultLegPolicy() };
  if (v.policy !== undefined) {
    if (!isObject(v.policy)) fail(file, `${path}.policy`, 'must be an object');
    onlyKeys(file, `${path}.policy`, v.policy, ['a', 'b']);
    policy = { a: legPolicy(file, `${path}.policy.a`, v.policy.a), b: legPolicy(file, `${path}.policy.b`, v.policy.b) };
  }
  return { name, match, targets, policy };
}

export function parseRoutes(text: string, file: string): RouteTable {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TandemError('CONFIG', `${file}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(json)) fail(file, '(top)', 'must be an object with "routes"');
  onlyKeys(file, '(top)', json, ['routes', 'trustedProxySources']);
  if (!Array.isArray(json.routes)) fail(file, 'routes', 'must be a list');
  const routes = json.routes.map((r: unknown, i: number) => route(file, `routes[${i}]`, r));
  const trusted = json.trustedProxySources === undefined ? [] : strList(file, 'trustedProxySources', json.trustedProxySources);
  trusted.forEach((t, i) => {
    if (parseCidr(t) === undefined) fail(file, `trustedProxySources[${i}]`, `"${t}" is not an IP address or CIDR`);
  });
  return { routes, trustedProxySources: trusted };
}

export function loadRoutesFile(path: string): RouteTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TandemError('CONFIG', `--routes-file: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseRoutes(text, path);
}

/** `--route=URI` with `--b-codecs`/`--b-ptime`: one route that takes every call. */
export function singleTargetTable(uri: string, b: Partial<LegPolicy> = {}): RouteTable {
  const { endpoint } = parseTargetUri(uri, '--route');
  return {
    routes: [{ name: 'default', match: {}, targets: [{ uri, endpoint, weight: 1, priority: 1 }], policy: { a: defaultLegPolicy(), b: { ...defaultLegPolicy(), ...b } } }],
    trustedProxySources: [],
  };
}

export function selectRoute(table: RouteTable, req: { user?: string; domain?: string; source: string }): Route | undefined {
  return table.routes.find((r) => {
    const m = r.match;
    if (m.userPrefix !== undefined && !(req.user ?? '').startsWith(m.userPrefix)) return false;
    if (m.domain !== undefined && (req.domain ?? '').toLowerCase() !== m.domain) return false;
    if (m.source !== undefined && !addressMatches(req.source, m.source)) return false;
    return true;
  });
}

/** Ascending priority; within a priority, a weighted random order (RFC 2782's selection, repeated). */
export function orderTargets(route: Route, random: () => number = Math.random): RouteTarget[] {
  const byPriority = new Map<number, RouteTarget[]>();
  for (const t of route.targets) byPriority.set(t.priority, [...(byPriority.get(t.priority) ?? []), t]);
  const out: RouteTarget[] = [];
  for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
    const pool = [...(byPriority.get(p) ?? [])];
    while (pool.length > 0) {
      const total = pool.reduce((s, t) => s + t.weight, 0);
      let pick = 0;
      if (total > 0) {
        let r = random() * total;
        pick = pool.findIndex((t) => (r -= t.weight) < 0);
        if (pick < 0) pick = pool.length - 1;
      }
      out.push(pool.splice(pick, 1)[0]);
    }
  }
  return out;
}

export function isTrustedSource(table: RouteTable, address: string): boolean {
  return table.trustedProxySources.some((c) => addressMatches(address, c));
}
