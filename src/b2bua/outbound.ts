import { errorMessage } from '../common/errors.js';
import { getCSeq, getFrom, getMaxForwards, getTo, headerLines, type SipHeader, type SipRequest, type SipResponse } from '../sip/message.js';
import { buildCancel, createRequest } from '../sip/build.js';
import { dialogDestination, dialogRequest, uacDialog } from '../sip/dialog.js';
import type { ClientTransaction, ClientTransactionHandler } from '../sip/transaction/types.js';
import type { SipEndpoint } from '../sip/transport/types.js';
import { ALLOW, sdpBody, warning } from './sip-context.js';
import { CallState, awaitingAnswer, isCancelled } from './call-state.js';
import { LEG_B_TIMEOUT, LEG_B_TRANSPORT_ERROR, isFailoverStatus, legBTransportErrorHeaders, mediaFailureStatus } from './status-map.js';
import { proxyHop, type CallCore } from './call-core.js';
import type { RouteTarget } from './routes.js';
import { legBRequestUri } from './target-uri.js';
import { UacAuth } from './uac-auth.js';

/** One INVITE of a parallel fork (a registered AOR's contacts). */
interface Branch {
  req: SipRequest;
  target: RouteTarget;
  destination: SipEndpoint;
  /** its final response came (or we gave up on it: cancelled after another branch won). */
  done: boolean;
  cancelled: boolean;
}

/**
 * Leg B's INVITE: built from scratch for each target in failover order, its provisional and
 * final responses turned into the caller's, and the CANCEL that follows the caller's.
 *
 * With `setup.parallel` (a route to the registrar's contacts) every target gets its INVITE at
 * once, as a forking proxy does (RFC 3261 §16.7): the first 2xx wins and the other branches are
 * CANCELled; when all fail, the best final response goes to the caller (a 6xx, which also cancels
 * the rest at once, else the lowest class, the first of that class), with any Warning Tandem gave it.
 */
export class OutboundInvite {
  private targetIndex = 0;
  /** the INVITE of the current attempt (the winning branch once one answered); responses to an earlier one are ignored. */
  private invite: SipRequest | undefined;
  private seq = 1;
  /** our CANCEL of leg B's INVITE, once sent (one per call). */
  private cancelTxn: ClientTransaction | undefined;
  /** parallel mode: every branch, in target order. */
  private readonly branches: Branch[] = [];
  /** parallel mode: the best failure so far (§16.7 step 6). */
  private best: { status: number; reason: string; why: string; headers?: SipHeader[] } | undefined;
  /** parallel mode: the branch whose early media the caller hears (the first with SDP). */
  private earlyBranch: SipRequest | undefined;
  /** the current target's digest client (its route gave `auth`), kept for the dialog's later requests. */
  private uacAuth: UacAuth | undefined;
  /** the credentials the current INVITE carries, once a challenge was answered. */
  private authHeader: SipHeader | undefined;
  private staleRetried = false;

  constructor(private readonly call: CallCore) {}

  private get parallel(): boolean {
    return this.call.setup.parallel === true;
  }

  private branchOf(req: SipRequest): Branch | undefined {
    return this.branches.find((b) => b.req === req);
  }

  /** Are responses to `req` still ours to act on? */
  private isCurrent(req: SipRequest): boolean {
    if (!this.parallel) return req === this.invite;
    const b = this.branchOf(req);
    return b !== undefined && !b.done;
  }

  private requestUri(target: RouteTarget): string {
    return legBRequestUri(this.call.setup.invite.uri, target.uri);
  }

