import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { newTag } from '../sip/build.js';
import { dialogRequest, uasDialog, type Dialog } from '../sip/dialog.js';
import { getCallId, getHeader, getTo, type SipRequest } from '../sip/message.js';
import type { ServerTransaction } from '../sip/transaction/types.js';
import type { InboundMessage, SipEndpoint } from '../sip/transport/types.js';
import { MediaSession, type AudioSource } from './media.js';
import type { PhoneOptions } from './options.js';
import { agreeMedia, buildSdp, offeredCodecs, type AgreedMedia, type OfferedCodec } from './sdp.js';
import { PhoneSip, Timeline } from './sip-phone.js';
import { EXIT, mediaReport, type PhoneSummary } from './summary.js';

/**
 * `tandem answer`: takes one call on `--listen` (another INVITE meanwhile gets 486), answers
 * 180 then 200 with the first offered codec we have, plays and analyses like `tandem call`, and
 * ends when the caller hangs up or `--duration` passes (then our BYE). Requests go back over the
 * flow the INVITE came on.
 */
const DIGITS_AFTER_MS = 1000;
const BYE_WAIT_MS = 5000;
/** a call answered with no duration still ends: 1 h. */
const MAX_CALL_MS = 3_600_000;

type Ending = { exitCode: number; reason?: string };

export async function runAnswer(o: PhoneOptions, source: AudioSource | undefined, log: Logger, onListening: (where: SipEndpoint) => void): Promise<PhoneSummary> {
  const listen = o.listen ?? { protocol: 'udp' as const, address: '127.0.0.1', port: 5062 };
  const sip = await PhoneSip.start({ listen: [listen], log });
  const media = new MediaSession(source, log);
  try {
    await media.open(listen.address);
    onListening(sip.transport.listeners()[0]);
    const callee = new IncomingCall(o, sip, media, listen.address, log);
    const ending = await callee.run();
    return callee.summary(ending);
  } finally {
    media.close();
    await sip.close();
  }
}

class IncomingCall {
  private readonly timeline = new Timeline();
  private readonly localTag = newTag();
  private dialog: Dialog | undefined;
  private flow: SipEndpoint | undefined;
  private agreed: AgreedMedia | undefined;
  private caller = '';
  private callId: string | undefined;
  private finish: (e: Ending) => void = () => undefined;
  private ended = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly codecs: OfferedCodec[];
  private readonly log: Logger;

  constructor(
    private readonly o: PhoneOptions,
    private readonly sip: PhoneSip,
    private readonly media: MediaSession,
    private readonly localIp: string,
    log: Logger,
  ) {
    this.codecs = offeredCodecs(o.codecs);
    this.log = log;
  }

  run(): Promise<Ending> {
    const done = new Promise<Ending>((resolve) => {
      this.finish = (e) => {
        if (this.ended) return;
        this.ended = true;
        for (const t of this.timers) clearTimeout(t);
        this.media.stop();
        resolve(e);
      };
    });
    this.sip.setUser({ onRequest: (req, txn, inbound) => this.onRequest(req, txn, inbound), onAck: () => this.timeline.note('← ACK') });
    this.timers.push(setTimeout(() => {
      if (this.dialog === undefined) this.finish({ exitCode: EXIT.noAnswer, reason: `no call arrived within ${this.o.answerTimeoutS} s` });
    }, this.o.answerTimeoutS * 1000));
    return done;
  }

  private onRequest(req: SipRequest, txn: ServerTransaction, inbound: InboundMessage): void {
    const d = this.dialog;
    const inDialog = d !== undefined && getCallId(req) === d.callId && getTo(req)?.tag === this.localTag;
    if (req.method === 'OPTIONS' && !inDialog) {
      this.sip.respond(txn, req, 200);
      return;
    }
    if (req.method === 'INVITE' && getTo(req)?.tag === undefined) {
      this.takeCall(req, txn, inbound);
      return;
    }
    if (!inDialog || this.ended) {
      this.sip.respond(txn, req, 481);
      return;
    }
    if (req.method === 'BYE') {
      this.timeline.note('← BYE');
      this.sip.respond(txn, req, 200);
      this.timeline.note('→ 200 OK (BYE)');
      this.finish(this.mediaVerdict());
      return;
    }
    if (req.method === 'INVITE') {
      this.sip.respond(txn, req, 200, this.answerParts());
      return;
    }
    this.sip.respond(txn, req, 200);
  }

