import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Logger } from '../common/log.js';
import { rtpHeaderLength, rtpPaddingLength, rtpPayloadType, rtpSeq, rtpSsrc, rtpTimestamp } from '../media/rtp/packet.js';
import { RtpReceiveStats } from '../media/rtp/stats.js';
import { FRAME_8K, phoneCodec, type PhoneCodec } from './audio-codec.js';
import { digitPackets, DtmfReceiver, type EventPacket } from './dtmf.js';
import type { AgreedMedia } from './sdp.js';

/**
 * The phone's RTP: one UDP socket, 20 ms frames of the source's audio sent on a wall-clock
 * schedule, RFC 4733 digits in place of audio while an event lasts (same sequence space, the
 * event's timestamp the audio timeline's at its start), and what comes back counted (RFC 3550
 * loss and jitter), decoded and kept for the tone analysis and the recording.
 */
export interface AudioSource {
  next(out: Int16Array): void;
}

export interface MediaCounters {
  sent: number;
  sentEvents: number;
  /** 20 ms frames not sent because our timer ran too late (a loaded machine): a pause on the RTP clock. */
  skipped: number;
  received: number;
  receivedEvents: number;
  /** RFC 3550 A.1 over the audio stream. */
  expected: number;
  lost: number;
  jitterMs: number;
  /** datagrams that were not RTP, came before the answer or from another source than the far end's SDP, carried a PT we did not agree or a short event (dropped). */
  dropped: number;
  /** audio payloads the codec rejected. */
  undecodable: number;
  digits: string;
  /** the digits whose events went out (all of --dtmf, unless the call ended first). */
  digitsSent: string;
}

const FRAME_MS = 20;
/** tone intervals per digit (100 ms) and silent intervals after each (100 ms); RFC 4733 leaves both to the sender. */
const DIGIT_TONES = 5;
const DIGIT_GAP = 5;
/** at most this many frames sent in one timer run to catch up on a late timer. */
const MAX_CATCH_UP = 5;
/** audio kept for the analysis and the recording: 10 minutes at 8 kHz. */
const MAX_KEPT_SAMPLES = 8000 * 600;

export class MediaSession {
  private readonly socket = dgram.createSocket('udp4');
  private codec: PhoneCodec | undefined;
  private remote: AgreedMedia | undefined;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private frames = 0;
  private seq = randomInt(0, 0x10000);
  private ts = randomInt(0, 0x100000000);
  private readonly ssrc = randomInt(0, 0x100000000);
  private readonly queue: { packets: EventPacket[]; ts: number }[] = [];
  private pendingDigits = '';
  private sentDigits = '';
  private digitsAfterFrame = 0;
  /** loss over every packet of the far end's stream (events share its sequence space)… */
  private readonly stats = new RtpReceiveStats();
  /** …and jitter over its audio only: an event's packets all carry its start timestamp. */
  private readonly audioStats = new RtpReceiveStats();
  private lastSsrc: number | undefined;
  private readonly dtmf = new DtmfReceiver();
  private readonly kept: Int16Array[] = [];
  private keptSamples = 0;
  private readonly frame = new Int16Array(FRAME_8K);
  readonly counters = { sent: 0, sentEvents: 0, skipped: 0, received: 0, receivedEvents: 0, dropped: 0, undecodable: 0 };

  constructor(
    private readonly source: AudioSource | undefined,
    private log: Logger,
  ) {}

  async open(address: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(0, address, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    this.socket.on('error', (err) => this.log.warn({ err }, 'RTP socket error'));
    this.socket.on('message', (buf, rinfo) => this.receive(buf, rinfo));
    return this.port;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Starts sending toward what was agreed; `digits` go out from `digitsAfterMs` on. `log` is the call's (with its call-id). */
  start(agreed: AgreedMedia, digits: string, digitsAfterMs: number, log?: Logger): void {
    if (log !== undefined) this.log = log;
    this.remote = agreed;
    this.codec = phoneCodec(agreed.codec.name, agreed.codec.pt);
    this.pendingDigits = agreed.dtmfPt === undefined ? '' : digits;
    if (agreed.dtmfPt === undefined && digits !== '') this.log.warn('the far end has no telephone-event at our codec\'s rate: digits not sent');
    this.digitsAfterFrame = Math.ceil(digitsAfterMs / FRAME_MS);
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), FRAME_MS / 2);
  }

  private tick(): void {
    const due = Math.floor((performance.now() - this.startedAt) / FRAME_MS) + 1;
    const behind = due - this.frames;
    if (behind > MAX_CATCH_UP && this.codec !== undefined) {
      // A timer so late (a loaded machine) that a burst would follow: those frames are not sent.
      // Their time still passes on the RTP clock, so the far end sees a pause, not lost packets.
      const skip = behind - MAX_CATCH_UP;
      this.frames += skip;
      this.ts = (this.ts + skip * this.codec.frameTicks) >>> 0;
      this.counters.skipped += skip;
    }
    for (let n = 0; n < MAX_CATCH_UP && this.frames < due; n++) this.sendFrame();
  }

