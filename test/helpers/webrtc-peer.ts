import { RTCPeerConnection, RTCRtpCodecParameters, type RTCRtpTransceiver } from 'werift';

/**
 * A browser stand-in: werift's RTCPeerConnection (full ICE agent, DTLS, SRTP) on loopback only.
 * No STUN servers, and candidate pairs are limited to 127.0.0.1 on both ends, so nothing leaves
 * the machine. It answers (or makes) offers like a browser and exchanges raw RTP payloads.
 */
export class WebRtcPeer {
  readonly received: { pt: number; payload: Buffer }[] = [];
  private transceiver: RTCRtpTransceiver | undefined;

  private constructor(readonly pc: RTCPeerConnection) {
    pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        this.received.push({ pt: rtp.header.payloadType, payload: Buffer.from(rtp.payload) });
      });
    });
  }

  static create(codec: { name: string; pt: number } = { name: 'PCMA', pt: 8 }): WebRtcPeer {
    const pc = new RTCPeerConnection({
      iceServers: [],
      iceUseIpv6: false,
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      iceFilterCandidatePair: (pair) => pair.localCandidate.host === '127.0.0.1' && pair.remoteCandidate.host === '127.0.0.1',
      codecs: { audio: [new RTCRtpCodecParameters({ mimeType: `audio/${codec.name}`, clockRate: 8000, channels: 1, payloadType: codec.pt })] },
    });
    return new WebRtcPeer(pc);
  }

  /** setRemoteDescription(offer), createAnswer, and the answer once its candidates are gathered. */
  async answer(offerSdp: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    this.transceiver = this.pc.getTransceivers()[0];
    this.transceiver.setDirection('sendrecv');
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await this.gathered();
    return this.pc.localDescription?.sdp ?? '';
  }

  /** A re-offer from this side (same transceiver), once gathered. */
  async offer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.gathered();
    return this.pc.localDescription?.sdp ?? '';
  }

  async accept(answerSdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
  }

  private async gathered(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return;
    await new Promise<void>((resolve) => {
      const { unSubscribe } = this.pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') {
          unSubscribe();
          resolve();
        }
      });
    });
  }

  /** Resolves when ICE and DTLS are up (connectionState `connected`); rejects on failure or timeout. */
  connected(timeoutMs = 5000): Promise<void> {
    if (this.pc.connectionState === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`WebRTC peer not connected (state ${this.pc.connectionState})`)), timeoutMs);
      const { unSubscribe } = this.pc.connectionStateChange.subscribe((s) => {
        if (s === 'connected' || s === 'failed' || s === 'closed') {
          clearTimeout(t);
          unSubscribe();
          if (s === 'connected') resolve();
          else reject(new Error(`WebRTC peer ${s}`));
        }
      });
    });
  }

  private seq = 0;

  /**
   * Sends one 20 ms G.711 frame. Sequence numbers and timestamps move on with every packet: the
   * far end's SRTP replay window drops a repeated sequence number (werift only adds an offset).
   */
  async send(payload: Buffer): Promise<void> {
    const n = this.seq++;
    const h = Buffer.alloc(12);
    h[0] = 0x80;
    h.writeUInt16BE(n & 0xffff, 2);
    h.writeUInt32BE((n * 160) >>> 0, 4);
    await this.transceiver?.sender.sendRtp(Buffer.concat([h, payload]));
  }

  async waitFor(n: number, timeoutMs = 3000): Promise<{ pt: number; payload: Buffer }[]> {
    const until = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (Date.now() > until) throw new Error(`expected ${n} RTP packets at the WebRTC peer, got ${this.received.length}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.received;
  }

  async close(): Promise<void> {
    await this.pc.close();
  }
}
