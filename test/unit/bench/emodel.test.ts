import { describe, expect, it } from 'vitest';
import { delayImpairment, effectiveEquipmentImpairment, mos, mosFromR, rFactor, R_DEFAULT } from '../../../bench/lib/metrics.js';

describe('ITU-T G.107 E-model (simplified)', () => {
  it('default parameters: R = 93.2 → MOS ≈ 4.41', () => {
    expect(R_DEFAULT).toBe(93.2);
    expect(rFactor({ lossPercent: 0, oneWayDelayMs: 0 })).toBeCloseTo(93.2, 10);
    expect(mos({ lossPercent: 0, oneWayDelayMs: 0 })).toBeCloseTo(4.409, 3);
  });

  it('Annex B R → MOS at reference points', () => {
    // MOS = 1 + 0.035R + R(R−60)(100−R)·7e−6
    expect(mosFromR(0)).toBe(1);
    expect(mosFromR(-5)).toBe(1);
    expect(mosFromR(100)).toBe(4.5);
    expect(mosFromR(50)).toBeCloseTo(2.575, 6);
    expect(mosFromR(60)).toBeCloseTo(3.1, 6);
    expect(mosFromR(70)).toBeCloseTo(3.597, 6);
    expect(mosFromR(80)).toBeCloseTo(4.024, 6);
    expect(mosFromR(90)).toBeCloseTo(4.339, 6);
  });

  it('Ie,eff for G.711 (Ie 0, Bpl 25.1 with PLC / 4.3 without), random loss', () => {
    expect(effectiveEquipmentImpairment(0)).toBe(0);
    expect(effectiveEquipmentImpairment(1)).toBeCloseTo(95 / 26.1, 9); // 3.64
    expect(effectiveEquipmentImpairment(1, 0, 4.3)).toBeCloseTo(95 / 5.3, 9); // 17.9
    expect(effectiveEquipmentImpairment(100)).toBeCloseTo((95 * 100) / 125.1, 9);
    // 1 % loss with PLC keeps MOS above 4.3; without PLC it does not.
    expect(mos({ lossPercent: 1, oneWayDelayMs: 20 })).toBeGreaterThan(4.3);
    expect(mos({ lossPercent: 1, oneWayDelayMs: 20, plc: false })).toBeLessThan(4.0);
  });

  it('Idd is 0 up to 100 ms one-way, then grows (G.107 §7.3)', () => {
    expect(delayImpairment(0)).toBe(0);
    expect(delayImpairment(100)).toBe(0);
    // Ta = 200 ms: X = 1 → 25·(2^(1/6) − 3(1 + 3^−6)^(1/6) + 2) ≈ 3.04
    expect(delayImpairment(200)).toBeCloseTo(25 * (2 ** (1 / 6) - 3 * (1 + 3 ** -6) ** (1 / 6) + 2), 9);
    expect(delayImpairment(200)).toBeCloseTo(3.04, 2);
    expect(delayImpairment(400)).toBeGreaterThan(delayImpairment(200));
  });
});
