/** rtpengine spells keys with spaces, hyphens or underscores, in any case; we compare on one normal form. */
export function normalizeKey(k: string): string {
  return k.trim().toLowerCase().replace(/[\s_]+/g, '-');
}
