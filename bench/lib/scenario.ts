/** What each scenario offers, answers and sends. */
import type { BDict } from '../../src/control/bencode.js';
import type { G711Law } from './g711.js';

export type ScenarioName = 'transcode' | 'relay' | 'ptime' | 'opus' | 'relay-limit';

/** What a side sends: G.711 (8 kHz clock) or Opus (48 kHz clock, RFC 7587). */
export type Codec = G711Law | 'opus';

export const SCENARIOS: readonly ScenarioName[] = ['transcode', 'relay', 'ptime', 'opus', 'relay-limit'];

export interface Scenario {
  name: ScenarioName;
  callerCodec: Codec;
  calleeCodec: Codec;
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
        callerCodec: 'PCMA',
        calleeCodec: 'PCMU',
        callerPtime: 20,
        calleePtime: 20,
        offerFlags: { replace: REPLACE, codec: { mask: ['PCMA'], transcode: ['PCMU'] } },
      };
    case 'relay':
    case 'relay-limit': // the relay's calls, against Tandem and the C relay (run.ts)
      return { name, callerCodec: 'PCMU', calleeCodec: 'PCMU', callerPtime: 20, calleePtime: 20, offerFlags: { replace: REPLACE } };
    case 'ptime':
      // Same codec both sides: only repacketisation (20 ms in, 30 ms out = 240-byte payloads at the callee).
      return { name, callerCodec: 'PCMU', calleeCodec: 'PCMU', callerPtime: 20, calleePtime: 30, offerFlags: { replace: REPLACE, ptime: 30 } };
    case 'opus':
      // The transcode scenario's shape with Opus on the caller's side: Opus in the offer is masked
      // toward the callee, PCMA added; the server decodes/encodes Opus both ways.
      return {
        name,
        callerCodec: 'opus',
        calleeCodec: 'PCMA',
        callerPtime: 20,
        calleePtime: 20,
        offerFlags: { replace: REPLACE, codec: { mask: ['opus'], transcode: ['PCMA'] } },
      };
  }
}
