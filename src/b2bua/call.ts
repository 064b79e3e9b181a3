import type { Logger } from '../common/log.js';
import { TandemError, errorMessage, isTandemError } from '../common/errors.js';
import { getCSeq, getFrom, getHeader, getMaxForwards, getTo, headerLines, type SipHeader, type SipRequest, type SipResponse } from '../sip/message.js';
import { buildCancel, createRequest, newCallId, newTag } from '../sip/build.js';
import { parseUri, formatUri } from '../sip/uri.js';
import { acceptRemoteCSeq, dialogDestination, dialogRequest, refreshTarget, uacDialog, uasDialog, type Dialog } from '../sip/dialog.js';
import type { InboundMessage, SipEndpoint, TransportProtocol } from '../sip/transport/types.js';
import type { ClientTransactionHandler, ServerTransaction } from '../sip/transaction/types.js';
import { ALLOW, relayedBody, sdpBody, warning, type SipContext } from './sip-context.js';
import { answerMediaOptions, offerMediaOptions, offererStrips, type CallPolicy, type Direction } from './policy.js';
import { audioCodecNames } from '../sdp/sdp.js';
import type { RouteTarget } from './routes.js';

export type Side = 'a' | 'b';
type CallState = 'calling' | 'confirmed' | 'ended';

/** One leg as the B2BUA sees it: its dialog, and where requests to it go. */
interface Leg {
  dialog: Dialog | undefined;
  protocol: TransportProtocol;
  destination: SipEndpoint;
  contact: string;
}

export interface CallSetup {
  invite: SipRequest;
  txn: ServerTransaction;
  inbound: InboundMessage;
  routeName: string;
  policy: CallPolicy;
  /** in failover order. */
  targets: RouteTarget[];
  /** X-Outbound-Proxy from a trusted source: leg B's first hop, whatever the target. */
  nextHop?: SipEndpoint;
  copyHeaders: string[];
  /** audio codec names of the caller's offer (telephone-event and CN excluded). */
  callerCodecs: string[];
}

/** Maps a media-plane failure to the SIP status the caller gets (503 lets an upstream proxy fail over). */
function mediaFailureStatus(err: unknown): { status: number; reason: string } {
  if (!isTandemError(err)) return { status: 500, reason: 'Media Plane Error' };
  switch (err.code) {
    case 'BAD_SDP':
    case 'CODEC':
      return { status: 488, reason: 'Not Acceptable Here' };
    case 'LOAD_LIMIT':
    case 'NO_PORTS':
    case 'REMOTE':
    case 'WORKER':
      return { status: 503, reason: 'Media Unavailable' };
    default:
      return { status: 500, reason: 'Media Plane Error' };
  }
}

/**
 * One call: leg A (we are its UAS) and leg B (we are its UAC), and the media session between
 * them. Events of a call run one at a time (a promise chain) so an answer cannot overtake the
 * offer it answers.
 */
export class B2buaCall {
  readonly mediaCallId: string;
  readonly aLocalTag = newTag();
  readonly bCallId: string;
  readonly bLocalTag = newTag();
  readonly log: Logger;
  state: CallState = 'calling';
  /** when the call was set up, for the media watchdog (a call not yet in the media plane's list is fine). */
  lastMediaChangeMs: number;

  private readonly a: Leg;
  private b: Leg;
  /** media tags: A's From tag, and the tag standing for leg B (the To tag we gave A). */
  private readonly aTag: string;
  private readonly bTag: string;
  private queue: Promise<void> = Promise.resolve();
  private targetIndex = 0;
  private bInvite: SipRequest | undefined;
  private bSeq = 1;
  private bProvisional = false;
  private cancelled = false;
  private cancelSent = false;
  private aFinalSent = false;
  /** side whose re-INVITE/UPDATE is in flight (RFC 3261 §14.2: one at a time, else 491). */
  private pending: Side | undefined;
  private readonly offeredSdp: boolean;
  /**
   * A late offer in flight (RFC 3264 §4 with RFC 3261 §13.2.1): the 2xx from `to` carried the offer,
   * the answer comes in the ACK from `from`; only then is `to` ACKed, with that answer.
   */
  private lateAck: { from: Side; to: Side; dir: Direction; seq: number } | undefined;
  /** audio codecs of the caller's first offer, in its order. */
  private readonly callerCodecs: string[];

