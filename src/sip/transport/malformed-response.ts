import { randomBytes } from 'node:crypto';
import type { ResponseContext, SipResponse } from '../message.js';

/**
 * The response to a request the parser refused (400 naming the fault, 505, 513), built from the few
 * headers it could still read. The To gets a tag when it has none (RFC 3261 §8.2.6.2), and the reason
 * phrase cannot carry a line break from the fault's text into the status line.
 */
export function malformedResponse(status: number, reason: string, ctx: ResponseContext): SipResponse {
  const to = /;\s*tag=/i.test(ctx.to) ? ctx.to : `${ctx.to};tag=${randomBytes(6).toString('hex')}`;
  return {
    kind: 'response',
    version: 'SIP/2.0',
    status,
    reason: reason.replace(/[\r\n]/g, ' '),
    headers: [
      ...ctx.via.map((v) => ({ name: 'Via', value: v })),
      { name: 'From', value: ctx.from },
      { name: 'To', value: to },
      { name: 'Call-ID', value: ctx.callId },
      { name: 'CSeq', value: ctx.cseq },
    ],
    body: Buffer.alloc(0),
  };
}
