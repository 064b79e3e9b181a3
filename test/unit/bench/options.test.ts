import { describe, it, expect } from 'vitest';
import { parseOptions } from '../../../bench/lib/options.js';

const parse = (s: string): ReturnType<typeof parseOptions> => parseOptions(s.split(' ').filter(Boolean), '/tmp/out');

describe('bench options: --via sip', () => {
  it('parses the SIP mode options', () => {
    const o = parse('--via sip --compare kamailio-rtpengine --cps 20,50,100 --hold-ms 500 --sip-port 16060 --kamailio-children 8');
    expect(o).toMatchObject({ via: 'sip', compare: 'kamailio-rtpengine', cps: [20, 50, 100], holdMs: 500, sipPort: 16060, kamailioChildren: 8 });
    expect(parse('--via sip --server kamailio-rtpengine --calls 10')).toMatchObject({ via: 'sip', server: 'kamailio-rtpengine', calls: [10] });
    expect(parse('')).toMatchObject({ via: 'ng', holdMs: 1000, sipPort: 15060, kamailioChildren: 4 });
  });

  it('rejects combinations that mean nothing', () => {
    expect(() => parse('--cps 20')).toThrow(/--cps needs --via sip/);
    expect(() => parse('--server kamailio-rtpengine')).toThrow(/needs --via sip/);
    expect(() => parse('--via sip --server rtpengine')).toThrow(/no SIP side/);
    expect(() => parse('--via sip --compare rtpengine')).toThrow(/kamailio-rtpengine/);
    expect(() => parse('--via sip --ng 127.0.0.1:2223')).toThrow(/--ng does not apply/);
    expect(() => parse('--via tcp')).toThrow(/expected ng or sip/);
    expect(() => parse('--via sip --cps 0')).toThrow(/--cps 0/);
  });
});

describe('bench options: --auth and --compare auth', () => {
  it('parses them', () => {
    expect(parse('--via sip --cps 50 --compare auth')).toMatchObject({ compare: 'auth', auth: false, authAlgorithms: ['SHA-256', 'MD5'] });
    expect(parse('--via sip --auth --auth-algorithms md5')).toMatchObject({ auth: true, authAlgorithms: ['MD5'] });
  });

  it('rejects what cannot be run', () => {
    expect(() => parse('--auth')).toThrow(/need --via sip/);
    expect(() => parse('--compare auth')).toThrow(/need --via sip/);
    expect(() => parse('--via sip --server kamailio-rtpengine --auth')).toThrow(/only for Tandem/);
    expect(() => parse('--via sip --compare kamailio-rtpengine --auth')).toThrow(/only for Tandem/);
    expect(() => parse('--via sip --cps 50 --auth --compare auth')).toThrow(/already runs/);
    expect(() => parse('--via sip --calls 50 --compare auth')).toThrow(/needs --cps/);
    expect(() => parse('--via sip --auth-algorithms SHA-512')).toThrow(/--auth-algorithms SHA-512/);
    expect(() => parse('--via sip --auth-algorithms MD5,MD5')).toThrow(/each once/);
  });
});

describe('bench options: the opus scenario', () => {
  it('parses --scenario opus, --ie and --decode-calls', () => {
    expect(parse('--scenario opus --ie 5 --decode-calls 4')).toMatchObject({ scenario: 'opus', ie: 5, decodeCalls: 4 });
    expect(parse('--scenario opus')).toMatchObject({ scenario: 'opus', decodeCalls: 8 });
    expect(parse('').ie).toBeUndefined();
    expect(() => parse('--scenario g729')).toThrow(/transcode, relay, ptime, opus/);
    expect(() => parse('--ie 120')).toThrow(/--ie 120/);
  });
});

describe('bench options: --dtls-setup', () => {
  it('parses the WebRTC setup options and refuses them where they mean nothing', () => {
    expect(parse('--dtls-setup 40 --dtls-concurrency 4 --dtls-ice keep --compare rtpengine')).toMatchObject({ dtlsSetup: 40, dtlsConcurrency: 4, dtlsIce: 'keep', compare: 'rtpengine' });
    expect(parse('')).toMatchObject({ dtlsConcurrency: 1, dtlsIce: 'remove' });
    expect(parse('').dtlsSetup).toBeUndefined();
    expect(() => parse('--dtls-setup 5 --via sip')).toThrow(/not with --via sip/);
    expect(() => parse('--dtls-setup 5 --find-max')).toThrow(/--find-max/);
    expect(() => parse('--dtls-ice maybe')).toThrow(/remove or keep/);
  });
});
