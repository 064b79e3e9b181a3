import { describe, it, expect } from 'vitest';
import { parseRtppFlags, MAX_RTPP_FLAGS_CHARS } from '../../../src/control/rtpp-flags.js';
import { NgFields, readMediaOptions, expandRtppFlags } from '../../../src/control/ng-options.js';
import type { BDict } from '../../../src/control/bencode.js';

const options = (msg: BDict) => readMediaOptions(new NgFields(msg));

describe('rtpp-flags: rtpengine documentation examples', () => {
  it('reads the flat example of ng_control_protocol.md into the dictionary keys', () => {
    expect(parseRtppFlags('replace-origin via-branch=auto-next strict-source label=callee OSRTP-accept transport-protocol=RTP/AVP address-family=IP4')).toEqual({
      flags: ['replace-origin', 'strict-source', 'OSRTP-accept'],
      'via-branch': 'auto-next',
      label: 'callee',
      'transport-protocol': 'RTP/AVP',
      'address-family': 'IP4',
    });
  });

  it('reads the bracket example: a list, and a dictionary of lists', () => {
    expect(parseRtppFlags('via-branch=auto-next OSRTP=[accept] codec=[transcode=[PCMA PCMU] accept=[AMR-WB AMR] strip=[EVS]]')).toEqual({
      'via-branch': 'auto-next',
      osrtp: ['accept'],
      codec: { transcode: ['PCMA', 'PCMU'], accept: ['AMR-WB', 'AMR'], strip: ['EVS'] },
    });
  });

  it('gives the same options as the dictionary form of the same request', () => {
    const flagString = options({ 'rtpp-flags': 'replace-origin trust-address codec=[transcode=[PCMA PCMU] strip=[G729]] ICE=remove SDES-off' });
    const dictionary = options({ flags: ['trust-address', 'SDES-off'], replace: ['origin'], codec: { transcode: ['PCMA', 'PCMU'], strip: ['G729'] }, ICE: 'remove' });
    expect(flagString.options).toEqual(dictionary.options);
    expect(flagString.warnings).toEqual([]);
    expect(flagString.options).toMatchObject({ replaceOrigin: true, trustAddress: true, ice: 'remove', codec: { transcode: ['PCMA', 'PCMU'], strip: ['G729'] } });
    expect(flagString.options.sdes.off).toBe(true);
  });
});

describe('rtpp-flags: token forms', () => {
  it('puts codec-<op>-<name>, codec-<op>=… and transcode… into the codec dictionary', () => {
    expect(parseRtppFlags('codec-strip-G729 codec-strip=G722 codec-mask=[opus G722] transcode-PCMU codec-transcode=PCMA codec-offer-AMR-WB')).toEqual({
      codec: { strip: ['G729', 'G722'], mask: ['opus', 'G722'], transcode: ['PCMU', 'PCMA'], offer: ['AMR-WB'] },
    });
    expect(options({ 'rtpp-flags': 'codec-strip-G729 codec-mask=PCMA transcode=PCMU' }).options.codec).toMatchObject({ strip: ['G729'], mask: ['PCMA'], transcode: ['PCMU'] });
  });

  it('reads from-tag and to-tag values, and they override the dictionary\'s', () => {
    expect(parseRtppFlags('from-tag=abc to-tag=x=y')).toEqual({ 'from-tag': 'abc', 'to-tag': 'x=y' });
    const f = new NgFields({ 'from-tag': 'dict', 'rtpp-flags': 'from-tag=flags' });
    expandRtppFlags(f);
    expect(f.string('from-tag')).toBe('flags');
  });

  it('adds list-valued keys up, in the string and with the dictionary', () => {
    expect(parseRtppFlags('rtcp-mux=demux rtcp-mux-offer rtcp-mux=[require] direction=priv direction=pub')).toEqual({ 'rtcp-mux': ['demux', 'require'], flags: ['rtcp-mux-offer'], direction: ['priv', 'pub'] });
    const f = new NgFields({ flags: ['trust-address'], codec: { strip: ['G729'] }, 'rtpp-flags': 'symmetric codec-strip-G722 ICE=force' });
    expandRtppFlags(f);
    expect(f.list('flags')).toEqual(['trust-address', 'symmetric']);
    expect(f.dict('codec')).toEqual({ strip: ['G729', 'G722'] });
    expect(f.string('ice')).toBe('force');
    expect(f.has('rtpp-flags')).toBe(false);
  });

  it('combines rtpengine\'s transport parts and full profile names', () => {
    expect(parseRtppFlags('RTP/SAVPF')['transport-protocol']).toBe('RTP/SAVPF');
    expect(parseRtppFlags('SRTP AVPF')['transport-protocol']).toBe('RTP/SAVPF');
    expect(parseRtppFlags('RTP/SAVP AVP RTP')['transport-protocol']).toBe('RTP/AVP');
    expect(parseRtppFlags('DTLS AVPF')['transport-protocol']).toBe('UDP/TLS/RTP/SAVPF');
    expect(parseRtppFlags('RTP/SAVP AVPF')['transport-protocol']).toBe('RTP/SAVPF');
    expect(parseRtppFlags('UDP/TLS/RTP/SAVPF AVP')['transport-protocol']).toBe('UDP/TLS/RTP/SAVP');
    for (const p of ['RTP/AVP', 'RTP/SAVP', 'RTP/AVPF', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'UDP/TLS/RTP/SAVPF']) expect(parseRtppFlags(p)['transport-protocol']).toBe(p);
    expect(parseRtppFlags('trust-address')).not.toHaveProperty('transport-protocol');
    expect(parseRtppFlags('transport-protocol=RTP/AVP UDP/TLS/RTP/SAVPF')['transport-protocol']).toBe('UDP/TLS/RTP/SAVPF');
  });

  it('takes internal/external as direction, and `key=` as the bare flag, as rtpengine does', () => {
    expect(parseRtppFlags('internal external')).toEqual({ direction: ['internal', 'external'] });
    expect(parseRtppFlags('label= trust-address')).toEqual({ flags: ['label', 'trust-address'] });
  });

  it('nests lists, and keeps whitespace of any kind as a separator', () => {
    expect(parseRtppFlags('received-from=[IP4 127.0.0.2]\tx=[[a b] [c]]\n')).toEqual({ 'received-from': ['IP4', '127.0.0.2'], x: [['a', 'b'], ['c']] });
    expect(parseRtppFlags('   ')).toEqual({});
    expect(parseRtppFlags('codec=[ transcode=[ PCMA ] ]')).toEqual({ codec: { transcode: ['PCMA'] } });
  });
});

