import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addressMatches, isTrustedSource, loadRoutesFile, orderTargets, parseRoutes, parseTargetUri, selectRoute, singleTargetTable,
  type Route, type RouteTarget,
} from '../../../src/b2bua/routes.js';
import { isTandemError } from '../../../src/common/errors.js';

const example = {
  routes: [
    {
      name: 'trunk',
      match: { userPrefix: '00', domain: 'example.com', source: '127.0.0.0/8' },
      targets: [{ uri: 'sip:127.0.0.1:5080;transport=udp', weight: 1, priority: 1 }],
      policy: { a: { codecs: null }, b: { codecs: ['PCMA'], ptime: 20, transcode: true, strip: [], keep: [] } },
    },
    {
      name: 'pbx',
      match: { source: '2001:db8::/32' },
      targets: [
        { uri: 'sips:[2001:db8::10]', priority: 1 },
        { uri: 'sip:192.0.2.20;transport=tcp', priority: 1, weight: 3 },
        { uri: 'sip:192.0.2.21:5070;transport=TLS', priority: 2 },
      ],
      policy: { a: { strip: ['G729', 18], keep: ['8'] } },
    },
    { name: 'host', match: { source: '10.1.2.3' }, targets: [{ uri: 'sip:user@192.0.2.30' }] },
    { targets: [{ uri: 'sip:192.0.2.40' }] },
  ],
  trustedProxySources: ['127.0.0.1', '192.168.0.0/16', 'fd00::/8'],
};
const table = parseRoutes(JSON.stringify(example, null, 2), 'routes.json');

/** The CONFIG error message `fn` throws. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isTandemError(err) && err.code === 'CONFIG').toBe(true);
    return (err as Error).message;
  }
  throw new Error('no error thrown');
}

const parse = (text: string): string => errorOf(() => parseRoutes(text, 'r.json'));
/** One route with the given target/policy JSON pieces. */
const oneRoute = (routeJson: string): string => parse(`{"routes": [${routeJson}]}`);

describe('routes file: good input', () => {
  it('reads the documented example: match, targets with endpoints, policy with defaults', () => {
    const r = table.routes[0];
    expect(r.name).toBe('trunk');
    expect(r.match).toEqual({ userPrefix: '00', domain: 'example.com', source: '127.0.0.0/8' });
    expect(r.targets).toEqual([{ uri: 'sip:127.0.0.1:5080;transport=udp', endpoint: { protocol: 'udp', address: '127.0.0.1', port: 5080 }, weight: 1, priority: 1 }]);
    expect(r.policy.a).toEqual({ transcode: true, strip: [], keep: [] });
    expect(r.policy.b).toEqual({ codecs: ['PCMA'], ptime: 20, transcode: true, strip: [], keep: [] });
    expect(table.trustedProxySources).toEqual(['127.0.0.1', '192.168.0.0/16', 'fd00::/8']);
  });

  it('derives transport and default port: sips → tls 5061, transport=tcp → 5060, transport=TLS → tls; IPv6 without brackets', () => {
    expect(table.routes[1].targets.map((t) => t.endpoint)).toEqual([
      { protocol: 'tls', address: '2001:db8::10', port: 5061 },
      { protocol: 'tcp', address: '192.0.2.20', port: 5060 },
      { protocol: 'tls', address: '192.0.2.21', port: 5070 },
    ]);
    expect(table.routes[1].targets.map((t) => [t.weight, t.priority])).toEqual([[1, 1], [3, 1], [1, 2]]);
    expect(table.routes[1].policy.a).toMatchObject({ strip: ['G729', '18'], keep: ['8'] });
    expect(table.routes[3].name).toBe('routes[3]');
    expect(table.routes[3].targets[0].priority).toBe(1);
  });

  it('loads from a file; a missing file is a CONFIG error naming the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-routes-'));
    const file = join(dir, 'routes.json');
    writeFileSync(file, JSON.stringify(example));
    expect(loadRoutesFile(file).routes.map((r) => r.name)).toEqual(['trunk', 'pbx', 'host', 'routes[3]']);
    expect(errorOf(() => loadRoutesFile(join(dir, 'nope.json')))).toContain(join(dir, 'nope.json'));
    writeFileSync(file, '{"routes": [{"targets": []}]}');
    expect(errorOf(() => loadRoutesFile(file))).toBe(`${file}: routes[0].targets: must be a non-empty list`);
  });

  it('singleTargetTable: one catch-all route with leg B\'s policy over the defaults', () => {
    const t = singleTargetTable('sip:127.0.0.1:5080;transport=tcp', { codecs: ['PCMU'], ptime: 20 });
    expect(t.trustedProxySources).toEqual([]);
    expect(t.routes).toHaveLength(1);
    expect(t.routes[0].targets[0].endpoint).toEqual({ protocol: 'tcp', address: '127.0.0.1', port: 5080 });
    expect(t.routes[0].policy.b).toEqual({ codecs: ['PCMU'], ptime: 20, transcode: true, strip: [], keep: [] });
    expect(selectRoute(t, { source: '203.0.113.9' })?.name).toBe('default');
    // A name is kept and resolved per call (RFC 3263): the route says what to look up.
    expect(singleTargetTable('sip:pbx.example.com').routes[0].targets[0].lookup).toEqual({ host: 'pbx.example.com', secure: false });
    expect(errorOf(() => singleTargetTable('sip:pbx_x.example.com'))).toMatch(/^--route: .*invalid host/);
  });
});

