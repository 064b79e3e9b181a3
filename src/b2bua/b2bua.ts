import { errorMessage } from '../common/errors.js';
import { getCallId, getHeader, getTo, getUserAgent, type SipRequest, type SipResponse, type Via } from '../sip/message.js';
import { parseUri } from '../sip/uri.js';
import type { InboundMessage, SipEndpoint } from '../sip/transport/types.js';
import type { ServerTransaction, TransactionUser } from '../sip/transaction/types.js';
import { parseSdp, mediaCodecs } from '../sdp/sdp.js';
import type { B2buaCounters, B2buaOptions } from './b2bua-options.js';
import { SipContext, sdpBody, warning, type TransactionApi } from './sip-context.js';
import { allowOutOfDialog } from './methods.js';
import { bindingTargets } from './registered.js';
import { B2buaCall, type Leg } from './call.js';
import { DialogTakeover } from './dialog-state.js';
import type { CallSetup } from './call-core.js';
import { requestFailureResponse } from './status-map.js';
import { MediaWatch } from './media-watch.js';
import { checkOffer } from './policy.js';
import { isTrustedProxy, isTrustedSource, orderTargets, parseTargetUri, selectRoute, type Route, type RouteTable } from './routes.js';
import { headersToCopy } from './identity.js';
import { checkRequest } from './sanity.js';
import type { Release } from '../edge/acl-sources.js';
import type { UacAuthStats } from './uac-auth.js';
import { gateRequest } from '../edge/auth-gate.js';
import { DnsFailure, PendingResolutions, needsDns, resolveSetup, type SipLookup } from './resolve.js';

export type { B2buaOptions, B2buaCounters } from './b2bua-options.js';

/**
 * The B2BUA core: the transaction user that turns requests into calls (leg A ↔ leg B) and routes
 * in-dialog requests to them. It reaches media only through MediaControl.
 */
export class B2bua implements TransactionUser {
  private ctx: SipContext | undefined;
  private readonly byKey = new Map<string, { call: B2buaCall; leg: Leg }>();
  private readonly live = new Set<B2buaCall>();
  private readonly slots = new Map<B2buaCall, Release>();
  private readonly stored = new DialogTakeover();
  private readonly resolving = new PendingResolutions();
  private readonly watch: MediaWatch;
  readonly counters: B2buaCounters = { calls: 0, rejected: 0, dropped: 0, mediaTimeouts: 0, mediaFailures: 0, internalErrors: 0, notRegistered: 0, deadlines: 0, legBFailovers: 0, legBExhausted: 0 };

  /** Allow outside a dialog: REGISTER is in it when the registrar is on. */
  private readonly allowOod: string;

  constructor(private readonly opts: B2buaOptions) {
    this.allowOod = allowOutOfDialog(opts.registrar !== undefined);
    this.watch = new MediaWatch({ media: opts.media, clock: opts.clock, log: opts.log, everyMs: opts.mediaWatchMs ?? 5000, calls: () => this.live, counters: this.counters });
  }

  /** The transaction layer is built with this object as its user, then handed back here. */
  attach(transactions: TransactionApi): void {
    this.ctx = new SipContext(transactions, this.opts.sender, this.opts.media, this.opts.clock, this.opts.log, this.opts.userAgent, this.counters);
    this.watch.start();
  }

  private context(): SipContext {
    if (this.ctx === undefined) throw new Error('B2bua used before attach()');
    return this.ctx;
  }

  /** challenges from trunks answered with a route's credentials, and those given up on (uac-auth.ts). */
  trunkAuthStats(): UacAuthStats {
    return { ...(this.ctx?.trunkAuth ?? { answered: 0, refused: 0 }) };
  }

  activeCalls(): number {
    return this.live.size;
  }

  /** A reloaded routes file: new calls take it; calls in progress keep the route (targets, policy) they started with. */
  setRoutes(routes: RouteTable): void {
    this.opts.routes = routes;
  }

  /** The live calls (operations: `tandem ctl list`, calls by state in /metrics). */
  calls(): B2buaCall[] {
    return [...this.live];
  }