  private sendFrame(): void {
    const codec = this.codec;
    const remote = this.remote;
    if (codec === undefined || remote === undefined) return;
    this.frames++;
    if (this.queue.length === 0 && this.pendingDigits !== '' && this.frames >= this.digitsAfterFrame) {
      const ch = this.pendingDigits[0];
      this.pendingDigits = this.pendingDigits.slice(1);
      this.sentDigits += ch;
      this.queue.push({ packets: digitPackets(ch, codec.frameTicks, DIGIT_TONES), ts: this.ts });
      this.digitsAfterFrame = this.frames + DIGIT_TONES + 3 + DIGIT_GAP;
    }
    const event = this.queue[0];
    let packet: Buffer;
    if (event !== undefined && remote.dtmfPt !== undefined) {
      const p = event.packets.shift() as EventPacket;
      if (event.packets.length === 0) this.queue.shift();
      packet = this.rtp(remote.dtmfPt, p.marker, event.ts, p.payload);
      this.counters.sentEvents++;
    } else {
      if (this.source !== undefined) this.source.next(this.frame);
      packet = this.rtp(codec.pt, this.counters.sent === 0, this.ts, codec.encode(this.frame));
    }
    this.ts = (this.ts + codec.frameTicks) >>> 0;
    this.counters.sent++;
    this.socket.send(packet, remote.port, remote.address, (err) => {
      if (err) this.log.debug({ err }, 'RTP send failed');
    });
  }

  private rtp(pt: number, marker: boolean, ts: number, payload: Buffer): Buffer {
    const b = Buffer.alloc(12 + payload.length);
    b[0] = 0x80;
    b[1] = (marker ? 0x80 : 0) | pt;
    b.writeUInt16BE(this.seq, 2);
    b.writeUInt32BE(ts, 4);
    b.writeUInt32BE(this.ssrc, 8);
    payload.copy(b, 12);
    this.seq = (this.seq + 1) & 0xffff;
    return b;
  }

  private receive(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const codec = this.codec;
    const h = rtpHeaderLength(buf, buf.length);
    // Before the answer (early media from an answerer we do not know yet) nothing is counted.
    if (codec === undefined || h < 0) {
      this.counters.dropped++;
      return;
    }
    // Symmetric RTP: only the address and port the far end's SDP gave (a Tandem or an SBC sends
    // from there); a stranger's packets must not pass for the far end's.
    if (rinfo.address !== this.remote?.address || rinfo.port !== this.remote.port) {
      this.counters.dropped++;
      return;
    }
    const pt = rtpPayloadType(buf);
    const payload = buf.subarray(h, buf.length - rtpPaddingLength(buf, buf.length));
    if (pt === this.remote?.dtmfPt) {
      if (payload.length < 4) {
        // RFC 4733 §2.3: an event is 4 bytes; anything shorter is not one.
        this.counters.dropped++;
        return;
      }
      this.counters.received++;
      this.counters.receivedEvents++;
      this.dtmf.push(payload, rtpTimestamp(buf));
      this.note(buf, false);
      return;
    }
    if (pt !== codec.pt) {
      this.counters.dropped++;
      this.log.debug({ pt, from: `${rinfo.address}:${rinfo.port}` }, 'RTP with a payload type we did not agree: dropped');
      return;
    }
    this.counters.received++;
    this.note(buf, true);
    try {
      const pcm = codec.decode(Buffer.from(payload));
      if (this.keptSamples + pcm.length <= MAX_KEPT_SAMPLES) {
        this.kept.push(pcm);
        this.keptSamples += pcm.length;
      }
    } catch {
      this.counters.undecodable++;
    }
  }

  private note(buf: Buffer, audio: boolean): void {
    const codec = this.codec as PhoneCodec;
    const ssrc = rtpSsrc(buf);
    if (ssrc !== this.lastSsrc) {
      this.lastSsrc = ssrc;
      this.stats.reset();
      this.audioStats.reset();
    }
    const arrival = (performance.now() * codec.clockRate) / 1000;
    this.stats.update(rtpSeq(buf), rtpTimestamp(buf), arrival, buf.length);
    if (audio) this.audioStats.update(rtpSeq(buf), rtpTimestamp(buf), arrival, buf.length);
  }

  /** The far end's audio as received, at 8 kHz. */
  audio(): Int16Array {
    const out = new Int16Array(this.keptSamples);
    let at = 0;
    for (const c of this.kept) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  snapshot(): MediaCounters {
    const clock = this.codec?.clockRate ?? 8000;
    return {
      ...this.counters,
      expected: this.stats.expected,
      lost: Math.max(0, this.stats.lost),
      jitterMs: Math.round(this.audioStats.jitterMs(clock) * 100) / 100,
      digits: this.dtmf.digits,
      digitsSent: this.sentDigits,
    };
  }

  get digitsPending(): boolean {
    return this.pendingDigits !== '' || this.queue.length > 0;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.socket.close();
  }
}
