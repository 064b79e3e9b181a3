import { describe, it, expect } from 'vitest';
import { WavMixer } from '../../../../src/media/worker/wav-mixer.js';

const frame = (v: number, n = 160): Int16Array => new Int16Array(n).fill(v);
const interleaved = (b: Buffer): [number[], number[]] => {
  const l: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < b.length; i += 4) {
    l.push(b.readInt16LE(i));
    r.push(b.readInt16LE(i + 2));
  }
  return [l, r];
};

describe('WavMixer', () => {
  it('places each channel by its first arrival, then by RTP timestamp; jitter does not move audio', () => {
    const m = new WavMixer();
    m.place(0, 1, 1000, 8000, 0, frame(1));
    // Arrives 35 ms late but its timestamp says it follows at once.
    m.place(0, 1, 1160, 8000, 55_000, frame(2));
    // Leg B starts 10 ms in, on a 48 kHz clock (Opus): 960 ticks per 160 samples.
    m.place(1, 9, 48_000, 48000, 10_000, frame(3));
    m.place(1, 9, 48_960, 48000, 30_000, frame(4));
    const [l, r] = interleaved(m.take(m.end)!);
    expect(l.length).toBe(400);
    expect(l.slice(0, 160).every((v) => v === 1)).toBe(true);
    expect(l.slice(160, 320).every((v) => v === 2)).toBe(true);
    expect(l.slice(320).every((v) => v === 0)).toBe(true);
    expect(r.slice(0, 80).every((v) => v === 0)).toBe(true);
    expect(r.slice(80, 240).every((v) => v === 3)).toBe(true);
    expect(r.slice(240, 400).every((v) => v === 4)).toBe(true);
  });

  it('drops audio for what was already written, and places a new SSRC or a timestamp jump by the wall clock again', () => {
    const m = new WavMixer();
    m.place(0, 1, 0, 8000, 0, frame(1));
    expect(m.take(160)?.length).toBe(640);
    m.place(0, 1, 0, 8000, 0, frame(5)); // a duplicate of written audio
    expect(m.dropped).toBe(1);
    m.place(0, 2, 777, 8000, 100_000, frame(6)); // new SSRC at 100 ms
    m.place(0, 2, 777 + 160 + 80_000, 8000, 120_000, frame(7)); // a 10 s jump: placed by arrival (120 ms, after the last)
    const [l] = interleaved(m.take(m.end)!);
    expect(l.slice(800 - 160, 800 - 160 + 160).every((v) => v === 6)).toBe(true);
    expect(l.slice(960, 1120).every((v) => v === 7)).toBe(true);
    expect(m.take(m.end)).toBeUndefined();
  });

  it('a sender whose clock runs slow is placed again by the wall clock instead of losing audio', () => {
    const m = new WavMixer();
    m.place(0, 1, 0, 8000, 0, frame(1));
    expect(m.take(800)?.length).toBe(3200); // 100 ms written
    // The next packet follows on the sender's clock (20 ms) but arrives 400 ms in.
    m.place(0, 1, 160, 8000, 400_000, frame(2));
    expect(m.dropped).toBe(0);
    const [l] = interleaved(m.take(m.end)!);
    expect(l.slice(3200 - 800, 3200 - 800 + 160).every((v) => v === 2)).toBe(true);
  });

  it('hands out at most the ring per call and never beyond what was asked', () => {
    const m = new WavMixer();
    m.place(0, 1, 0, 8000, 0, frame(1));
    expect(m.take(0)).toBeUndefined();
    const big = m.take(200_000)!;
    expect(big.length / 4).toBe(80_000);
    expect(m.written).toBe(80_000);
  });
});
