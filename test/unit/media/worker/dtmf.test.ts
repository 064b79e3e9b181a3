import { describe, it, expect } from 'vitest';
import { EventRelay, scaleDuration, type Timeline } from '../../../../src/media/worker/dtmf.js';
import { G711ToOpus, OpusToG711 } from '../../../../src/media/worker/opus-transcode.js';
import { DirectionProcessor, type PacketSink } from '../../../../src/media/worker/direction.js';
import { OpusEncoderStream } from '../../../../src/media/codecs/opus.js';

function pkt(pt: number, seq: number, ts: number, payload: Buffer, marker = false): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (marker ? 0x80 : 0) | pt;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(0xabc, 8);
  return Buffer.concat([h, payload]);
}

/** RFC 4733 §2.3: event, E|R|volume, duration. */
const ev = (event: number, duration: number, end = false, volume = 10): Buffer =>
  Buffer.from([event, (end ? 0x80 : 0) | volume, duration >> 8, duration & 0xff]);

class Collect implements PacketSink {
  readonly out: Buffer[] = [];
  emit(buf: Buffer, len: number): void {
    this.out.push(Buffer.from(buf.subarray(0, len)));
  }
}

describe('telephone-event durations', () => {
  it('scale by the clock ratio, rounded, clamped to 16 bits', () => {
    expect(scaleDuration(960, 48000, 8000)).toBe(160);
    expect(scaleDuration(1000, 48000, 8000)).toBe(167);
    expect(scaleDuration(160, 8000, 48000)).toBe(960);
    expect(scaleDuration(10922, 8000, 48000)).toBe(65532);
    expect(scaleDuration(10923, 8000, 48000)).toBe(0xffff);
    expect(scaleDuration(0xffff, 8000, 8000)).toBe(0xffff);
  });
});

describe('EventRelay', () => {
  it('maps the start once: updates and all end packets keep one output timestamp, fields other than duration pass', () => {
    let calls = 0;
    let shift = 0;
    const timeline: Timeline = { outTs: (ts) => { calls++; return (ts * 6 + shift) >>> 0; } };
    const r = new EventRelay(8000, 48000, 8000);
    const sent = [ev(5, 160), ev(5, 320), ev(5, 480, true), ev(5, 480, true), ev(5, 480, true)].map((p, i) => pkt(101, 10 + i, 4000, p, i === 0));
    const out = sent.map((b) => {
      const ok = r.rewrite(b, 12, b.length, 110, timeline);
      shift += 960; // the audio mapping moving meanwhile must not move the event
      return ok ? b : null;
    });
    expect(calls).toBe(1);
    expect(out.map((b) => b && [b[1], b.readUInt16BE(2), b.readUInt32BE(4), b[12], b[13], b.readUInt16BE(14)])).toEqual([
      [0x80 | 110, 10, 24000, 5, 10, 960],
      [110, 11, 24000, 5, 10, 1920],
      [110, 12, 24000, 5, 0x80 | 10, 2880],
      [110, 13, 24000, 5, 0x80 | 10, 2880],
      [110, 14, 24000, 5, 0x80 | 10, 2880],
    ]);
  });

  it('an event too long for 16 bits at 48 kHz goes on in segments (RFC 4733 §2.5.1.3), not capped', () => {
    const r = new EventRelay(8000, 48000, 8000);
    const timeline: Timeline = { outTs: (ts) => (ts * 6) >>> 0 };
    // A 1.5 s key press from a phone: 12000 at 8 kHz is 72000 at 48 kHz.
    const durations = [8000, 10922, 10923, 12000];
    const out = durations.map((d, i) => {
      const b = pkt(101, i, 1000, ev(7, d, i === durations.length - 1));
      expect(r.rewrite(b, 12, b.length, 110, timeline)).toBe(true);
      return [b.readUInt32BE(4), b.readUInt16BE(14), b[13] >> 7];
    });
    expect(out).toEqual([
      [6000, 48000, 0],
      [6000, 65532, 0],
      [6000 + 0xffff, 3, 0], // 65538 = one full segment of 0xffff, then 3 into the next
      [6000 + 0xffff, 72000 - 0xffff, 1],
    ]);
  });

  it('a new event start maps again; without a timeline the timestamp stays', () => {
    const r = new EventRelay(48000, 8000, 48000);
    const a = pkt(110, 1, 96000, ev(1, 960));
    r.rewrite(a, 12, a.length, 101, null);
    expect([a.readUInt32BE(4), a.readUInt16BE(14)]).toEqual([96000, 160]);
    const b = pkt(110, 2, 192000, ev(2, 1920));
    r.rewrite(b, 12, b.length, 101, { outTs: (ts) => ts / 6 });
    expect([b.readUInt32BE(4), b.readUInt16BE(14)]).toEqual([32000, 320]);
  });

  it('drops and counts a payload shorter than one event', () => {
    const r = new EventRelay(8000, 48000, 8000);
    const short = pkt(101, 1, 0, Buffer.from([1, 2, 3]));
    expect(r.rewrite(short, 12, short.length, 110, null)).toBe(false);
    const empty = pkt(101, 2, 0, Buffer.alloc(0));
    expect(r.rewrite(empty, 12, empty.length, 110, null)).toBe(false);
    expect(r.malformed).toBe(2);
  });

  it('holds audio back from the event start until its end packet', () => {
    const r = new EventRelay(8000, 48000, 8000);
    expect(r.suppresses(1000)).toBe(false);
    const start = pkt(101, 1, 1000, ev(3, 160));
    r.rewrite(start, 12, start.length, 110, null);
    expect([r.suppresses(840), r.suppresses(1000), r.suppresses(1320)]).toEqual([false, true, true]);
    const end = pkt(101, 2, 1000, ev(3, 640, true));
    r.rewrite(end, 12, end.length, 110, null);
    expect(r.suppresses(1480)).toBe(false);
    const late = pkt(101, 3, 1000, ev(3, 480)); // a reordered update after the end
    r.rewrite(late, 12, late.length, 110, null);
    expect(r.suppresses(1480)).toBe(false);
  });

  it('lets audio through again when the end packets were lost (250 ms past the last duration)', () => {
    const r = new EventRelay(48000, 8000, 48000);
    const start = pkt(110, 1, 0, ev(3, 4800));
    r.rewrite(start, 12, start.length, 101, null);
    expect(r.suppresses(4800 + 11000)).toBe(true);
    expect(r.suppresses(4800 + 12000)).toBe(false);
    expect(r.suppresses(4800)).toBe(false);
  });
});