  /** Sends leg B's INVITE to the current target (or, parallel, to every target), with the media plane's version of the caller's offer. */
  send(sdp: string | undefined): void {
    const { ctx, setup, log } = this.call;
    if (this.parallel) {
      for (const target of setup.targets) {
        const destination = proxyHop(setup, target) ?? target.endpoint;
        const req = this.buildInvite(target, destination, sdp);
        this.branches.push({ req, target, destination, done: false, cancelled: false });
        log.info({ target: target.uri, destination: `${destination.protocol}:${destination.address}:${destination.port}`, branch: this.branches.length }, 'leg B INVITE (parallel fork)');
        ctx.transactions.sendRequest(req, destination, this.handler(req, sdp));
      }
      return;
    }
    const target = setup.targets[this.targetIndex];
    const destination = proxyHop(setup, target) ?? target.endpoint;
    Object.assign(this.call.leg('b'), { dialog: undefined, protocol: destination.protocol, destination, contact: ctx.contact(destination.protocol) });
    const req = this.buildInvite(target, destination, sdp);
    this.invite = req;
    if (this.call.state === CallState.Early) this.call.moveTo(CallState.Trying);
    log.info({ target: target.uri, destination: `${destination.protocol}:${destination.address}:${destination.port}`, attempt: this.targetIndex + 1, of: setup.targets.length }, 'leg B INVITE');
    ctx.transactions.sendRequest(req, destination, this.handler(req, sdp));
  }

  private handler(req: SipRequest, sdp: string | undefined): ClientTransactionHandler {
    return {
      onProvisional: (res) => this.call.run(() => this.onProvisional(req, res)),
      onFinal: (res) => this.call.run(() => this.onFinal(req, res, sdp)),
      onTimeout: () => this.call.run(() => this.onFailure(req, LEG_B_TIMEOUT.status, LEG_B_TIMEOUT.reason, 'timeout')),
      onTransportError: (err) =>
        this.call.run(() => this.onFailure(req, LEG_B_TRANSPORT_ERROR.status, LEG_B_TRANSPORT_ERROR.reason, `transport error: ${errorMessage(err)}`, true, err, legBTransportErrorHeaders(err))),
    };
  }

  private buildInvite(target: RouteTarget, destination: SipEndpoint, sdp: string | undefined): SipRequest {
    const { ctx, setup } = this.call;
    const inv = setup.invite;
    const mf = getMaxForwards(inv);
    const from = getFrom(inv);
    const fromValue = `${from?.displayName !== undefined ? `"${from.displayName}" ` : ''}<${from?.uriText ?? 'sip:anonymous@anonymous.invalid'}>;tag=${this.call.bLocalTag}`;
    const to = getTo(inv);
    const toValue = `${to?.displayName !== undefined ? `"${to.displayName}" ` : ''}<${to?.uriText ?? this.requestUri(target)}>`;
    const headers: SipHeader[] = [
      { name: 'Via', value: ctx.via(destination.protocol) },
      { name: 'Max-Forwards', value: String(mf === undefined ? 70 : mf - 1) },
      // A registered contact's Path (RFC 3327 §5.3): loose routes toward it, the first is `destination`.
      ...(target.routeSet ?? []).map((r) => ({ name: 'Route', value: `<${r}>` })),
      { name: 'From', value: fromValue },
      { name: 'To', value: toValue },
      { name: 'Call-ID', value: this.call.bCallId },
      { name: 'CSeq', value: `${this.seq} INVITE` },
      { name: 'Contact', value: ctx.contact(destination.protocol) },
      { name: 'Allow', value: ALLOW },
      ...(this.authHeader !== undefined && !this.parallel ? [this.authHeader] : []),
      ...ctx.userAgentHeaders(),
    ];
    // Only the configured headers cross: topology hiding by construction.
    for (const name of setup.copyHeaders) for (const value of headerLines(inv, name)) headers.push({ name, value });
    const body = sdp !== undefined ? Buffer.from(sdp, 'utf8') : Buffer.alloc(0);
    if (sdp !== undefined) headers.push({ name: 'Content-Type', value: 'application/sdp' });
    return createRequest('INVITE', this.requestUri(target), headers, body);
  }