  /** Ends the call whose leg A or leg B Call-ID this is (BYE to both legs, or CANCEL/final response); false if none. */
  terminate(callId: string, reason = 'terminated by the operator'): boolean {
    const call = [...this.live].find((c) => c.mediaCallId === callId || c.bCallId === callId);
    call?.end(reason, { aStatus: 480 });
    return call !== undefined;
  }

  /** What the B2BUA holds: live calls, and dialog keys (kept 32 s after a call ends for late requests). */
  held(): { calls: number; dialogKeys: number } {
    return { calls: this.live.size, dialogKeys: this.byKey.size };
  }

  /**
   * Screening before the transaction layer sees a message: requests from a denied User-Agent
   * (scanners) are dropped without a word, so they learn nothing, not even a 100 Trying.
   */
  screen(inbound: InboundMessage): boolean {
    const msg = inbound.message;
    if (msg.kind !== 'request') return true;
    const ua = (getUserAgent(msg) ?? '').toLowerCase();
    if (ua !== '' && this.opts.uaDeny.some((d) => ua.includes(d.toLowerCase()))) {
      this.counters.dropped++;
      this.opts.log.debug({ source: inbound.source.address, ua }, 'denied User-Agent: dropped');
      return false;
    }
    return true;
  }

  private isOwnVia = (via: Via): boolean => {
    const host = via.host.replace(/^\[|\]$/g, '');
    const port = via.port ?? (via.transport === 'TLS' ? 5061 : 5060);
    return this.opts.ownEndpoints.some((e) => e.address === host && e.port === port);
  };

  /**
   * Every request from the transaction layer. Whatever goes wrong in handling it ends in a final
   * response here (the layer's own 500 is only the backstop) and leaves no call behind.
   */
  onRequest(req: SipRequest, txn: ServerTransaction, inbound: InboundMessage): void {
    try {
      this.handleRequest(req, txn, inbound);
    } catch (err) {
      this.failed(req, txn, err);
    }
  }

  /** What handling `req` threw (now or in its asynchronous part) ends in a final response and no call left. */
  private failed(req: SipRequest, txn: ServerTransaction, err: unknown): void {
    this.counters.internalErrors++;
    const { status, reason, headers } = requestFailureResponse(err);
    this.opts.log.error({ err, callId: safeCallId(req), method: req.method }, 'request handling failed');
    for (const call of [...this.live]) if (call.isInviteTransaction(txn)) call.end('internal error', { aStatus: status });
    if (txn.state !== 'trying' && txn.state !== 'proceeding') return;
    this.reject(txn, status, reason, errorMessage(err), headers);
  }

  private handleRequest(req: SipRequest, txn: ServerTransaction, inbound: InboundMessage): void {
    const ctx = this.context();
    const verdict = checkRequest(req, { uaDeny: this.opts.uaDeny, supportedExtensions: req.method === 'REGISTER' ? ['path'] : [], isOwnVia: this.isOwnVia, registrar: this.opts.registrar !== undefined });
    if (verdict.action === 'drop') {
      this.counters.dropped++;
      return;
    }
    if (verdict.action === 'reject') {
      this.counters.rejected++;
      this.opts.log.info({ callId: getCallId(req), method: req.method, status: verdict.status, reason: verdict.reason }, 'request rejected');
      ctx.respond(txn, verdict.status, { reason: verdict.reason, headers: verdict.headers });
      return;
    }
    const toTag = getTo(req)?.tag;
    if (req.method === 'CANCEL') {
      this.onCancel(req, txn);
      return;
    }
    if (toTag !== undefined) {
      const hit = this.byKey.get(`${getCallId(req) ?? ''}|${toTag}`);
      if (hit === undefined) {
        ctx.respond(txn, 481);
        return;
      }
      hit.call.handleRequest(hit.leg, req, txn);
      return;
    }
    // What starts new work is refused under overload, statelessly; what finishes work (above) never is.
    if (req.method === 'INVITE' || req.method === 'REGISTER') {
      const refusal = this.opts.overload?.refuse();
      if (refusal !== undefined) {
        this.counters.rejected++;
        // Stateless: a refused request must not hold a server transaction for 64*T1 (32 s), or the
        // refusals themselves keep --overload-transactions tripped while refused UAs retry.
        ctx.respond(txn, refusal.status, { reason: refusal.reason, headers: [{ name: 'Retry-After', value: String(refusal.retryAfter) }], stateless: true });
        return;
      }
    }
    switch (req.method) {
      case 'OPTIONS':
        // Out of dialog, OPTIONS is a keepalive/capability probe addressed to us (RFC 3261 §11.2).
        ctx.respond(txn, 200, { headers: [{ name: 'Allow', value: this.allowOod }, { name: 'Accept', value: 'application/sdp' }] });
        return;
      case 'INVITE':
        this.onInvite(req, txn, inbound);
        return;
      case 'REGISTER':
        this.onRegister(req, txn, inbound);
        return;
      case 'MESSAGE':
        // Only inside a call is a MESSAGE relayed; here it has nowhere to go.
        ctx.respond(txn, 405, { headers: [{ name: 'Allow', value: this.allowOod }] });
        return;
      default:
        ctx.respond(txn, 481);
    }
  }

