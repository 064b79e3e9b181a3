import { describe, it, expect } from 'vitest';
import { parseArgs } from '../../../src/config/load.js';
import type { TandemConfig } from '../../../src/config/config.js';

function parse(...argv: string[]): TandemConfig {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected a run');
  return r.config;
}

describe('edge options', () => {
  it('has safe defaults: no access list, pike 30/2 for 60 s, 50 calls per source, overload thresholds', () => {
    const c = parse();
    expect(c.sipAllow).toBeUndefined();
    expect(c.pike).toEqual({ limit: 30, windowMs: 2000 });
    expect([c.pikeBan, c.pikeBanMax, c.maxCallsPerSource, c.overloadLag, c.overloadTransactions, c.overloadMinPorts]).toEqual([60, 3600, 50, 100, 10_000, 16]);
    expect(c.overloadRetryAfter).toEqual({ min: 5, max: 15 });
    expect(c.floodExempt).toEqual(['127.0.0.1', '::1']);
  });

  it('reads every option', () => {
    const c = parse('--sip-allow=10.0.0.0/8,192.0.2.1', '--sip-deny=10.6.6.6', '--pike=100/5', '--pike-ban=10', '--pike-ban-max=20', '--max-calls-per-source=3', '--overload-retry-after=2-4', '--flood-exempt=none', '--listen-sip=udp:127.0.0.1:5060;allow=10.0.0.0/8|192.0.2.0/24;deny=10.6.6.6');
    expect(c.sipAllow).toEqual(['10.0.0.0/8', '192.0.2.1']);
    expect(c.sipDeny).toEqual(['10.6.6.6']);
    expect(c.pike).toEqual({ limit: 100, windowMs: 5000 });
    expect([c.pikeBan, c.pikeBanMax, c.maxCallsPerSource]).toEqual([10, 20, 3]);
    expect(c.overloadRetryAfter).toEqual({ min: 2, max: 4 });
    expect(c.floodExempt).toEqual([]);
    expect(c.listenSip).toEqual([{ protocol: 'udp', address: '127.0.0.1', port: 5060, allow: ['10.0.0.0/8', '192.0.2.0/24'], deny: ['10.6.6.6'] }]);
    expect(parse('--pike=off').pike).toBeUndefined();
  });

  it.each([
    [['--sip-allow=10.0.0.0/33'], /--sip-allow: .*prefix \/33/],
    [['--sip-deny=example.com'], /--sip-deny: "example.com" is not an IP/],
    [['--pike=30'], /--pike: "30" must be N\/SECONDS/],
    [['--pike=0/2'], /--pike: 0 is outside/],
    [['--pike-ban=60', '--pike-ban-max=30'], /--pike-ban-max \(30\) must not be below --pike-ban \(60\)/],
    [['--overload-retry-after=15-5'], /--overload-retry-after: 5 is below 15/],
    [['--max-calls-per-source=-1'], /--max-calls-per-source: "-1" is not a whole number/],
    [['--listen-sip=udp:127.0.0.1:5060;allow=nope'], /--listen-sip: "nope" is not an IP/],
    [['--listen-sip=udp:127.0.0.1:5060;permit=10.0.0.1'], /--listen-sip: "permit=10.0.0.1" .* must be allow=/],
  ])('%j is an error naming the option', (argv, message) => {
    expect(() => parse(...argv)).toThrow(message);
  });
});
