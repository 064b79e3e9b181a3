import type { ServerTransaction } from '../sip/transaction/types.js';
import { DnsFailure, type SipLookup, type SipResolver } from '../sip/dns.js';
import type { CallSetup } from './call-core.js';
import type { RouteTarget } from './routes.js';

export { DnsFailure, type SipLookup } from '../sip/dns.js';
export type TargetResolver = Pick<SipResolver, 'resolve'>;

/**
 * Per-call DNS (RFC 3263): a named target expands, in its place, into one target per resolved
 * endpoint, so the serial failover of outbound.ts walks its SRV records on 503/408/transport error.
 * A name that fails is skipped while another target is left; when none is, the DnsFailure goes up.
 * An X-Outbound-Proxy name (`nextHop`) must resolve: each target then fails over across its addresses.
 */
export function needsDns(targets: RouteTarget[], nextHop?: SipLookup): boolean {
  return nextHop !== undefined || targets.some((t) => t.lookup !== undefined);
}

export async function resolveSetup(setup: CallSetup, dns: TargetResolver | undefined, nextHop?: SipLookup): Promise<CallSetup> {
  if (dns === undefined) throw new DnsFailure(nextHop?.host ?? setup.targets.find((t) => t.lookup)?.lookup?.host ?? '?', 'DNS is off');
  // All names at once: a route of several named targets waits for the slowest, not for the sum
  // (each resolve() has its own deadline); the results go back in the route's order.
  const lookups = setup.targets.map((t) => (t.lookup === undefined ? undefined : dns.resolve(t.lookup)));
  const hopLookup = nextHop === undefined ? undefined : dns.resolve(nextHop);
  hopLookup?.catch(() => undefined);
  const settled = await Promise.allSettled(lookups.map((l) => l ?? Promise.resolve([])));
  const targets: RouteTarget[] = [];
  let first: unknown;
  setup.targets.forEach((t, i) => {
    const r = settled[i];
    if (t.lookup === undefined) targets.push(t);
    else if (r.status === 'rejected') first ??= r.reason;
    else {
      const rest: RouteTarget = { ...t };
      delete rest.lookup;
      // A TLS peer is checked against the name the route gave, not the address DNS returned (RFC 5922 §4).
      for (const e of r.value) targets.push({ ...rest, endpoint: e.protocol === 'tls' ? { ...e, serverName: t.lookup.host } : e });
    }
  });
  if (targets.length === 0) throw first;
  if (nextHop === undefined || hopLookup === undefined) return { ...setup, targets };
  // X-Outbound-Proxy by name: every target is tried through each of its addresses in turn (RFC 3263
  // §4.3), so a proxy's 503, timeout or transport error moves on to its next record, as for a target.
  const hops = (await hopLookup).map((e) => (e.protocol === 'tls' ? { ...e, serverName: nextHop.host } : e));
  const rest: CallSetup = { ...setup };
  delete rest.nextHop;
  return { ...rest, targets: targets.flatMap((t) => hops.map((h) => ({ ...t, nextHop: h }))) };
}

/**
 * INVITEs waiting for their targets' DNS. A CANCEL meanwhile finds no call: `cancel` takes the
 * INVITE out so the caller gets 487 instead of a 481 that would let the call go on once resolved.
 */
export class PendingResolutions {
  private readonly pending = new Set<ServerTransaction>();

  /** `start` with the resolved setup, or `fail` with the error; neither if cancelled or the INVITE is over meanwhile. */
  run(txn: ServerTransaction, work: Promise<CallSetup>, start: (s: CallSetup) => void, fail: (err: unknown) => void): void {
    this.pending.add(txn);
    const open = (): boolean => this.pending.delete(txn) && (txn.state === 'trying' || txn.state === 'proceeding');
    work.then((s) => open() && start(s), (err: unknown) => open() && fail(err)).catch(fail);
  }

  cancel(txn: ServerTransaction): boolean {
    return this.pending.delete(txn);
  }

  get size(): number {
    return this.pending.size;
  }
}
