import { TandemError } from '../common/errors.js';

/**
 * DTMF as RFC 4733 telephone-events: the digits `--dtmf` sends, cut into packets, and the digits
 * heard back. One event's packets share the RTP timestamp of its start; each carries the duration
 * so far in timestamp units; the last has the E bit and is sent three times (§2.5.1.4), at the
 * update interval, with its own sequence numbers.
 */
const DIGITS = '0123456789*#ABCD';

/** The event code of a DTMF character (RFC 4733 §3.2), or undefined. */
export function dtmfEvent(ch: string): number | undefined {
  const i = DIGITS.indexOf(ch.toUpperCase());
  return ch.length === 1 && i >= 0 ? i : undefined;
}

export function dtmfChar(event: number): string | undefined {
  return event >= 0 && event < DIGITS.length ? DIGITS[event] : undefined;
}

/** `--dtmf` text → the digits, or a CONFIG error naming the option and the first bad character. */
export function parseDigits(text: string, option = '--dtmf'): string {
  if (text === '') throw new TandemError('CONFIG', `${option}: needs at least one digit (0-9 * # A-D)`);
  if (text.length > 64) throw new TandemError('CONFIG', `${option}: ${text.length} digits, at most 64`);
  for (const ch of text) if (dtmfEvent(ch) === undefined) throw new TandemError('CONFIG', `${option}: "${ch}" is not a DTMF digit (0-9 * # A-D)`);
  return text.toUpperCase();
}

/** The 4-byte payload (§2.3): event, E bit, volume (dBm0 below 0, 0–63), duration. */
export function eventPayload(event: number, end: boolean, volume: number, duration: number): Buffer {
  const b = Buffer.alloc(4);
  b[0] = event;
  b[1] = (end ? 0x80 : 0) | (volume & 0x3f);
  b.writeUInt16BE(Math.min(duration, 0xffff), 2);
  return b;
}

export interface EventPacket {
  /** the first packet of the event (the RTP marker bit, §2.5.1.1). */
  marker: boolean;
  payload: Buffer;
}

/**
 * The packets of one digit, one per update interval: `tones` intervals of tone (durations
 * step, 2·step, …) then the end packet three times. `step` is the interval in timestamp units
 * (160 at 8 kHz, 960 at 48 kHz for 20 ms).
 */
export function digitPackets(ch: string, step: number, tones: number, volume = 10): EventPacket[] {
  const event = dtmfEvent(ch);
  if (event === undefined) throw new TandemError('CONFIG', `"${ch}" is not a DTMF digit`);
  const out: EventPacket[] = [];
  for (let i = 1; i <= tones; i++) out.push({ marker: i === 1, payload: eventPayload(event, false, volume, i * step) });
  for (let i = 0; i < 3; i++) out.push({ marker: false, payload: eventPayload(event, true, volume, tones * step) });
  return out;
}

/**
 * The digits in received telephone-events: a new event is a new RTP timestamp (§2.5.2.1); its
 * updates and the repeated end packets add nothing. A payload shorter than 4 bytes or an event
 * that is not DTMF is counted, not read.
 */
export class DtmfReceiver {
  digits = '';
  malformed = 0;
  /** total duration of the events heard, in timestamp units (the last value of each). */
  private readonly durations: number[] = [];
  private lastTs: number | undefined;

  push(payload: Buffer, timestamp: number): void {
    if (payload.length < 4) {
      this.malformed++;
      return;
    }
    const ch = dtmfChar(payload[0]);
    if (ch === undefined) {
      this.malformed++;
      return;
    }
    const duration = payload.readUInt16BE(2);
    if (timestamp !== this.lastTs) {
      this.lastTs = timestamp;
      this.digits += ch;
      this.durations.push(duration);
    } else this.durations[this.durations.length - 1] = Math.max(this.durations[this.durations.length - 1], duration);
  }

  get eventDurations(): readonly number[] {
    return this.durations;
  }
}
