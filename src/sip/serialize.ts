import { canonicalHeaderName } from './headers.js';
import type { SipMessage } from './message.js';

/**
 * Writes a message (RFC 3261 §7): start line, each header as `Name: value` in order with the
 * names as they are held (compact forms stay compact), an empty line, the body. Content-Length is
 * always recomputed from the body; one is appended when missing, since stream transports need it
 * (§18.3, §20.14).
 */
export function serializeSipMessage(msg: SipMessage): Buffer {
  const start = msg.kind === 'request' ? `${msg.method} ${msg.uri} ${msg.version}` : `${msg.version} ${msg.status} ${msg.reason}`;
  const lines = [start];
  let wroteLength = false;
  for (const h of msg.headers) {
    if (canonicalHeaderName(h.name) === 'content-length') {
      if (wroteLength) continue;
      wroteLength = true;
      lines.push(`${h.name}: ${msg.body.length}`);
    } else {
      lines.push(`${h.name}: ${h.value}`);
    }
  }
  if (!wroteLength) lines.push(`Content-Length: ${msg.body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  return msg.body.length === 0 ? head : Buffer.concat([head, msg.body]);
}
