import { readFileSync } from 'node:fs';
import { TandemError, errorMessage } from '../common/errors.js';

/** A whole number within min–max, or a config error naming the option (and file and line, in `where`). */
export function wholeNumber(where: string, name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new TandemError('CONFIG', `${where}${name}: "${raw}" is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new TandemError('CONFIG', `${where}${name}: ${n} is outside ${min}–${max}`);
  return n;
}

/** The PEM file an option names (--tls-cert…), read at start; unreadable is a config error naming the option. */
export function readPem(option: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TandemError('CONFIG', `--${option}: cannot read ${path}: ${errorMessage(err)}`);
  }
}
