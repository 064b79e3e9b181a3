import { errorMessage, TandemError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { buildCancel, createRequest, newCallId, newTag } from '../sip/build.js';
import { dialogDestination, dialogRequest, uacDialog, type Dialog } from '../sip/dialog.js';
import { UacAuth } from '../sip/digest-client.js';
import { getCSeq, getTo, type SipHeader, type SipRequest, type SipResponse } from '../sip/message.js';
import type { ServerTransaction } from '../sip/transaction/types.js';
import { formatUri } from '../sip/uri.js';
import { MediaSession, type AudioSource } from './media.js';
import type { PhoneOptions } from './options.js';
import { agreeMedia, buildSdp, offeredCodecs, type AgreedMedia, type OfferedCodec } from './sdp.js';
import { localAddressToward, parseTarget, PhoneSip, targetTransport, readCaFile, resolveTarget, responseLine, Timeline, type ResolvedTarget } from './sip-phone.js';
import { EXIT, mediaReport, type PhoneSummary } from './summary.js';

/**
 * `tandem call`: one INVITE with Tandem's own transaction layer, a 401/407 answered once, the ACK,
 * media for `--duration`, the BYE; then the summary. A final response is awaited at most
 * `--answer-timeout` (then CANCEL, or give up if nothing came back at all).
 */
const DIGITS_AFTER_MS = 1000;
/** how long the BYE's response is awaited before the summary is printed anyway. */
const BYE_WAIT_MS = 5000;

type Ending = { exitCode: number; reason?: string; finalStatus?: number };

export async function runCall(o: PhoneOptions, source: AudioSource | undefined, log: Logger): Promise<PhoneSummary> {
  const timeline = new Timeline();
  const targetText = o.target as string;
  const base = (exitCode: number, reason: string): PhoneSummary => ({
    mode: 'call', peer: targetText, exitCode, reason, connected: false, timeline: timeline.entries,
    sent: { packets: 0, events: 0, digits: '', skipped: 0 },
    received: { packets: 0, events: 0, expected: 0, lost: 0, lossPercent: 0, jitterMs: 0, digits: '', dropped: 0 },
  });
  const uri = parseTarget(targetText);
  const transport = targetTransport(uri, o.transport);
  let target: ResolvedTarget;
  let localIp: string;
  try {
    // A name that does not resolve, or an address with no route: nobody could answer (exit 4).
    target = await resolveTarget(uri, targetText, transport);
    localIp = await localAddressToward(target.endpoint.address);
  } catch (err) {
    return base(EXIT.noAnswer, errorMessage(err));
  }
  if (localIp.includes(':')) throw new TandemError('CONFIG', `target: ${target.endpoint.address} is IPv6; tandem call speaks IPv4 only`);
  const protocol = target.endpoint.protocol;
  const sip = await PhoneSip.start({
    listen: [{ protocol: 'udp', address: localIp, port: 0 }, ...(protocol === 'tcp' ? [{ protocol: 'tcp' as const, address: localIp, port: 0 }] : [])],
    log,
    ...(o.tlsCa !== undefined ? { tlsCa: readCaFile(o.tlsCa) } : {}),
  });
  const media = new MediaSession(source, log);
  try {
    const rtpPort = await media.open(localIp);
    const call = new OutgoingCall(o, sip, media, target, localIp, rtpPort, timeline, log);
    const ending = await call.run();
    return call.summary(ending);
  } finally {
    media.close();
    await sip.close();
  }
}

class OutgoingCall {
  private readonly callId: string;
  private readonly fromTag = newTag();
  private cseq = 1;
  private invite: SipRequest | undefined;
  private readonly auth: UacAuth | undefined;
  private challenged = false;
  private provisional = false;
  private dialog: Dialog | undefined;
  private agreed: AgreedMedia | undefined;
  private connectedAt = 0;
  private finish: (e: Ending) => void = () => undefined;
  private ended = false;
  private hangupTimer: NodeJS.Timeout | undefined;
  private readonly codecs: OfferedCodec[];

  constructor(
    private readonly o: PhoneOptions,
    private readonly sip: PhoneSip,
    private readonly media: MediaSession,
    private readonly target: ResolvedTarget,
    private readonly localIp: string,
    private readonly rtpPort: number,
    private readonly timeline: Timeline,
    private readonly log: Logger,
  ) {
    this.callId = newCallId(localIp);
    this.log = log.child({ callId: this.callId });
    this.auth = o.user !== undefined && o.password !== undefined ? new UacAuth({ username: o.user, password: o.password }) : undefined;
    this.codecs = offeredCodecs(o.codecs);
  }

  run(): Promise<Ending> {
    const done = new Promise<Ending>((resolve) => {
      this.finish = (e) => {
        if (this.ended) return;
        this.ended = true;
        resolve(e);
      };
    });
    this.sip.setUser({ onRequest: (req, txn) => this.onRequest(req, txn), onAck: () => undefined });
    const giveUp = setTimeout(() => this.noAnswer(), this.o.answerTimeoutS * 1000);
    void done.then(() => clearTimeout(giveUp));
    this.sendInvite([]);
    return done;
  }

  private get protocol() {
    return this.target.endpoint.protocol;
  }

  private sendInvite(extra: SipHeader[]): void {
    const uriText = formatUri(this.target.uri);
    const user = this.o.user ?? 'tandem';
    const sdp = buildSdp({ address: this.localIp, port: this.rtpPort, sessionId: Date.now() % 1e9, version: 1, codecs: this.codecs });
    const req = createRequest('INVITE', uriText, [
      { name: 'Via', value: this.sip.via(this.protocol) },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<sip:${user}@${this.target.uri.host}>;tag=${this.fromTag}` },
      { name: 'To', value: `<${uriText}>` },
      { name: 'Call-ID', value: this.callId },
      { name: 'CSeq', value: `${this.cseq} INVITE` },
      { name: 'Contact', value: this.sip.contact(this.protocol) },
      { name: 'User-Agent', value: 'tandem-call' },
      ...extra,
      { name: 'Content-Type', value: 'application/sdp' },
    ], Buffer.from(sdp));
    this.invite = req;
    this.timeline.note(extra.length > 0 ? '→ INVITE (with credentials)' : '→ INVITE');
    this.sip.layer.sendRequest(req, this.target.endpoint, {
      onProvisional: (res) => {
        this.provisional = true;
        this.timeline.note(responseLine(res));
      },
      onFinal: (res) => this.onInviteFinal(req, res),
      onTimeout: () => this.finish({ exitCode: EXIT.noAnswer, reason: 'no response to the INVITE (timer B)' }),
      onTransportError: (err) => this.finish({ exitCode: EXIT.noAnswer, reason: `transport error: ${err.message}` }),
    });
  }

  private onInviteFinal(req: SipRequest, res: SipResponse): void {
    if (res.status >= 200 && res.status < 300) {
      if (this.dialog !== undefined) {
        this.sendAck(); // a retransmitted 2xx: our ACK was lost
        return;
      }
      this.timeline.note(responseLine(res));
      this.connected(req, res);
      return;
    }
    this.timeline.note(responseLine(res));
    if ((res.status === 401 || res.status === 407) && this.auth !== undefined && !this.challenged && !this.ended) {
      this.challenged = true;
      const r = this.auth.answer(res, { method: 'INVITE', uri: req.uri }, false, false);
      if (r.ok) {
        this.cseq++;
        this.sendInvite([r.header]);
        return;
      }
      this.finish({ exitCode: EXIT.refused, finalStatus: res.status, reason: r.reason });
      return;
    }
    const why =
      res.status === 401 || res.status === 407
        ? this.auth === undefined
          ? `${res.status} ${res.reason}: authentication asked (give --user and --password)`
          : `${res.status} ${res.reason} again: our credentials were refused`
        : `${res.status} ${res.reason}`;
    this.finish({ exitCode: res.status === 487 || res.status === 408 ? EXIT.noAnswer : EXIT.refused, finalStatus: res.status, reason: why });
  }

  private connected(req: SipRequest, res: SipResponse): void {
    this.dialog = uacDialog(req, res);
    this.sendAck();
    if (this.ended) {
      // Answered after we gave up: ACK it and hang up at once.
      this.sendBye();
      return;
    }
    try {
      this.agreed = agreeMedia(res.body.toString('utf8'), this.codecs);
    } catch (err) {
      this.log.warn({ err }, 'the answer\'s SDP cannot be used: hanging up');
      this.hangUp({ exitCode: EXIT.noMedia, finalStatus: res.status, reason: `answer SDP: ${errorMessage(err)}` });
      return;
    }
    this.connectedAt = performance.now();
    this.media.start(this.agreed, this.o.dtmf, DIGITS_AFTER_MS, this.log);
    this.hangupTimer = setTimeout(() => this.hangUp(this.mediaVerdict(res.status)), this.o.durationS * 1000);
  }

  private sendAck(): void {
    const d = this.dialog;
    const invite = this.invite;
    if (d === undefined || invite === undefined) return;
    const ack = dialogRequest(d, { method: 'ACK', via: this.sip.via(this.protocol), cseq: getCSeq(invite)?.seq ?? this.cseq });
    this.timeline.note('→ ACK');
    this.sip.layer.sendRequest(ack, dialogDestination(d, this.protocol) ?? this.target.endpoint, { onFinal: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
  }

  private mediaVerdict(status: number): Ending {
    const c = this.media.snapshot();
    if (c.sent > 0 && c.received > 0) return { exitCode: EXIT.ok, finalStatus: status };
    return { exitCode: EXIT.noMedia, finalStatus: status, reason: c.received === 0 ? 'connected, but no RTP came back' : 'connected, but no RTP was sent' };
  }

  private hangUp(verdict: Ending): void {
    clearTimeout(this.hangupTimer);
    this.media.stop();
    const bye = this.sendBye();
    const deadline = setTimeout(() => {
      this.timeline.note(`no response to the BYE within ${BYE_WAIT_MS} ms`);
      this.finish(verdict);
    }, BYE_WAIT_MS);
    bye.then(() => {
      clearTimeout(deadline);
      this.finish(verdict);
    }, () => undefined);
  }

  /** Sends the BYE (a challenge answered once with the same credentials); resolves on its final response. */
  private sendBye(extra: SipHeader[] = [], challenged = false): Promise<void> {
    const d = this.dialog;
    if (d === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const bye = dialogRequest(d, { method: 'BYE', via: this.sip.via(this.protocol), headers: extra });
      this.timeline.note(challenged ? '→ BYE (with credentials)' : '→ BYE');
      this.sip.layer.sendRequest(bye, dialogDestination(d, this.protocol) ?? this.target.endpoint, {
        onFinal: (res) => {
          this.timeline.note(responseLine(res, 'BYE'));
          if ((res.status === 401 || res.status === 407) && this.auth !== undefined && !challenged) {
            const r = this.auth.answer(res, { method: 'BYE', uri: bye.uri }, false, false);
            if (r.ok) {
              void this.sendBye([r.header], true).then(resolve);
              return;
            }
          }
          resolve();
        },
        onTimeout: () => resolve(),
        onTransportError: () => resolve(),
      });
    });
  }

  private noAnswer(): void {
    if (this.dialog !== undefined || this.ended) return;
    const invite = this.invite;
    if (this.provisional && invite !== undefined) {
      // RFC 3261 §9.1: CANCEL only once a provisional came; the 487 (or a racing 200) follows.
      this.timeline.note(`→ CANCEL (no answer in ${this.o.answerTimeoutS} s)`);
      this.sip.layer.sendRequest(buildCancel(invite), this.target.endpoint, { onFinal: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
      setTimeout(() => this.finish({ exitCode: EXIT.noAnswer, reason: `no answer within ${this.o.answerTimeoutS} s (CANCELled)` }), BYE_WAIT_MS).unref();
      return;
    }
    this.finish({ exitCode: EXIT.noAnswer, reason: `no response within ${this.o.answerTimeoutS} s` });
  }

  /** A request from the far end: its BYE ends the call; OPTIONS and re-INVITEs are answered. */
  private onRequest(req: SipRequest, txn: ServerTransaction): void {
    const d = this.dialog;
    const inDialog = d !== undefined && getTo(req)?.tag === d.localTag;
    if (req.method === 'OPTIONS') {
      this.sip.respond(txn, req, 200);
      return;
    }
    if (!inDialog) {
      this.sip.respond(txn, req, 481);
      return;
    }
    if (req.method === 'BYE') {
      this.timeline.note('← BYE');
      this.sip.respond(txn, req, 200);
      this.timeline.note('→ 200 OK (BYE)');
      clearTimeout(this.hangupTimer);
      this.media.stop();
      this.finish(this.mediaVerdict(200));
      return;
    }
    if (req.method === 'INVITE' && this.agreed !== undefined) {
      // A re-INVITE (session refresh, a B2BUA's re-offer): the same media, our SDP again.
      const sdp = buildSdp({ address: this.localIp, port: this.rtpPort, sessionId: 1, version: 2, codecs: [this.agreed.codec] });
      this.sip.respond(txn, req, 200, { headers: [{ name: 'Contact', value: this.sip.contact(this.protocol) }, { name: 'Content-Type', value: 'application/sdp' }], body: Buffer.from(sdp) });
      return;
    }
    this.sip.respond(txn, req, req.method === 'INVITE' ? 488 : 200);
  }

  summary(e: Ending): PhoneSummary {
    const connected = this.connectedAt > 0;
    return {
      mode: 'call',
      peer: this.target.text,
      callId: this.callId,
      exitCode: e.exitCode,
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      connected,
      ...(e.finalStatus !== undefined ? { finalStatus: e.finalStatus } : {}),
      timeline: this.timeline.entries,
      ...mediaReport(this.media, this.agreed, this.o.record, connected),
    };
  }
}
