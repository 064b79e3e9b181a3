import { errorMessage } from '../common/errors.js';
import { getCSeq, type SipHeader, type SipRequest, type SipResponse } from '../sip/message.js';
import { dialogRequest, refreshTarget, type Dialog } from '../sip/dialog.js';
import type { ClientTransactionHandler, ServerTransaction } from '../sip/transaction/types.js';
import { ALLOW, sdpBody } from './sip-context.js';
import { mediaFailureStatus, relayedInDialogStatus } from './status-map.js';
import { sendWithAuth } from './uac-auth.js';
import { offerDirection, otherLeg, reverse, type CallCore, type LateAck, type Leg, type LegPath } from './call-core.js';
import type { Direction } from './policy.js';

/** One re-INVITE or UPDATE crossing the call: where it came from, and the request that carries it on. */
interface Exchange {
  from: Leg;
  req: SipRequest;
  txn: ServerTransaction;
  dir: Direction;
  /** the offer it carried; undefined for an offerless re-INVITE (the answerer offers in its 2xx). */
  sdp: string | undefined;
  to: LegPath;
  dialog: Dialog;
  seq: number;
}

/**
 * Offers after the first one: re-INVITE and UPDATE from either leg (the media plane offered again
 * under the same policy), and late offers, whose answer arrives in an ACK. One exchange at a time
 * per call (RFC 3261 §14.2); the caller of `start` answers 491 while `busy()`.
 */
export class Reoffers {
  /** leg whose re-INVITE/UPDATE is in flight. */
  private pending: Leg | undefined;
  private lateAck: LateAck | undefined;

  constructor(private readonly call: CallCore) {}

  busy(): boolean {
    return this.pending !== undefined;
  }

  ackAwaitsAnswer(to: Leg): boolean {
    return this.lateAck?.to === to;
  }

  expectAnswerInAck(late: LateAck): void {
    this.lateAck = late;
  }

  /** The ACK from `leg` may carry the answer to a late offer: the held ACK toward the offerer goes with it. */
  handleAck(leg: Leg, ack: SipRequest): void {
    const late = this.lateAck;
    if (late === undefined || late.from !== leg) return;
    const call = this.call;
    call.run(async () => {
      if (this.lateAck !== late) return;
      this.lateAck = undefined;
      const to = call.leg(late.to);
      const d = to.dialog;
      if (d === undefined) return;
      const answer = sdpBody(ack);
      let out: string | undefined;
      if (answer !== undefined) {
        try {
          out = await call.mediaAnswer(late.dir, answer);
        } catch (err) {
          call.log.warn({ err }, 'media answer of the late offer failed');
        }
      }
      const headers: SipHeader[] = out !== undefined ? [{ name: 'Content-Type', value: 'application/sdp' }] : [];
      const ackOut = dialogRequest(d, { method: 'ACK', via: call.ctx.via(to.destination.protocol), cseq: late.seq, headers, ...(out !== undefined ? { body: Buffer.from(out, 'utf8') } : {}) });
      call.ctx.sendAck(ackOut, to.destination, call.log);
      if (out === undefined) call.end('the late offer got no usable answer in the ACK');
    });
  }

