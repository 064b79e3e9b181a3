/**
 * Identity headers assert who the caller is (RFC 3325 P-Asserted-Identity, P-Preferred-Identity
 * and the Privacy that governs them; draft-ietf-sip-privacy's Remote-Party-ID). A trunk believes
 * them, so they may cross to leg B only when the request comes from a source in the trusted list
 * (RFC 3325 §5: a "Trust Domain"); from anyone else they are removed, whatever `--copy-headers`
 * says, or any caller could present any number.
 */
export const IDENTITY_HEADERS: readonly string[] = ['P-Asserted-Identity', 'P-Preferred-Identity', 'Remote-Party-ID', 'Privacy'];

export function isIdentityHeader(name: string): boolean {
  const n = name.toLowerCase();
  return IDENTITY_HEADERS.some((h) => h.toLowerCase() === n);
}

/** The copy list for one call: all of `copyHeaders` from a trusted source, without identity headers otherwise. */
export function headersToCopy(copyHeaders: readonly string[], trusted: boolean): { copy: string[]; withheld: string[] } {
  if (trusted) return { copy: [...copyHeaders], withheld: [] };
  return { copy: copyHeaders.filter((h) => !isIdentityHeader(h)), withheld: copyHeaders.filter(isIdentityHeader) };
}
