import { readFileSync } from 'node:fs';
import { addressList, cidrError, type AddressList } from '../common/cidr.js';
import { TandemError } from '../common/errors.js';
import type { SipEndpoint } from '../sip/transport/types.js';
import { defaultLegPolicy, type CallPolicy, type LegPolicy } from './policy.js';
import type { RouteAuth } from '../edge/auth-gate.js';
import type { SipLookup } from '../sip/dns.js';
import { parseTargetUri } from './target-uri.js';
import { parseTargetAuth, type UacCredentials } from './uac-auth.js';
import { parseRegistrations, type RegistrationConfig } from './outbound-registration.js';

/**
 * Routes: which calls go where, and under which codec policy. The file (`--routes-file`) is JSON:
 *
 *   {
 *     "routes": [                                   // tried in order; the first match wins
 *       { "name": "trunk",                           // optional, default "routes[i]"
 *         "match": {                                 // optional; every key given must match
 *           "userPrefix": "00",                      //   Request-URI user (or tel: number) starts with it
 *           "domain": "example.com",                 //   Request-URI host, any case
 *           "source": "127.0.0.0/8",                 //   signalling source: IP or CIDR, IPv4 or IPv6
 *           "user": "alice" },                       //   the authenticated user (digest, --auth-users)
 *         "auth": "required",                        // optional: "required" | "none" (default: required when
 *                                                    //   --auth-users is set, except from trusted sources)
 *         "targets": [                               // required, at least one; [{ "uri": "registered" }] alone =
 *                                                    //   the Request-URI's AOR at the registrar, all contacts forked
 *                                                    //   in parallel over their flows (480 when none is registered)
 *           { "uri": "sip:127.0.0.1:5080;transport=udp",  // host an IP or a name (RFC 3263); ;transport=udp|tcp|tls, sips: = tls
 *             "priority": 1,                         // optional 0–65535, lower first; default = position + 1
 *             "weight": 1,                           // optional 0–65535 within one priority (RFC 2782); default 1
 *             "tlsVerify": true,                     // optional, TLS targets only: false = do not check its certificate
 *             "auth": { "username": "u", "passwordFile": "trunk.pw" } } ],  // optional: answer its 401/407 (uac-auth.ts)
 *         "policy": {                                // optional, per leg (a = caller side, b = target side)
 *           "a": { "codecs": null },                 // null or left out = whatever the other side brings
 *           "b": { "codecs": ["PCMA"], "ptime": 20, "transcode": true, "strip": [], "keep": [] } } }
 *     ],
 *     "trustedProxySources": ["127.0.0.1"],         // IPs/CIDRs whose X-Outbound-Proxy is obeyed (trusted too)
 *     "trusted": ["10.0.0.0/8"],                    // IPs/CIDRs whose identity headers (P-Asserted-Identity…) cross
 *     "registrations": [{ "name": "prov", "registrar": "sip:provider.example", "aor": "sip:u@provider.example",
 *                         "auth": { … as a target's }, "expires": 3600 }]  // Tandem registers there (outbound-registration.ts)
 *   }
 *
 * A leg policy's keys: `codecs` (names or payload types 0–127), `ptime` (10–200 ms), `transcode`
 * (boolean, default true), `strip`, `keep` (lists like `codecs`), `srtp` ("dtls" | "sdes" | "none"),
 * `ice` ("lite" | "remove"), `interface` (a --interface name: the media interface facing this leg).
 * Unknown keys are errors, so a typo cannot silently disable a rule. Every error names the file
 * and the key path (`routes.json: routes[1].targets[0].uri: …`). A target's host may be a name:
 * it is resolved per call (RFC 3263, sip/dns.ts), so TTLs and failover across its records work.
 */
export interface RouteTarget {
  uri: string;
  endpoint: SipEndpoint;
  weight: number;
  priority: number;
  /** false: this TLS target's certificate is not verified (an explicit, logged opt-out). */
  tlsVerify?: boolean;
  /** Route headers of the INVITE (a registered contact's Path, RFC 3327); `endpoint` is then the first hop. */
  routeSet?: string[];
  /** a registered contact reached over the flow its REGISTER came on: in-dialog requests go to `endpoint` too. */
  flow?: boolean;
  /** a host name: resolved per call (RFC 3263) into one target per endpoint, in failover order. */
  lookup?: SipLookup;
  /** credentials for the trunk's 401/407 (uac-auth.ts). */
  auth?: UacCredentials;
  /** leg B's first hop for this attempt: one address of a named X-Outbound-Proxy (b2bua/resolve.ts). */
  nextHop?: SipEndpoint;
}

