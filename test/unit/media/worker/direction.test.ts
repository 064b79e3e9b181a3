import { describe, it, expect } from 'vitest';
import { DirectionProcessor, type PacketSink } from '../../../../src/media/worker/direction.js';
import { ALAW_TO_ULAW } from '../../../../src/media/codecs/g711.js';

class Collect implements PacketSink {
  readonly out: Buffer[] = [];
  emit(buf: Buffer, len: number): void {
    this.out.push(Buffer.from(buf.subarray(0, len)));
  }
}

function pkt(pt: number, seq: number, ts: number, payload: Buffer, marker = false): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (marker ? 0x80 : 0) | pt;
  h.writeUInt16BE(seq, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(0xabc, 8);
  return Buffer.concat([h, payload]);
}

const ramp = (n: number, from: number): Buffer => Buffer.from(Array.from({ length: n }, (_v, i) => (from + i) & 0xff));

function run(p: DirectionProcessor, packets: Buffer[]): void {
  for (const b of packets) p.process(b, b.length, 12);
}

describe('DirectionProcessor', () => {
  it('passes packets without a rule through untouched', () => {
    const sink = new Collect();
    const p = new DirectionProcessor(sink);
    p.configure({ action: 'relay', rules: [], outFrameMs: 0 });
    const b = pkt(0, 7, 160, ramp(160, 0));
    run(p, [Buffer.from(b)]);
    expect(sink.out[0].equals(b)).toBe(true);
  });

  it('maps the payload type and converts A-law to µ-law in place, keeping seq and timestamp', () => {
    const sink = new Collect();
    const p = new DirectionProcessor(sink);
    p.configure({ action: 'relay', rules: [{ inPt: 8, outPt: 0, convert: 'alaw-ulaw', audio: true }], outFrameMs: 0 });
    run(p, [pkt(8, 100, 16000, ramp(160, 0), true)]);
    const o = sink.out[0];
    expect(o[1]).toBe(0x80 | 0);
    expect(o.readUInt16BE(2)).toBe(100);
    expect(o.readUInt32BE(4)).toBe(16000);
    const t = ALAW_TO_ULAW();
    expect([...o.subarray(12)]).toEqual([...ramp(160, 0)].map((x) => t[x]));
  });

  it('repacketizes 20 ms into 60 ms frames: timestamps advance by samples, sequence by packets', () => {
    const sink = new Collect();
    const p = new DirectionProcessor(sink);
    p.configure({ action: 'relay', rules: [{ inPt: 0, outPt: 0, convert: 'none', audio: true }], outFrameMs: 60 });
    run(p, Array.from({ length: 6 }, (_v, i) => pkt(0, 500 + i, 8000 + i * 160, ramp(160, i * 160), i === 0)));
    expect(sink.out.length).toBe(2);
    expect(sink.out.map((o) => [o.length - 12, o.readUInt32BE(4), o.readUInt16BE(2), o[1] & 0x80])).toEqual([
      [480, 8000, 500, 0x80],
      [480, 8480, 501, 0],
    ]);
    expect(Buffer.concat(sink.out.map((o) => o.subarray(12))).equals(Buffer.concat(Array.from({ length: 6 }, (_v, i) => ramp(160, i * 160))))).toBe(true);
  });

  it('splits 60 ms frames into 20 ms ones', () => {
    const sink = new Collect();
    const p = new DirectionProcessor(sink);
    p.configure({ action: 'relay', rules: [{ inPt: 0, outPt: 0, convert: 'none', audio: true }], outFrameMs: 20 });
    run(p, [pkt(0, 9, 1000, ramp(480, 0)), pkt(0, 10, 1480, ramp(480, 480))]);
    expect(sink.out.map((o) => [o.length - 12, o.readUInt32BE(4), o.readUInt16BE(2)])).toEqual([
      [160, 1000, 9], [160, 1160, 10], [160, 1320, 11], [160, 1480, 12], [160, 1640, 13], [160, 1800, 14],
    ]);
  });

  it('never stretches audio across a loss: a timestamp gap flushes the short frame first', () => {
    const sink = new Collect();
    const p = new DirectionProcessor(sink);
    p.configure({ action: 'relay', rules: [{ inPt: 0, outPt: 0, convert: 'none', audio: true }], outFrameMs: 30 });
    // 20 ms, then a lost packet (ts 160 missing), then 20 ms more.
    run(p, [pkt(0, 1, 0, ramp(160, 0)), pkt(0, 3, 320, ramp(160, 50))]);
    p.flush();
    expect(sink.out.map((o) => [o.length - 12, o.readUInt32BE(4)])).toEqual([
      [160, 0],
      [160, 320],
    ]);
  });

  it('numbers telephone-event packets into the same sequence while repacketizing', () => {
    const sink = new Collect();
    const p = new DirectionProcessor(sink);
    p.configure({
      action: 'relay',
      rules: [
        { inPt: 0, outPt: 0, convert: 'none', audio: true },
        { inPt: 101, outPt: 100, convert: 'none', audio: false },
      ],
      outFrameMs: 20,
    });
    run(p, [pkt(0, 40, 0, ramp(160, 0)), pkt(101, 41, 160, Buffer.from([1, 0x8a, 0, 160]), true), pkt(0, 42, 320, ramp(160, 0))]);
    expect(sink.out.map((o) => [o[1] & 0x7f, o.readUInt16BE(2)])).toEqual([[0, 40], [100, 41], [0, 42]]);
  });

  it('builds each frame in the last one\'s buffer only when the sink gives it back (SRTP copies; dgram may hold it)', () => {
    class Releasing extends Collect {
      releasesOnEmit = true;
      readonly buffers: Buffer[] = [];
      override emit(buf: Buffer, len: number): void {
        super.emit(buf, len);
        this.buffers.push(buf);
      }
    }
    const rules = [{ inPt: 0, outPt: 0, convert: 'none' as const, audio: true }];
    const input = () => [0, 1, 2, 3, 4, 5].map((i) => pkt(0, 100 + i, i * 160, ramp(160, i * 160)));

    const releasing = new Releasing();
    const p = new DirectionProcessor(releasing);
    p.configure({ action: 'relay', rules, outFrameMs: 30 });
    run(p, input());
    expect(releasing.buffers.length).toBe(4);
    expect(new Set(releasing.buffers).size).toBe(1);

    const holding = new Releasing();
    holding.releasesOnEmit = false;
    const q = new DirectionProcessor(holding);
    q.configure({ action: 'relay', rules, outFrameMs: 30 });
    run(q, input());
    expect(new Set(holding.buffers).size).toBe(4);
    // What left is the same either way: 240-byte frames, the audio in order.
    expect(releasing.out.map((o) => o.toString('hex'))).toEqual(holding.out.map((o) => o.toString('hex')));
    expect(Buffer.concat(releasing.out.map((o) => o.subarray(12))).equals(Buffer.concat(input().map((b) => b.subarray(12))))).toBe(true);

    // A new ptime makes new frames: the old buffer (the wrong size) is not reused.
    p.configure({ action: 'relay', rules, outFrameMs: 20 });
    run(p, [pkt(0, 106, 960, ramp(160, 0))]);
    const last = releasing.buffers[releasing.buffers.length - 1];
    expect(last).not.toBe(releasing.buffers[0]);
    expect(last.length).toBe(172);
  });

  it('G.722 pairs: PCMA in, G.722 out with our sequence numbers; an undecodable Opus packet is reported as an error', () => {
    const sink = new Collect();
    const p = new DirectionProcessor(sink);
    p.configure({ action: 'relay', rules: [{ inPt: 8, outPt: 9, convert: 'alaw-g722', audio: false }, { inPt: 111, outPt: 9, convert: 'opus-g722', audio: false }], outFrameMs: 0 });
    for (let k = 0; k < 3; k++) expect(p.process(pkt(8, 100 + k, k * 160, Buffer.alloc(160, 0xd5)), 172, 12)).toBe(true);
    expect(sink.out.map((b) => [b[1] & 0x7f, b.length])).toEqual([[9, 172], [9, 172], [9, 172]]);
    const seq = sink.out.map((b) => b.readUInt16BE(2));
    expect(seq).toEqual([seq[0], (seq[0] + 1) & 0xffff, (seq[0] + 2) & 0xffff]);
    const junk = pkt(111, 5, 0, Buffer.from([0x03, 0x00]));
    expect(p.process(junk, junk.length, 12)).toBe(false);
  });
});

