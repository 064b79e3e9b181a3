import { describe, it, expect } from 'vitest';
import { NgFields, readMediaOptions, normalizeKey } from '../../../src/control/ng-options.js';

function read(msg: Record<string, unknown>) {
  return readMediaOptions(new NgFields(msg as never));
}

describe('ng options', () => {
  it('normalizes keys written with spaces, hyphens or underscores', () => {
    expect(normalizeKey('media echo')).toBe('media-echo');
    expect(normalizeKey('Media_Echo')).toBe('media-echo');
    expect(normalizeKey('received-from')).toBe('received-from');
  });

  it('reads Kamailio-style codec dict and replace list without warnings', () => {
    const { options, warnings } = read({
      command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'x', supports: ['load limit'],
      replace: ['origin', 'session-connection'], codec: { mask: ['PCMA'], transcode: ['PCMU'] },
      'received-from': ['IP4', '127.0.0.1'],
    });
    expect(warnings).toEqual([]);
    expect(options.codec.mask).toEqual(['PCMA']);
    expect(options.codec.transcode).toEqual(['PCMU']);
    expect(options.replaceOrigin).toBe(true);
    expect(options.replaceSessionConnection).toBe(true);
    expect(options.receivedFrom).toEqual({ family: 'IP4', address: '127.0.0.1' });
  });

  it('reads codec-<op>-<name> flags and boolean flags', () => {
    const { options, warnings } = read({
      flags: ['codec-strip-all', 'codec-except-PCMU', 'codec-transcode-PCMA', 'codec-mask=G722', 'trust address', 'strict-source', 'always-transcode', 'asymmetric', 'port-latching', 'SIP-source-address', 'symmetric'],
    });
    expect(warnings).toEqual([]);
    expect(options.codec.strip).toEqual(['all']);
    expect(options.codec.except).toEqual(['PCMU']);
    expect(options.codec.transcode).toEqual(['PCMA']);
    expect(options.codec.mask).toEqual(['G722']);
    expect(options.trustAddress).toBe(true);
    expect(options.strictSource).toBe(true);
    expect(options.alwaysTranscode).toBe(true);
    expect(options.asymmetric).toBe(false); // symmetric came after asymmetric
    expect(options.portLatching).toBe(true);
    expect(options.sipSourceAddress).toBe(true);
  });

  it('expands an rtpp-flags string as if each token had been sent', () => {
    const { options, warnings } = read({ 'rtpp-flags': 'replace-origin codec-mask=PCMA codec-transcode=PCMU ptime=30 media-echo=both ICE=remove rtcp-mux-demux' });
    expect(warnings).toEqual([]);
    expect(options.replaceOrigin).toBe(true);
    expect(options.codec.mask).toEqual(['PCMA']);
    expect(options.codec.transcode).toEqual(['PCMU']);
    expect(options.ptime).toBe(30);
    expect(options.mediaEcho).toBe('both');
    expect(options.ice).toBe('remove');
    expect(options.rtcpMux).toEqual(['demux']);
  });

  it('takes a bare address as received-from, as rtpengine does', () => {
    expect(read({ 'received-from': '::1' }).options.receivedFrom).toEqual({ family: 'IP6', address: '::1' });
  });

  it('reads ptime, ptime-reverse, media echo, ICE, rtcp-mux, label, address family', () => {
    const { options } = read({ ptime: 30, 'ptime-reverse': '20', 'media-echo': 'forward', ICE: 'remove', 'rtcp-mux': ['accept'], label: 'caller', 'address family': 'IP4', 'media address': '127.0.0.2' });
    expect(options.ptime).toBe(30);
    expect(options.ptimeReverse).toBe(20);
    expect(options.mediaEcho).toBe('forward');
    expect(options.ice).toBe('remove');
    expect(options.rtcpMux).toEqual(['accept']);
    expect(options.label).toBe('caller');
    expect(options.addressFamily).toBe('IP4');
    expect(options.mediaAddress).toBe('127.0.0.2');
  });

  it('warns, naming them, about features not built yet and unknown keys or flags', () => {
    const { warnings } = read({ 'DTLS-fingerprint': 'SHA-1', SDES: ['pad'], 'record call': 'yes', flags: ['fast', 'no-such-flag', 'DTLS-reverse'], 'transport-protocol': 'TCP/RTP/AVP', frobnicate: 1, ICE: 'force-relay' });
    const all = warnings.join('\n');
    for (const name of ['dtls-fingerprint', 'DTLS-reverse', 'SDES pad', 'fast', 'no-such-flag', 'transport-protocol TCP/RTP/AVP', 'frobnicate', 'ICE=force-relay']) expect(all).toContain(name);
  });

  it('leaves record call and metadata to the command table (no warning): commands.ts starts the recording', () => {
    const { warnings } = read({ 'record call': 'yes', metadata: 'a=b', flags: ['record-call'], 'rtpp-flags': 'record-call=on' });
    expect(warnings).toEqual([]);
    // Other recording keys and flags are not built: still named.
    const other = read({ 'recording-path': '/x', flags: ['record-all'] }).warnings.join('\n');
    expect(other).toContain('recording-path');
    expect(other).toContain('record-all');
  });

  it('reads media-handover as a flag (the latching policy honours it)', () => {
    expect(read({ flags: ['media-handover'] }).options.mediaHandover).toBe(true);
    expect(read({}).options.mediaHandover).toBe(false);
  });

  it('reads transport-protocol and SDES as key or flags', () => {
    const a = read({ 'transport-protocol': 'rtp/savp', SDES: ['no-AES_CM_128_HMAC_SHA1_32'] });
    expect(a.options.transportProtocol).toBe('RTP/SAVP');
    expect(a.options.sdes).toEqual({ off: false, no: ['AES_CM_128_HMAC_SHA1_32'], only: [] });
    const b = read({ flags: ['SDES-off', 'SDES-only-AES_CM_128_HMAC_SHA1_80'] });
    expect(b.options.sdes).toEqual({ off: true, no: [], only: ['AES_CM_128_HMAC_SHA1_80'] });
    expect(b.warnings).toEqual([]);
  });

  it('reads UDP/TLS transport protocols and DTLS as key, flag or rtpp-flags token', () => {
    const a = read({ 'transport-protocol': 'udp/tls/rtp/savpf', DTLS: 'passive' });
    expect(a.warnings).toEqual([]);
    expect([a.options.transportProtocol, a.options.dtls]).toEqual(['UDP/TLS/RTP/SAVPF', 'passive']);
    expect(read({ flags: ['DTLS-off'] }).options.dtls).toBe('off');
    expect(read({ DTLS: 'disable' }).options.dtls).toBe('off');
    const k = read({ 'rtpp-flags': 'transport-protocol=UDP/TLS/RTP/SAVP DTLS=active SDES=off' });
    expect(k.warnings).toEqual([]);
    expect([k.options.transportProtocol, k.options.dtls, k.options.sdes.off]).toEqual(['UDP/TLS/RTP/SAVP', 'active', true]);
    expect(() => read({ DTLS: 'sideways' })).toThrow(/DTLS/);
  });

  it('`reject ICE` (flag, any spelling) is kept apart from ICE=remove', () => {
    for (const flag of ['reject-ICE', 'reject ICE', 'reject_ice']) {
      const { options, warnings } = read({ flags: [flag], ICE: 'remove' });
      expect(warnings).toEqual([]);
      expect(options.rejectIce).toBe(true);
      expect(options.ice).toBe('remove');
    }
    expect(read({ ICE: 'remove' }).options.rejectIce).toBeUndefined();
  });

  it('WebRTC stands for what a browser needs (rtpengine\'s alias): DTLS profile, ICE, rtcp-mux, mid, no SDES', () => {
    const { options, warnings } = read({ flags: ['WebRTC'] });
    expect(warnings).toEqual([]);
    expect(options.transportProtocol).toBe('UDP/TLS/RTP/SAVPF');
    expect(options.ice).toBe('force');
    expect(options.rtcpMux).toEqual(['offer', 'require']);
    expect(options.sdes.off).toBe(true);
    expect(options.generateMid && options.noRtcpAttribute).toBe(true);
    // Explicit keys still win over the alias.
    expect(read({ flags: ['WebRTC'], ICE: 'remove' }).options.ice).toBe('remove');
  });

  it('rejects bad values with an error naming the key', () => {
    expect(() => read({ ptime: 'abc' })).toThrow(/ptime/);
    expect(() => read({ ptime: 0 })).toThrow(/ptime/);
    expect(() => read({ 'media echo': 'sideways' })).toThrow(/media echo/);
    expect(() => read({ 'received-from': ['IPX', '1.2.3.4'] })).toThrow(/received-from/);
    expect(() => read({ flags: 'not-a-list' })).not.toThrow();
    expect(() => read({ flags: [{ a: 1 }] })).toThrow(/flags/);
    expect(() => read({ codec: ['strip'] })).toThrow(/codec/);
    expect(() => read({ 'address family': 'IP5' })).toThrow(/address family/);
    expect(() => read({ 'received-from': ['IP4', 'host.example'] })).toThrow(/received-from/);
    expect(() => read({ 'media address': 'media.example' })).toThrow(/media address/);
  });

  it('reads direction as two interface names, as a list or as two rtpp-flags tokens', () => {
    expect(read({ direction: ['priv', 'pub'] })).toMatchObject({ options: { direction: ['priv', 'pub'] }, warnings: [] });
    expect(read({ 'rtpp-flags': 'direction=priv direction=pub' }).options.direction).toEqual(['priv', 'pub']);
    expect(read({}).options.direction).toBeUndefined();
    for (const bad of [['priv'], ['a', 'b', 'c'], ['', 'pub']]) expect(() => read({ direction: bad }), String(bad)).toThrow(/direction/);
  });
});
