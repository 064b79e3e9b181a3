import type { Logger } from '../common/log.js';
import { errorCode, errorMessage } from '../common/errors.js';
import { getCSeq, getFrom, getHeader, type SipHeader, type SipRequest } from '../sip/message.js';
import { newCallId, newTag } from '../sip/build.js';
import { sendWithAuth } from './uac-auth.js';
import { acceptRemoteCSeq, dialogRequest, refreshTarget, uasDialog, type Dialog } from '../sip/dialog.js';
import type { SipEndpoint } from '../sip/transport/types.js';
import type { ServerTransaction } from '../sip/transaction/types.js';
import { relayedBody, sdpBody, type SipContext } from './sip-context.js';
import { answerMediaOptions, offerMediaOptions, offererStrips, type CallPolicy, type Direction } from './policy.js';
import { audioCodecNames } from '../sdp/sdp.js';
import { CallState, awaitingAnswer, transition } from './call-state.js';
import { mediaFailureResponse, relayedInDialogStatus } from './status-map.js';
import { OutboundInvite } from './outbound.js';
import { Reoffers } from './reoffer.js';
import { otherLeg, proxyHop, type CallCore, type CallSetup, type EndOptions, type LateAck, type Leg, type LegPath } from './call-core.js';

export type { CallSetup, Leg } from './call-core.js';

/** A confirmed call taken over from another process (`--redis`): its identifiers and both legs as they were. */
export interface RestoredLegs {
  aLocalTag: string;
  bCallId: string;
  bLocalTag: string;
  a: LegPath;
  b: LegPath;
}

/**
 * One call: leg A (we are its UAS) and leg B (we are its UAC), and the media session between
 * them. Events of a call run one at a time (a promise chain) so an answer cannot overtake the
 * offer it answers. Leg B's INVITE is `OutboundInvite`'s, later offers are `Reoffers`'; this class
 * keeps the state, the legs, the media tags, and in-dialog requests and hang-ups.
 */
export class B2buaCall implements CallCore {
  readonly mediaCallId: string;
  readonly aLocalTag: string;
  readonly bCallId: string;
  readonly bLocalTag: string;
  readonly log: Logger;
  /** called after each event of the call has run (the B2BUA writes the dialogs to --redis then). */
  onSettled: ((call: B2buaCall) => void) | undefined;
  /** when the call was set up, for the media watchdog (a call not yet in the media plane's list is fine). */
  lastMediaChangeMs: number;
  /** wall-clock ms (for call records): the INVITE, the 2xx to leg A, the end. */
  readonly startedAt = Date.now();
  answeredAt: number | undefined;
  endedAt: number | undefined;

  private current = CallState.Trying;
  private readonly a: LegPath;
  private readonly b: LegPath;
  /** media tags: A's From tag, and the tag standing for leg B (the To tag we gave A). */
  private readonly aTag: string;
  private readonly bTag: string;
  private queue: Promise<void> = Promise.resolve();
  private readonly outbound: OutboundInvite;
  private readonly reoffers: Reoffers;

  constructor(
    readonly ctx: SipContext,
    readonly setup: CallSetup,
    private readonly onEnded: (call: B2buaCall, reason: string) => void,
    restored?: RestoredLegs,
  ) {
    const inv = setup.invite;
    this.mediaCallId = getHeader(inv, 'Call-ID') ?? newCallId('tandem');
    this.aLocalTag = restored?.aLocalTag ?? newTag();
    this.bLocalTag = restored?.bLocalTag ?? newTag();
    this.bCallId = restored?.bCallId ?? newCallId(ctx.sender.localEndpoint(setup.targets[0]?.endpoint.protocol ?? 'udp').address);
    this.log = ctx.log.child({ callId: this.mediaCallId, bCallId: this.bCallId, route: setup.routeName });
    this.aTag = getFrom(inv)?.tag ?? '';
    this.bTag = this.aLocalTag;
    const aProto = setup.inbound.local.protocol;
    this.a = {
      dialog: uasDialog(inv, this.aLocalTag),
      protocol: aProto,
      // Requests to the caller go back over the flow its INVITE came on (works behind NAT and
      // reuses its TCP/TLS connection), with its route set and Contact in the request.
      destination: setup.inbound.source,
      contact: ctx.contact(aProto),
    };
    if (restored !== undefined) {
      this.a = restored.a;
      this.b = restored.b;
    } else {
      const first = setup.targets[0];
      const hop = proxyHop(setup, first) ?? first.endpoint;
      this.b = { dialog: undefined, protocol: hop.protocol, destination: hop, contact: ctx.contact(hop.protocol) };
    }
    this.lastMediaChangeMs = ctx.clock.now();
    this.outbound = new OutboundInvite(this);
    this.reoffers = new Reoffers(this);
    if (restored !== undefined) this.current = CallState.Confirmed;
  }