describe('routes file: every bad input names the file and key', () => {
  it('bad JSON reports line and column', () => {
    expect(parse('{"routes": [')).toMatch(/^r\.json: not valid JSON at line 1, column 13 \(offset 12\)/);
    expect(parse('{\n  "routes": [],\n  "x": tru\n}')).toMatch(/^r\.json: not valid JSON at line 3, column 8/);
    expect(parse('{"routes": [],}')).toMatch(/line 1, column 15/);
  });

  it('top level: not an object, missing or wrong routes, unknown key', () => {
    expect(parse('[]')).toBe('r.json: (top): must be an object with "routes"');
    expect(parse('{}')).toBe('r.json: routes: missing');
    expect(parse('{"routes": {}}')).toBe('r.json: routes: must be a list');
    expect(parse('{"routes": [], "route": []}')).toMatch(/^r\.json: route: unknown key/);
  });

  it('missing or empty targets', () => {
    expect(oneRoute('{"name": "x"}')).toMatch(/^r\.json: routes\[0\]\.targets: missing/);
    expect(oneRoute('{"targets": []}')).toBe('r.json: routes[0].targets: must be a non-empty list');
    expect(parse('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}]}, {"targets": {}}]}')).toMatch(/^r\.json: routes\[1\]\.targets:/);
  });

  it('bad target URIs', () => {
    expect(oneRoute('{"targets": [{"uri": "sip:127.0.0.1"}, {"uri": "sip:pbx..example.com"}]}')).toMatch(/^r\.json: routes\[0\]\.targets\[1\]\.uri: .*invalid host/);
    expect(oneRoute('{"targets": [{"uri": "sips:pbx.example.com", "tlsVerify": false}]}')).toMatch(/targets\[0\]\.tlsVerify: only for a target given by IP address/);
    expect(oneRoute('{"targets": [{"uri": "http://127.0.0.1"}]}')).toMatch(/^r\.json: routes\[0\]\.targets\[0\]\.uri: .*sip: or sips:/);
    expect(oneRoute('{"targets": [{"uri": "sip:127.0.0.1;transport=sctp"}]}')).toMatch(/targets\[0\]\.uri: transport "sctp"/);
    expect(oneRoute('{"targets": [{"uri": "sips:127.0.0.1;transport=udp"}]}')).toMatch(/targets\[0\]\.uri: a sips: URI cannot use transport=udp/);
    expect(oneRoute('{"targets": [{"uri": "sip:127.0.0.1:0"}]}')).toMatch(/targets\[0\]\.uri/);
    expect(oneRoute('{"targets": [{"uri": "not a uri"}]}')).toMatch(/targets\[0\]\.uri: "not a uri" is not a SIP URI/);
    expect(oneRoute('{"targets": [{"uri": ""}]}')).toBe('r.json: routes[0].targets[0].uri: must be a non-empty string');
    expect(oneRoute('{"targets": [{}]}')).toBe('r.json: routes[0].targets[0].uri: must be a non-empty string');
  });

  it('bad CIDRs in match.source and trustedProxySources', () => {
    const t = '"targets": [{"uri": "sip:127.0.0.1"}]';
    for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0/8', '2001:db8::/129', 'example.com', '10.0.0.0/8/1']) {
      expect(oneRoute(`{"match": {"source": "${bad}"}, ${t}}`)).toMatch(/^r\.json: routes\[0\]\.match\.source: ".*" is not an IP address or CIDR/);
    }
    expect(parse('{"routes": [], "trustedProxySources": ["127.0.0.1", "nope"]}')).toMatch(/^r\.json: trustedProxySources\[1\]: "nope"/);
    expect(parse('{"routes": [], "trustedProxySources": "127.0.0.1"}')).toMatch(/^r\.json: trustedProxySources: must be a list/);
  });

  it('unknown keys at every level', () => {
    const t = '"targets": [{"uri": "sip:127.0.0.1"}]';
    expect(oneRoute(`{${t}, "colour": "red"}`)).toMatch(/^r\.json: routes\[0\]\.colour: unknown key/);
    expect(oneRoute(`{"match": {"userprefix": "00"}, ${t}}`)).toMatch(/^r\.json: routes\[0\]\.match\.userprefix: unknown key/);
    expect(oneRoute('{"targets": [{"uri": "sip:127.0.0.1", "port": 5060}]}')).toMatch(/^r\.json: routes\[0\]\.targets\[0\]\.port: unknown key/);
    expect(oneRoute(`{${t}, "policy": {"c": {}}}`)).toMatch(/^r\.json: routes\[0\]\.policy\.c: unknown key/);
    expect(oneRoute(`{${t}, "policy": {"b": {"codec": ["PCMA"]}}}`)).toMatch(/^r\.json: routes\[0\]\.policy\.b\.codec: unknown key/);
  });

  it('wrong types and ranges', () => {
    const t = '"targets": [{"uri": "sip:127.0.0.1"}]';
    const cases: [string, RegExp][] = [
      [`{"name": 5, ${t}}`, /routes\[0\]\.name: must be a non-empty string/],
      [`{"match": "00", ${t}}`, /routes\[0\]\.match: must be an object/],
      [`{"match": {"userPrefix": 0}, ${t}}`, /routes\[0\]\.match\.userPrefix: must be a non-empty string/],
      ['{"targets": [{"uri": "sip:127.0.0.1", "weight": "1"}]}', /routes\[0\]\.targets\[0\]\.weight: must be a whole number 0–65535/],
      ['{"targets": [{"uri": "sip:127.0.0.1", "weight": -1}]}', /routes\[0\]\.targets\[0\]\.weight/],
      ['{"targets": [{"uri": "sip:127.0.0.1", "priority": 1.5}]}', /routes\[0\]\.targets\[0\]\.priority/],
      ['{"targets": ["sip:127.0.0.1"]}', /routes\[0\]\.targets\[0\]: must be an object/],
      [`{${t}, "policy": []}`, /routes\[0\]\.policy: must be an object/],
      [`{${t}, "policy": {"b": "PCMA"}}`, /routes\[0\]\.policy\.b: must be an object/],
      [`{${t}, "policy": {"b": {"codecs": "PCMA"}}}`, /routes\[0\]\.policy\.b\.codecs: must be a list/],
      [`{${t}, "policy": {"b": {"codecs": []}}}`, /routes\[0\]\.policy\.b\.codecs: must name at least one codec/],
      [`{${t}, "policy": {"b": {"codecs": ["PCMA", 200]}}}`, /routes\[0\]\.policy\.b\.codecs\[1\]: payload type 200 is not 0–127/],
      [`{${t}, "policy": {"b": {"codecs": ["PC MA"]}}}`, /routes\[0\]\.policy\.b\.codecs\[0\]: "PC MA" is not a codec name/],
      [`{${t}, "policy": {"b": {"ptime": "20"}}}`, /routes\[0\]\.policy\.b\.ptime: must be a whole number 10–200/],
      [`{${t}, "policy": {"b": {"ptime": 5}}}`, /routes\[0\]\.policy\.b\.ptime/],
      [`{${t}, "policy": {"b": {"transcode": "yes"}}}`, /routes\[0\]\.policy\.b\.transcode: must be true or false/],
      [`{${t}, "policy": {"a": {"strip": "G729"}}}`, /routes\[0\]\.policy\.a\.strip: must be a list/],
      [`{${t}, "policy": {"a": {"keep": [null]}}}`, /routes\[0\]\.policy\.a\.keep\[0\]: must be a non-empty string/],
      [`{${t}, "policy": {"b": {"srtp": "zrtp"}}}`, /routes\[0\]\.policy\.b\.srtp: must be "dtls", "sdes" or "none"/],
      [`{${t}, "policy": {"a": {"ice": true}}}`, /routes\[0\]\.policy\.a\.ice: must be "lite" or "remove"/],
    ];
    for (const [json, want] of cases) expect(oneRoute(json)).toMatch(new RegExp(`^r\\.json: ${want.source}`));
  });
});