  private async onProvisional(req: SipRequest, res: SipResponse): Promise<void> {
    if (!this.isCurrent(req) || res.status === 100) return;
    const call = this.call;
    switch (call.state) {
      case CallState.CancelPending:
        // RFC 3261 §9.1: the CANCEL the caller asked for could not go before a provisional.
        this.sendCancel();
        call.moveTo(CallState.Cancelling);
        return;
      case CallState.Cancelling:
        return;
      case CallState.Ended:
        // Ended while leg B was still trying: its INVITE must not go on ringing.
        if (call.leg('b').dialog === undefined) this.sendCancel();
        return;
      case CallState.Confirmed:
        return;
      case CallState.Trying:
        call.moveTo(CallState.Early);
        break;
      case CallState.Early:
        break;
    }
    let sdp = sdpBody(res);
    // Forked: the caller hears one branch's early media, the first that offers any.
    if (this.parallel && sdp !== undefined) {
      this.earlyBranch ??= req;
      if (this.earlyBranch !== req) sdp = undefined;
    }
    let aSdp: string | undefined;
    if (sdp !== undefined && sdpBody(call.setup.invite) !== undefined) {
      try {
        // Early media (RFC 3960): the 18x's SDP is an answer; the media plane starts relaying now.
        aSdp = await call.mediaAnswer('a-to-b', sdp);
      } catch (err) {
        call.log.warn({ err }, 'early media answer failed; relaying the provisional without SDP');
      }
    }
    if (!awaitingAnswer(call.state)) return;
    call.respondA(res.status, { reason: res.reason, ...(aSdp !== undefined ? { sdp: aSdp } : {}) });
  }

  private async onFinal(req: SipRequest, res: SipResponse, sentSdp: string | undefined): Promise<void> {
    if (res.status >= 200 && res.status < 300) {
      await this.on2xx(req, res, sentSdp);
      return;
    }
    if (!this.isCurrent(req)) return;
    if (this.parallel) {
      this.branchFailed(req, res.status, res.reason, `${res.status} ${res.reason}`);
      return;
    }
    if (isCancelled(this.call.state) || this.call.state === CallState.Ended) {
      this.call.finish('cancelled', false);
      return;
    }
    if ((res.status === 401 || res.status === 407) && this.call.setup.targets[this.targetIndex].auth !== undefined) {
      await this.onChallenge(req, res, sentSdp);
      return;
    }
    await this.onFailure(req, res.status, res.reason, `${res.status} ${res.reason}`, isFailoverStatus(res.status));
  }

  /**
   * The trunk challenged our INVITE (RFC 3261 §22.2): the transaction layer ACKed it; the same
   * INVITE goes again with CSeq+1 and our credentials. Challenged again after that (our password
   * is wrong) is the end, not a loop: 403 with a Warning that says so, or the next target.
   */
  private async onChallenge(req: SipRequest, res: SipResponse, sentSdp: string | undefined): Promise<void> {
    const target = this.call.setup.targets[this.targetIndex];
    if (target.auth === undefined) return;
    this.uacAuth ??= new UacAuth(target.auth);
    const r = this.uacAuth.answer(res, { method: 'INVITE', uri: req.uri }, this.authHeader !== undefined, this.staleRetried);
    if (!r.ok) {
      this.call.ctx.trunkAuth.refused++;
      this.call.log.warn({ status: res.status, why: r.reason, target: target.uri }, 'leg B: trunk authentication failed');
      await this.onFailure(req, 403, 'Forbidden', `${res.status}: ${r.reason}`, true, undefined, [warning(r.reason.replace(/[^\x20-\x7e]/g, '?'), 399)]);
      return;
    }
    if (r.stale === true) this.staleRetried = true;
    this.call.ctx.trunkAuth.answered++;
    this.authHeader = r.header;
    this.call.log.info({ status: res.status, target: target.uri, stale: r.stale === true }, 'leg B challenged; sending the INVITE again with credentials');
    this.seq++;
    this.send(sentSdp);
  }

  /** Leg B's attempt failed: the next target if there is one and the failure allows it, else the caller hears it. */
  private async onFailure(req: SipRequest, status: number, reason: string, why: string, failover = true, err?: Error, headers?: SipHeader[]): Promise<void> {
    const call = this.call;
    if (this.parallel) {
      if (this.isCurrent(req)) this.branchFailed(req, status, reason, why, err, headers);
      return;
    }
    if (req !== this.invite || !(awaitingAnswer(call.state) || isCancelled(call.state))) return;
    if (isCancelled(call.state)) {
      call.finish('cancelled', false);
      return;
    }
    const total = call.setup.targets.length;
    if (failover && this.targetIndex + 1 < total) {
      call.log.warn({ err, why, target: call.setup.targets[this.targetIndex].uri }, 'leg B failed; trying the next target');
      call.ctx.counters.legBFailovers++;
      this.targetIndex++;
      this.seq++;
      // A new target answers its own challenges: nothing of the last one's digest state carries over.
      this.uacAuth = undefined;
      this.authHeader = undefined;
      this.staleRetried = false;
      this.send(req.body.length > 0 ? req.body.toString('utf8') : undefined);
      return;
    }
    // Every target (and X-Outbound-Proxy address) failed in a way that allowed the next: the caller
    // learns the list ran out (RFC 3261 §20.43), not only the last next hop's answer.
    if (failover && total > 1) {
      call.ctx.counters.legBExhausted++;
      headers = [warning(`every next hop failed (${total} tried); the last: ${why.replace(/[^\x20-\x7e]/g, '?')}`, 399), ...(headers ?? [])];
    }
    call.log.info({ err, why, status, tried: this.targetIndex + 1 }, 'leg B failed; relaying the failure');
    call.respondA(status, { reason, ...(headers !== undefined ? { headers } : {}) });
    call.finish(`leg B: ${why}`, false);
  }

