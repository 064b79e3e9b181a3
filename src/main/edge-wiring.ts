import type { Logger } from '../common/log.js';
import { systemClock } from '../common/clock.js';
import { addressList, type AddressList } from '../common/cidr.js';
import type { TandemConfig } from '../config/config.js';
import { AccessControl } from '../edge/acl.js';
import { SourceLimits } from '../edge/acl-sources.js';
import { Pike } from '../edge/pike.js';
import { OverloadControl, type OverloadInputs } from '../edge/overload.js';
import type { Authenticator } from '../edge/auth.js';
import { registerAuthorizer } from '../edge/auth-gate.js';
import { Registrar } from '../edge/registrar.js';
import type { SharedState } from '../state/state-wiring.js';
import type { AdmitHook } from '../sip/transport/admit.js';
import { aclLists } from './sip-files.js';

export interface Edge {
  acl: AccessControl;
  sourceLimits: SourceLimits;
  /** undefined with --pike=off. */
  pike?: Pike;
  overload: OverloadControl;
}

/**
 * Access lists, flood defence and overload control (edge/), and the transport's admit hook over
 * them. `isTrusted` is asked each time (a reloaded routes file changes who is trusted).
 */
export function startEdge(config: TandemConfig, isTrustedSource: (address: string) => boolean, inputs: OverloadInputs, log: Logger): { edge: Edge; admit: AdmitHook } {
  const exempt = addressList(config.floodExempt);
  const isTrusted = (address: string): boolean => exempt.has(address) || isTrustedSource(address);
  const lists = aclLists(config);
  const acl = new AccessControl({ ...(lists.allow !== undefined ? { allow: lists.allow } : {}), ...(lists.deny !== undefined ? { deny: lists.deny } : {}), listeners: config.listenSip });
  const sourceLimits = new SourceLimits({ maxCallsPerSource: config.maxCallsPerSource, maxRegistrationsPerSource: config.maxRegistrationsPerSource, isTrusted });
  const pike =
    config.pike === undefined
      ? undefined
      : new Pike({ limit: config.pike.limit, windowMs: config.pike.windowMs, banMs: config.pikeBan * 1000, maxBanMs: config.pikeBanMax * 1000, maxSources: config.pikeSources, isTrusted, clock: systemClock, log: log.child({ component: 'pike' }) });
  const overload = new OverloadControl(
    { maxLagMs: config.overloadLag, maxServerTransactions: config.overloadTransactions, minFreePorts: config.overloadMinPorts, retryAfterMin: config.overloadRetryAfter.min, retryAfterMax: config.overloadRetryAfter.max },
    inputs,
    log.child({ component: 'overload' }),
  );
  // Responses, ACKs and keepalives weigh nothing: a banned source is still dropped, but a trunk's replies do not count.
  const admit: AdmitHook = (source, local, kind) => acl.admit(source.address, local) && (pike === undefined || pike.check(source.address, kind === 'other' ? 0 : 1));
  return { edge: { acl, sourceLimits, overload, ...(pike !== undefined ? { pike } : {}) }, admit };
}

/** The registrar: Path and (without authentication) REGISTER itself only from trusted sources (`trusted()`, asked each time). */
export function newRegistrar(config: TandemConfig, trusted: () => AddressList, auth: Authenticator | undefined, sourceLimits: SourceLimits, log: Logger, state?: SharedState): Registrar {
  return new Registrar({
    clock: systemClock,
    log: log.child({ component: 'registrar' }),
    isTrusted: (address) => trusted().has(address),
    ...(auth !== undefined ? { authorizer: registerAuthorizer(auth) } : {}),
    // --max-registrations-per-source: one slot per binding, given back when the binding goes.
    sourceLimits,
    ...(state !== undefined ? { store: state.locationStore(systemClock) } : {}),
    limits: {
      minExpires: config.registrarMinExpires,
      maxExpires: config.registrarMaxExpires,
      defaultExpires: config.registrarDefaultExpires,
      expiryJitter: config.registrarExpiryJitter / 100,
      maxBindingsPerAor: config.registrarMaxBindingsPerAor,
      maxBindings: config.registrarMaxBindings,
    },
  });
}
