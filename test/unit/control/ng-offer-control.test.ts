import { describe, expect, it } from 'vitest';
import type { BDict } from '../../../src/control/bencode.js';
import { NgFields, readMediaOptions } from '../../../src/control/ng-options.js';
import { readDtmfSecurity, readOfferControl } from '../../../src/control/ng-offer-control.js';
import { readMediaControl } from '../../../src/control/ng-media-control.js';

/** Reads an offer as commands.ts does: the options first (they expand rtpp-flags), then the control. */
function offer(d: BDict, sender = 'A'): { control: ReturnType<typeof readOfferControl>; warnings: string[] } {
  const f = new NgFields({ 'call-id': 'c', 'from-tag': 'A', ...d });
  const { warnings } = readMediaOptions(f);
  return { control: readOfferControl(f, 'c', sender), warnings };
}

describe('readOfferControl', () => {
  it('reads rtpengine\'s spellings of block DTMF / block media, from flags and from rtpp-flags, as directional requests from the sender', () => {
    for (const flags of [['block DTMF'], ['block-DTMF'], ['block-dtmf'], ['block_dtmf']]) {
      const r = offer({ flags });
      expect(r.warnings).toEqual([]);
      expect(r.control.requests).toEqual([{ callId: 'c', fromTag: 'A', all: false, directional: true, action: { kind: 'block-dtmf', on: true } }]);
    }
    const both = offer({ 'rtpp-flags': 'block-DTMF block-media' }, 'B');
    expect(both.warnings).toEqual([]);
    expect(both.control.requests.map((q) => [q.fromTag, q.action])).toEqual([
      ['B', { kind: 'block-dtmf', on: true }],
      ['B', { kind: 'block-media', on: true }],
    ]);
  });

  it('inject DTMF is accepted without a warning and asks for nothing', () => {
    for (const flags of [['inject DTMF'], ['inject-DTMF'], ['inject-dtmf']]) {
      const r = offer({ flags });
      expect(r.warnings).toEqual([]);
      expect(r.control).toEqual({ requests: [], warnings: [] });
    }
  });

  it('DTMF-security: off unblocks, drop blocks, a replacing mode drops with a warning naming it, without the flag a warning', () => {
    expect(offer({ flags: ['block DTMF'], 'DTMF-security': 'off' }).control.requests[0].action).toEqual({ kind: 'block-dtmf', on: false });
    expect(offer({ flags: ['block DTMF'], 'DTMF-security': 'drop' }).control).toMatchObject({ warnings: [], requests: [{ action: { on: true } }] });
    const random = offer({ 'rtpp-flags': 'block-DTMF DTMF-security=random' });
    expect(random.warnings).toEqual([]);
    expect(random.control.warnings).toEqual(['DTMF-security=random not supported yet; DTMF events are dropped instead']);
    expect(random.control.requests[0].action).toEqual({ kind: 'block-dtmf', on: true });
    expect(offer({ 'DTMF-security': 'drop' }).control).toEqual({ requests: [], warnings: ['DTMF-security does nothing on an offer or answer without the block-DTMF flag; ignored'] });
  });

  it('a malformed DTMF-security is a BAD_REQUEST naming the key', () => {
    expect(() => offer({ flags: ['block DTMF'], 'DTMF-security': 'loud' })).toThrow(/key "DTMF-security" has unknown value "loud"/);
    expect(() => offer({ flags: ['block DTMF'], 'DTMF-security': '' })).toThrow(/unknown value ""/);
    expect(() => offer({ 'DTMF-security': { mode: 'drop' } })).toThrow(/must be a string/);
    expect(() => offer({ 'DTMF-security': 3 })).toThrow(/must be a string/);
    expect(() => readDtmfSecurity(new NgFields({ 'DTMF security': ['off'] }))).toThrow(/must be a string/);
  });
});

describe('block DTMF command with DTMF-security', () => {
  it('DTMF-security=off blocks nothing; DTMF (case-insensitive) blocks', () => {
    const read = (d: BDict) => readMediaControl(new NgFields({ 'call-id': 'c', ...d }), 'block-dtmf', true).action;
    expect(read({ 'DTMF-security': 'off' })).toEqual({ kind: 'block-dtmf', on: false });
    expect(read({ 'DTMF-security': 'DTMF' })).toEqual({ kind: 'block-dtmf', on: true });
    expect(() => read({ 'DTMF-security': 'x' })).toThrow(/DTMF-security/);
  });
});
