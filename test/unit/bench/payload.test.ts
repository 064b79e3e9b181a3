import { describe, expect, it } from 'vitest';
import { alawToLinear, conversionTable, linearToAlaw, linearToUlaw, rankTable, ulawToLinear } from '../../../bench/lib/g711.js';
import { Histogram } from '../../../bench/lib/metrics.js';
import { expectedSignal, SignalIndex, SIGNAL_SAMPLES } from '../../../bench/lib/signal.js';

describe('bench G.711 reference conversion', () => {
  it('round-trips every code of both laws (except µ-law negative zero)', () => {
    for (let c = 0; c < 256; c++) {
      expect(linearToAlaw(alawToLinear(c))).toBe(c);
      if (c !== 0x7f) expect(linearToUlaw(ulawToLinear(c))).toBe(c);
    }
  });

  it('known values (G.711 tables): A-law 0xD5 = +8, µ-law 0xFF = 0, 0x80 = +32124', () => {
    expect(alawToLinear(0xd5)).toBe(8);
    expect(alawToLinear(0x55)).toBe(-8);
    expect(ulawToLinear(0xff)).toBe(0);
    expect(ulawToLinear(0x80)).toBe(32124);
    expect(ulawToLinear(0x00)).toBe(-32124);
  });

  it('A→µ is decode-then-encode, and rank tables are monotone in level', () => {
    const a2u = conversionTable('PCMA', 'PCMU');
    for (let c = 0; c < 256; c++) expect(a2u[c]).toBe(linearToUlaw(alawToLinear(c)));
    const r = rankTable('PCMU');
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b += 17) {
      if (ulawToLinear(a) < ulawToLinear(b)) expect(r[a]).toBeLessThan(r[b]);
    }
  });

  it('finds any 20 ms or 30 ms window of the expected signal', () => {
    const exp = expectedSignal('PCMA', 'PCMU');
    const idx = new SignalIndex(exp);
    const eq = (g: number, w: number): boolean => g === w;
    for (const start of [0, 1, 159, 12_345, SIGNAL_SAMPLES - 160]) {
      for (const len of [160, 240]) {
        const pkt = new Uint8Array(12 + len);
        pkt.set(exp.subarray(start, start + len), 12);
        expect(idx.locate(pkt, 12, len, eq)).toBe(start);
      }
    }
  });
});

describe('latency histogram', () => {
  it('quantiles are bin upper edges, clamped to the max', () => {
    const h = new Histogram(1, 100);
    for (let i = 0; i < 100; i++) h.add(i + 0.5);
    expect(h.quantile(0.5)).toBe(50);
    expect(h.quantile(0.99)).toBe(99);
    expect(h.quantile(1)).toBe(99.5);
    expect(h.mean).toBeCloseTo(50, 9);
  });
});
