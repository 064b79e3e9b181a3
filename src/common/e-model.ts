/**
 * ITU-T G.107 Annex B: the E-model's rating R → MOS (CQE). One mapping for the three places that
 * estimate MOS (the phone's and the bench's full E-model, the ops histogram, the media plane's
 * per-side quality); each computes its own R from what it knows. Not clamped inside (0, 100):
 * a very low R maps a little under 1, and callers that publish a 1–4.5 scale clamp.
 */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}
