import type { SipRequest } from '../sip/message.js';
import type { Authenticator, AuthVerdict } from './auth.js';
import type { RegisterAuthorizer } from './registrar.js';

/**
 * Who must authenticate before a route is taken. A route's `auth` says it ("required" | "none");
 * without it, every source must when authentication is on (`--auth-users`), except trusted ones.
 * A route with `"auth": "required"` is never taken by an unauthenticated call, trusted or not.
 *
 * The gate knows routes only through two callbacks, so the routing table stays the B2BUA's.
 */
export type RouteAuth = 'required' | 'none';

export interface GateInput<R> {
  req: SipRequest;
  source: string;
  trusted: boolean;
  /** the route for this request as seen by an authenticated `user` (undefined: not authenticated). */
  select: (user: string | undefined) => R | undefined;
  authOf: (route: R) => RouteAuth | undefined;
}

export type GateResult<R> = { kind: 'pass'; route: R | undefined; user?: string } | Extract<AuthVerdict, { kind: 'respond' }>;

export function gateRequest<R>(auth: Authenticator | undefined, input: GateInput<R>): GateResult<R> {
  const needs = (r: R): boolean => {
    const a = input.authOf(r);
    return a === 'required' || (a === undefined && auth !== undefined && !input.trusted);
  };
  const anonymous = input.select(undefined);
  if (anonymous !== undefined && !needs(anonymous)) {
    auth?.stripOwn(input.req, 'proxy');
    return { kind: 'pass', route: anonymous };
  }
  // No route without a user, or the one found asks for one. Without an authenticator nobody can
  // be one: no route (404). Otherwise challenge before revealing whether any route would match.
  if (auth === undefined) return { kind: 'pass', route: undefined };
  const verdict = auth.authenticate(input.req, input.source, 'proxy');
  if (verdict.kind === 'respond') return verdict;
  return { kind: 'pass', route: input.select(verdict.user), user: verdict.user };
}

/**
 * REGISTER: the registrar's authorizer (RFC 3261 §10.3 step 4). Every REGISTER is challenged 401
 * until answered, trusted sources too: the user it proves is the AOR it may bind, which the
 * registrar checks against the To URI.
 */
export function registerAuthorizer(auth: Authenticator): RegisterAuthorizer {
  return {
    authorize(req, source) {
      const v = auth.authenticate(req, source.address, 'registrar');
      return v.kind === 'ok' ? { ok: true, user: v.user } : { ok: false, status: v.status, reason: v.reason, headers: v.headers };
    },
  };
}
