import { TandemError } from '../common/errors.js';
import { cidrError } from '../common/cidr.js';
import { wholeNumber as whole } from './values.js';

/** The request path's guard (src/edge/): access lists, per-source limits, flood defence, overload. */
export interface EdgeConfig {
  /** sources that may reach the SIP listeners at all (undefined = every source); checked before parsing. */
  sipAllow?: string[];
  /** sources dropped before parsing; a deny entry wins over an allow entry. */
  sipDeny?: string[];
  /** `allow`/`deny` lines added to the two lists above, read again by a reload (edge/acl-file.ts). */
  sipAclFile?: string;
  /**
   * sources neither flood-checked nor limited per source, besides the trusted ones: by default the
   * host itself (a local proxy in front of Tandem, local tools), never the rest of 127/8.
   */
  floodExempt: string[];
  /** concurrent calls from one source IP (0 = no limit; trusted sources are not limited). */
  maxCallsPerSource: number;
  /** registrations (bindings) from one source IP, enforced by the registrar (0 = no limit). */
  maxRegistrationsPerSource: number;
  /** flood defence: requests per window from one source before it is banned; undefined = off. */
  pike?: { limit: number; windowMs: number };
  /** first ban, and the longest a repeat offender's doubling ban may grow to (seconds). */
  pikeBan: number;
  pikeBanMax: number;
  /** sources the flood defence tracks at once. */
  pikeSources: number;
  /** overload thresholds: event-loop delay (mean over 1 s, ms), server transactions in flight, free media port pairs (0 = not checked). */
  overloadLag: number;
  overloadTransactions: number;
  overloadMinPorts: number;
  /** Retry-After of an overload 503, drawn from this range (seconds). */
  overloadRetryAfter: { min: number; max: number };
}

type EdgeKey = keyof EdgeConfig;

export const EDGE_OPTIONS: readonly { key: EdgeKey; name: string; arg: string; help: string }[] = [
  { key: 'sipAllow', name: 'sip-allow', arg: 'LIST', help: 'IPs/CIDRs that may reach the SIP listeners; others are dropped unread (default every source). A listener may add its own: udp:IP:PORT;allow=CIDR|CIDR;deny=CIDR' },
  { key: 'sipDeny', name: 'sip-deny', arg: 'LIST', help: 'IPs/CIDRs whose SIP packets and connections are dropped unread (wins over --sip-allow)' },
  { key: 'sipAclFile', name: 'sip-acl-file', arg: 'FILE', help: 'more --sip-allow/--sip-deny entries, one "allow CIDR" or "deny CIDR" a line; read again on SIGHUP / tandem ctl reload' },
  { key: 'floodExempt', name: 'flood-exempt', arg: 'LIST', help: 'IPs/CIDRs exempt from --pike and the per-source limits, besides --trusted ones (default 127.0.0.1,::1: the host itself; none)' },
  { key: 'maxCallsPerSource', name: 'max-calls-per-source', arg: 'INT', help: 'concurrent calls from one IP, trusted ones aside; more get 503 (default 50, 0 = no limit)' },
  { key: 'maxRegistrationsPerSource', name: 'max-registrations-per-source', arg: 'INT', help: 'registrations from one IP, trusted ones aside; more get 403 (default 100, 0 = no limit)' },
  { key: 'pike', name: 'pike', arg: 'N/SECONDS|off', help: 'flood defence: a source sending more than N requests in SECONDS is banned, and dropped without a response (default 30/2; --trusted sources exempt)' },
  { key: 'pikeBan', name: 'pike-ban', arg: 'SECONDS', help: 'first ban of a flooding source; each repeat doubles it (default 60)' },
  { key: 'pikeBanMax', name: 'pike-ban-max', arg: 'SECONDS', help: 'longest ban a repeat offender gets (default 3600)' },
  { key: 'pikeSources', name: 'pike-sources', arg: 'INT', help: 'sources the flood defence tracks at once; the oldest quiet ones are forgotten past it (default 100000)' },
  { key: 'overloadLag', name: 'overload-lag', arg: 'MS', help: 'event-loop delay (mean over 1 s) from which new INVITEs/REGISTERs get 503 (default 100, 0 = not checked)' },
  { key: 'overloadTransactions', name: 'overload-transactions', arg: 'INT', help: 'server transactions in flight from which new INVITEs/REGISTERs get 503 (default 10000, 0 = not checked)' },
  { key: 'overloadMinPorts', name: 'overload-min-ports', arg: 'INT', help: 'free media port pairs (RTP+RTCP) below which new INVITEs/REGISTERs get 503 (default 16, 0 = not checked; not read with --media=ng)' },
  { key: 'overloadRetryAfter', name: 'overload-retry-after', arg: 'MIN-MAX', help: 'Retry-After of an overload 503, random in this range, seconds (default 5-15)' },
];

