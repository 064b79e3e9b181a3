/** What each scenario offers, answers and sends. */
import type { BDict } from '../../src/control/bencode.js';
import type { G711Law } from './g711.js';

export type ScenarioName = 'transcode' | 'relay' | 'ptime';

export interface Scenario {
  name: ScenarioName;
  callerLaw: G711Law;
  calleeLaw: G711Law;
  callerPtime: number;
  /** The callee's ptime unless the offer it receives says otherwise. */
  calleePtime: number;
  /** Extra ng keys on the offer. */
  offerFlags: BDict;
}

const REPLACE = ['origin', 'session-connection'];

export function scenario(name: ScenarioName): Scenario {
  switch (name) {
    case 'transcode':
      return {
        name,
        callerLaw: 'PCMA',
        calleeLaw: 'PCMU',
        callerPtime: 20,
        calleePtime: 20,
        offerFlags: { replace: REPLACE, codec: { mask: ['PCMA'], transcode: ['PCMU'] } },
      };
    case 'relay':
      return { name, callerLaw: 'PCMU', calleeLaw: 'PCMU', callerPtime: 20, calleePtime: 20, offerFlags: { replace: REPLACE } };
    case 'ptime':
      // Same codec both sides: only repacketisation (20 ms in, 30 ms out = 240-byte payloads at the callee).
      return { name, callerLaw: 'PCMU', calleeLaw: 'PCMU', callerPtime: 20, calleePtime: 30, offerFlags: { replace: REPLACE, ptime: 30 } };
  }
}
