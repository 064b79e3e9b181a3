import { describe, it, expect } from 'vitest';
import { parseRoutes, selectRoute, orderTargets, parseTargetUri, singleTargetTable, isTrustedSource, addressMatches, loadRoutesFile } from '../../../src/b2bua/routes.js';

const good = JSON.stringify({
  routes: [
    {
      name: 'intl',
      match: { userPrefix: '00', source: '10.0.0.0/8' },
      targets: [
        { uri: 'sip:127.0.0.1:5080', priority: 1, weight: 1 },
        { uri: 'sip:127.0.0.2:5080;transport=tcp', priority: 1, weight: 3 },
        { uri: 'sips:[::1]', priority: 2 },
      ],
      policy: { b: { codecs: ['PCMA'], ptime: 20, transcode: true } },
    },
    { name: 'v6', match: { source: '2001:db8::/32' }, targets: [{ uri: 'sip:127.0.0.3' }] },
    { name: 'example', match: { domain: 'Example.COM' }, targets: [{ uri: 'sip:127.0.0.4' }] },
    { name: 'rest', targets: [{ uri: 'sip:127.0.0.5:5090' }] },
  ],
  trustedProxySources: ['127.0.0.1', '192.168.0.0/16'],
});

describe('routes file', () => {
  const table = parseRoutes(good, 'r.json');

  it('reads targets with transports and default ports, and the policy', () => {
    const t = table.routes[0].targets.map((x) => x.endpoint);
    expect(t).toEqual([
      { protocol: 'udp', address: '127.0.0.1', port: 5080 },
      { protocol: 'tcp', address: '127.0.0.2', port: 5080 },
      { protocol: 'tls', address: '::1', port: 5061 },
    ]);
    expect(table.routes[0].policy.b).toMatchObject({ codecs: ['PCMA'], ptime: 20, transcode: true });
    expect(table.routes[0].policy.a.codecs).toBeUndefined();
  });

  it('matches by user prefix, source CIDR (v4 and v6), domain (any case), else the catch-all', () => {
    expect(selectRoute(table, { user: '0044123', source: '10.1.2.3' })?.name).toBe('intl');
    expect(selectRoute(table, { user: '0044123', source: '11.1.2.3' })?.name).toBe('rest');
    expect(selectRoute(table, { user: '123', source: '2001:db8::5' })?.name).toBe('v6');
    expect(selectRoute(table, { domain: 'example.com', source: '127.0.0.1' })?.name).toBe('example');
    expect(selectRoute(parseRoutes('{"routes":[]}', 'x'), { source: '127.0.0.1' })).toBeUndefined();
  });

  it('orders targets by priority, and by weight within one priority', () => {
    const route = table.routes[0];
    // random() = 0.1 × total weight 4 = 0.4 → the first (weight 1) wins; 0.5 → 2.0 → the second.
    expect(orderTargets(route, () => 0.1).map((t) => t.endpoint.address)).toEqual(['127.0.0.1', '127.0.0.2', '::1']);
    expect(orderTargets(route, () => 0.5).map((t) => t.endpoint.address)).toEqual(['127.0.0.2', '127.0.0.1', '::1']);
    // Over many draws the weight-3 target leads about three times as often.
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    let heavyFirst = 0;
    for (let i = 0; i < 4000; i++) if (orderTargets(route, rand)[0].endpoint.address === '127.0.0.2') heavyFirst++;
    expect(heavyFirst / 4000).toBeGreaterThan(0.7);
    expect(heavyFirst / 4000).toBeLessThan(0.8);
  });

  it('every bad input is an error naming the file and the key', () => {
    const bad = (text: string) => () => parseRoutes(text, 'r.json');
    expect(bad('{"routes": [')).toThrow(/r\.json: not valid JSON/);
    expect(bad('[]')).toThrow(/r\.json: \(top\)/);
    expect(bad('{"routes": {}}')).toThrow(/r\.json: routes: must be a list/);
    expect(bad('{"routes": [{"targets": []}]}')).toThrow(/routes\[0\]\.targets: must be a non-empty list/);
    expect(bad('{"routes": [{"targets": [{"uri": "sip:-pbx.example.com"}]}]}')).toThrow(/routes\[0\]\.targets\[0\]\.uri: .*invalid host/);
    expect(bad('{"routes": [{"targets": [{"uri": "http://x"}]}]}')).toThrow(/targets\[0\]\.uri/);
    expect(bad('{"routes": [{"targets": [{"uri": "sip:127.0.0.1;transport=sctp"}]}]}')).toThrow(/transport "sctp"/);
    expect(bad('{"routes": [{"match": {"source": "10.0.0.0/33"}, "targets": [{"uri": "sip:127.0.0.1"}]}]}')).toThrow(/routes\[0\]\.match\.source/);
    expect(bad('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "colour": "red"}]}')).toThrow(/routes\[0\]\.colour: unknown key/);
    expect(bad('{"routes": [{"targets": [{"uri": "sip:127.0.0.1", "weight": -1}]}]}')).toThrow(/targets\[0\]\.weight/);
    expect(bad('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "policy": {"b": {"ptime": "20"}}}]}')).toThrow(/policy\.b\.ptime/);
    expect(bad('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "policy": {"b": {"transcode": "yes"}}}]}')).toThrow(/policy\.b\.transcode/);
    expect(bad('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "policy": {"c": {}}}]}')).toThrow(/policy\.c: unknown key/);
    expect(bad('{"routes": [], "trustedProxySources": ["nope"]}')).toThrow(/trustedProxySources\[0\]/);
    expect(bad('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "policy": {"b": {"srtp": "zrtp"}}}]}')).toThrow(/policy\.b\.srtp: must be "dtls", "sdes" or "none"/);
    expect(bad('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "policy": {"b": {"ice": "full"}}}]}')).toThrow(/policy\.b\.ice: must be "lite" or "remove"/);
    expect(parseRoutes('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "policy": {"b": {"srtp": "sdes"}}}]}', 'r.json').routes[0].policy.b.srtp).toBe('sdes');
    const webrtc = parseRoutes('{"routes": [{"targets": [{"uri": "sip:127.0.0.1"}], "policy": {"b": {"srtp": "dtls", "ice": "remove"}}}]}', 'r.json').routes[0].policy.b;
    expect([webrtc.srtp, webrtc.ice]).toEqual(['dtls', 'remove']);
    expect(() => loadRoutesFile('/nonexistent/routes.json')).toThrow(/--routes-file: cannot read \/nonexistent\/routes\.json/);
  });

  it('--route builds a one-route table; trusted sources match by CIDR', () => {
    const t = singleTargetTable('sip:127.0.0.1:5080;transport=tcp', { codecs: ['PCMU'], ptime: 20 });
    expect(t.routes[0].targets[0].endpoint).toEqual({ protocol: 'tcp', address: '127.0.0.1', port: 5080 });
    expect(t.routes[0].policy.b).toMatchObject({ codecs: ['PCMU'], ptime: 20, transcode: true });
    expect(isTrustedSource(table, '192.168.7.7')).toBe(true);
    expect(isTrustedSource(table, '10.0.0.1')).toBe(false);
    expect(addressMatches('::ffff:127.0.0.1', '127.0.0.0/8')).toBe(true);
    expect(() => parseTargetUri('sip:127.0.0.1:99999', 'x')).toThrow(/x:/);
  });
});