  constructor(
    private readonly ctx: SipContext,
    private readonly setup: CallSetup,
    private readonly onEnded: (call: B2buaCall, reason: string) => void,
  ) {
    const inv = setup.invite;
    this.mediaCallId = getHeader(inv, 'Call-ID') ?? newCallId('tandem');
    this.bCallId = newCallId(ctx.sender.localEndpoint(setup.targets[0]?.endpoint.protocol ?? 'udp').address);
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
    const first = setup.targets[0];
    const bProto = setup.nextHop?.protocol ?? first.endpoint.protocol;
    this.b = { dialog: undefined, protocol: bProto, destination: setup.nextHop ?? first.endpoint, contact: ctx.contact(bProto) };
    this.offeredSdp = sdpBody(inv) !== undefined;
    this.callerCodecs = setup.callerCodecs;
    this.lastMediaChangeMs = ctx.clock.now();
  }

  /** Keys under which in-dialog requests find this call: Call-ID and our tag on each leg. */
  keys(): [string, Side][] {
    return [
      [`${this.mediaCallId}|${this.aLocalTag}`, 'a'],
      [`${this.bCallId}|${this.bLocalTag}`, 'b'],
    ];
  }

  isInviteTransaction(txn: ServerTransaction): boolean {
    return txn === this.setup.txn;
  }