describe('route selection', () => {
  it('by user prefix, domain (any case), source CIDR; every given key must match', () => {
    expect(selectRoute(table, { user: '0044123', domain: 'Example.COM', source: '127.0.0.5' })?.name).toBe('trunk');
    expect(selectRoute(table, { user: '0044123', domain: 'example.org', source: '127.0.0.5' })?.name).toBe('routes[3]');
    expect(selectRoute(table, { user: '44123', domain: 'example.com', source: '127.0.0.5' })?.name).toBe('routes[3]');
    expect(selectRoute(table, { domain: 'example.com', source: '127.0.0.5' })?.name).toBe('routes[3]'); // no user: prefix cannot match
    expect(selectRoute(table, { user: '0044', domain: 'example.com', source: '128.0.0.1' })?.name).toBe('routes[3]');
  });

  it('IPv4 and IPv6 sources, exact IPs and v4-mapped addresses; no route → undefined', () => {
    expect(selectRoute(table, { source: '2001:db8:1::7' })?.name).toBe('pbx');
    expect(selectRoute(table, { source: '2001:db9::7' })?.name).toBe('routes[3]');
    expect(selectRoute(table, { source: '10.1.2.3' })?.name).toBe('host');
    expect(selectRoute(table, { source: '::ffff:10.1.2.3' })?.name).toBe('host');
    expect(selectRoute(table, { source: '10.1.2.4' })?.name).toBe('routes[3]');
    expect(selectRoute(parseRoutes('{"routes": [{"match": {"source": "10.0.0.0/8"}, "targets": [{"uri": "sip:127.0.0.1"}]}]}', 'x'), { source: '11.0.0.1' })).toBeUndefined();
  });

  it('addressMatches and isTrustedSource', () => {
    expect(addressMatches('192.168.255.1', '192.168.0.0/16')).toBe(true);
    expect(addressMatches('192.169.0.1', '192.168.0.0/16')).toBe(false);
    expect(addressMatches('10.9.8.7', '0.0.0.0/0')).toBe(true);
    expect(addressMatches('fd12::1', 'fd00::/8')).toBe(true);
    expect(addressMatches('fe80::1', 'fd00::/8')).toBe(false);
    // One matcher for every address list (common/cidr, Node's BlockList): an IPv4-mapped source
    // matches its IPv4 network and the mapped IPv6 network alike, as in the SIP and ng access lists.
    expect(addressMatches('::ffff:192.0.2.1', '192.0.2.0/24')).toBe(true);
    expect(addressMatches('::ffff:192.0.2.1', '::ffff:192.0.2.0/120')).toBe(true);
    expect(addressMatches('192.0.2.1', 'not-a-cidr')).toBe(false);
    expect(addressMatches('127.0.0.1', '::1')).toBe(false);
    expect(isTrustedSource(table, '127.0.0.1')).toBe(true);
    expect(isTrustedSource(table, '127.0.0.2')).toBe(false);
    expect(isTrustedSource(table, '192.168.7.7')).toBe(true);
    expect(isTrustedSource(table, 'fd00::5')).toBe(true);
  });

  it('parseTargetUri for X-Outbound-Proxy names where the fault is', () => {
    expect(parseTargetUri('sip:192.0.2.1:5062;transport=tcp', 'X-Outbound-Proxy').endpoint).toEqual({ protocol: 'tcp', address: '192.0.2.1', port: 5062 });
    expect(parseTargetUri('sip:192.0.2.1;transport=tls', 'X').endpoint.port).toBe(5061);
    expect(errorOf(() => parseTargetUri('sip:proxy.example.com', 'X-Outbound-Proxy'))).toMatch(/^X-Outbound-Proxy: host/);
  });
});

