/**
 * A MOS estimate by the ITU-T G.107 E-model, simplified as bench/README.md ("MOS") explains: R
 * from the default parameters, minus the delay impairment and the codec's effective equipment
 * impairment under loss (G.113 Appendix I for G.711). bench/lib/metrics.ts uses these too.
 */
import { mosFromR } from '../common/e-model.js';

/** R with all G.107 default parameters (Ro − Is − Idte at T = 0 …): 93.2. */
export const R_DEFAULT = 93.2;

/** G.113 Appendix I: G.711 Ie = 0; Bpl = 25.1 with packet loss concealment (Appendix I PLC), 4.3 without. */
export const G711_IE = 0;
export const G711_BPL_PLC = 25.1;
export const G711_BPL_NO_PLC = 4.3;

/**
 * G.107 §7.3 delay impairment Idd from the absolute one-way delay Ta (ms): 0 up to 100 ms, else
 * 25·{(1+X⁶)^(1/6) − 3(1+(X/3)⁶)^(1/6) + 2} with X = log₂(Ta/100). (Idte/Idle at default echo loss are
 * already in R_DEFAULT.)
 */
export function delayImpairment(taMs: number): number {
  if (!(taMs > 100)) return 0;
  const x = Math.log2(taMs / 100);
  return 25 * ((1 + x ** 6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2);
}

/** G.107 §7.4: Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl/BurstR + Bpl); Ppl in percent, BurstR = 1 for random loss. */
export function effectiveEquipmentImpairment(ppl: number, ie = G711_IE, bpl = G711_BPL_PLC, burstR = 1): number {
  const p = Math.max(0, ppl);
  return ie + ((95 - ie) * p) / (p / burstR + bpl);
}

/**
 * `ie`: the codec chain's equipment impairment (default G.711's 0). G.107 adds the Ie of codecs in
 * tandem; G.113 has no value for Opus, see bench/README.md "MOS".
 */
export function rFactor(opts: { lossPercent: number; oneWayDelayMs: number; plc?: boolean; ie?: number }): number {
  const bpl = opts.plc === false ? G711_BPL_NO_PLC : G711_BPL_PLC;
  return R_DEFAULT - delayImpairment(opts.oneWayDelayMs) - effectiveEquipmentImpairment(opts.lossPercent, opts.ie ?? G711_IE, bpl);
}

export { mosFromR };

export function mos(opts: { lossPercent: number; oneWayDelayMs: number; plc?: boolean; ie?: number }): number {
  return mosFromR(rFactor(opts));
}
