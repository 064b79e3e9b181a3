import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from '../codecs/g711.js';
import { EVENT_PAYLOAD_BYTES, EventWindow, type Timeline } from './dtmf.js';

/**
 * In-band DTMF (ITU-T Q.23 dual tones) ↔ RFC 4733 events, for a transcoded call where only one leg
 * negotiated telephone-event and the other speaks G.711 (rtpengine's `inband-dtmf` idea):
 * - DtmfDetector runs Goertzel filters over each 20 ms of the G.711 a leg sends; a digit present in
 *   two frames in a row starts an event toward the other leg (start packet with the marker, an
 *   update per frame, three end packets), on the output timeline.
 * - DtmfSynth turns the events a leg sends into 20 ms G.711 frames of the digit's two tones, as long
 *   as the event's durations say, on the output timeline; the leg's audio during the event is held
 *   back (a tone cannot share the timeline with speech).
 */
const RATE = 8000;
const FRAME = 160;
const ROWS = [697, 770, 852, 941];
const COLS = [1209, 1336, 1477, 1633];
/** RFC 4733 §3.2 event codes by row and column: 1 2 3 A / 4 5 6 B / 7 8 9 C / * 0 # D. */
const EVENTS = [
  [1, 2, 3, 12],
  [4, 5, 6, 13],
  [7, 8, 9, 14],
  [10, 0, 11, 15],
];
const COEFF = [...ROWS, ...COLS].map((f) => 2 * Math.cos((2 * Math.PI * f) / RATE));
/** A tone's power must be this much above the other tones of its group (≈ 8 dB). */
const DOMINANCE = 6.3;
/** Row and column power within this ratio of each other (twist ≈ 8 dB). */
const TWIST = 6.3;
/** The two tones must carry this share of the frame's energy. */
const PURITY = 0.6;
/** Each tone at least ≈ −36 dBFS. */
const MIN_TONE_POWER = ((32768 * 0.016 * FRAME) / 2) ** 2;

/** Goertzel powers of the frame being looked at: one per worker thread, reused (this runs per 20 ms of each stream). */
const power = new Float64Array(8);

/** The strongest of the four tones of a group starting at `from`, or -1 when another comes close. */
function dominantTone(p: Float64Array, from: number): number {
  let b = from;
  for (let k = from + 1; k < from + 4; k++) if (p[k] > p[b]) b = k;
  for (let k = from; k < from + 4; k++) if (k !== b && p[k] * DOMINANCE > p[b]) return -1;
  return b;
}

/** The digit (RFC 4733 event code) in one 160-sample frame, or -1. */
export function detectFrame(x: Int16Array, at = 0): number {
  const p = power;
  let energy = 0;
  for (let i = 0; i < FRAME; i++) energy += x[at + i] * x[at + i];
  for (let k = 0; k < 8; k++) {
    const c = COEFF[k];
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < FRAME; i++) {
      const s = x[at + i] + c * s1 - s2;
      s2 = s1;
      s1 = s;
    }
    p[k] = s1 * s1 + s2 * s2 - c * s1 * s2;
  }
  const r = dominantTone(p, 0);
  const c = dominantTone(p, 4);
  if (r < 0 || c < 0 || p[r] < MIN_TONE_POWER || p[c] < MIN_TONE_POWER) return -1;
  if (p[r] > p[c] * TWIST || p[c] > p[r] * TWIST) return -1;
  // |X|² of a sinusoid over N samples is (A·N/2)², its energy A²·N/2: the share is 2(P_r + P_c)/N over Σx².
  if ((2 * (p[r] + p[c])) / FRAME < PURITY * energy) return -1;
  return EVENTS[r][c - 4];
}

function decode(law: 'alaw' | 'ulaw', codes: Uint8Array, out: Int16Array): void {
  if (law === 'alaw') decodeAlaw(codes, out);
  else decodeUlaw(codes, out);
}

/** An RFC 4733 event packet: header from `ssrc`, `pt`, `ts`, then event, E|volume, duration. */
function eventPacket(ssrc: number, pt: number, ts: number, event: number, end: boolean, duration: number, marker: boolean): Buffer {
  const b = Buffer.alloc(12 + EVENT_PAYLOAD_BYTES);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | pt;
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  b[12] = event;
  b[13] = (end ? 0x80 : 0) | 10;
  b.writeUInt16BE(Math.min(0xffff, duration), 14);
  return b;
}

/** Goertzel over the G.711 one leg sends; what it finds goes out as events (see the file comment). */
export class DtmfDetector {
  /** Events sent on. */
  detected = 0;
  private readonly pcm = new Int16Array(FRAME * 8);
  private fill = 0;
  /** Input timestamp of pcm[0]. */
  private fillTs = 0;
  private candidate = -1;
  private candidateTs = 0;
  private active = -1;
  private startTs = 0;
  private misses = 0;
  private samples = 0;

  constructor(private readonly law: 'alaw' | 'ulaw', private readonly outPt: number, private readonly outRate: number) {}

  /** While a digit is on, audio is held back (unless --dtmf-no-suppress). */
  get inDigit(): boolean {
    return this.active >= 0;
  }