export function edgeDefaults(): EdgeConfig {
  return {
    floodExempt: ['127.0.0.1', '::1'],
    maxCallsPerSource: 50,
    maxRegistrationsPerSource: 100,
    pike: { limit: 30, windowMs: 2000 },
    pikeBan: 60,
    pikeBanMax: 3600,
    pikeSources: 100_000,
    overloadLag: 100,
    overloadTransactions: 10_000,
    overloadMinPorts: 16,
    overloadRetryAfter: { min: 5, max: 15 },
  };
}

/** IPs/CIDRs separated by `sep`; at least one. */
export function addressEntries(where: string, name: string, raw: string, sep = ','): string[] {
  const items = raw.split(sep).map((x) => x.trim()).filter((x) => x !== '');
  if (items.length === 0) throw new TandemError('CONFIG', `${where}${name}: needs at least one IP or CIDR`);
  const bad = items.map(cidrError).find((e) => e !== undefined);
  if (bad !== undefined) throw new TandemError('CONFIG', `${where}${name}: ${bad}`);
  return items;
}

/** Applies one of EDGE_OPTIONS to `cfg`; `v` is trimmed. */
export function applyEdgeOption(cfg: EdgeConfig, key: EdgeKey, name: string, v: string, where: string): void {
  switch (key) {
    case 'sipAllow':
      cfg.sipAllow = addressEntries(where, name, v);
      break;
    case 'sipDeny':
      cfg.sipDeny = addressEntries(where, name, v);
      break;
    case 'sipAclFile':
      if (v === '') throw new TandemError('CONFIG', `${where}${name}: needs a file name`);
      cfg.sipAclFile = v;
      break;
    case 'floodExempt':
      cfg.floodExempt = /^none$/i.test(v) ? [] : addressEntries(where, name, v);
      break;
    case 'maxCallsPerSource':
      cfg.maxCallsPerSource = whole(where, name, v, 0, 1_000_000);
      break;
    case 'maxRegistrationsPerSource':
      cfg.maxRegistrationsPerSource = whole(where, name, v, 0, 1_000_000);
      break;
    case 'pike': {
      if (/^(off|none|no)$/i.test(v)) {
        delete cfg.pike;
        break;
      }
      const m = /^(\d+)\/(\d+)$/.exec(v);
      if (m === null) throw new TandemError('CONFIG', `${where}${name}: "${v}" must be N/SECONDS (requests per window) or off`);
      cfg.pike = { limit: whole(where, name, m[1], 1, 1_000_000), windowMs: whole(where, name, m[2], 1, 3600) * 1000 };
      break;
    }
    case 'pikeBan':
      cfg.pikeBan = whole(where, name, v, 1, 86_400);
      break;
    case 'pikeBanMax':
      cfg.pikeBanMax = whole(where, name, v, 1, 7 * 86_400);
      break;
    case 'pikeSources':
      cfg.pikeSources = whole(where, name, v, 16, 10_000_000);
      break;
    case 'overloadLag':
      cfg.overloadLag = whole(where, name, v, 0, 60_000);
      break;
    case 'overloadTransactions':
      cfg.overloadTransactions = whole(where, name, v, 0, 10_000_000);
      break;
    case 'overloadMinPorts':
      cfg.overloadMinPorts = whole(where, name, v, 0, 65_535);
      break;
    case 'overloadRetryAfter': {
      const m = /^(\d+)(?:-(\d+))?$/.exec(v);
      if (m === null) throw new TandemError('CONFIG', `${where}${name}: "${v}" must be SECONDS or MIN-MAX`);
      const min = whole(where, name, m[1], 1, 86_400);
      const max = m[2] === undefined ? min : whole(where, name, m[2], 1, 86_400);
      if (max < min) throw new TandemError('CONFIG', `${where}${name}: ${max} is below ${min}`);
      cfg.overloadRetryAfter = { min, max };
      break;
    }
  }
}

/** Checks across options. */
export function validateEdge(cfg: EdgeConfig): void {
  if (cfg.pikeBanMax < cfg.pikeBan) throw new TandemError('CONFIG', `--pike-ban-max (${cfg.pikeBanMax}) must not be below --pike-ban (${cfg.pikeBan})`);
}