  /** A branch of a parallel fork failed; once none is left the caller hears the best failure (§16.7). */
  private branchFailed(req: SipRequest, status: number, reason: string, why: string, err?: Error, headers?: SipHeader[]): void {
    const call = this.call;
    const branch = this.branchOf(req);
    if (branch === undefined) return;
    branch.done = true;
    call.log.info({ err, why, target: branch.target.uri }, 'leg B branch failed');
    // Another branch answered: this one was cancelled (or lost the race) and changes nothing.
    if (call.leg('b').dialog !== undefined) return;
    const cls = (s: number): number => Math.floor(s / 100);
    if (this.best === undefined || (cls(status) === 6 && cls(this.best.status) !== 6) || (cls(this.best.status) !== 6 && cls(status) < cls(this.best.status)))
      this.best = { status, reason, why, ...(headers !== undefined ? { headers } : {}) };
    // §16.7 step 5: a 6xx ends the search, the other branches are cancelled.
    if (cls(status) === 6) this.cancelBranches();
    if (this.branches.some((b) => !b.done)) return;
    if (isCancelled(call.state) || call.state === CallState.Ended) {
      call.finish('cancelled', false);
      return;
    }
    const best = this.best;
    call.log.info({ status: best.status, why: best.why, branches: this.branches.length }, 'every leg B branch failed; relaying the best response');
    call.respondA(best.status, { reason: best.reason, ...(best.headers !== undefined ? { headers: best.headers } : {}) });
    call.finish(`leg B: ${best.why}`, false);
  }

  /** CANCEL to every branch still pending (not `except`), each once. */
  private cancelBranches(except?: SipRequest): void {
    const log = this.call.log;
    for (const b of this.branches) {
      if (b.done || b.cancelled || b.req === except) continue;
      b.cancelled = true;
      this.call.ctx.transactions.sendRequest(buildCancel(b.req), b.destination, {
        onFinal: (res) => log.debug({ status: res.status, target: b.target.uri }, 'CANCEL answered'),
        onTimeout: () => log.warn({ target: b.target.uri }, 'CANCEL to a leg B branch timed out'),
        onTransportError: (err) => log.warn({ err, target: b.target.uri }, 'CANCEL to a leg B branch failed'),
      });
    }
  }

