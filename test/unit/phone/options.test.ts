import { describe, expect, it } from 'vitest';
import { parsePhoneArgs } from '../../../src/phone/options.js';
import { agreeMedia, buildSdp, offeredCodecs } from '../../../src/phone/sdp.js';
import { parseTarget, targetTransport } from '../../../src/phone/sip-phone.js';

describe('tandem call / answer options', () => {
  it('reads a full call line', () => {
    const o = parsePhoneArgs('call', ['sip:100@127.0.0.1:5060', '--transport', 'tcp', '--user', 'alice', '--password=s3cret', '--codecs', 'pcmu,opus,PCMU', '--tone', '600', '--record', 'o.wav', '--dtmf', '1#', '--duration', '4', '--json']);
    expect(o).toMatchObject({ mode: 'call', target: 'sip:100@127.0.0.1:5060', transport: 'tcp', user: 'alice', password: 's3cret', codecs: ['PCMU', 'opus'], tone: 600, record: 'o.wav', dtmf: '1#', durationS: 4, json: true });
  });

  it('has defaults: PCMA,PCMU, 440 Hz calling and 1000 Hz answering, 10 s, loopback listener', () => {
    expect(parsePhoneArgs('call', ['sip:1@127.0.0.1'])).toMatchObject({ codecs: ['PCMA', 'PCMU'], tone: 440, durationS: 10, answerTimeoutS: 30, json: false, dtmf: '' });
    expect(parsePhoneArgs('answer', [])).toMatchObject({ tone: 1000, durationS: 0, listen: { protocol: 'udp', address: '127.0.0.1', port: 5062 } });
    expect(parsePhoneArgs('call', ['sip:1@127.0.0.1', '--play', 'a.wav'])).toMatchObject({ tone: 0, play: 'a.wav' });
    expect(parsePhoneArgs('call', ['--help'])).toBe('help');
  });

  it.each([
    [['--duration', '3'], 'target: missing'],
    [['sip:a@b', 'sip:c@d'], 'target: one URI expected'],
    [['sip:1@h', '--transport', 'sctp'], '--transport: "sctp" is not udp, tcp or tls'],
    [['sip:1@h', '--user', 'a'], '--password: --user and --password go together'],
    [['sip:1@h', '--user', 'a"b', '--password', 'p'], '--user: must not contain'],
    [['sip:1@h', '--codecs', 'PCMA,G729'], '--codecs: "G729" is not one of PCMA, PCMU, G722, opus'],
    [['sip:1@h', '--tone', '20'], '--tone: 20 Hz: 0 (silence) or 50–3900'],
    [['sip:1@h', '--tone', '5000'], '--tone: 5000 is outside 0–3900'],
    [['sip:1@h', '--tone', 'loud'], '--tone: "loud" is not a whole number'],
    [['sip:1@h', '--tone', '440', '--play', 'a.wav'], '--play: give --play or --tone, not both'],
    [['sip:1@h', '--duration', '0'], '--duration: 0 is outside 1–3600'],
    [['sip:1@h', '--duration', '-1'], '--duration: "-1" is not a whole number'],
    [['sip:1@h', '--duration'], '--duration: needs a value'],
    [['sip:1@h', '--duration', '2', '--duration', '3'], '--duration: given twice'],
    [['sip:1@h', '--dtmf', '12z'], '--dtmf: "z" is not a DTMF digit'],
    [['sip:1@h', '--json=yes'], '--json: takes no value'],
    [['sip:1@h', '--frobnicate', '1'], '--frobnicate: unknown option for tandem call'],
    [['sip:1@h', '--listen', 'udp:127.0.0.1:1'], '--listen: unknown option for tandem call'],
    [['sip:1@h', '--log-level', 'loud'], '--log-level: "loud" is not'],
  ])('call %j → %s', (argv, why) => {
    expect(() => parsePhoneArgs('call', argv)).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringContaining(why) }));
  });

  it.each([
    [['--listen', 'udp:localhost:5060'], '--listen: "udp:localhost:5060" is not udp:IP:PORT'],
    [['--listen', 'tls:127.0.0.1:5061'], 'is not udp:IP:PORT or tcp:IP:PORT'],
    [['--listen', 'udp:127.0.0.300:5060'], '--listen: 127.0.0.300 is not an IPv4 address'],
    [['--listen', 'udp:127.0.0.1:70000'], '--listen: 70000 is outside 0–65535'],
    [['--user', 'a', '--password', 'b'], '--user: unknown option for tandem answer'],
    [['sip:1@h'], 'unexpected argument'],
  ])('answer %j → %s', (argv, why) => {
    expect(() => parsePhoneArgs('answer', argv)).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringContaining(why) }));
  });
});

describe('the phone\'s SDP', () => {
  const ours = offeredCodecs(['PCMA', 'PCMU', 'opus']);

  it('offers each codec and telephone-event at each clock rate', () => {
    const sdp = buildSdp({ address: '127.0.0.1', port: 4000, sessionId: 1, version: 1, codecs: ours });
    expect(sdp).toContain('m=audio 4000 RTP/AVP 8 0 111 101 102\r\n');
    expect(sdp).toContain('a=rtpmap:111 opus/48000/2');
    expect(sdp).toContain('a=rtpmap:101 telephone-event/8000');
    expect(sdp).toContain('a=rtpmap:102 telephone-event/48000');
  });

  it('agrees on the first codec of theirs that we have, with their PTs', () => {
    const answer = 'v=0\r\no=x 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18 0 96\r\na=rtpmap:96 telephone-event/8000\r\n';
    expect(agreeMedia(answer, ours)).toEqual({ address: '10.0.0.1', port: 5000, codec: { name: 'PCMU', pt: 0, clockRate: 8000 }, dtmfPt: 96 });
  });

  it.each([
    ['garbage', 'not sdp at all', 'BAD_SDP'],
    ['no audio', 'v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n', 'BAD_SDP'],
    ['no common codec', 'v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18\r\n', 'CODEC'],
  ])('refuses %s', (_n, sdp, code) => {
    expect(() => agreeMedia(sdp, ours)).toThrow(expect.objectContaining({ code }));
  });
});

describe('the target URI', () => {
  it('takes sip: and sips: URIs, the transport from --transport, else from ;transport=', () => {
    const u = parseTarget('sip:100@127.0.0.1:5080;transport=tcp');
    expect(u).toMatchObject({ host: '127.0.0.1', port: 5080, user: '100' });
    expect(targetTransport(u, undefined)).toBe('tcp');
    expect(targetTransport(u, 'udp')).toBe('udp');
    expect(targetTransport(parseTarget('sips:trunk.example.com'), undefined)).toBeUndefined();
  });

  it.each([
    ['tel:+4930123', 'only sip: and sips: URIs can be called'],
    ['http://example.com/', 'only sip: and sips: URIs'],
    ['sip:', 'not a SIP URI'],
    ['100@127.0.0.1', 'not a SIP URI'],
    ['sip:1@[::1', 'not a SIP URI'],
  ])('refuses %j', (text, why) => {
    expect(() => parseTarget(text)).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringContaining(why) }));
  });

  it('refuses a ;transport= it cannot speak', () => {
    expect(() => targetTransport(parseTarget('sip:1@127.0.0.1;transport=sctp'), undefined)).toThrow(/target: transport sctp is not udp, tcp or tls/);
  });
});
