import { addressList, type AddressList } from '../common/cidr.js';
import type { SipEndpoint } from '../sip/transport/types.js';

/** One listener's own lists (`udp:IP:PORT;allow=CIDR|CIDR;deny=CIDR`), on top of the global ones. */
export interface ListenerAclSpec {
  protocol: string;
  address: string;
  /** 0 = the port the listener was given by the system. */
  port: number;
  allow?: readonly string[];
  deny?: readonly string[];
}

export interface AclOptions {
  allow?: readonly string[];
  deny?: readonly string[];
  listeners?: readonly ListenerAclSpec[];
}

export interface AclCounters {
  /** packets and connections dropped because their source is on a deny list or off an allow list. */
  denied: number;
}

interface Rule {
  allow: AddressList | undefined;
  deny: AddressList | undefined;
}

function rule(allow: readonly string[] | undefined, deny: readonly string[] | undefined): Rule {
  return {
    allow: allow !== undefined && allow.length > 0 ? addressList(allow) : undefined,
    deny: deny !== undefined && deny.length > 0 ? addressList(deny) : undefined,
  };
}

/** A deny entry wins over an allow entry; with an allow list, only what it names passes. */
function passes(r: Rule, address: string): boolean {
  if (r.deny?.has(address) === true) return false;
  return r.allow === undefined || r.allow.has(address);
}

/**
 * Source access lists (`--sip-allow`, `--sip-deny`, and a listener's `;allow=`/`;deny=`), checked
 * by the transport before a byte is parsed (datagrams) or at accept (streams). Matching is
 * node:net BlockList through common/cidr, so an IPv4-mapped IPv6 source matches its IPv4 entry.
 */
export class AccessControl {
  private global: Rule;
  private readonly perListener: { spec: ListenerAclSpec; rule: Rule }[];
  readonly counters: AclCounters = { denied: 0 };

  constructor(opts: AclOptions) {
    this.global = rule(opts.allow, opts.deny);
    this.perListener = (opts.listeners ?? [])
      .filter((l) => (l.allow?.length ?? 0) > 0 || (l.deny?.length ?? 0) > 0)
      .map((spec) => ({ spec, rule: rule(spec.allow, spec.deny) }));
  }

  /**
   * New global lists (a reload of `--sip-acl-file`): the next packet or connection is judged by
   * them; the denied counter goes on. A connection already accepted stays (as with a firewall's
   * established state); its next request is checked again only if the transport asks.
   */
  setGlobal(allow: readonly string[] | undefined, deny: readonly string[] | undefined): void {
    this.global = rule(allow, deny);
  }

  /** True when anything at all is configured (an empty AccessControl lets everything through). */
  get active(): boolean {
    return this.global.allow !== undefined || this.global.deny !== undefined || this.perListener.length > 0;
  }

  /** Whether `source` may reach `local`; a refusal is counted (the caller drops silently). */
  admit(source: string, local: SipEndpoint): boolean {
    let ok = passes(this.global, source);
    if (ok) {
      const l = this.perListener.find((x) => x.spec.protocol === local.protocol && x.spec.address === local.address && (x.spec.port === 0 || x.spec.port === local.port));
      if (l !== undefined) ok = passes(l.rule, source);
    }
    if (!ok) this.counters.denied++;
    return ok;
  }
}