  private async on2xx(req: SipRequest, res: SipResponse, sentSdp: string | undefined): Promise<void> {
    const call = this.call;
    const b = call.leg('b');
    const tag = getTo(res)?.tag;
    const seq = getCSeq(req)?.seq ?? this.seq;
    if (b.dialog !== undefined && b.dialog.remoteTag === tag) {
      // A 2xx retransmission: our ACK was lost (RFC 3261 §13.2.2.4): ACK again (unless the ACK
      // still waits for the caller's answer to a late offer).
      if (!call.ackAwaitsAnswer('b')) this.sendAck(seq);
      return;
    }
    const branch = this.branchOf(req);
    if (b.dialog !== undefined || (this.parallel ? branch === undefined : req !== this.invite)) {
      // A second 2xx from another fork: accept and end it at once (§13.2.2.4).
      const d = uacDialog(req, res);
      const dest = branch?.target.flow === true ? branch.destination : (dialogDestination(d, b.protocol) ?? b.destination);
      call.ctx.sendAck(dialogRequest(d, { method: 'ACK', via: call.ctx.via(dest.protocol), cseq: seq }), dest, call.log);
      call.sendBye(d, dest, 'fork');
      return;
    }
    if (branch !== undefined) {
      // This branch won: it is leg B now, and the others are cancelled (§16.7 step 10).
      branch.done = true;
      this.invite = req;
      Object.assign(b, { protocol: branch.destination.protocol, destination: branch.destination, contact: call.ctx.contact(branch.destination.protocol) });
      this.cancelBranches(req);
    }
    const dialog = uacDialog(req, res);
    b.dialog = dialog;
    // The dialog's later requests answer the same trunk's challenges, counting on from this nonce.
    const auth = this.parallel ? undefined : call.setup.targets[this.targetIndex].auth;
    if (auth !== undefined) b.uacAuth = this.uacAuth ?? new UacAuth(auth);
    // A contact reached over its flow (a registered UA behind NAT, or in a browser over WebSocket)
    // is reached only there: its Contact may not even be routable (RFC 5626 §5.3, RFC 7118 §5).
    b.destination = proxyHop(call.setup, branch?.target ?? call.setup.targets[this.targetIndex]) ?? (branch?.target.flow === true ? branch.destination : (dialogDestination(dialog, b.protocol) ?? b.destination));
    const callerGone = isCancelled(call.state) || call.state === CallState.Ended;
    const lateOffer = sentSdp === undefined ? sdpBody(res) : undefined;
    if (lateOffer === undefined || callerGone) this.sendAck(seq);
    if (callerGone) {
      call.log.info('leg B answered after the caller cancelled; hanging up leg B');
      call.sendBye(dialog, b.destination, 'cancelled');
      call.finish('cancelled', false);
      return;
    }
    const sdp = sdpBody(res);
    let aSdp: string | undefined;
    if (lateOffer !== undefined) {
      try {
        aSdp = await call.mediaOffer('b-to-a', lateOffer);
      } catch (err) {
        call.log.warn({ err }, 'media offer of the late offer failed');
        this.sendAck(seq);
        call.end(`media offer failed: ${errorMessage(err)}`, { aStatus: mediaFailureStatus(err).status });
        return;
      }
      call.expectAnswerInAck({ from: 'a', to: 'b', dir: 'b-to-a', seq });
    } else if (sentSdp !== undefined) {
      if (sdp === undefined) {
        call.log.warn('leg B answered without SDP');
        call.end('leg B answered without SDP', { aStatus: 502 });
        return;
      }
      try {
        aSdp = await call.mediaAnswer('a-to-b', sdp);
      } catch (err) {
        call.log.warn({ err }, 'media answer failed');
        call.end(`media answer failed: ${errorMessage(err)}`, { aStatus: mediaFailureStatus(err).status });
        return;
      }
    }
    // Ended meanwhile (deadline, shutdown): end() already hung up leg B.
    if (!awaitingAnswer(call.state)) return;
    call.respondA(200, { reason: res.reason, ...(aSdp !== undefined ? { sdp: aSdp } : {}) });
    call.moveTo(CallState.Confirmed);
    call.log.info({ status: res.status }, 'call answered');
  }

  /** ACK for leg B's 2xx with CSeq `seq` (the answer to a late offer goes in the re-offer path's own ACK). */
  sendAck(seq: number): void {
    const b = this.call.leg('b');
    const d = b.dialog;
    if (d === undefined) return;
    const ack = dialogRequest(d, { method: 'ACK', via: this.call.ctx.via(b.destination.protocol), cseq: seq });
    this.call.ctx.sendAck(ack, b.destination, this.call.log);
  }

  /** CANCEL of the current INVITE (RFC 3261 §9.1), once. */
  sendCancel(): void {
    if (this.parallel && this.call.leg('b').dialog === undefined) {
      this.cancelBranches();
      return;
    }
    if (this.cancelTxn !== undefined || this.invite === undefined) return;
    const log = this.call.log;
    this.cancelTxn = this.call.ctx.transactions.sendRequest(buildCancel(this.invite), this.call.leg('b').destination, {
      onFinal: (res) => log.debug({ status: res.status }, 'CANCEL answered'),
      onTimeout: () => log.warn('CANCEL to leg B timed out'),
      onTransportError: (err) => log.warn({ err }, 'CANCEL to leg B failed'),
    });
  }
}
