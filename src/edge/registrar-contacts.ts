import { parseNameAddr, paramValue, splitList } from '../sip/headers.js';
import { getCSeq, getCallId, getTo, headerLines, type SipHeader, type SipRequest } from '../sip/message.js';

/**
 * A REGISTER read into what the registrar decides on (RFC 3261 §10.3), or the response its fault
 * deserves. Everything a peer wrote is checked here, so a hostile header ends in a 400 that names
 * it and never in an exception: unbalanced `<>` or quotes, a non-SIP contact, an `expires` or
 * `q` that is not a number, a list longer than the limit, a wildcard mixed with contacts.
 */
export interface RequestedContact {
  /** the URI as written (the binding's key and a call's Request-URI). */
  uri: string;
  /** q ×1000, 1000 when absent. */
  q: number;
  /** the contact's own `expires` parameter, seconds (RFC 3261 §10.2.1.1), when given. */
  expires?: number;
}

export type RegisterRequest =
  | { kind: 'query' }
  | { kind: 'wildcard' }
  | { kind: 'contacts'; contacts: RequestedContact[] };

export interface ParsedRegister {
  aor: string;
  /** the AOR's user part, compared with the authenticated user. */
  user: string;
  callId: string;
  cseq: number;
  /** the Expires header, seconds, when present. */
  expires?: number;
  request: RegisterRequest;
}

export interface Refusal {
  status: number;
  reason: string;
  headers?: SipHeader[];
}

export interface ContactLimits {
  /** most Contact values in one REGISTER. */
  maxContacts: number;
  /** longest Contact header line, in characters. */
  maxContactLength: number;
}

/** RFC 3261 §20.19 delta-seconds; more than 32 bits is taken as 2³²−1 (§10.2.1.1) and capped later. */
function deltaSeconds(text: string): number | undefined {
  if (!/^\d{1,12}$/.test(text)) return undefined;
  return Math.min(Number(text), 0xffffffff);
}

/** RFC 3261 §25.1 qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), ×1000. */
export function parseQ(text: string): number | undefined {
  if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text)) return undefined;
  return Math.round(Number(text) * 1000);
}

export function formatQ(q: number): string {
  return (q / 1000).toFixed(3).replace(/0+$/, '').replace(/\.$/, '.0');
}

/** The location key of `user` at `host` (host case-insensitive, brackets of an IPv6 host dropped). */
export function aorKey(user: string, host: string): string {
  return `sip:${user}@${host.replace(/^\[|\]$/g, '').toLowerCase()}`;
}

const bad = (why: string): Refusal => ({ status: 400, reason: why });

/** The canonical AOR of a To header (§10.3 step 5): scheme, user and host, no port or parameters. */
function aorOf(req: SipRequest): { aor: string; user: string } | Refusal {
  let to;
  try {
    to = getTo(req);
  } catch {
    return bad('Malformed To');
  }
  if (to === undefined) return bad('Missing To');
  if (to.uri.type !== 'sip') return bad('To must be a sip: or sips: URI');
  if (to.uri.user === undefined || to.uri.user === '') return { status: 404, reason: 'No User in To' };
  // sips: and sip: name the same user here (a key, not a route): Kamailio's usrloc does the same.
  return { aor: aorKey(to.uri.user, to.uri.host), user: to.uri.user };
}

export function parseRegister(req: SipRequest, limits: ContactLimits): { ok: true; value: ParsedRegister } | { ok: false; refusal: Refusal } {
  const fail = (r: Refusal): { ok: false; refusal: Refusal } => ({ ok: false, refusal: r });
  const who = aorOf(req);
  if ('status' in who) return fail(who);
  let callId: string | undefined;
  let cseq: number | undefined;
  try {
    callId = getCallId(req);
    cseq = getCSeq(req)?.seq;
  } catch {
    return fail(bad('Malformed Call-ID or CSeq'));
  }
  if (callId === undefined || cseq === undefined) return fail(bad('Missing Call-ID or CSeq'));
  let expires: number | undefined;
  const expiresLines = headerLines(req, 'Expires');
  if (expiresLines.length > 1) return fail(bad('More Than One Expires'));
  if (expiresLines.length === 1) {
    expires = deltaSeconds(expiresLines[0].trim());
    if (expires === undefined) return fail(bad('Malformed Expires'));
  }
  const base = { aor: who.aor, user: who.user, callId, cseq, ...(expires !== undefined ? { expires } : {}) };
  const lines = headerLines(req, 'Contact');
  if (lines.length === 0) return { ok: true, value: { ...base, request: { kind: 'query' } } };
  const values: string[] = [];
  for (const line of lines) {
    if (line.length > limits.maxContactLength) return fail(bad(`Contact Longer Than ${limits.maxContactLength}`));
    const split = splitList(line);
    if (!split.ok) return fail(bad(`Malformed Contact: ${split.reason}`));
    values.push(...split.value.map((v) => v.trim()));
    if (values.length > limits.maxContacts) return fail(bad(`More Than ${limits.maxContacts} Contacts`));
  }
  if (values.includes('*')) {
    // §10.2.2: the wildcard only alone, and only to remove every binding.
    if (values.length > 1) return fail(bad('Wildcard Contact Mixed With Others'));
    if (expires !== 0) return fail(bad('Wildcard Contact Needs Expires: 0'));
    return { ok: true, value: { ...base, request: { kind: 'wildcard' } } };
  }
  const contacts: RequestedContact[] = [];
  for (const v of values) {
    const na = parseNameAddr(v, 'Contact');
    if (!na.ok) return fail(bad(`Malformed Contact: ${na.reason}`));
    if (na.value.uri.type !== 'sip') return fail(bad('Contact must be a sip: or sips: URI'));
    const q = paramValue(na.value.params, 'q');
    const e = paramValue(na.value.params, 'expires');
    const c: RequestedContact = { uri: na.value.uriText, q: 1000 };
    if (q !== undefined) {
      const parsed = q === null ? undefined : parseQ(q);
      if (parsed === undefined) return fail(bad('Malformed q in Contact'));
      c.q = parsed;
    }
    if (e !== undefined) {
      const parsed = e === null ? undefined : deltaSeconds(e);
      if (parsed === undefined) return fail(bad('Malformed expires in Contact'));
      c.expires = parsed;
    }
    contacts.push(c);
  }
  return { ok: true, value: { ...base, request: { kind: 'contacts', contacts } } };
}