export interface RouteMatch {
  userPrefix?: string;
  domain?: string;
  /** an IP or CIDR (v4 or v6). */
  source?: string;
  /** the digest-authenticated user, exactly; a route with it is never taken unauthenticated. */
  user?: string;
}

export interface Route {
  name: string;
  match: RouteMatch;
  /** empty when `registered`: the targets are the AOR's contacts, looked up per call. */
  targets: RouteTarget[];
  policy: CallPolicy;
  auth?: RouteAuth;
  /** the file said `"targets": [{ "uri": "registered" }]`. */
  registered?: boolean;
}

/** The target spelling that sends a call to the location service. */
export const REGISTERED_TARGET = 'registered';

export interface RouteTable {
  routes: Route[];
  /** sources whose X-Outbound-Proxy header is obeyed (they are trusted too). */
  trustedProxySources: string[];
  /** sources trusted with identity headers (P-Asserted-Identity, Privacy…); see identity.ts. */
  trusted: string[];
  /** where Tandem registers itself (outbound-registration.ts). */
  registrations?: RegistrationConfig[];
}

function fail(file: string, path: string, msg: string): never {
  throw new TandemError('CONFIG', `${file}: ${path}: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(file: string, path: string, o: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(file, path === '' ? k : `${path}.${k}`, `unknown key (expected one of ${keys.join(', ')})`);
}

function str(file: string, path: string, v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '') fail(file, path, 'must be a non-empty string');
  return v.trim();
}

/** A codec entry: payload type 0–127 (number or digits) or NAME[/RATE[/CHANNELS]]. */
function codecEntry(file: string, path: string, v: unknown): string {
  const s = typeof v === 'number' ? String(v) : str(file, path, v);
  if (/^\d+$/.test(s)) {
    if (Number(s) > 127) fail(file, path, `payload type ${s} is not 0–127`);
    return String(Number(s));
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*(\/\d+(\/\d+)?)?$/.test(s)) fail(file, path, `"${s}" is not a codec name or payload type`);
  return s;
}

function codecList(file: string, path: string, v: unknown): string[] {
  if (!Array.isArray(v)) fail(file, path, 'must be a list of codec names or payload types');
  return v.map((x: unknown, i: number) => codecEntry(file, `${path}[${i}]`, x));
}

function intIn(file: string, path: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(file, path, `must be a whole number ${min}–${max}`);
  return v;
}

const compiled = new Map<string, AddressList>();

/** Is `address` (an IP; IPv4-mapped IPv6 counts as IPv4) inside `cidr` (an IP or CIDR)? */
export function addressMatches(address: string, cidr: string): boolean {
  if (cidrError(cidr) !== undefined) return false;
  let list = compiled.get(cidr);
  if (list === undefined) {
    // Route files name a handful of networks: each is compiled once.
    list = addressList([cidr]);
    compiled.set(cidr, list);
  }
  return list.has(address);
}

export { parseTargetUri } from './target-uri.js';

const LEG_KEYS = ['codecs', 'ptime', 'transcode', 'strip', 'keep', 'srtp', 'ice', 'interface'] as const;

function legPolicy(file: string, path: string, v: unknown): LegPolicy {
  const p = defaultLegPolicy();
  if (v === undefined || v === null) return p;
  if (!isObject(v)) fail(file, path, 'must be an object');
  onlyKeys(file, path, v, LEG_KEYS);
  if (v.codecs !== undefined && v.codecs !== null) {
    p.codecs = codecList(file, `${path}.codecs`, v.codecs);
    if (p.codecs.length === 0) fail(file, `${path}.codecs`, 'must name at least one codec (or be null for any)');
  }
  if (v.ptime !== undefined) p.ptime = intIn(file, `${path}.ptime`, v.ptime, 10, 200);
  if (v.transcode !== undefined) {
    if (typeof v.transcode !== 'boolean') fail(file, `${path}.transcode`, 'must be true or false');
    p.transcode = v.transcode;
  }
  if (v.strip !== undefined) p.strip = codecList(file, `${path}.strip`, v.strip);
  if (v.keep !== undefined) p.keep = codecList(file, `${path}.keep`, v.keep);
  if (v.srtp !== undefined) {
    if (v.srtp !== 'dtls' && v.srtp !== 'sdes' && v.srtp !== 'none') fail(file, `${path}.srtp`, 'must be "dtls", "sdes" or "none"');
    p.srtp = v.srtp;
  }
  if (v.ice !== undefined) {
    if (v.ice !== 'lite' && v.ice !== 'remove') fail(file, `${path}.ice`, 'must be "lite" or "remove"');
    p.ice = v.ice;
  }
  return v.interface === undefined ? p : { ...p, interface: str(file, `${path}.interface`, v.interface) };
}

function target(file: string, path: string, t: unknown, index: number): RouteTarget {
  if (!isObject(t)) fail(file, path, 'must be an object');
  onlyKeys(file, path, t, ['uri', 'weight', 'priority', 'tlsVerify', 'auth']);
  const { endpoint, uri, lookup } = parseTargetUri(str(file, `${path}.uri`, t.uri), `${file}: ${path}.uri`, { dns: true });
  if (t.tlsVerify !== undefined) {
    if (typeof t.tlsVerify !== 'boolean') fail(file, `${path}.tlsVerify`, 'must be true or false');
    if (endpoint.protocol !== 'tls') fail(file, `${path}.tlsVerify`, 'only for a TLS target (sips: or ;transport=tls)');
    if (lookup !== undefined) fail(file, `${path}.tlsVerify`, 'only for a target given by IP address (a named target is always verified)');
  }
  return {
    uri,
    endpoint,
    ...(lookup !== undefined ? { lookup } : {}),
    ...(t.tlsVerify === false ? { tlsVerify: false } : {}),
    ...(t.auth !== undefined ? { auth: parseTargetAuth(file, `${path}.auth`, t.auth) } : {}),
    weight: t.weight === undefined ? 1 : intIn(file, `${path}.weight`, t.weight, 0, 65535),
    priority: t.priority === undefined ? index + 1 : intIn(file, `${path}.priority`, t.priority, 0, 65535),
  };
}

function route(file: string, path: string, v: unknown): Route {
  if (!isObject(v)) fail(file, path, 'must be an object');
  onlyKeys(file, path, v, ['name', 'match', 'targets', 'policy', 'auth']);
  if (v.auth !== undefined && v.auth !== 'required' && v.auth !== 'none') fail(file, `${path}.auth`, 'must be "required" or "none"');
  const name = v.name === undefined ? path : str(file, `${path}.name`, v.name);
  const match: RouteMatch = {};
  if (v.match !== undefined) {
    const m = v.match;
    if (!isObject(m)) fail(file, `${path}.match`, 'must be an object');
    onlyKeys(file, `${path}.match`, m, ['userPrefix', 'domain', 'source', 'user']);
    if (m.user !== undefined) match.user = str(file, `${path}.match.user`, m.user);
    if (m.userPrefix !== undefined) match.userPrefix = str(file, `${path}.match.userPrefix`, m.userPrefix);
    if (m.domain !== undefined) match.domain = str(file, `${path}.match.domain`, m.domain).toLowerCase();
    if (m.source !== undefined) {
      const s = str(file, `${path}.match.source`, m.source);
      if (cidrError(s) !== undefined) fail(file, `${path}.match.source`, `"${s}" is not an IP address or CIDR`);
      match.source = s;
    }
  }
  if (v.targets === undefined) fail(file, `${path}.targets`, 'missing (a route needs at least one target)');
  if (!Array.isArray(v.targets) || v.targets.length === 0) fail(file, `${path}.targets`, 'must be a non-empty list');
  const registered = v.targets.findIndex((t: unknown) => isObject(t) && t.uri === REGISTERED_TARGET);
  if (registered >= 0) {
    const t = v.targets[registered] as Record<string, unknown>;
    if (v.targets.length > 1) fail(file, `${path}.targets`, `"${REGISTERED_TARGET}" must be the only target of its route`);
    onlyKeys(file, `${path}.targets[0]`, t, ['uri']);
  }
  const targets = registered >= 0 ? [] : v.targets.map((t: unknown, i: number) => target(file, `${path}.targets[${i}]`, t, i));
  let policy: CallPolicy = { a: defaultLegPolicy(), b: defaultLegPolicy() };
  if (v.policy !== undefined && v.policy !== null) {
    if (!isObject(v.policy)) fail(file, `${path}.policy`, 'must be an object');
    onlyKeys(file, `${path}.policy`, v.policy, ['a', 'b']);
    policy = { a: legPolicy(file, `${path}.policy.a`, v.policy.a), b: legPolicy(file, `${path}.policy.b`, v.policy.b) };
  }
  return { name, match, targets, policy, ...(v.auth === 'required' || v.auth === 'none' ? { auth: v.auth } : {}), ...(registered >= 0 ? { registered: true } : {}) };
}

/** Offset of the first JSON syntax error (V8's messages do not always carry one). */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const value = (): boolean => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return (i++, true);
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"' || !value()) return false;
          ws();
          if (text[i] !== ':') return false;
          i++;
        }
        if (!value()) return false;
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === close) return (i++, true);
        else return false;
      }
    }
    if (c === '"') {
      const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i));
      if (m === null) return false;
      return ((i += m[0].length), true);
    }
    const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i));
    if (m === null) return false;
    return ((i += m[0].length), true);
  };
  if (value()) ws();
  return i;
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

export function parseRoutes(text: string, file: string): RouteTable {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const at = jsonErrorOffset(text);
    const why = err instanceof Error ? err.message.replace(/, ".*" is not valid JSON$/s, '') : String(err);
    throw new TandemError('CONFIG', `${file}: not valid JSON at ${lineColumn(text, at)} (offset ${at}): ${why}`);
  }
  if (!isObject(json)) fail(file, '(top)', 'must be an object with "routes"');
  onlyKeys(file, '', json, ['routes', 'trustedProxySources', 'trusted', 'registrations']);
  if (json.routes === undefined) fail(file, 'routes', 'missing');
  if (!Array.isArray(json.routes)) fail(file, 'routes', 'must be a list');
  const routes = json.routes.map((r: unknown, i: number) => route(file, `routes[${i}]`, r));
  const registrations = parseRegistrations(file, json.registrations);
  return { routes, trustedProxySources: cidrList(file, 'trustedProxySources', json.trustedProxySources), trusted: cidrList(file, 'trusted', json.trusted), ...(registrations.length > 0 ? { registrations } : {}) };
}

function cidrList(file: string, key: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(file, key, 'must be a list of IPs or CIDRs');
  return v.map((t: unknown, i: number) => {
    const s = str(file, `${key}[${i}]`, t);
    if (cidrError(s) !== undefined) fail(file, `${key}[${i}]`, `"${s}" is not an IP address or CIDR`);
    return s;
  });
}

export function loadRoutesFile(path: string): RouteTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = isObject(err) && typeof err.code === 'string' ? err.code : err instanceof Error ? err.message : String(err);
    throw new TandemError('CONFIG', `--routes-file: cannot read ${path}: ${why}`);
  }
  return parseRoutes(text, path);
}

/** `--route=URI` with `--b-codecs`/`--b-ptime`: one route that takes every call. */
export function singleTargetTable(uri: string, bPolicy: Partial<LegPolicy> = {}): RouteTable {
  const t = parseTargetUri(uri, '--route', { dns: true });
  return {
    routes: [{ name: 'default', match: {}, targets: [{ uri: t.uri, endpoint: t.endpoint, ...(t.lookup !== undefined ? { lookup: t.lookup } : {}), weight: 1, priority: 1 }], policy: { a: defaultLegPolicy(), b: { ...defaultLegPolicy(), ...bPolicy } } }],
    trustedProxySources: [],
    trusted: [],
  };
}

/** The first route whose every given match key fits; a route without `match` takes everything. */
export function selectRoute(table: RouteTable, req: { user?: string; domain?: string; source: string; authUser?: string }): Route | undefined {
  return table.routes.find((r) => {
    const m = r.match;
    if (m.user !== undefined && m.user !== req.authUser) return false;
    if (m.userPrefix !== undefined && !(req.user ?? '').startsWith(m.userPrefix)) return false;
    if (m.domain !== undefined && (req.domain ?? '').replace(/^\[|\]$/g, '').toLowerCase() !== m.domain.replace(/^\[|\]$/g, '')) return false;
    if (m.source !== undefined && !addressMatches(req.source, m.source)) return false;
    return true;
  });
}

/**
 * Failover order: ascending priority; within one priority, RFC 2782's weighted selection repeated
 * until none is left (a target's chance to come next is its weight over the remaining total;
 * weight 0 only after all weighted ones, in file order). `random` is injectable for tests.
 */
export function orderTargets(route: Route, random: () => number = Math.random): RouteTarget[] {
  const priorities = [...new Set(route.targets.map((t) => t.priority))].sort((a, b) => a - b);
  const out: RouteTarget[] = [];
  for (const p of priorities) {
    const pool = route.targets.filter((t) => t.priority === p);
    while (pool.length > 0) {
      const total = pool.reduce((s, t) => s + t.weight, 0);
      let pick = 0;
      if (total > 0) {
        let r = random() * total;
        pick = pool.findIndex((t) => t.weight > 0 && (r -= t.weight) < 0);
        if (pick < 0) pick = pool.map((t) => t.weight > 0).lastIndexOf(true); // random() near 1, rounding
      }
      out.push(pool.splice(pick, 1)[0]);
    }
  }
  return out;
}

/** May this source set leg B's next hop with X-Outbound-Proxy? */
export function isTrustedProxy(table: RouteTable, address: string): boolean {
  return table.trustedProxySources.some((c) => addressMatches(address, c));
}

/** Is this source trusted (identity headers cross)? Trusted proxies are trusted too. */
export function isTrustedSource(table: RouteTable, address: string): boolean {
  return isTrustedProxy(table, address) || table.trusted.some((c) => addressMatches(address, c));
}
