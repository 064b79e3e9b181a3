import { randomBytes } from 'node:crypto';
import type { MediaDescription } from './sdp.js';

/**
 * SDES (RFC 4568): `a=crypto:<tag> <suite> inline:<base64 key||salt>[|lifetime][|MKI:len]`.
 * Tandem speaks the two suites of RFC 4568 §6.2 that everybody offers; the master key and salt
 * are 30 bytes (16 + 14), base64 without padding surprises (40 characters).
 */
export type SdesSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';
export const SDES_SUITES: readonly SdesSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

export interface SdesCrypto {
  tag: number;
  suite: SdesSuite;
  /** master key (16 bytes) followed by master salt (14 bytes). */
  keySalt: Buffer;
}

export type CryptoParse = { ok: true; crypto: SdesCrypto } | { ok: false; reason: string };

export interface SdesPreferences {
  /** suites to leave out (`SDES-no-<suite>`). */
  no: string[];
  /** if not empty, only these (`SDES-only-<suite>`). */
  only: string[];
}

function isSuite(s: string): s is SdesSuite {
  return (SDES_SUITES as readonly string[]).includes(s);
}

/** One a=crypto line as sdp-transform reads it. */
export function parseCrypto(c: { id: number; suite: string; config: string; sessionConfig?: string }): CryptoParse {
  if (!isSuite(c.suite)) return { ok: false, reason: `crypto suite ${c.suite} is not supported` };
  const first = c.config.split(';')[0];
  const m = /^inline:([A-Za-z0-9+/=]+)(\|[^|]*)?(\|[^|]*)?$/.exec(first);
  if (m === null) return { ok: false, reason: `a=crypto:${c.id}: key parameter is not inline:<base64>` };
  if (m[3] !== undefined || (m[2] !== undefined && m[2].includes(':'))) return { ok: false, reason: `a=crypto:${c.id}: MKI is not supported` };
  const keySalt = Buffer.from(m[1], 'base64');
  if (keySalt.length !== 30) return { ok: false, reason: `a=crypto:${c.id}: key and salt must be 30 bytes, got ${keySalt.length}` };
  if (!Number.isInteger(c.id) || c.id < 0 || c.id > 999_999_999) return { ok: false, reason: 'a=crypto tag out of range' };
  return { ok: true, crypto: { tag: c.id, suite: c.suite, keySalt } };
}

/** Every usable a=crypto of a media section, in the offerer's order, filtered by preferences. */
export function usableCryptos(m: MediaDescription, prefs: SdesPreferences = { no: [], only: [] }): SdesCrypto[] {
  const out: SdesCrypto[] = [];
  for (const c of m.crypto ?? []) {
    const r = parseCrypto(c);
    if (!r.ok) continue;
    if (prefs.no.includes(r.crypto.suite)) continue;
    if (prefs.only.length > 0 && !prefs.only.includes(r.crypto.suite)) continue;
    out.push(r.crypto);
  }
  return out;
}

export function newKeySalt(): Buffer {
  return randomBytes(30);
}

export function formatCrypto(c: SdesCrypto): { id: number; suite: string; config: string } {
  return { id: c.tag, suite: c.suite, config: `inline:${c.keySalt.toString('base64')}` };
}

/** The suites Tandem offers on a side that needs SDES, in preference order, with fresh keys. */
export function offerCryptos(prefs: SdesPreferences = { no: [], only: [] }): SdesCrypto[] {
  return SDES_SUITES.filter((s) => !prefs.no.includes(s) && (prefs.only.length === 0 || prefs.only.includes(s))).map((suite, i) => ({
    tag: i + 1,
    suite,
    keySalt: newKeySalt(),
  }));
}

/** Is this an SRTP profile (RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVP(F))? */
export function isSecureProfile(proto: string): boolean {
  return /SAVP/i.test(proto);
}