  private answerParts() {
    const a = this.agreed as AgreedMedia;
    const sdp = buildSdp({ address: this.localIp, port: this.mediaPort, sessionId: 1, version: 1, codecs: [a.codec], dtmfPts: a.dtmfPt !== undefined ? { [a.codec.clockRate]: a.dtmfPt } : {} });
    return { toTag: this.localTag, headers: [{ name: 'Contact', value: this.sip.contact(this.flow?.protocol ?? 'udp') }, { name: 'Content-Type', value: 'application/sdp' }], body: Buffer.from(sdp) };
  }

  private mediaPort = 0;

  private takeCall(req: SipRequest, txn: ServerTransaction, inbound: InboundMessage): void {
    if (this.dialog !== undefined || this.ended) {
      this.sip.respond(txn, req, 486, { toTag: newTag() });
      return;
    }
    this.caller = getHeader(req, 'From') ?? '';
    this.callId = getCallId(req);
    this.timeline.note('← INVITE');
    try {
      this.agreed = agreeMedia(req.body.toString('utf8'), this.codecs);
    } catch (err) {
      this.sip.respond(txn, req, 488, { toTag: this.localTag, headers: [{ name: 'Warning', value: `305 tandem "${errorMessage(err).replace(/"/g, "'").slice(0, 120)}"` }] });
      this.timeline.note('→ 488 Not Acceptable Here');
      this.finish({ exitCode: EXIT.refused, reason: `the offer cannot be used: ${errorMessage(err)}` });
      return;
    }
    this.flow = inbound.source;
    this.dialog = uasDialog(req, this.localTag);
    const callLog = this.log.child({ callId: this.callId });
    callLog.info('call answered');
    this.mediaPort = this.media.port;
    this.sip.respond(txn, req, 180, { toTag: this.localTag });
    this.timeline.note('→ 180 Ringing');
    this.sip.respond(txn, req, 200, this.answerParts());
    this.timeline.note('→ 200 OK');
    this.media.start(this.agreed, this.o.dtmf, DIGITS_AFTER_MS, callLog);
    const limit = this.o.durationS > 0 ? this.o.durationS * 1000 : MAX_CALL_MS;
    this.timers.push(setTimeout(() => this.hangUp(), limit));
  }

  private mediaVerdict(): Ending {
    const c = this.media.snapshot();
    if (c.sent > 0 && c.received > 0) return { exitCode: EXIT.ok };
    return { exitCode: EXIT.noMedia, reason: c.received === 0 ? 'answered, but no RTP came in' : 'answered, but no RTP was sent' };
  }

  private hangUp(): void {
    const d = this.dialog;
    const flow = this.flow;
    if (d === undefined || flow === undefined || this.ended) return;
    this.media.stop();
    const verdict = this.mediaVerdict();
    const bye = dialogRequest(d, { method: 'BYE', via: this.sip.via(flow.protocol) });
    this.timeline.note('→ BYE');
    this.timers.push(setTimeout(() => this.finish(verdict), BYE_WAIT_MS));
    this.sip.layer.sendRequest(bye, flow, {
      onFinal: (res) => {
        this.timeline.note(`← ${res.status} ${res.reason} (BYE)`);
        this.finish(verdict);
      },
      onTimeout: () => this.finish(verdict),
      onTransportError: () => this.finish(verdict),
    });
  }

  summary(e: Ending): PhoneSummary {
    const connected = this.dialog !== undefined;
    return {
      mode: 'answer',
      peer: this.caller,
      ...(this.callId !== undefined ? { callId: this.callId } : {}),
      exitCode: e.exitCode,
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      connected,
      timeline: this.timeline.entries,
      ...mediaReport(this.media, connected ? this.agreed : undefined, this.o.record, connected),
    };
  }
}