  get state(): CallState {
    return this.current;
  }

  moveTo(to: CallState): void {
    this.current = transition(this.current, to);
    if (to === CallState.Confirmed) this.answeredAt ??= Date.now();
    else if (to === CallState.Ended) this.endedAt ??= Date.now();
  }

  /** Keys under which in-dialog requests find this call: Call-ID and our tag on each leg. */
  keys(): [string, Leg][] {
    return [
      [`${this.mediaCallId}|${this.aLocalTag}`, 'a'],
      [`${this.bCallId}|${this.bLocalTag}`, 'b'],
    ];
  }

  isInviteTransaction(txn: ServerTransaction): boolean {
    return txn === this.setup.txn;
  }

  run(fn: () => Promise<void> | void): void {
    this.queue = this.queue
      .then(fn)
      .catch((err: unknown) => {
        this.log.error({ err }, 'call event failed; ending the call');
        this.end('internal error');
      })
      .then(() => {
        try {
          this.onSettled?.(this);
        } catch (err) {
          this.log.warn({ err }, 'saving the call state failed');
        }
      });
  }

  private mediaTags(dir: Direction): { fromTag: string; toTag: string } {
    return dir === 'a-to-b' ? { fromTag: this.aTag, toTag: this.bTag } : { fromTag: this.bTag, toTag: this.aTag };
  }

  /**
   * The route's policy, with leg A's codecs pinned to what the caller first offered when the route
   * leaves them open: a re-offer from leg B must not hand the caller a codec it never had (the
   * classic "re-INVITE breaks transcoding"), so it is transcoded back to the caller's codecs.
   */
  private policyFor(): CallPolicy {
    const p = this.setup.policy;
    if (p.a.codecs !== undefined || this.setup.callerCodecs.length === 0) return p;
    return { a: { ...p.a, codecs: this.setup.callerCodecs }, b: p.b };
  }

  async mediaOffer(dir: Direction, sdp: string): Promise<string> {
    const { fromTag } = this.mediaTags(dir);
    const strips = offererStrips(this.setup.policy, dir, audioCodecNames(sdp));
    const r = await this.ctx.media.offer({ callId: this.mediaCallId, fromTag, sdp, options: offerMediaOptions(this.policyFor(), dir, strips) });
    if (r.warnings.length > 0) this.log.info({ warnings: r.warnings, dir }, 'media offer warnings');
    this.lastMediaChangeMs = this.ctx.clock.now();
    return r.sdp;
  }

  async mediaAnswer(dir: Direction, sdp: string): Promise<string> {
    const { fromTag, toTag } = this.mediaTags(dir);
    const r = await this.ctx.media.answer({ callId: this.mediaCallId, fromTag, toTag, sdp, options: answerMediaOptions(this.policyFor(), dir) });
    if (r.warnings.length > 0) this.log.info({ warnings: r.warnings, dir }, 'media answer warnings');
    this.lastMediaChangeMs = this.ctx.clock.now();
    return r.sdp;
  }

  leg(leg: Leg): LegPath {
    return leg === 'a' ? this.a : this.b;
  }

  ackAwaitsAnswer(to: Leg): boolean {
    return this.reoffers.ackAwaitsAnswer(to);
  }

  expectAnswerInAck(late: LateAck): void {
    this.reoffers.expectAnswerInAck(late);
  }