  /** REGISTER goes to the registrar (sanity lets it through only when there is one). */
  private onRegister(req: SipRequest, txn: ServerTransaction, inbound: InboundMessage): void {
    const registrar = this.opts.registrar;
    if (registrar === undefined) return this.context().respond(txn, 405, { headers: [{ name: 'Allow', value: this.allowOod }] });
    registrar
      .handle(req, inbound.source)
      .then((r) => {
        if (txn.state === 'trying' || txn.state === 'proceeding') this.context().respond(txn, r.status, { reason: r.reason, headers: r.headers });
      })
      .catch((err: unknown) => this.failed(req, txn, err));
  }

  private reject(txn: ServerTransaction, status: number, reason: string, why: string, headers: { name: string; value: string }[] = []): void {
    this.counters.rejected++;
    this.opts.log.info({ callId: getCallId(txn.request), method: txn.request.method, status, why }, 'request rejected');
    this.context().respond(txn, status, { reason, headers });
  }

  private onInvite(req: SipRequest, txn: ServerTransaction, inbound: InboundMessage): void {
    const ctx = this.context();
    const ct = getHeader(req, 'Content-Type');
    if (req.body.length > 0 && sdpBody(req) === undefined) {
      this.reject(txn, 415, 'Unsupported Media Type', `body of type ${ct ?? 'unknown'}`, [{ name: 'Accept', value: 'application/sdp' }]);
      return;
    }
    // An offerless INVITE (late offer) is fine: the callee's 2xx will carry the offer.
    const sdp = sdpBody(req);
    const ruri = parseUri(req.uri);
    const user = ruri.ok && ruri.uri.type === 'sip' ? ruri.uri.user : ruri.ok && ruri.uri.type === 'tel' ? ruri.uri.number : undefined;
    const domain = ruri.ok && ruri.uri.type === 'sip' ? ruri.uri.host : undefined;
    const source = inbound.source.address;
    const select = (authUser?: string): Route | undefined => selectRoute(this.opts.routes, { ...(user !== undefined ? { user } : {}), ...(domain !== undefined ? { domain } : {}), source, ...(authUser !== undefined ? { authUser } : {}) });
    // Digest authentication (edge/): a challenge, or the route as the authenticated user sees it.
    const gate = gateRequest(this.opts.auth, { req, source, trusted: isTrustedSource(this.opts.routes, source), select, authOf: (r) => r.auth });
    if (gate.kind === 'respond') return this.reject(txn, gate.status, gate.reason, `authentication (${gate.status})`, gate.headers);
    const route = gate.route;
    if (route === undefined) {
      this.reject(txn, 404, 'No Route', `no route for ${req.uri} from ${inbound.source.address}`);
      return;
    }
    let [nextHop, hopLookup]: [SipEndpoint | undefined, SipLookup | undefined] = [undefined, undefined];
    const xop = getHeader(req, 'X-Outbound-Proxy');
    if (xop !== undefined) {
      if (isTrustedProxy(this.opts.routes, inbound.source.address)) {
        try {
          ({ endpoint: nextHop, lookup: hopLookup } = parseTargetUri(xop.trim().replace(/^<|>$/g, ''), 'X-Outbound-Proxy', { dns: true }));
        } catch (err) {
          this.reject(txn, 400, 'Bad X-Outbound-Proxy', errorMessage(err));
          return;
        }
      } else {
        this.opts.log.warn({ callId: getCallId(req), source: inbound.source.address }, 'X-Outbound-Proxy from an untrusted source ignored');
      }
    }
    let codecs: string[] = [];
    try {
      if (sdp !== undefined) {
        const parsed = parseSdp(sdp);
        codecs = parsed.session.media.filter((m) => m.type === 'audio' && m.port !== 0).flatMap((m) => mediaCodecs(m).map((c) => c.name));
      }
    } catch (err) {
      this.reject(txn, 400, 'Malformed SDP', errorMessage(err), [warning(errorMessage(err), 399)]);
      return;
    }
    const refusal = sdp === undefined ? null : checkOffer(route.policy, 'a-to-b', codecs, this.opts.media.codecs);
    if (refusal !== null) {
      this.reject(txn, 488, 'Not Acceptable Here', refusal, [warning(refusal)]);
      return;
    }
    const { copy, withheld } = headersToCopy(this.opts.copyHeaders, isTrustedSource(this.opts.routes, inbound.source.address));
    if (withheld.some((h) => getHeader(req, h) !== undefined))
      this.opts.log.info({ callId: getCallId(req), source: inbound.source.address, withheld }, 'identity headers from an untrusted source not copied to leg B');
    const setup: CallSetup = { invite: req, txn, inbound, routeName: route.name, policy: route.policy, targets: orderTargets(route), ...(nextHop !== undefined ? { nextHop } : {}), copyHeaders: copy, callerCodecs: codecs.filter((c) => !/^(telephone-event|cn)$/i.test(c)) };
    if (route.registered !== true && needsDns(setup.targets, hopLookup)) {
      // A name that does not resolve is the operator's trunk, not the caller's fault: 503 with a Warning saying why.
      const unresolved = (err: unknown): void => (err instanceof DnsFailure ? this.reject(txn, 503, 'Service Unavailable', err.message, [warning(`DNS: ${err.message}`, 399)]) : this.failed(req, txn, err));
      return this.resolving.run(txn, resolveSetup(setup, this.opts.dns, hopLookup), (s) => this.startCall(s, gate.user), unresolved);
    }
    if (route.registered !== true) return this.startCall(setup, gate.user);
    const registrar = this.opts.registrar;
    if (registrar === undefined || user === undefined || domain === undefined) {
      this.counters.notRegistered++;
      this.reject(txn, 480, 'Temporarily Unavailable', registrar === undefined ? 'route targets "registered" but the registrar is off' : `no user@host in ${req.uri}`);
      return;
    }
    registrar
      .lookup(user, domain)
      .then((bindings) => {
        if (txn.state !== 'trying' && txn.state !== 'proceeding') return;
        const targets = bindingTargets(bindings, this.opts.log.child({ callId: getCallId(req) }));
        if (targets.length > 0) return this.startCall({ ...setup, targets, parallel: true }, gate.user);
        this.counters.notRegistered++;
        this.reject(txn, 480, 'Temporarily Unavailable', `no registered contact for ${user}@${domain}`);
      })
      .catch((err: unknown) => this.failed(req, txn, err));
  }

