import { describe, expect, it } from 'vitest';
import { digitPackets, DtmfReceiver, dtmfChar, dtmfEvent, eventPayload, parseDigits } from '../../../src/phone/dtmf.js';

describe('RFC 4733 packetiser', () => {
  it('encodes event, E bit, volume and duration as §2.3 lays them out', () => {
    // event 11 (#), end, volume 10, duration 800
    expect([...eventPayload(11, true, 10, 800)]).toEqual([11, 0x80 | 10, 0x03, 0x20]);
    expect([...eventPayload(1, false, 63, 160)]).toEqual([1, 63, 0, 160]);
    expect(eventPayload(1, false, 10, 100_000).readUInt16BE(2)).toBe(0xffff);
  });

  it('one digit: the marker on the first packet only, durations growing by the interval, the end packet three times', () => {
    const p = digitPackets('5', 160, 5);
    expect(p).toHaveLength(8);
    expect(p.map((x) => x.marker)).toEqual([true, false, false, false, false, false, false, false]);
    expect(p.map((x) => x.payload.readUInt16BE(2))).toEqual([160, 320, 480, 640, 800, 800, 800, 800]);
    expect(p.map((x) => (x.payload[1] & 0x80) !== 0)).toEqual([false, false, false, false, false, true, true, true]);
    expect(p.every((x) => x.payload[0] === 5)).toBe(true);
    // at 48 kHz (telephone-event/48000 with Opus) the same 20 ms interval is 960 units
    expect(digitPackets('#', 960, 2).map((x) => x.payload.readUInt16BE(2))).toEqual([960, 1920, 1920, 1920, 1920]);
  });

  it('maps the 16 DTMF characters to events 0–15 (* is 10, # 11, A–D 12–15)', () => {
    expect([...'0123456789*#ABCD'].map((c) => dtmfEvent(c))).toEqual([...Array(16).keys()]);
    expect(dtmfEvent('a')).toBe(12);
    expect(dtmfEvent('E')).toBeUndefined();
    expect(dtmfChar(11)).toBe('#');
    expect(dtmfChar(16)).toBeUndefined();
  });

  it.each([
    ['', 'needs at least one digit'],
    ['12x', '"x" is not a DTMF digit'],
    ['1 2', '" " is not a DTMF digit'],
    ['1'.repeat(65), '65 digits, at most 64'],
  ])('refuses --dtmf %j', (text, why) => {
    expect(() => parseDigits(text)).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringContaining(`--dtmf: ${why}`) }));
  });

  it('receiving: one digit per event timestamp, updates and repeated ends add nothing, bad payloads are counted', () => {
    const r = new DtmfReceiver();
    for (const p of digitPackets('1', 160, 5)) r.push(p.payload, 1000);
    for (const p of digitPackets('#', 160, 5)) r.push(p.payload, 3080);
    r.push(Buffer.from([1, 2]), 5000);
    r.push(eventPayload(40, false, 10, 160), 6000); // not DTMF (a line event)
    expect(r.digits).toBe('1#');
    expect(r.eventDurations).toEqual([800, 800]);
    expect(r.malformed).toBe(2);
    // the same digit twice in a row is two events when the timestamps differ
    const twice = new DtmfReceiver();
    for (const ts of [0, 2000]) for (const p of digitPackets('7', 160, 3)) twice.push(p.payload, ts);
    expect(twice.digits).toBe('77');
  });
});
