import type { Logger } from '../common/log.js';
import type { Clock } from '../common/clock.js';
import type { SipEndpoint, SipSender } from '../sip/transport/types.js';
import type { MediaControl } from '../media/api.js';
import type { Registrar } from '../edge/registrar.js';
import type { OverloadControl } from '../edge/overload.js';
import type { SourceLimits } from '../edge/acl-sources.js';
import type { Authenticator } from '../edge/auth.js';
import type { RouteTable } from './routes.js';
import type { TargetResolver } from './resolve.js';
import type { DialogPersistence } from './dialog-state.js';
import type { B2buaCall } from './call.js';
import type { LegBCounters } from './sip-context.js';

/** What the B2BUA is built from: its transport, media plane, routes and the edge's guards. */
export interface B2buaOptions {
  sender: SipSender;
  media: MediaControl;
  routes: RouteTable;
  /** our listeners: a request whose Via already holds one of them has looped (482). */
  ownEndpoints: SipEndpoint[];
  copyHeaders: string[];
  uaDeny: string[];
  clock: Clock;
  log: Logger;
  /** Server of our responses and User-Agent of our requests; absent = neither header (the product is not named). */
  userAgent?: string;
  /** how often calls are checked against the media plane's list (media timeout → BYE); 0 = never. */
  mediaWatchMs?: number;
  /** digest authentication (`--auth-users`); absent = nobody is asked, routes with "auth": "required" are never taken. */
  auth?: Authenticator;
  /** answers REGISTER and finds the contacts of routes with target "registered"; absent = REGISTER refused 405. */
  registrar?: Registrar;
  /** edge/: 503 for new INVITEs and REGISTERs while the box is overloaded. */
  overload?: Pick<OverloadControl, 'refuse'>;
  /** edge/: a call slot per source IP, held until the call ends. */
  sourceLimits?: Pick<SourceLimits, 'acquire' | 'limit'>;
  /** resolves named targets and X-Outbound-Proxy per call (RFC 3263); absent = a named target gets 503. */
  dns?: TargetResolver;
  /** each call once it has ended (call records); `reason` as logged. */
  onCallEnded?: (call: B2buaCall, reason: string) => void;
  /** confirmed calls written on every change and removed when they end, for a takeover (`--redis`). */
  persist?: DialogPersistence;
}

export interface B2buaCounters extends LegBCounters {
  calls: number;
  rejected: number;
  dropped: number;
  mediaTimeouts: number;
  /** Calls ended because the media worker carrying them failed. */
  mediaFailures: number;
  /** requests whose handling threw: answered 500 (488 for an SDP fault), call state released. */
  internalErrors: number;
  /** calls to a "registered" route whose AOR had no live contact (480). */
  notRegistered: number;
  /** calls ended because leg A's INVITE got no final response by the transaction layer's deadline. */
  deadlines: number;
}