  /**
   * One G.711 packet's payload (input timestamp `ts`). Event packets to send go to `emit`, already
   * on the output timeline (`timeline`, or the input one when the clock stays).
   */
  push(buf: Buffer, hdrLen: number, payloadEnd: number, timeline: Timeline | null, emit: (pkt: Buffer) => void): void {
    const n = Math.min(payloadEnd - hdrLen, this.pcm.length);
    const ts = buf.readUInt32BE(4);
    if (this.fill > 0 && ((this.fillTs + this.fill) >>> 0) !== ts) this.fill = 0;
    if (this.fill === 0) this.fillTs = ts;
    if (this.fill + n > this.pcm.length) this.fill = 0;
    decode(this.law, buf.subarray(hdrLen, hdrLen + n), this.pcm.subarray(this.fill, this.fill + n));
    this.fill += n;
    const ssrc = buf.readUInt32BE(8);
    let at = 0;
    for (; at + FRAME <= this.fill; at += FRAME) this.frame(detectFrame(this.pcm, at), (this.fillTs + at) >>> 0, ssrc, timeline, emit);
    this.pcm.copyWithin(0, at, this.fill);
    this.fill -= at;
    this.fillTs = (this.fillTs + at) >>> 0;
  }

  private frame(digit: number, ts: number, ssrc: number, timeline: Timeline | null, emit: (pkt: Buffer) => void): void {
    if (this.active >= 0) {
      if (digit === this.active) {
        this.misses = 0;
        this.samples += FRAME;
        emit(eventPacket(ssrc, this.outPt, outTs(timeline, this.startTs), this.active, false, this.outDuration(), false));
        return;
      }
      // Two frames without the digit end it (one may be a dip in the tone).
      if (++this.misses < 2) return;
      for (let k = 0; k < 3; k++) emit(eventPacket(ssrc, this.outPt, outTs(timeline, this.startTs), this.active, true, this.outDuration(), false));
      this.active = -1;
      this.candidate = -1;
      return;
    }
    if (digit < 0) {
      this.candidate = -1;
      return;
    }
    if (digit !== this.candidate) {
      this.candidate = digit;
      this.candidateTs = ts;
      return;
    }
    // The same digit in two frames in a row: an event from the first of them.
    this.active = digit;
    this.startTs = this.candidateTs;
    this.samples = 2 * FRAME;
    this.misses = 0;
    this.detected++;
    emit(eventPacket(ssrc, this.outPt, outTs(timeline, this.startTs), digit, false, this.outDuration(), true));
  }

  /** The event's duration so far, in units of the output clock. */
  private outDuration(): number {
    return Math.round((this.samples * this.outRate) / RATE);
  }
}

/** An input timestamp on the output timeline (the input one when the clock stays). */
function outTs(timeline: Timeline | null, tsIn: number): number {
  return timeline === null ? tsIn : timeline.outTs(tsIn);
}

/** The tones of an event code (0–15), or undefined for events that are not DTMF digits. */
function tonesOf(event: number): [number, number] | undefined {
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) if (EVENTS[r][c] === event) return [ROWS[r], COLS[c]];
  return undefined;
}

/** Events → G.711 tones (see the file comment). */
export class DtmfSynth {
  /** Tone frames sent. */
  frames = 0;
  /** 8 kHz samples of the current event already sent. */
  private sent = 0;
  /** Spans in the event clock, which the audio shares. */
  private readonly window: EventWindow;

  constructor(private readonly inRate: number, private readonly law: 'alaw' | 'ulaw', private readonly outPt: number) {
    this.window = new EventWindow(inRate / 4);
  }

  /**
   * One event packet: emits the tone frames its duration has reached (all of it on the end
   * packet). false for a packet too short to be an event (counted as an error by the caller).
   */
  event(buf: Buffer, hdrLen: number, payloadEnd: number, timeline: Timeline | null, emit: (pkt: Buffer) => void): boolean {
    if (payloadEnd - hdrLen < EVENT_PAYLOAD_BYTES) return false;
    const tsIn = buf.readUInt32BE(4);
    const code = buf[hdrLen];
    const end = (buf[hdrLen + 1] & 0x80) !== 0;
    const duration = buf.readUInt16BE(hdrLen + 2);
    if (this.window.start(tsIn)) this.sent = 0;
    else if (this.window.ended) return true; // a repeated end packet
    this.window.spanIn = duration;
    const tones = tonesOf(code);
    const total = Math.round((duration * RATE) / this.inRate);
    const ts0 = outTs(timeline, tsIn);
    const ssrc = buf.readUInt32BE(8);
    while (tones !== undefined && (total - this.sent >= FRAME || (end && total > this.sent))) {
      const n = Math.min(FRAME, total - this.sent);
      emit(this.toneFrame(tones, ssrc, (ts0 + this.sent) >>> 0, n, this.sent === 0));
      this.sent += n;
    }
    if (end) this.window.ended = true;
    return true;
  }

  /** Audio at this input timestamp is inside an event: held back. */
  suppresses(tsIn: number): boolean {
    return this.window.suppresses(tsIn);
  }

  private toneFrame([f1, f2]: [number, number], ssrc: number, ts: number, n: number, marker: boolean): Buffer {
    const pcm = new Int16Array(n);
    // Each tone at about −10 dBFS, phase running from the event's start.
    for (let i = 0; i < n; i++) {
      const t = (this.sent + i) / RATE;
      pcm[i] = Math.round(10000 * (Math.sin(2 * Math.PI * f1 * t) + Math.sin(2 * Math.PI * f2 * t)));
    }
    const b = Buffer.alloc(12 + n);
    b[0] = 0x80;
    b[1] = (marker ? 0x80 : 0) | this.outPt;
    b.writeUInt32BE(ts, 4);
    b.writeUInt32BE(ssrc >>> 0, 8);
    if (this.law === 'alaw') encodeAlaw(pcm, b.subarray(12));
    else encodeUlaw(pcm, b.subarray(12));
    this.frames++;
    return b;
  }
}
