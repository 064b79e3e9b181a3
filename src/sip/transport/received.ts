import { getVias, type SipMessage } from '../message.js';
import type { SipEndpoint } from './types.js';

/** RFC 3261 §18.2.1 received=, RFC 3581 rport= on the top Via of a request. */
export function markReceived(msg: SipMessage, source: SipEndpoint): void {
  const i = msg.headers.findIndex((h) => /^(via|v)$/i.test(h.name));
  if (i < 0) return;
  let via;
  try {
    via = getVias(msg)[0];
  } catch {
    return;
  }
  if (via === undefined) return;
  const line = msg.headers[i].value;
  // The top Via may share a line with others: edit only the first element.
  const comma = firstTopLevelComma(line);
  let first = comma < 0 ? line : line.slice(0, comma);
  const tail = comma < 0 ? '' : line.slice(comma);
  if (via.host.replace(/^\[|\]$/g, '') !== source.address && via.received === undefined) first += `;received=${source.address}`;
  if (via.rport === null) first = first.replace(/;\s*rport(?=\s*(;|$))/i, `;rport=${source.port}`);
  msg.headers[i] = { name: msg.headers[i].name, value: first + tail };
}

function firstTopLevelComma(s: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) return i;
  }
  return -1;
}
