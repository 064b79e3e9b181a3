import { describe, expect, it } from 'vitest';
import type { BDict } from '../../../src/control/bencode.js';
import { NgFields } from '../../../src/control/ng-options.js';
import { readMediaControl } from '../../../src/control/ng-media-control.js';
import { targetSides } from '../../../src/media/session/media-control.js';
import type { MediaControlAction, MediaControlRequest } from '../../../src/media/api.js';
import { testCall } from '../media/session/fixtures.js';

const read = (d: BDict, kind: MediaControlAction['kind'], on = true): MediaControlRequest => readMediaControl(new NgFields({ 'call-id': 'c', ...d }), kind, on);

describe('readMediaControl', () => {
  it('reads selection as rtpengine sends it: tags, the all flag or all=all, directional', () => {
    expect(read({ 'from-tag': 'a', 'to-tag': 'b', flags: ['directional'] }, 'block-dtmf')).toMatchObject({ fromTag: 'a', toTag: 'b', all: false, directional: true, action: { kind: 'block-dtmf', on: true } });
    expect(read({ flags: 'all' }, 'stop').all).toBe(true);
    expect(read({ all: 'all' }, 'silence', false)).toMatchObject({ all: true, action: { on: false } });
  });

  it('play media: one source, repeat-times and start-pos, blob64 decoded', () => {
    expect(read({ 'from-tag': 'b', file: '/x.wav', 'repeat-times': 3, 'start-pos': '250' }, 'play').action).toEqual({ kind: 'play', source: { file: '/x.wav' }, repeat: 3, startMs: 250 });
    const a = read({ blob64: Buffer.from('RIFFxx').toString('base64') }, 'play').action;
    expect(a.kind === 'play' && 'blob' in a.source ? a.source.blob.toString() : '').toBe('RIFFxx');
    expect(read({ blob: 'plain text is UTF-8 safe' }, 'play').action).toMatchObject({ source: { blob: Buffer.from('plain text is UTF-8 safe') } });
  });

  it('play DTMF: code as number, digit string or character; rtpengine\'s defaults and clamps', () => {
    const dtmf = (d: BDict): MediaControlAction => read({ 'from-tag': 'a', ...d }, 'dtmf').action;
    expect(dtmf({ code: 0 })).toEqual({ kind: 'dtmf', code: 0, durationMs: 250, volumeDb: -8, pauseMs: 100 });
    expect(dtmf({ code: '*' })).toMatchObject({ code: 10 });
    expect(dtmf({ digit: '#' })).toMatchObject({ code: 11 });
    expect(dtmf({ code: 'd' })).toMatchObject({ code: 15 });
    expect(dtmf({ code: '12' })).toMatchObject({ code: 12 });
    expect(dtmf({ code: '7', duration: 20, volume: 10, pause: 99999 })).toMatchObject({ code: 7, durationMs: 100, volumeDb: -10, pauseMs: 5000 });
    expect(dtmf({ code: 7, duration: 9000, volume: -3 })).toMatchObject({ durationMs: 5000, volumeDb: -3 });
  });

  it('reads an rtpp-flags string as its keys and flags (Kamailio ≥ 5.8)', () => {
    expect(read({ 'rtpp-flags': 'from-tag=B file=/tmp/a.wav repeat-times=2 all' }, 'play')).toMatchObject({
      fromTag: 'B', all: true, action: { kind: 'play', source: { file: '/tmp/a.wav' }, repeat: 2 },
    });
    expect(read({ 'rtpp-flags': 'code=# duration=300 directional' }, 'dtmf')).toMatchObject({ directional: true, action: { code: 11, durationMs: 300 } });
    expect(() => read({ 'rtpp-flags': 'file=[unclosed' }, 'play')).toThrow(/rtpp-flags|\[/);
  });

  it.each<[string, BDict, MediaControlAction['kind'], RegExp]>([
    ['no call-id', { 'call-id': '' }, 'block-dtmf', /No call-id/],
    ['no source', {}, 'play', /No media file specified/],
    ['two sources', { file: '/a', blob64: 'AAAA' }, 'play', /More than one media source/],
    ['empty file', { file: '' }, 'play', /"file" is empty/],
    ['file as a dict', { file: { a: 1 } }, 'play', /must be a string/],
    ['db-id', { file: '/a', 'db-id': 3 }, 'play', /db-id is not supported/],
    ['bad base64', { blob64: 'not*base64' }, 'play', /not base64/],
    ['huge blob64', { blob64: 'A'.repeat(50_000) }, 'play', /over the 32768-byte limit/],
    ['binary blob', { blob: 'RIFF\ufffd\ufffd' }, 'play', /send it as blob64/],
    ['blob as a list', { blob: ['x'] }, 'play', /"blob" must be a string/],
    ['repeat 0', { file: '/a', 'repeat-times': 0 }, 'play', /repeat-times/],
    ['negative start', { file: '/a', 'start-pos': -1 }, 'play', /start-pos/],
    ['no code', {}, 'dtmf', /No code/],
    ['code 16', { code: 16 }, 'dtmf', /Out of range 'code'/],
    ['code 99 as text', { code: '99' }, 'dtmf', /Out of range 'code'/],
    ['code E', { code: 'E' }, 'dtmf', /Out of range 'code'/],
    ['code as list', { code: [1] }, 'dtmf', /Out of range 'code'/],
    ['volume 100', { code: 1, volume: 100 }, 'dtmf', /volume/],
  ])('%s → BAD_REQUEST naming the key', (_name, d, kind, reason) => {
    expect(() => read(d, kind)).toThrow(reason);
  });
});

describe('targetSides (rtpengine\'s participant selection)', () => {
  const call = (): ReturnType<typeof testCall>['call'] => {
    const { call: c } = testCall(1, 'A');
    c.tags[1] = 'B';
    return c;
  };
  const needs: Partial<Record<MediaControlAction['kind'], BDict>> = { play: { file: '/a.wav' }, dtmf: { code: 1 } };
  const sides = (d: BDict, kind: MediaControlAction['kind']): number[] => targetSides(call(), read({ ...needs[kind], ...d }, kind));

  it('block DTMF/media: the whole call unless directional; from-tag names the source, to-tag the receiver', () => {
    expect(sides({ 'from-tag': 'A' }, 'block-dtmf')).toEqual([0, 1]);
    expect(sides({ 'from-tag': 'A', flags: ['directional'] }, 'block-dtmf')).toEqual([1]);
    expect(sides({ 'from-tag': 'B', 'to-tag': 'A', flags: ['directional'] }, 'block-media')).toEqual([0]);
    expect(sides({}, 'block-media')).toEqual([0, 1]);
  });

  it('silence: what the from-tag leg sends, else the whole call', () => {
    expect(sides({ 'from-tag': 'B' }, 'silence')).toEqual([0]);
    expect(sides({}, 'silence')).toEqual([0, 1]);
  });

  it('play/stop media go to the selected leg; play DTMF comes from it; all selects both', () => {
    expect(sides({ 'from-tag': 'B' }, 'play')).toEqual([1]);
    expect(sides({ 'to-tag': 'A' }, 'stop')).toEqual([0]);
    expect(sides({ 'from-tag': 'A' }, 'dtmf')).toEqual([1]);
    expect(sides({ flags: ['all'] }, 'dtmf')).toEqual([0, 1]);
  });

  it('a label selects like a from-tag, before it', () => {
    const c = call();
    c.labels = ['caller', 'callee'];
    expect(targetSides(c, read({ label: 'callee', 'from-tag': 'A', file: '/a.wav' }, 'play'))).toEqual([1]);
    expect(targetSides(c, read({ label: 'caller', flags: ['directional'] }, 'block-dtmf'))).toEqual([1]);
    expect(() => targetSides(c, read({ label: 'nobody', file: '/a.wav' }, 'play'))).toThrow(/No monologue matching the given label/);
  });

  it('unknown tags, no participant, one leg as both ends: errors that say so', () => {
    expect(() => sides({ 'from-tag': 'X' }, 'play')).toThrow(/From-tag given, but no such tag exists/);
    expect(() => sides({ 'from-tag': 'A', 'to-tag': 'Y', flags: ['directional'] }, 'block-dtmf')).toThrow(/To-tag given/);
    expect(() => sides({}, 'play')).toThrow(/No participant party specified/);
    expect(() => sides({ 'to-tag': 'B' }, 'dtmf')).toThrow(/No participant party specified/);
    expect(() => sides({ 'from-tag': 'A', 'to-tag': 'A' }, 'silence')).toThrow(/same leg/);
    // play DTMF reads no to-tag (Kamailio may repeat the from-tag there).
    expect(sides({ 'from-tag': 'A', 'to-tag': 'A' }, 'dtmf')).toEqual([1]);
  });
});