  respondA(status: number, opts: { reason?: string; sdp?: string; headers?: SipHeader[] } = {}): void {
    if (awaitingAnswer(this.current)) this.answerA(status, opts);
  }

  private answerA(status: number, opts: { reason?: string; sdp?: string; headers?: SipHeader[] }): void {
    this.ctx.respond(this.setup.txn, status, {
      ...opts,
      toTag: this.aLocalTag,
      ...(status < 300 || (status > 100 && status < 200) ? { contact: this.a.contact } : {}),
    });
  }

  // ---- call setup ---------------------------------------------------------------------------

  /** Offers the caller's SDP to the media plane and sends leg B's INVITE to the first target. */
  start(): void {
    this.run(async () => {
      const sdp = sdpBody(this.setup.invite);
      let bSdp: string | undefined;
      if (sdp !== undefined) {
        try {
          bSdp = await this.mediaOffer('a-to-b', sdp);
        } catch (err) {
          const { status, reason, headers } = mediaFailureResponse(err);
          this.log.warn({ err, status }, 'media offer failed; rejecting the call');
          this.respondA(status, { reason, headers });
          this.finish(`media offer failed: ${errorMessage(err)}`, false);
          return;
        }
      }
      this.outbound.send(bSdp);
    });
  }

  /** CANCEL from the caller (RFC 3261 §9.2): 487 to its INVITE, CANCEL toward leg B. */
  cancelFromA(): void {
    this.run(() => {
      if (!awaitingAnswer(this.current)) return;
      const ringing = this.current === CallState.Early;
      this.respondA(487, { reason: 'Request Terminated' });
      // §9.1: a CANCEL may only follow a provisional response; otherwise it waits for one.
      this.moveTo(ringing ? CallState.Cancelling : CallState.CancelPending);
      this.log.info('caller cancelled');
      if (ringing) this.outbound.sendCancel();
      this.deleteMedia('cancelled');
    });
  }

  // ---- in-dialog requests ---------------------------------------------------------------------

  /** ACK for a 2xx we sent on `leg`; nothing more to do once the layer stopped retransmitting. */
  handleAck(leg: Leg, ack: SipRequest): void {
    this.log.debug({ leg, cseq: getCSeq(ack)?.seq }, 'ACK');
    this.reoffers.handleAck(leg, ack);
  }

  handleRequest(leg: Leg, req: SipRequest, txn: ServerTransaction): void {
    this.run(() => this.onRequest(leg, req, txn));
  }

  private async onRequest(leg: Leg, req: SipRequest, txn: ServerTransaction): Promise<void> {
    const path = this.leg(leg);
    if (this.current === CallState.Ended || path.dialog === undefined) {
      this.ctx.respond(txn, req.method === 'BYE' ? 200 : 481);
      return;
    }
    if (!acceptRemoteCSeq(path.dialog, req)) {
      this.ctx.respond(txn, 500, { reason: 'CSeq Out Of Order' });
      return;
    }
    if (req.method === 'BYE') {
      this.ctx.respond(txn, 200);
      this.log.info({ leg }, 'BYE');
      this.end(`BYE from leg ${leg.toUpperCase()}`, { except: leg });
      return;
    }
    if (req.method === 'INVITE' || req.method === 'UPDATE') {
      // RFC 3261 §14.2: one offer exchange at a time; glare gets 491 and the peer retries.
      if (this.current !== CallState.Confirmed || this.reoffers.busy()) {
        this.ctx.respond(txn, 491, { headers: [{ name: 'Retry-After', value: '1' }] });
        return;
      }
      refreshTarget(path.dialog, req);
      await this.reoffers.start(leg, req, txn);
      return;
    }
    if (this.leg(otherLeg(leg)).dialog === undefined) {
      this.ctx.respond(txn, 481);
      return;
    }
    this.relay(leg, req, txn);
  }