  /** `user`: the digest-authenticated caller, for the log. */
  private startCall(setup: CallSetup, user: string | undefined): void {
    const { invite: req, inbound, txn } = setup;
    const slot = this.opts.sourceLimits?.acquire('call', inbound.source.address);
    if (this.opts.sourceLimits !== undefined && slot === undefined) {
      this.reject(txn, 503, 'Too Many Calls From This Source', `${inbound.source.address} holds ${this.opts.sourceLimits.limit('call')} calls (--max-calls-per-source)`);
      return;
    }
    let call: B2buaCall;
    try {
      call = new B2buaCall(this.context(), setup, (c, reason) => this.forget(c, reason));
    } catch (err) {
      slot?.();
      throw err;
    }
    this.counters.calls++;
    if (slot !== undefined) this.slots.set(call, slot);
    this.track(call);
    call.log.info({ from: inbound.source.address, protocol: inbound.source.protocol, ruri: req.uri, ...(user !== undefined ? { user } : {}) }, 'new call');
    call.start();
  }

  /** A live call: found by its dialogs' keys, written to --redis after each of its events; undefined if its keys are taken. */
  private track(call: B2buaCall): B2buaCall | undefined {
    if (this.byKey.has(call.keys()[0][0])) return undefined;
    this.live.add(call);
    for (const [key, leg] of call.keys()) this.byKey.set(key, { call, leg });
    this.stored.watch(call, this.opts.persist, (c) => this.live.has(c));
    return call;
  }