describe('target order', () => {
  const t = (name: string, priority: number, weight: number): RouteTarget => ({ uri: `sip:${name}`, endpoint: { protocol: 'udp', address: name, port: 5060 }, priority, weight });
  const route = (targets: RouteTarget[]): Route => ({ name: 'r', match: {}, targets, policy: table.routes[0].policy });
  const addrs = (ts: RouteTarget[]): string[] => ts.map((x) => x.endpoint.address);
  /** A fixed sequence of random() values. */
  const seq = (...values: number[]): (() => number) => {
    let i = 0;
    return () => values[i++ % values.length];
  };

  it('ascending priority, whatever the file order', () => {
    expect(addrs(orderTargets(route([t('c', 3, 1), t('a', 1, 1), t('b', 2, 1)]), seq(0)))).toEqual(['a', 'b', 'c']);
  });

  it('weighted order within one priority is deterministic for a given random()', () => {
    const r = route([t('w1', 1, 1), t('w3', 1, 3), t('backup', 2, 1)]);
    // total 4: 0.1×4 = 0.4 falls in w1's share [0,1); 0.5×4 = 2.0 falls in w3's share [1,4)
    expect(addrs(orderTargets(r, seq(0.1)))).toEqual(['w1', 'w3', 'backup']);
    expect(addrs(orderTargets(r, seq(0.5)))).toEqual(['w3', 'w1', 'backup']);
    expect(addrs(orderTargets(r, seq(0.999999)))).toEqual(['w3', 'w1', 'backup']);
  });

  it('weight 0 comes after the weighted ones of its priority; all-zero keeps file order', () => {
    expect(addrs(orderTargets(route([t('z', 1, 0), t('a', 1, 5), t('b', 1, 5)]), seq(0.7, 0.2)))).toEqual(['b', 'a', 'z']);
    expect(addrs(orderTargets(route([t('x', 1, 0), t('y', 1, 0)]), seq(0.9)))).toEqual(['x', 'y']);
  });

  it('over many draws each target leads in proportion to its weight', () => {
    const r = route([t('w1', 1, 1), t('w3', 1, 3)]);
    let seed = 1;
    const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    let heavy = 0;
    for (let i = 0; i < 4000; i++) if (orderTargets(r, rand)[0].endpoint.address === 'w3') heavy++;
    expect(heavy / 4000).toBeGreaterThan(0.7);
    expect(heavy / 4000).toBeLessThan(0.8);
  });
});
