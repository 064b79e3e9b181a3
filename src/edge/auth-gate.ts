import type { SipRequest } from '../sip/message.js';
import type { Authenticator, AuthVerdict } from './auth.js';

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
 * REGISTER (for the registrar, src/edge/registrar*): 401 + WWW-Authenticate until it is answered,
 * except from a trusted source (an SBC registering on its phones' behalf); the user it proves is
 * the one it may bind (RFC 3261 §10.3 step 4, checked by the registrar against the To URI).
 */
export function gateRegister(auth: Authenticator | undefined, input: { req: SipRequest; source: string; trusted: boolean }): { kind: 'pass'; user?: string } | Extract<AuthVerdict, { kind: 'respond' }> {
  if (auth === undefined || input.trusted) {
    auth?.stripOwn(input.req, 'registrar');
    return { kind: 'pass' };
  }
  const verdict = auth.authenticate(input.req, input.source, 'registrar');
  return verdict.kind === 'ok' ? { kind: 'pass', user: verdict.user } : verdict;
}
