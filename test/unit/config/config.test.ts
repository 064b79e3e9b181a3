import { describe, it, expect } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, helpText } from '../../../src/config/load.js';

describe('command line and config file', () => {
  it('defaults to loopback, ng on 22222 and media ports 30000–40000', () => {
    const r = parseArgs([]);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config.interface).toBe('127.0.0.1');
    expect(r.config.listenNg).toEqual({ address: '127.0.0.1', port: 22222 });
    expect([r.config.portMin, r.config.portMax]).toEqual([30000, 40000]);
    expect(r.config.numThreads).toBeGreaterThan(0);
  });

  it('takes rtpengine spellings, with = or a separate value', () => {
    const r = parseArgs(['--interface=127.0.0.2', '--listen-ng', '127.0.0.1:2223', '--port-min=20000', '--port-max=20099', '--num-threads=3', '--log-level=warn', '--timeout=5']);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config).toMatchObject({ interface: '127.0.0.2', listenNg: { address: '127.0.0.1', port: 2223 }, portMin: 20000, portMax: 20099, numThreads: 3, logLevel: 'warn', timeout: 5 });
  });

  it('names the option in every error', () => {
    expect(() => parseArgs(['--port-min=abc'])).toThrow(/--port-min/);
    expect(() => parseArgs(['--interface=nowhere'])).toThrow(/--interface/);
    expect(() => parseArgs(['--listen-ng=127.0.0.1'])).toThrow(/--listen-ng/);
    expect(() => parseArgs(['--num-threads=0'])).toThrow(/--num-threads/);
    expect(() => parseArgs(['--log-level=loud'])).toThrow(/--log-level/);
    expect(() => parseArgs(['--frobnicate=1'])).toThrow(/--frobnicate/);
    expect(() => parseArgs(['--port-min=40000', '--port-max=30000'])).toThrow(/--port-min/);
    expect(() => parseArgs(['--port-max'])).toThrow(/--port-max: needs a value/);
    expect(() => parseArgs(['--max-media-per-call=0'])).toThrow(/--max-media-per-call/);
    expect(() => parseArgs(['--max-media-per-call=many'])).toThrow(/--max-media-per-call/);
  });

  it('caps m= lines per call at 16 unless told otherwise', () => {
    const d = parseArgs([]);
    const r = parseArgs(['--max-media-per-call=4']);
    if (d.kind !== 'run' || r.kind !== 'run') throw new Error('expected run');
    expect(d.config.maxMediaPerCall).toBe(16);
    expect(r.config.maxMediaPerCall).toBe(4);
    expect(helpText()).toContain('--max-media-per-call');
  });

  it('reads a [tandem] config file; the command line wins; errors name file, line and key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-cfg-'));
    const good = join(dir, 'good.conf');
    writeFileSync(good, '# comment\n[tandem]\ninterface = 127.0.0.3\nport-min = 31000\nport_max = 31999\n');
    const r = parseArgs([`--config=${good}`, '--port-max=32000']);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config).toMatchObject({ interface: '127.0.0.3', portMin: 31000, portMax: 32000 });
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, '[tandem]\nport-min = lots\n');
    expect(() => parseArgs([`--config=${bad}`])).toThrow(/bad\.conf:2: port-min/);
    expect(() => parseArgs([`--config=${join(dir, 'missing.conf')}`])).toThrow(/--config-file: cannot read/);
  });

  it('lists every option in --help', () => {
    expect(parseArgs(['--help']).kind).toBe('help');
    for (const o of ['--interface', '--listen-ng', '--port-min', '--port-max', '--num-threads', '--config', '--log-level']) expect(helpText()).toContain(o);
  });
});

