import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { decodeCertificate, decodeSnapshot, encodeSnapshot, restoreMediaState, snapshotOf } from '../../../../src/media/session/snapshot.js';
import { CallMedia, MediaCall } from '../../../../src/media/session/call.js';
import { PortAllocator } from '../../../../src/media/session/ports.js';
import { defaultMediaOptions } from '../../../../src/media/api.js';

function call(): MediaCall {
  const c = new MediaCall('snap-1', { index: 0, release: () => undefined }, pino({ level: 'silent' }));
  c.tags = ['from', 'to'];
  const m = new CallMedia(1, { id: 7, ports: [30000, 30001, 30002, 30003], close: async () => undefined });
  m.peer = [{ type: 'audio', protocol: 'RTP/SAVP', codecs: [{ pt: 0, name: 'PCMU', clockRate: 8000, channels: 1, fmtp: [] } as never], address: '127.0.0.1', family: 'IP4', port: 4000, rtcpMux: false, options: defaultMediaOptions() }, undefined];
  m.srtp = [{ profile: 'AES_CM_128_HMAC_SHA1_80', recv: 'a2V5', send: 'c2VuZA==' }, undefined];
  m.keying = { offererProtocol: 'RTP/SAVP', ourKeyForOfferer: Buffer.from([1, 2, 3, 250]) };
  m.framesTo = [20, 0];
  c.medias.push(m);
  return c;
}