  /** Takes over confirmed calls another process wrote (`--redis`, dialog-state.ts). */
  restore(snapshots: string[], dropped?: (index: number) => void): { restored: number; failed: number } {
    return this.stored.restore(snapshots, dropped, this.opts.log, (setup, legs) => this.track(new B2buaCall(this.context(), setup, (c, r) => this.forget(c, r), legs)));
  }

  private forget(call: B2buaCall, reason: string): void {
    this.live.delete(call);
    this.stored.ended(call, this.opts.persist);
    try {
      this.opts.onCallEnded?.(call, reason);
    } catch (err) {
      call.log.warn({ err }, 'call-ended hook failed');
    }
    this.slots.get(call)?.();
    this.slots.delete(call);
    // Keys stay a little while so a late BYE or retransmission is answered (200/481) by the call, not the void.
    const t = this.opts.clock.setTimer(32_000, () => {
      for (const [key] of call.keys()) if (this.byKey.get(key)?.call === call) this.byKey.delete(key);
    });
    void t;
  }

  private onCancel(cancel: SipRequest, txn: ServerTransaction): void {
    const ctx = this.context();
    const invite = ctx.transactions.findInviteServerTransaction(cancel);
    const call = invite === undefined ? undefined : [...this.live].find((c) => c.isInviteTransaction(invite));
    if (call === undefined) {
      const resolving = invite !== undefined && this.resolving.cancel(invite); // still resolving its targets: 487, no call (§9.2)
      ctx.respond(txn, resolving ? 200 : 481);
      if (resolving) ctx.respond(invite, 487);
      return;
    }
    // RFC 3261 §9.2: the 200 to the CANCEL carries the To tag of the INVITE's responses.
    ctx.respond(txn, 200, { toTag: call.aLocalTag });
    call.cancelFromA();
  }

  onAck(ack: SipRequest): void {
    const hit = this.byKey.get(`${getCallId(ack) ?? ''}|${getTo(ack)?.tag ?? ''}`);
    hit?.call.handleAck(hit.leg, ack);
  }

  onStrayResponse(response: SipResponse): void {
    this.opts.log.debug({ callId: getCallId(response), status: response.status }, 'response matched no transaction');
  }

  /** The layer answered 408 for us (no final response in time): the call behind it ends. */
  onDeadline(txn: ServerTransaction): void {
    for (const call of [...this.live]) {
      if (call.isInviteTransaction(txn)) {
        this.counters.deadlines++;
        call.log.warn('no final response for the caller within the deadline; ending the call');
        call.end('no final response in time', { aStatus: 408 });
      }
    }
  }

  onAckTimeout(txn: ServerTransaction): void {
    for (const call of this.live) {
      if (call.isInviteTransaction(txn)) {
        call.log.warn('no ACK for our 2xx within 64*T1; ending the call');
        call.end('no ACK from the caller');
      }
    }
  }

  /** Stops the watchdog and hangs up every call (BYE both legs). */
  close(): void {
    this.watch.stop();
    for (const call of [...this.live]) call.end('shutting down');
  }
}

function safeCallId(req: SipRequest): string | undefined {
  try {
    return getCallId(req);
  } catch {
    return undefined;
  }
}