describe('SIP options', () => {
  const run = (args: string[]) => {
    const r = parseArgs(args);
    if (r.kind !== 'run') throw new Error('expected run');
    return r.config;
  };

  it('defaults to SIP on 127.0.0.1:5060 over UDP and TCP, local media, RFC 3261 timers', () => {
    const c = run([]);
    expect(c.listenSip).toEqual([
      { protocol: 'udp', address: '127.0.0.1', port: 5060 },
      { protocol: 'tcp', address: '127.0.0.1', port: 5060 },
    ]);
    expect(c.media).toEqual({ kind: 'local' });
    expect([c.sipT1, c.sipT2, c.sipT4]).toEqual([500, 4000, 5000]);
    expect(c.uaDeny).toContain('friendly-scanner');
  });

  it('reads listeners, route, leg-B policy, media plane and timers', () => {
    const c = run([
      '--listen-sip=udp:127.0.0.1:5070,tls:127.0.0.1:5071', '--tls-cert=c.pem', '--tls-key=k.pem',
      '--route=sip:127.0.0.1:5080;transport=tcp', '--b-codecs=PCMU,8', '--b-ptime=30', '--b-transcode=no',
      '--media=ng:127.0.0.1:2223', '--sip-t1=100', '--sip-t2=800', '--ua-deny=none', '--trusted-proxy=127.0.0.0/8',
    ]);
    expect(c.listenSip).toEqual([
      { protocol: 'udp', address: '127.0.0.1', port: 5070 },
      { protocol: 'tls', address: '127.0.0.1', port: 5071 },
    ]);
    expect(c).toMatchObject({ route: 'sip:127.0.0.1:5080;transport=tcp', bCodecs: ['PCMU', '8'], bPtime: 30, bTranscode: false, sipT1: 100, sipT2: 800, uaDeny: [], trustedProxies: ['127.0.0.0/8'] });
    expect(c.media).toEqual({ kind: 'ng', address: '127.0.0.1', port: 2223 });
    expect(run(['--listen-sip=none']).listenSip).toEqual([]);
    expect(run(['--listen-sip=ws:127.0.0.1:8080']).listenSip).toEqual([{ protocol: 'ws', address: '127.0.0.1', port: 8080 }]);
    expect(run(['--listen-sip=127.0.0.1:6000']).listenSip.map((l) => l.protocol)).toEqual(['udp', 'tcp']);
  });

  it('names the option in every SIP error', () => {
    expect(() => run(['--listen-sip=sctp:127.0.0.1:80'])).toThrow(/--listen-sip/);
    expect(() => run(['--listen-sip=wss:127.0.0.1:8443'])).toThrow(/tls or wss listener needs --tls-cert/);
    expect(() => run(['--listen-sip=tls:127.0.0.1:5061'])).toThrow(/tls or wss listener needs --tls-cert/);
    expect(() => run(['--route=http://x'])).toThrow(/--route/);
    expect(() => run(['--b-codecs=PCMU'])).toThrow(/--b-codecs\/--b-ptime\/--b-srtp\/--b-ice: only with --route/);
    expect(() => run(['--b-ice=lite'])).toThrow(/only with --route/);
    expect(() => run(['--route=sip:127.0.0.1', '--b-srtp=zrtp'])).toThrow(/--b-srtp: "zrtp" must be dtls, sdes or none/);
    expect(() => run(['--route=sip:127.0.0.1', '--b-ice=full'])).toThrow(/--b-ice: "full" must be lite or remove/);
    expect(run(['--route=sip:127.0.0.1', '--b-srtp=dtls', '--b-ice=remove'])).toMatchObject({ bSrtp: 'dtls', bIce: 'remove' });
    expect(() => run(['--route=sip:127.0.0.1', '--b-codecs=PC MU'])).toThrow(/--b-codecs/);
    expect(() => run(['--route=sip:127.0.0.1', '--b-ptime=5'])).toThrow(/--b-ptime/);
    expect(() => run(['--media=ng:localhost:2223'])).toThrow(/--media/);
    expect(() => run(['--media=ng:0.0.0.0:2223'])).toThrow(/--media: "0.0.0.0" is not an address a media server answers from/);
    expect(() => run(['--media=ng:[::]:2223'])).toThrow(/--media: "::"/);
    expect(() => run(['--sip-t1=1000', '--sip-t2=500'])).toThrow(/--sip-t2/);
    expect(() => run(['--route=sip:127.0.0.1', '--routes-file=r.json'])).toThrow(/--route and --routes-file/);
    expect(() => run(['--trusted-proxy=evil'])).toThrow(/--trusted-proxy/);
  });
});

describe('--ng-allow (issue 10: hostile peers)', () => {
  const run = (argv: string[]) => {
    const r = parseArgs(argv);
    if (r.kind !== 'run') throw new Error('expected run');
    return r.config;
  };

  it('is unset by default (every source that reaches --listen-ng), and takes IPs and CIDRs of both families', () => {
    expect(run([]).ngAllow).toBeUndefined();
    expect(run(['--ng-allow=127.0.0.1, 10.0.0.0/24,::1,fd00::/8']).ngAllow).toEqual(['127.0.0.1', '10.0.0.0/24', '::1', 'fd00::/8']);
    expect(helpText()).toContain('--ng-allow');
  });

  it('names the option and the bad entry; an empty list is an error, not "allow nobody"', () => {
    expect(() => run(['--ng-allow=127.0.0.1,evil'])).toThrow(/--ng-allow: "evil" is not an IP address or CIDR/);
    expect(() => run(['--ng-allow=10.0.0.0/33'])).toThrow(/--ng-allow: "10.0.0.0\/33": prefix \/33 is longer than 32/);
    expect(() => run(['--ng-allow=::1/129'])).toThrow(/--ng-allow/);
    expect(() => run(['--ng-allow=127.0.0.1/'])).toThrow(/--ng-allow/);
    expect(() => run(['--ng-allow=none'])).toThrow(/--ng-allow: needs at least one IP or CIDR/);
  });

  it('is read from a [tandem] file as ng-allow (or ng_allow), errors naming file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-cfg-'));
    const good = join(dir, 'good.conf');
    writeFileSync(good, '[tandem]\nng_allow = 127.0.0.0/8\n');
    expect(run([`--config=${good}`]).ngAllow).toEqual(['127.0.0.0/8']);
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, '[tandem]\n\nng-allow = 300.1.1.1\n');
    expect(() => run([`--config=${bad}`])).toThrow(/bad\.conf:3: ng-allow: "300.1.1.1" is not an IP/);
  });
});