  /** re-INVITE or UPDATE from `from`: the media offer runs again under the same policy, then goes to the other leg. */
  async start(from: Leg, req: SipRequest, txn: ServerTransaction): Promise<void> {
    const call = this.call;
    this.pending = from;
    const dir = offerDirection(from);
    const sdp = sdpBody(req);
    let outSdp: string | undefined;
    if (sdp !== undefined) {
      try {
        outSdp = await call.mediaOffer(dir, sdp);
      } catch (err) {
        this.pending = undefined;
        const { status, reason } = mediaFailureStatus(err);
        call.log.warn({ err, leg: from }, 're-offer refused by the media plane');
        call.ctx.respond(txn, status, { reason });
        return;
      }
    }
    const to = call.leg(otherLeg(from));
    const d = to.dialog;
    if (d === undefined) {
      this.pending = undefined;
      call.ctx.respond(txn, 481);
      return;
    }
    const headers: SipHeader[] = [{ name: 'Allow', value: ALLOW }];
    if (outSdp !== undefined) headers.push({ name: 'Content-Type', value: 'application/sdp' });
    const build = (extra: SipHeader[]): SipRequest =>
      dialogRequest(d, {
        method: req.method,
        via: call.ctx.via(to.destination.protocol),
        contact: to.contact,
        headers: [...headers, ...extra],
        ...(outSdp !== undefined ? { body: Buffer.from(outSdp, 'utf8') } : {}),
      });
    const x: Exchange = { from, req, txn, dir, sdp, to, dialog: d, seq: 0 };
    call.log.info({ from, method: req.method, sdp: sdp !== undefined }, 're-offer');
    // A trunk may challenge the re-INVITE/UPDATE too (uac-auth.ts): the 2xx is ACKed with the CSeq that carried credentials.
    const handler: ClientTransactionHandler = {
      onFinal: (res) => call.run(() => this.onFinal(x, res)),
      onTimeout: () =>
        call.run(() => {
          this.pending = undefined;
          call.ctx.respond(txn, 408);
          // §14.1: a re-INVITE that times out ends the dialog.
          if (req.method === 'INVITE') call.end('re-INVITE timed out', {});
        }),
      onTransportError: () =>
        call.run(() => {
          this.pending = undefined;
          call.ctx.respond(txn, 503);
        }),
    };
    const out = sendWithAuth({
      auth: to.uacAuth,
      build,
      send: (r, h) => call.ctx.transactions.sendRequest(r, to.destination, h),
      onResend: (r) => (x.seq = getCSeq(r)?.seq ?? 0),
      handler,
      log: call.log,
      stats: call.ctx.trunkAuth,
    });
    x.seq = getCSeq(out)?.seq ?? 0;
  }

  private sendAck(x: Exchange): void {
    const ctx = this.call.ctx;
    ctx.sendAck(dialogRequest(x.dialog, { method: 'ACK', via: ctx.via(x.to.destination.protocol), cseq: x.seq }), x.to.destination, this.call.log);
  }

  private async onFinal(x: Exchange, res: SipResponse): Promise<void> {
    const call = this.call;
    if (res.status < 200 || res.status >= 300) {
      this.pending = undefined;
      const mapped = relayedInDialogStatus(res.status, res.reason);
      call.ctx.respond(x.txn, mapped.status, { reason: mapped.reason, headers: mapped.headers });
      return;
    }
    refreshTarget(x.dialog, res);
    const answer = sdpBody(res);
    // An offerless re-INVITE: the 2xx holds the offer, the answer will come in the ACK.
    const late = x.req.method === 'INVITE' && x.sdp === undefined && answer !== undefined;
    if (x.req.method === 'INVITE' && !(late && (this.pending === x.from || this.lateAck?.to === otherLeg(x.from)))) this.sendAck(x);
    if (this.pending !== x.from) return; // a 2xx retransmission
    this.pending = undefined;
    let back: string | undefined;
    if (late && answer !== undefined) {
      const lateDir = reverse(x.dir);
      try {
        back = await call.mediaOffer(lateDir, answer);
      } catch (err) {
        this.sendAck(x);
        call.end(`media offer failed: ${errorMessage(err)}`);
        return;
      }
      this.lateAck = { from: x.from, to: otherLeg(x.from), dir: lateDir, seq: x.seq };
    } else if (x.sdp !== undefined && answer !== undefined) {
      try {
        back = await call.mediaAnswer(x.dir, answer);
      } catch (err) {
        call.log.warn({ err }, 're-answer refused by the media plane');
        call.end(`media answer failed: ${errorMessage(err)}`);
        return;
      }
    }
    call.ctx.respond(x.txn, res.status, { reason: res.reason, contact: call.leg(x.from).contact, ...(back !== undefined ? { sdp: back } : {}) });
  }
}