  private run(fn: () => Promise<void> | void): void {
    this.queue = this.queue.then(fn).catch((err: unknown) => {
      this.log.error({ err: errorMessage(err) }, 'call event failed; ending the call');
      this.end('internal error');
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
    if (p.a.codecs !== undefined || this.callerCodecs.length === 0) return p;
    return { a: { ...p.a, codecs: this.callerCodecs }, b: p.b };
  }

  private async mediaOffer(dir: Direction, sdp: string): Promise<string> {
    const { fromTag } = this.mediaTags(dir);
    const strips = offererStrips(this.setup.policy, dir, audioCodecNames(sdp));
    const r = await this.ctx.media.offer({ callId: this.mediaCallId, fromTag, sdp, options: offerMediaOptions(this.policyFor(), dir, strips) });
    if (r.warnings.length > 0) this.log.info({ warnings: r.warnings, dir }, 'media offer warnings');
    this.lastMediaChangeMs = this.ctx.clock.now();
    return r.sdp;
  }

  private async mediaAnswer(dir: Direction, sdp: string): Promise<string> {
    const { fromTag, toTag } = this.mediaTags(dir);
    const r = await this.ctx.media.answer({ callId: this.mediaCallId, fromTag, toTag, sdp, options: answerMediaOptions(this.policyFor(), dir) });
    if (r.warnings.length > 0) this.log.info({ warnings: r.warnings, dir }, 'media answer warnings');
    this.lastMediaChangeMs = this.ctx.clock.now();
    return r.sdp;
  }

  private leg(side: Side): Leg {
    return side === 'a' ? this.a : this.b;
  }

  private respondA(status: number, opts: { reason?: string; sdp?: string; headers?: SipHeader[] } = {}): void {
    if (this.aFinalSent) return;
    if (status >= 200) this.aFinalSent = true;
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
          const { status, reason } = mediaFailureStatus(err);
          this.log.warn({ err: errorMessage(err), status }, 'media offer failed; rejecting the call');
          this.respondA(status, { reason, ...(status === 488 ? { headers: [warning(errorMessage(err))] } : {}) });
          this.finish(`media offer failed: ${errorMessage(err)}`, false);
          return;
        }
      }
      this.sendBInvite(bSdp);
    });
  }

  private bRequestUri(target: RouteTarget): string {
    const a = parseUri(this.setup.invite.uri);
    const t = parseUri(target.uri);
    if (!t.ok || t.uri.type !== 'sip') return target.uri;
    const uri = { ...t.uri };
    if (uri.user === undefined && a.ok && a.uri.type === 'sip' && a.uri.user !== undefined) uri.user = a.uri.user;
    // transport= tells the next hop nothing it needs in the Request-URI once we pick the flow.
    return formatUri(uri);
  }

  private sendBInvite(sdp: string | undefined): void {
    const target = this.setup.targets[this.targetIndex];
    const inv = this.setup.invite;
    const destination = this.setup.nextHop ?? target.endpoint;
    this.b = { dialog: undefined, protocol: destination.protocol, destination, contact: this.ctx.contact(destination.protocol) };
    const mf = getMaxForwards(inv);
    const from = getFrom(inv);
    const fromValue = `${from?.displayName !== undefined ? `"${from.displayName}" ` : ''}<${from?.uriText ?? 'sip:anonymous@anonymous.invalid'}>;tag=${this.bLocalTag}`;
    const to = getTo(inv);
    const toValue = `${to?.displayName !== undefined ? `"${to.displayName}" ` : ''}<${to?.uriText ?? this.bRequestUri(target)}>`;
    const headers: SipHeader[] = [
      { name: 'Via', value: this.ctx.via(destination.protocol) },
      { name: 'Max-Forwards', value: String(mf === undefined ? 70 : mf - 1) },
      { name: 'From', value: fromValue },
      { name: 'To', value: toValue },
      { name: 'Call-ID', value: this.bCallId },
      { name: 'CSeq', value: `${this.bSeq} INVITE` },
      { name: 'Contact', value: this.b.contact },
      { name: 'Allow', value: ALLOW },
      ...this.ctx.userAgentHeaders(),
    ];
    // Only the configured headers cross: topology hiding by construction.
    for (const name of this.setup.copyHeaders) for (const value of headerLines(inv, name)) headers.push({ name, value });
    const body = sdp !== undefined ? Buffer.from(sdp, 'utf8') : Buffer.alloc(0);
    if (sdp !== undefined) headers.push({ name: 'Content-Type', value: 'application/sdp' });
    const req = createRequest('INVITE', this.bRequestUri(target), headers, body);
    this.bInvite = req;
    this.bProvisional = false;
    this.log.info({ target: target.uri, destination: `${destination.protocol}:${destination.address}:${destination.port}`, attempt: this.targetIndex + 1 }, 'leg B INVITE');
    const sentSdp = sdp;
    const handler: ClientTransactionHandler = {
      onProvisional: (res) => this.run(() => this.onBProvisional(req, res)),
      onFinal: (res) => this.run(() => this.onBFinal(req, res, sentSdp)),
      onTimeout: () => this.run(() => this.onBFailure(req, 408, 'Request Timeout', 'timeout')),
      onTransportError: (err) => this.run(() => this.onBFailure(req, 503, 'Service Unavailable', `transport error: ${err.message}`)),
    };
    this.ctx.transactions.sendRequest(req, destination, handler);
  }

  private async onBProvisional(req: SipRequest, res: SipResponse): Promise<void> {
    if (req !== this.bInvite || res.status === 100) return;
    this.bProvisional = true;
    if (this.cancelled) {
      this.sendBCancel();
      return;
    }
    if (this.state !== 'calling') return;
    const sdp = sdpBody(res);
    let aSdp: string | undefined;
    if (sdp !== undefined && this.offeredSdp) {
      try {
        // Early media (RFC 3960): the 18x's SDP is an answer; the media plane starts relaying now.
        aSdp = await this.mediaAnswer('a-to-b', sdp);
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'early media answer failed; relaying the provisional without SDP');
      }
    }
    if (this.cancelled || this.aFinalSent) return;
    this.respondA(res.status, { reason: res.reason, ...(aSdp !== undefined ? { sdp: aSdp } : {}) });
  }

  private async onBFinal(req: SipRequest, res: SipResponse, sentSdp: string | undefined): Promise<void> {
    if (res.status >= 200 && res.status < 300) {
      await this.onB2xx(req, res, sentSdp);
      return;
    }
    if (req !== this.bInvite) return;
    if (this.cancelled || this.state === 'ended') {
      this.finish('cancelled', false);
      return;
    }
    const failover = res.status === 408 || (res.status >= 500 && res.status < 600);
    await this.onBFailure(req, res.status, res.reason, `${res.status} ${res.reason}`, failover);
  }

  private async onBFailure(req: SipRequest, status: number, reason: string, why: string, failover = true): Promise<void> {
    if (req !== this.bInvite || this.state !== 'calling') return;
    if (this.cancelled) {
      this.finish('cancelled', false);
      return;
    }
    if (failover && this.targetIndex + 1 < this.setup.targets.length) {
      this.log.warn({ why, target: this.setup.targets[this.targetIndex].uri }, 'leg B failed; trying the next target');
      this.targetIndex++;
      this.bSeq++;
      this.sendBInvite(req.body.length > 0 ? req.body.toString('utf8') : undefined);
      return;
    }
    this.log.info({ why, status }, 'leg B failed; relaying the failure');
    this.respondA(status, { reason });
    this.finish(`leg B: ${why}`, false);
  }

  private async onB2xx(req: SipRequest, res: SipResponse, sentSdp: string | undefined): Promise<void> {
    const tag = getTo(res)?.tag;
    const seq = getCSeq(req)?.seq ?? this.bSeq;
    if (this.b.dialog !== undefined && this.b.dialog.remoteTag === tag) {
      // A 2xx retransmission: our ACK was lost (RFC 3261 §13.2.2.4): ACK again (unless the ACK
      // still waits for the caller's answer to a late offer).
      if (this.lateAck?.to !== 'b') this.sendBAck(seq);
      return;
    }
    if (this.b.dialog !== undefined || req !== this.bInvite) {
      // A second 2xx from another fork: accept and end it at once (§13.2.2.4).
      const d = uacDialog(req, res);
      const dest = dialogDestination(d, this.b.protocol) ?? this.b.destination;
      this.ctx.sendAck(dialogRequest(d, { method: 'ACK', via: this.ctx.via(dest.protocol), cseq: seq }), dest, this.log);
      this.sendBye(d, dest, 'fork');
      return;
    }
    const dialog = uacDialog(req, res);
    this.b.dialog = dialog;
    this.b.destination = this.setup.nextHop ?? dialogDestination(dialog, this.b.protocol) ?? this.b.destination;
    const lateOffer = sentSdp === undefined ? sdpBody(res) : undefined;
    if (lateOffer === undefined || this.cancelled || this.state === 'ended') this.sendBAck(seq);
    if (this.cancelled || this.state === 'ended') {
      this.log.info('leg B answered after the caller cancelled; hanging up leg B');
      this.sendBye(dialog, this.b.destination, 'cancelled');
      this.finish('cancelled', false);
      return;
    }
    const sdp = sdpBody(res);
    let aSdp: string | undefined;
    if (lateOffer !== undefined) {
      try {
        aSdp = await this.mediaOffer('b-to-a', lateOffer);
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'media offer of the late offer failed');
        this.sendBAck(seq);
        this.end(`media offer failed: ${errorMessage(err)}`, { aStatus: mediaFailureStatus(err).status });
        return;
      }
      this.lateAck = { from: 'a', to: 'b', dir: 'b-to-a', seq };
    } else if (sentSdp !== undefined) {
      if (sdp === undefined) {
        this.log.warn('leg B answered without SDP');
        this.end('leg B answered without SDP', { aStatus: 502 });
        return;
      }
      try {
        aSdp = await this.mediaAnswer('a-to-b', sdp);
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'media answer failed');
        this.end(`media answer failed: ${errorMessage(err)}`, { aStatus: mediaFailureStatus(err).status });
        return;
      }
    }
    if (this.cancelled) {
      this.sendBye(dialog, this.b.destination, 'cancelled');
      this.finish('cancelled', false);
      return;
    }
    this.state = 'confirmed';
    this.respondA(200, { reason: res.reason, ...(aSdp !== undefined ? { sdp: aSdp } : {}) });
    this.log.info({ status: res.status }, 'call answered');
  }

  private sendBAck(seq: number): void {
    const d = this.b.dialog;
    if (d === undefined) return;
    const ack = dialogRequest(d, { method: 'ACK', via: this.ctx.via(this.b.destination.protocol), cseq: seq });
    this.ctx.sendAck(ack, this.b.destination, this.log);
  }

  private sendBCancel(): void {
    if (this.cancelSent || this.bInvite === undefined) return;
    this.cancelSent = true;
    const cancel = buildCancel(this.bInvite);
    this.ctx.transactions.sendRequest(cancel, this.b.destination, {
      onFinal: (res) => this.log.debug({ status: res.status }, 'CANCEL answered'),
      onTimeout: () => this.log.warn('CANCEL to leg B timed out'),
      onTransportError: (err) => this.log.warn({ err: err.message }, 'CANCEL to leg B failed'),
    });
  }

  /** CANCEL from the caller (RFC 3261 §9.2): 487 to its INVITE, CANCEL toward leg B. */
  cancelFromA(): void {
    this.run(() => {
      if (this.aFinalSent || this.state !== 'calling') return;
      this.cancelled = true;
      this.respondA(487, { reason: 'Request Terminated' });
      this.log.info('caller cancelled');
      // §9.1: a CANCEL may only follow a provisional response; otherwise it waits for one.
      if (this.bProvisional) this.sendBCancel();
      this.deleteMedia('cancelled');
    });
  }

  // ---- in-dialog requests ---------------------------------------------------------------------

  /** ACK for a 2xx we sent on `side`; nothing more to do once the layer stopped retransmitting. */
  handleAck(side: Side, ack: SipRequest): void {
    this.log.debug({ side, cseq: getCSeq(ack)?.seq }, 'ACK');
    const late = this.lateAck;
    if (late === undefined || late.from !== side) return;
    this.run(async () => {
      if (this.lateAck !== late) return;
      this.lateAck = undefined;
      const to = this.leg(late.to);
      const d = to.dialog;
      if (d === undefined) return;
      const answer = sdpBody(ack);
      let out: string | undefined;
      if (answer !== undefined) {
        try {
          out = await this.mediaAnswer(late.dir, answer);
        } catch (err) {
          this.log.warn({ err: errorMessage(err) }, 'media answer of the late offer failed');
        }
      }
      const headers: SipHeader[] = out !== undefined ? [{ name: 'Content-Type', value: 'application/sdp' }] : [];
      const ackOut = dialogRequest(d, { method: 'ACK', via: this.ctx.via(to.destination.protocol), cseq: late.seq, headers, ...(out !== undefined ? { body: Buffer.from(out, 'utf8') } : {}) });
      this.ctx.sendAck(ackOut, to.destination, this.log);
      if (out === undefined) this.end('the late offer got no usable answer in the ACK');
    });
  }

  handleRequest(side: Side, req: SipRequest, txn: ServerTransaction): void {
    this.run(() => this.onRequest(side, req, txn));
  }

  private async onRequest(side: Side, req: SipRequest, txn: ServerTransaction): Promise<void> {
    const leg = this.leg(side);
    const other: Side = side === 'a' ? 'b' : 'a';
    if (this.state === 'ended' || leg.dialog === undefined) {
      this.ctx.respond(txn, req.method === 'BYE' ? 200 : 481);
      return;
    }
    if (!acceptRemoteCSeq(leg.dialog, req)) {
      this.ctx.respond(txn, 500, { reason: 'CSeq Out Of Order' });
      return;
    }
    if (req.method === 'BYE') {
      this.ctx.respond(txn, 200);
      this.log.info({ side }, 'BYE');
      this.end(`BYE from leg ${side.toUpperCase()}`, { except: side });
      return;
    }
    if (req.method === 'INVITE' || req.method === 'UPDATE') {
      if (this.state !== 'confirmed' || this.pending !== undefined) {
        this.ctx.respond(txn, 491, { headers: [{ name: 'Retry-After', value: '1' }] });
        return;
      }
      refreshTarget(leg.dialog, req);
      this.pending = side;
      await this.reoffer(side, req, txn);
      return;
    }
    if (this.leg(other).dialog === undefined) {
      this.ctx.respond(txn, 481);
      return;
    }
    this.relay(side, req, txn);
  }

  /** re-INVITE or UPDATE from `side`: the media offer runs again under the same policy. */
  private async reoffer(side: Side, req: SipRequest, txn: ServerTransaction): Promise<void> {
    const dir: Direction = side === 'a' ? 'a-to-b' : 'b-to-a';
    const sdp = sdpBody(req);
    let outSdp: string | undefined;
    if (sdp !== undefined) {
      try {
        outSdp = await this.mediaOffer(dir, sdp);
      } catch (err) {
        this.pending = undefined;
        const { status, reason } = mediaFailureStatus(err);
        this.log.warn({ err: errorMessage(err), side }, 're-offer refused by the media plane');
        this.ctx.respond(txn, status, { reason });
        return;
      }
    }
    const otherSide: Side = side === 'a' ? 'b' : 'a';
    const to = this.leg(otherSide);
    const d = to.dialog;
    if (d === undefined) {
      this.pending = undefined;
      this.ctx.respond(txn, 481);
      return;
    }
    const headers: SipHeader[] = [{ name: 'Allow', value: ALLOW }];
    if (outSdp !== undefined) headers.push({ name: 'Content-Type', value: 'application/sdp' });
    const out = dialogRequest(d, {
      method: req.method,
      via: this.ctx.via(to.destination.protocol),
      contact: to.contact,
      headers,
      ...(outSdp !== undefined ? { body: Buffer.from(outSdp, 'utf8') } : {}),
    });
    const seq = getCSeq(out)?.seq ?? 0;
    this.log.info({ from: side, method: req.method, sdp: sdp !== undefined }, 're-offer');
    this.ctx.transactions.sendRequest(out, to.destination, {
      onFinal: (res) =>
        this.run(async () => {
          if (res.status >= 200 && res.status < 300) {
            refreshTarget(d, res);
            const answer = sdpBody(res);
            const late = req.method === 'INVITE' && sdp === undefined && answer !== undefined;
            if (req.method === 'INVITE' && !(late && (this.pending === side || this.lateAck?.to === otherSide))) {
              this.ctx.sendAck(dialogRequest(d, { method: 'ACK', via: this.ctx.via(to.destination.protocol), cseq: seq }), to.destination, this.log);
            }
            if (this.pending !== side) return; // a 2xx retransmission
            this.pending = undefined;
            let back: string | undefined;
            if (late && answer !== undefined) {
              // An offerless re-INVITE: the 2xx holds the offer, the answer will come in the ACK.
              try {
                back = await this.mediaOffer(dir === 'a-to-b' ? 'b-to-a' : 'a-to-b', answer);
              } catch (err) {
                this.ctx.sendAck(dialogRequest(d, { method: 'ACK', via: this.ctx.via(to.destination.protocol), cseq: seq }), to.destination, this.log);
                this.end(`media offer failed: ${errorMessage(err)}`);
                return;
              }
              this.lateAck = { from: side, to: otherSide, dir: dir === 'a-to-b' ? 'b-to-a' : 'a-to-b', seq };
            } else if (sdp !== undefined && answer !== undefined) {
              try {
                back = await this.mediaAnswer(dir, answer);
              } catch (err) {
                this.log.warn({ err: errorMessage(err) }, 're-answer refused by the media plane');
                this.end(`media answer failed: ${errorMessage(err)}`);
                return;
              }
            }
            this.ctx.respond(txn, res.status, { reason: res.reason, contact: this.leg(side).contact, ...(back !== undefined ? { sdp: back } : {}) });
            return;
          }
          this.pending = undefined;
          this.ctx.respond(txn, res.status, { reason: res.reason });
        }),
      onTimeout: () =>
        this.run(() => {
          this.pending = undefined;
          this.ctx.respond(txn, 408);
          // §14.1: a re-INVITE that times out ends the dialog.
          if (req.method === 'INVITE') this.end('re-INVITE timed out', {});
        }),
      onTransportError: () =>
        this.run(() => {
          this.pending = undefined;
          this.ctx.respond(txn, 503);
        }),
    });
  }

  /** INFO, MESSAGE, OPTIONS, NOTIFY… inside the dialog: same method on the other leg, final response back. */
  private relay(side: Side, req: SipRequest, txn: ServerTransaction): void {
    const to = this.leg(side === 'a' ? 'b' : 'a');
    const d = to.dialog as Dialog;
    const { headers, body } = relayedBody(req);
    const out = dialogRequest(d, { method: req.method, via: this.ctx.via(to.destination.protocol), headers, body });
    this.ctx.transactions.sendRequest(out, to.destination, {
      onFinal: (res) => {
        const r = relayedBody(res);
        this.ctx.respond(txn, res.status, { reason: res.reason, headers: r.headers, body: r.body });
      },
      onTimeout: () => this.ctx.respond(txn, 408),
      onTransportError: () => this.ctx.respond(txn, 503),
    });
  }

  // ---- ending ---------------------------------------------------------------------------------

  private sendBye(d: Dialog, destination: SipEndpoint, why: string, reason?: string): void {
    const headers: SipHeader[] = reason !== undefined ? [{ name: 'Reason', value: reason }] : [];
    const bye = dialogRequest(d, { method: 'BYE', via: this.ctx.via(destination.protocol), headers });
    this.ctx.transactions.sendRequest(bye, destination, {
      onFinal: (res) => this.log.debug({ status: res.status, why }, 'BYE answered'),
      onTimeout: () => this.log.warn({ why }, 'BYE timed out'),
      onTransportError: (err) => this.log.warn({ err: err.message, why }, 'BYE could not be sent'),
    });
  }

  /**
   * Ends the call from the middle: BYE to every confirmed leg but `except` (the one that hung up),
   * a final response to a caller still waiting, CANCEL to a callee still ringing, media deleted.
   */
  end(reason: string, opts: { except?: Side; aStatus?: number; sipReason?: string } = {}): void {
    if (this.state === 'ended') return;
    const wasConfirmed = this.state === 'confirmed';
    this.state = 'ended';
    if (!this.aFinalSent) this.respondA(opts.aStatus ?? 500, {});
    else if (opts.except !== 'a' && this.a.dialog !== undefined && wasConfirmed) this.sendBye(this.a.dialog, this.a.destination, reason, opts.sipReason);
    if (opts.except !== 'b') {
      if (this.b.dialog !== undefined) this.sendBye(this.b.dialog, this.b.destination, reason, opts.sipReason);
      else {
        this.cancelled = true;
        if (this.bProvisional) this.sendBCancel();
      }
    }
    this.finish(reason, true);
  }

  private deleteMedia(reason: string): void {
    this.ctx.media.delete({ callId: this.mediaCallId }).then(
      () => this.log.debug({ reason }, 'media deleted'),
      (err: unknown) => {
        if (!(err instanceof TandemError && err.code === 'UNKNOWN_CALL')) this.log.warn({ err: errorMessage(err) }, 'media delete failed');
      },
    );
  }

  private finished = false;

  /** Forgets the call (once): media deleted, registry told. */
  private finish(reason: string, logged: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.state = 'ended';
    this.deleteMedia(reason);
    if (!logged || reason !== '') this.log.info({ reason }, 'call ended');
    this.onEnded(this, reason);
  }
}

