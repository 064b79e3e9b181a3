/**
 * How the bench sets up a call: over ng straight to a media server (offer → answer → delete), or
 * over SIP through a B2BUA or proxy (INVITE → 200 → ACK, BYE) with the media server behind it.
 * Either way the caller's SDP goes in, the callee answers the SDP it is given, and the caller gets
 * the SDP the far end answered, so the RTP legs do not care which path set them up.
 */
import { expectOk, type NgClient } from './ng.js';
import { Uac, Uas, type Addr, type Dialog } from './sip-ua.js';
import type { DigestCredentials } from './sip-digest.js';
import type { BDict } from '../../src/control/bencode.js';

export interface Established {
  /** the SDP the callee received (its offer) and the SDP the caller received (its answer). */
  toCallee: string;
  toCaller: string;
  release(): Promise<void>;
}

export interface CallSignalling {
  readonly kind: 'ng' | 'sip';
  establish(id: string, callerSdp: string, answer: (toCallee: string) => string): Promise<Established>;
  /** 401/407 challenges the caller answered so far (SIP with credentials; 0 otherwise). */
  readonly challenges?: number;
  close(): Promise<void>;
}

export class NgSignalling implements CallSignalling {
  readonly kind = 'ng';
  constructor(private readonly ng: NgClient, private readonly offerFlags: BDict) {}

  async establish(id: string, callerSdp: string, answer: (toCallee: string) => string): Promise<Established> {
    const fromTag = `a-${id}`;
    const toTag = `b-${id}`;
    const offer = expectOk(await this.ng.request({ command: 'offer', 'call-id': id, 'from-tag': fromTag, sdp: callerSdp, ...this.offerFlags }), 'offer');
    const toCallee = String(offer.sdp);
    const reply = expectOk(
      await this.ng.request({ command: 'answer', 'call-id': id, 'from-tag': fromTag, 'to-tag': toTag, sdp: answer(toCallee), replace: ['origin', 'session-connection'] }),
      'answer',
    );
    return {
      toCallee,
      toCaller: String(reply.sdp),
      release: async () => {
        await this.ng.request({ command: 'delete', 'call-id': id, 'from-tag': fromTag });
      },
    };
  }

  async close(): Promise<void> {
    await this.ng.close();
  }
}

/**
 * SIP: one caller socket and one callee socket for every call. The callee finds the call an
 * INVITE belongs to by the To user (the B2BUA gives leg B a new Call-ID; the To URI survives both
 * a B2BUA and a proxy). With credentials the caller answers a 401/407 challenge once per call.
 */
export class SipSignalling implements CallSignalling {
  readonly kind = 'sip';
  private readonly waiting = new Map<string, { answer: (toCallee: string) => string; offer?: string }>();

  private constructor(private readonly uac: Uac, readonly uas: Uas, private readonly proxy: Addr) {
    uas.answerer = (user, offer) => {
      const w = this.waiting.get(user);
      if (w === undefined) return undefined;
      w.offer = offer;
      return w.answer(offer);
    };
  }

  /** Opens the caller and callee sockets; the callee listens on `calleePort`, where the system under test sends leg B. */
  static async open(proxy: Addr, calleePort: number, credentials?: DigestCredentials): Promise<SipSignalling> {
    const uac = await new Uac().open();
    uac.credentials = credentials;
    const uas = await new Uas().open(calleePort);
    return new SipSignalling(uac, uas, proxy);
  }

  get challenges(): number {
    return this.uac.challenges;
  }

  async establish(id: string, callerSdp: string, answer: (toCallee: string) => string): Promise<Established> {
    const user = `bench-${id}`;
    const w: { answer: (toCallee: string) => string; offer?: string } = { answer };
    this.waiting.set(user, w);
    let dialog: Dialog;
    let toCaller: string;
    try {
      ({ dialog, sdp: toCaller } = await this.uac.invite({ proxy: this.proxy, user, callId: `${id}@bench`, sdp: callerSdp }));
    } finally {
      this.waiting.delete(user);
    }
    if (w.offer === undefined) throw new Error('the callee never saw the INVITE');
    return { toCallee: w.offer, toCaller, release: () => this.uac.bye(dialog) };
  }

  async close(): Promise<void> {
    this.uac.close();
    this.uas.close();
  }
}