describe('transcoder timelines for events', () => {
  it('G.711 → Opus: an input timestamp maps ×6 onto the timeline of the encoded frames, before or after them', () => {
    const frames: Buffer[] = [];
    const t = new G711ToOpus('alaw', (p) => frames.push(p));
    for (let k = 0; k < 3; k++) t.push(pkt(8, k, 0xfffffe00 + k * 160, Buffer.alloc(160, 0xd5)), 12, 172, 111);
    const ts = frames.map((f) => f.readUInt32BE(4));
    expect(ts.slice(1).map((x, i) => (x - ts[i]) >>> 0)).toEqual([960, 960]);
    expect(t.outTs((0xfffffe00 + 480) >>> 0)).toBe((ts[0] + 2880) >>> 0);
    expect(t.outTs(0xfffffe00 - 160)).toBe((ts[0] - 960) >>> 0);
  });

  it('Opus → G.711: an input timestamp maps ÷6 relative to the last audio packet', () => {
    const enc = new OpusEncoderStream();
    const t2 = new OpusToG711('alaw');
    const ts: number[] = [];
    for (let k = 0; k < 3; k++) {
      const b = pkt(111, k, 1000 + k * 960, enc.encode(new Int16Array(960)));
      const o = t2.convert(b, 12, b.length, 8);
      if (o !== null) ts.push(o.readUInt32BE(4));
    }
    expect(ts).toEqual([166, 326, 486]);
    expect(t2.outTs(1000 + 3 * 960)).toBe(646);
    expect(t2.outTs(1000 + 960)).toBe(326);
    expect(new OpusToG711('ulaw').outTs(6000)).toBe(1000);
  });
});

describe('DirectionProcessor with telephone-event across Opus ↔ G.711', () => {
  it('G.711 → Opus: events on the Opus timeline, audio during the event held back, one sequence without gaps', () => {
    const sink = new Collect();
    const p = new DirectionProcessor(sink);
    p.configure({
      action: 'relay',
      rules: [
        { inPt: 8, outPt: 111, convert: 'alaw-opus', audio: false },
        { inPt: 101, outPt: 110, convert: 'none', audio: false, event: { inRate: 8000, outRate: 48000 } },
      ],
      outFrameMs: 0,
    });
    const audio = (k: number): Buffer => pkt(8, 100 + k, 5000 + k * 160, Buffer.alloc(160, 0xd5));
    const input = [
      audio(0), audio(1),
      pkt(101, 200, 5320, ev(7, 160), true), audio(2),
      pkt(101, 201, 5320, ev(7, 320)), audio(3),
      pkt(101, 202, 5320, ev(7, 480, true)), pkt(101, 203, 5320, ev(7, 480, true)), pkt(101, 204, 5320, ev(7, 480, true)),
      audio(5), audio(6),
    ];
    const ok = input.map((b) => p.process(b, b.length, 12));
    expect(ok.every(Boolean)).toBe(true);
    const o = sink.out;
    expect(o.map((b) => b[1] & 0x7f)).toEqual([111, 111, 110, 110, 110, 110, 110, 111, 111]);
    const seq = o.map((b) => b.readUInt16BE(2));
    expect(seq).toEqual(seq.map((_s, i) => (seq[0] + i) & 0xffff));
    const base = o[0].readUInt32BE(4);
    expect(o.map((b) => (b.readUInt32BE(4) - base) >>> 0)).toEqual([0, 960, 1920, 1920, 1920, 1920, 1920, 4800, 5760]);
    expect(o.slice(2, 7).map((b) => b.readUInt16BE(14))).toEqual([960, 1920, 2880, 2880, 2880]);
    expect(o[2][1] & 0x80).toBe(0x80);
  });

  it('a malformed event is refused (for the caller to count) and leaves no hole in the sequence', () => {
    const sink = new Collect();
    const p = new DirectionProcessor(sink);
    p.configure({
      action: 'relay',
      rules: [
        { inPt: 111, outPt: 8, convert: 'opus-alaw', audio: false },
        { inPt: 110, outPt: 101, convert: 'none', audio: false, event: { inRate: 48000, outRate: 8000 } },
      ],
      outFrameMs: 0,
    });
    const enc = new OpusEncoderStream();
    const audio = (k: number): Buffer => pkt(111, k, 1000 + k * 960, enc.encode(new Int16Array(960)));
    const bad = pkt(110, 2, 2920, Buffer.from([1, 2]));
    const results = [audio(0), audio(1), bad, audio(3)].map((b) => p.process(b, b.length, 12));
    expect(results).toEqual([true, true, false, true]);
    const seq = sink.out.map((b) => b.readUInt16BE(2));
    expect(sink.out.map((b) => b[1] & 0x7f)).toEqual([8, 8, 8]);
    expect(seq).toEqual([0, 1, 2]);
  });
});
