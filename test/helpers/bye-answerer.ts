import { getVias } from '../../src/sip/message.js';
import type { SipPeer } from './sip-peer.js';

/** How a test peer treats the BYEs it gets: answer each, drop the first copy of each (answer its retransmission), or never answer. */
export type ByeMode = 'answer' | 'drop-first' | 'never';

export interface ByeAnswerer {
  /** the top Via branch of every BYE received, in order (a retransmission repeats its branch). */
  branches(): string[];
  /** 200s sent. */
  answered(): number;
  stop(): void;
}

/**
 * Answers the BYEs `peer` receives as `mode` says, 200 OK each; `onAnswer` runs just before each
 * 200 goes out (a test notes there what it must be true at that moment).
 */
export function answerByes(peer: SipPeer, mode: ByeMode, onAnswer: () => void = () => undefined): ByeAnswerer {
  const branches: string[] = [];
  let seen = 0;
  let answered = 0;
  const timer = setInterval(() => {
    while (seen < peer.inbox.length) {
      const r = peer.inbox[seen++];
      if (r.msg.kind !== 'request' || r.msg.method !== 'BYE') continue;
      const branch = getVias(r.msg)[0]?.branch ?? '';
      const repeat = branches.includes(branch);
      branches.push(branch);
      if (mode === 'never' || (mode === 'drop-first' && !repeat)) continue;
      onAnswer();
      answered++;
      peer.reply(r, 200, { reason: 'OK' });
    }
  }, 2);
  return { branches: () => [...branches], answered: () => answered, stop: () => clearInterval(timer) };
}