  /** INFO, MESSAGE, OPTIONS, NOTIFY… inside the dialog: same method on the other leg, final response back. */
  private relay(leg: Leg, req: SipRequest, txn: ServerTransaction): void {
    const to = this.leg(otherLeg(leg));
    const d = to.dialog as Dialog;
    const { headers, body } = relayedBody(req);
    // Toward a trunk with credentials (`to.uacAuth`), a challenged INFO/MESSAGE… is answered too.
    sendWithAuth({
      auth: to.uacAuth,
      build: (extra) => dialogRequest(d, { method: req.method, via: this.ctx.via(to.destination.protocol), headers: [...headers, ...extra], body }),
      send: (out, handler) => this.ctx.transactions.sendRequest(out, to.destination, handler),
      handler: {
        onFinal: (res) => {
          const r = relayedBody(res);
          const mapped = relayedInDialogStatus(res.status, res.reason);
          this.ctx.respond(txn, mapped.status, { reason: mapped.reason, headers: [...r.headers, ...mapped.headers], body: r.body });
        },
        onTimeout: () => this.ctx.respond(txn, 408),
        onTransportError: () => this.ctx.respond(txn, 503),
      },
      log: this.log,
      stats: this.ctx.trunkAuth,
    });
  }

  // ---- ending ---------------------------------------------------------------------------------

  sendBye(d: Dialog, destination: SipEndpoint, why: string, reason?: string): void {
    const headers: SipHeader[] = reason !== undefined ? [{ name: 'Reason', value: reason }] : [];
    // Which leg, in the log: a BYE nobody answered (Timer F) is a phone or trunk to look at.
    const leg = d === this.b.dialog ? 'b' : 'a';
    sendWithAuth({
      auth: leg === 'b' ? this.b.uacAuth : undefined,
      build: (extra) => dialogRequest(d, { method: 'BYE', via: this.ctx.via(destination.protocol), headers: [...headers, ...extra] }),
      send: (bye, handler) => this.ctx.transactions.sendRequest(bye, destination, handler),
      handler: {
        onFinal: (res) => this.log.debug({ leg, status: res.status, why }, 'BYE answered'),
        onTimeout: () => this.log.warn({ leg, to: `${destination.protocol}:${destination.address}:${destination.port}`, why }, 'BYE timed out'),
        onTransportError: (err) => this.log.warn({ err, leg, why }, 'BYE could not be sent'),
      },
      log: this.log,
      stats: this.ctx.trunkAuth,
    });
  }

  /**
   * Ends the call from the middle: BYE to every confirmed leg but `except` (the one that hung up),
   * a final response to a caller still waiting, CANCEL to a callee still ringing, media deleted.
   */
  end(reason: string, opts: EndOptions = {}): void {
    const from = this.current;
    if (from === CallState.Ended) return;
    // Ended first: whatever the messages below set off finds the call already over.
    this.moveTo(CallState.Ended);
    if (awaitingAnswer(from)) this.answerA(opts.aStatus ?? 500, {});
    else if (opts.except !== 'a' && this.a.dialog !== undefined && from === CallState.Confirmed) this.sendBye(this.a.dialog, this.a.destination, reason, opts.sipReason);
    if (opts.except !== 'b') {
      if (this.b.dialog !== undefined) this.sendBye(this.b.dialog, this.b.destination, reason, opts.sipReason);
      // Not ringing yet: the CANCEL goes when leg B's first provisional comes (OutboundInvite).
      else if (from === CallState.Early || from === CallState.Cancelling) this.outbound.sendCancel();
    }
    this.release(reason, true);
  }

  private deleteMedia(reason: string): void {
    this.ctx.media.delete({ callId: this.mediaCallId }).then(
      () => this.log.debug({ reason }, 'media deleted'),
      (err: unknown) => {
        if (errorCode(err) !== 'UNKNOWN_CALL') this.log.warn({ err }, 'media delete failed');
      },
    );
  }

  finish(reason: string, logged: boolean): void {
    if (this.current === CallState.Ended) return;
    this.moveTo(CallState.Ended);
    this.release(reason, logged);
  }

  private release(reason: string, logged: boolean): void {
    this.deleteMedia(reason);
    if (!logged || reason !== '') this.log.info({ reason }, 'call ended');
    this.onEnded(this, reason);
  }
}
