import { describe, it, expect } from 'vitest';
import { latchVerdict, type LatchState } from '../../../../src/media/worker/latch.js';

const sdp = { address: '192.0.2.10', port: 4000 };
const nat = { address: '198.51.100.7', port: 61000 };
const attacker = { address: '203.0.113.66', port: 5555 };

function state(over: Partial<LatchState> = {}): LatchState {
  return { mode: 'symmetric', strictSource: false, mediaHandover: false, expected: sdp, peer: sdp, latched: false, expectedHeard: false, learningAllowed: true, ...over };
}

describe('latching policy', () => {
  it('always accepts the SDP source, and it takes the peer back from whatever latched first', () => {
    expect(latchVerdict(sdp, state())).toBe('latch');
    expect(latchVerdict(sdp, state({ peer: attacker, latched: true }))).toBe('latch');
    expect(latchVerdict(sdp, state({ latched: true, expectedHeard: true }))).toBe('keep');
  });

  it('lets a NAT source latch only while nothing latched and the SDP source was not heard', () => {
    expect(latchVerdict(nat, state())).toBe('latch');
    expect(latchVerdict(nat, state({ peer: nat, latched: true }))).toBe('keep');
    expect(latchVerdict(attacker, state({ peer: nat, latched: true }))).toBe('drop');
    expect(latchVerdict(attacker, state({ latched: true, expectedHeard: true }))).toBe('drop');
    expect(latchVerdict(nat, state({ learningAllowed: false }))).toBe('drop');
  });

  it('strict-source: only the SDP source or the latched peer, no learning', () => {
    expect(latchVerdict(nat, state({ strictSource: true }))).toBe('drop');
    expect(latchVerdict(sdp, state({ strictSource: true }))).toBe('latch');
    expect(latchVerdict(nat, state({ strictSource: true, peer: nat, latched: true }))).toBe('keep');
  });

  it('media-handover: any new source takes over at any time', () => {
    expect(latchVerdict(attacker, state({ mediaHandover: true, latched: true, expectedHeard: true }))).toBe('latch');
  });

  it('asymmetric never moves the peer; port latching matches the SDP address only', () => {
    expect(latchVerdict(attacker, state({ mode: 'asymmetric' }))).toBe('keep');
    expect(latchVerdict(attacker, state({ mode: 'asymmetric', strictSource: true }))).toBe('drop');
    expect(latchVerdict({ address: sdp.address, port: 9999 }, state({ mode: 'port', latched: true, expectedHeard: true }))).toBe('latch');
  });

  it('without an SDP address yet, the first source latches', () => {
    expect(latchVerdict(nat, state({ expected: undefined, peer: undefined }))).toBe('latch');
  });
});