describe('media session snapshots (--redis)', () => {
  it('round-trips a call: ports, peers, SDES keys (Buffers too) and framing; empty sides stay undefined', () => {
    const s = decodeSnapshot(encodeSnapshot(snapshotOf(call())));
    expect(s.callId).toBe('snap-1');
    expect(s.tags).toEqual(['from', 'to']);
    expect(s.medias[0].ports).toEqual([30000, 30001, 30002, 30003]);
    const m = new CallMedia(1, { id: 9, ports: s.medias[0].ports, close: async () => undefined });
    restoreMediaState(m, s.medias[0]);
    expect(m.peer[0]?.port).toBe(4000);
    expect(m.peer[1]).toBeUndefined();
    expect(m.srtp[1]).toBeUndefined();
    expect(m.ice).toEqual([undefined, undefined]);
    expect(m.keying?.ourKeyForOfferer).toEqual(Buffer.from([1, 2, 3, 250]));
    expect(m.framesTo).toEqual([20, 0]);
    expect(m.transcoding).toBe(true);
  });

  it('keeps blocking and silencing toward each side when any is on, and refuses a malformed one', () => {
    const c = call();
    expect(decodeSnapshot(encodeSnapshot(snapshotOf(c))).blocking).toBeUndefined();
    c.blocking['block-dtmf'][1] = true;
    c.blocking.silence[0] = true;
    expect(decodeSnapshot(encodeSnapshot(snapshotOf(c))).blocking).toEqual({ 'block-dtmf': [false, true], 'block-media': [false, false], silence: [true, false] });
    const base = '{"v":1,"callId":"x","tags":[],"labels":[],"medias":[],"blocking":';
    for (const bad of ['[]', '"yes"', '{"block-dtmf":[true,false]}', '{"block-dtmf":[true],"block-media":[false,false],"silence":[false,false]}', '{"block-dtmf":[1,0],"block-media":[false,false],"silence":[false,false]}'])
      expect(() => decodeSnapshot(`${base}${bad}}`), bad).toThrow(/blocking is not two booleans per kind/);
  });

  it('refuses what is not a snapshot with a reason', () => {
    for (const [text, why] of [
      ['', /not JSON/],
      ['{"v":1', /not JSON/],
      ['[]', /not a version 1 snapshot/],
      ['null', /not a version 1 snapshot/],
      ['{"v":2,"callId":"x","tags":[],"medias":[]}', /not a version 1 snapshot/],
      ['{"v":1,"tags":[],"medias":[]}', /no call-id/],
      ['{"v":1,"callId":"x","tags":[]}', /no tags or medias/],
      ['{"v":1,"callId":"x","tags":[],"medias":[{"ports":[1,2,3]}]}', /four ports/],
      ['{"v":1,"callId":"x","tags":[],"medias":[{"ports":[30000,30005,30002,30003],"peer":[],"framesTo":[],"srtp":[],"ice":[]}]}', /four ports/],
      ['{"v":1,"callId":"x","tags":[],"medias":[{"ports":[0,1,2,3],"peer":[],"framesTo":[],"srtp":[],"ice":[]}]}', /four ports/],
      ['{"v":1,"callId":"x","tags":[],"medias":[{"ports":[30000,30001,30002,30003]}]}', /without its peers/],
      ['{"v":1,"callId":"x","tags":[],"medias":[{"ports":[30000,30001,30002,30003],"peer":[],"framesTo":[],"srtp":[],"ice":[]}]}', /m= index or offer side/],
      ['{"v":1,"callId":"x","tags":[],"medias":[{"index":-1,"offerSide":0,"ports":[30000,30001,30002,30003],"peer":[],"framesTo":[],"srtp":[],"ice":[]}]}', /m= index or offer side/],
      ['{"v":1,"callId":"x","tags":[],"medias":[{"index":0,"offerSide":2,"ports":[30000,30001,30002,30003],"peer":[],"framesTo":[],"srtp":[],"ice":[]}]}', /m= index or offer side/],
      ['{"v":1,"callId":"x","tags":[],"medias":[{"index":0,"offerSide":1,"ports":[30000,30001,30002,30003],"peer":[],"framesTo":[],"srtp":[],"ice":[]}]}', /no labels/],
      ['{"v":1,"callId":"x","tags":[],"labels":"a","medias":[]}', /no labels/],
    ] as const) expect(() => decodeSnapshot(text), text).toThrow(why);
  });

  it('PortAllocator.take gives a restored session its own pair, once', () => {
    const p = new PortAllocator(30000, 30099);
    expect(p.take(30010)).toBe(true);
    expect(p.take(30010)).toBe(false);
    expect(p.take(30011)).toBe(false);
    expect(p.take(29998)).toBe(false);
    expect(p.take(30100)).toBe(false);
    expect(p.free).toBe(49);
    p.release(30010);
    // a cooling pair can be taken back by a restore
    expect(p.take(30010)).toBe(true);
    expect(p.free).toBe(49);
  });

  it('keeps DTLS keys and marks a restored media, and reads a stored certificate only when it is one', () => {
    const c = call();
    c.medias[0].dtlsKeys = [undefined, { profile: 'AES_CM_128_HMAC_SHA1_80', recv: 'cmVjdg==', send: 'c2VuZA==' }];
    const s = decodeSnapshot(encodeSnapshot(snapshotOf(c)));
    const m = new CallMedia(1, { id: 9, ports: s.medias[0].ports, close: async () => undefined });
    restoreMediaState(m, s.medias[0]);
    expect(m.dtlsRestored).toBe(true);
    expect(m.dtlsKeys).toEqual([undefined, { profile: 'AES_CM_128_HMAC_SHA1_80', recv: 'cmVjdg==', send: 'c2VuZA==' }]);
    const fp = `sha-256 ${Array.from({ length: 32 }, () => 'AB').join(':')}`;
    expect(decodeCertificate(JSON.stringify({ certPem: 'C', keyPem: 'K', fingerprint: fp }))).toEqual({ certPem: 'C', keyPem: 'K', fingerprint: fp });
    for (const bad of [undefined, '', '{', '[]', JSON.stringify({ certPem: 'C', keyPem: 'K' }), JSON.stringify({ certPem: 'C', keyPem: 1, fingerprint: fp }), JSON.stringify({ certPem: 'C', keyPem: 'K', fingerprint: 'sha-1 AB' })])
      expect(decodeCertificate(bad), String(bad)).toBeUndefined();
  });
});