describe('rtpp-flags: malformed strings are errors naming the problem', () => {
  const bad: [string, RegExp][] = [
    ['codec=[transcode=[PCMA PCMU]', /"\[" at character 7 is never closed/],
    ['codec=[strip=[G729]]]', /"\]" at character 21 closes nothing/],
    ['trust-address ]', /"\]" at character 15 closes nothing/],
    ['label=x]', /"\]" at character 8 closes nothing/],
    ['=remove', /"=" at character 1 has no key/],
    ['ICE=remove =x', /"=" at character 12 has no key/],
    ['[PCMA]', /"\[" at character 1 has no key/],
    ['codec[PCMA]', /"\[" at character 6 must follow "="/],
    ['codec=[transcode=[PCMA] strip]', /dictionary entry "strip" at character 25 has no "="/],
    ['codec=[transcode=[PCMA] [G729]]', /dictionary entry at character 25 has no key/],
    ['codec=[=PCMA]', /"=" at character 8 has no key/],
    ['codec=[strip= ]', /key "strip" at character 8 has no value/],
    ['codec-strip=[a=b]', /codec-strip takes a codec name or a list/],
    [`x=${'['.repeat(20)}${']'.repeat(20)}`, /nested more than 8 deep/],
    ['x'.repeat(MAX_RTPP_FLAGS_CHARS + 1), /8193 characters, more than the limit of 8192/],
    ['ICE=remove rtpp-flags=x', /rtpp-flags at character 12 inside rtpp-flags/],
  ];
  for (const [text, why] of bad) {
    it(`refuses ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`, () => {
      expect(() => parseRtppFlags(text)).toThrow(why);
      try {
        parseRtppFlags(text);
      } catch (err) {
        expect((err as { code?: string }).code).toBe('BAD_REQUEST');
        expect((err as Error).message.startsWith('rtpp-flags: ')).toBe(true);
      }
    });
  }

  it('refuses rtpp-flags that is not a string, and a codec key that is not a dictionary', () => {
    expect(() => options({ 'rtpp-flags': ['a'] })).toThrow(/rtpp-flags/);
    expect(() => options({ 'rtpp-flags': 'codec=PCMA' })).toThrow(/"codec" must be a dictionary/);
  });

  it('survives a seeded stream of random bracket soup without anything but BAD_REQUEST', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['[', ']', '=', ' ', 'a', 'codec', 'strip', 'PCMA', '-', '\t', 'RTP', 'transcode-'];
    for (let i = 0; i < 2000; i++) {
      let s = '';
      for (let j = 0, n = rnd(30); j < n; j++) s += alphabet[rnd(alphabet.length)];
      try {
        parseRtppFlags(s);
      } catch (err) {
        expect((err as { code?: string }).code, s).toBe('BAD_REQUEST');
      }
    }
  });
});
