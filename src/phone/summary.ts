import { mos } from './mos.js';
import type { MediaCounters, MediaSession } from './media.js';
import type { AgreedMedia } from './sdp.js';
import type { TimelineEntry } from './sip-phone.js';
import { dominantTone, type Tone } from './tone.js';
import { writeWav } from './wav.js';

/** What `tandem call`/`tandem answer` prints: text for people, or one JSON object for scripts. */
export interface PhoneSummary {
  mode: 'call' | 'answer';
  /** call: the URI dialled; answer: the caller's From. */
  peer: string;
  callId?: string;
  exitCode: number;
  /** why the exit code is not 0. */
  reason?: string;
  connected: boolean;
  finalStatus?: number;
  timeline: TimelineEntry[];
  codec?: { name: string; pt: number; clockRate: number; dtmfPt?: number };
  remoteMedia?: string;
  sent: { packets: number; events: number; digits: string; skipped: number };
  received: { packets: number; events: number; expected: number; lost: number; lossPercent: number; jitterMs: number; digits: string; dropped: number };
  mos?: number;
  tone?: Tone;
  recording?: string;
}

export const EXIT = { ok: 0, internal: 1, usage: 2, refused: 3, noAnswer: 4, noMedia: 5 } as const;

/**
 * G.107 MOS from what we measured: the loss we saw, and as one-way delay a 20 ms frame plus a
 * jitter buffer of twice the jitter (the network delay itself is not measured: on a LAN it is far
 * under G.107's 100 ms knee). Opus has no G.113 Ie, so G.711's 0 is used for it too.
 */
export function mosEstimate(c: MediaCounters): number | undefined {
  if (c.received === 0) return undefined;
  const lossPercent = c.expected > 0 ? (100 * c.lost) / c.expected : 0;
  return Math.round(mos({ lossPercent, oneWayDelayMs: 20 + 2 * c.jitterMs }) * 100) / 100;
}

export function mediaSummary(c: MediaCounters): Pick<PhoneSummary, 'sent' | 'received' | 'mos'> {
  const lossPercent = c.expected > 0 ? Math.round((10000 * c.lost) / c.expected) / 100 : 0;
  const m = mosEstimate(c);
  return {
    sent: { packets: c.sent, events: c.sentEvents, digits: c.digitsSent, skipped: c.skipped },
    received: { packets: c.received, events: c.receivedEvents, expected: c.expected, lost: c.lost, lossPercent, jitterMs: c.jitterMs, digits: c.digits, dropped: c.dropped },
    ...(m !== undefined ? { mos: m } : {}),
  };
}

/**
 * The media half of a call's summary, the same for both modes: the codec agreed (`agreed`, when
 * the summary should show one), what was sent and received, the dominant tone heard, and the
 * recording, written to `record` only when the call connected.
 */
export function mediaReport(
  media: MediaSession,
  agreed: AgreedMedia | undefined,
  record: string | undefined,
  connected: boolean,
): Pick<PhoneSummary, 'codec' | 'remoteMedia' | 'sent' | 'received' | 'mos' | 'tone' | 'recording'> {
  const audio = media.audio();
  let recording: string | undefined;
  if (record !== undefined && connected) {
    writeWav(record, audio, 8000, '--record');
    recording = record;
  }
  const tone = dominantTone(audio);
  const a = agreed;
  return {
    ...(a !== undefined ? { codec: { name: a.codec.name, pt: a.codec.pt, clockRate: a.codec.clockRate, ...(a.dtmfPt !== undefined ? { dtmfPt: a.dtmfPt } : {}) }, remoteMedia: `${a.address}:${a.port}` } : {}),
    ...mediaSummary(media.snapshot()),
    ...(tone !== undefined ? { tone } : {}),
    ...(recording !== undefined ? { recording } : {}),
  };
}

export function formatSummary(s: PhoneSummary): string {
  const lines: string[] = [];
  lines.push(`tandem ${s.mode} ${s.peer}${s.callId !== undefined ? `  (Call-ID ${s.callId})` : ''}`);
  lines.push('SIP:');
  for (const e of s.timeline) lines.push(`  ${String(e.atMs).padStart(6)} ms  ${e.event}`);
  if (s.codec !== undefined) lines.push(`codec:     ${s.codec.name}/${s.codec.clockRate} (PT ${s.codec.pt})${s.codec.dtmfPt !== undefined ? `, telephone-event PT ${s.codec.dtmfPt}` : ', no telephone-event'}${s.remoteMedia !== undefined ? `, far end ${s.remoteMedia}` : ''}`);
  if (s.connected) {
    lines.push(`sent:      ${s.sent.packets} packets (${s.sent.events} telephone-event)${s.sent.digits !== '' ? `, digits "${s.sent.digits}"` : ''}${s.sent.skipped > 0 ? `, ${s.sent.skipped} frames skipped (our timer ran late)` : ''}`);
    const r = s.received;
    lines.push(`received:  ${r.packets} packets (${r.events} telephone-event), lost ${r.lost} of ${r.expected} (${r.lossPercent} %), jitter ${r.jitterMs} ms${r.dropped > 0 ? `, ${r.dropped} dropped` : ''}`);
    lines.push(`MOS:       ${s.mos !== undefined ? `${s.mos.toFixed(2)} (E-model estimate)` : '-'}`);
    lines.push(`heard:     ${s.tone !== undefined ? `${s.tone.hz} Hz at ${s.tone.dbfs} dBFS` : 'no tone (silence or no audio)'}`);
    lines.push(`digits:    ${r.digits !== '' ? `"${r.digits}" (RFC 4733)` : 'none'}`);
    if (s.recording !== undefined) lines.push(`recording: ${s.recording}`);
  }
  lines.push(s.exitCode === 0 ? 'result:    OK (exit 0)' : `result:    FAILED (exit ${s.exitCode}): ${s.reason ?? ''}`);
  return `${lines.join('\n')}\n`;
}
