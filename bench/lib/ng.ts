/**
 * The bench talks ng through Tandem's own client (src/control/ng-client.ts): unique cookies,
 * Kamailio-style retransmission of the same bytes, so a server's cookie cache answers retries.
 */
import type { BDict } from '../../src/control/bencode.js';

export { NgClient } from '../../src/control/ng-client.js';

/** Throws with the server's error-reason when result is not ok (warnings are returned). */
export function expectOk(reply: BDict, what: string): BDict {
  if (reply.result !== 'ok' && reply.result !== 'pong') {
    throw new Error(`ng ${what}: ${String(reply.result)}${reply['error-reason'] ? `: ${String(reply['error-reason'])}` : ''}`);
  }
  return reply;
}
