import { TandemError } from '../common/errors.js';

/** A whole number within min–max, or a config error naming the option (and file and line, in `where`). */
export function wholeNumber(where: string, name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new TandemError('CONFIG', `${where}${name}: "${raw}" is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new TandemError('CONFIG', `${where}${name}: ${n} is outside ${min}–${max}`);
  return n;
}
