import { describe, it, expect } from 'vitest';
import { addressList, cidrError, isLoopback } from '../../../src/common/cidr.js';
import { LogLimiter } from '../../../src/common/log-limit.js';

describe('address lists (--ng-allow)', () => {
  it('matches IPs and CIDRs of both families, IPv4-mapped IPv6 sources against IPv4 rules', () => {
    const l = addressList(['127.0.0.2', '10.0.0.0/8', 'fd00::/8']);
    expect(l.has('127.0.0.2')).toBe(true);
    expect(l.has('127.0.0.1')).toBe(false);
    expect(l.has('10.200.3.4')).toBe(true);
    expect(l.has('::ffff:10.1.1.1')).toBe(true); // what a dual-stack socket reports
    expect(l.has('::ffff:127.0.0.1')).toBe(false);
    expect(l.has('fd12::1')).toBe(true);
    expect(l.has('fe80::1')).toBe(false);
    expect(l.has('not an address')).toBe(false);
  });

  it('says why an entry is bad', () => {
    expect(cidrError('10.0.0.0/8')).toBeUndefined();
    expect(cidrError('::1')).toBeUndefined();
    expect(cidrError('10.0.0.0/33')).toMatch(/prefix \/33 is longer than 32/);
    expect(cidrError('host.example')).toMatch(/not an IP address or CIDR/);
    expect(cidrError('1.2.3.4/x')).toMatch(/not an IP address or CIDR/);
    expect(() => addressList(['bad'])).toThrow(RangeError);
  });

  it('knows loopback (the ng listener warns when bound beyond it without --ng-allow)', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1']) expect(isLoopback(a)).toBe(false);
  });
});

describe('LogLimiter', () => {
  it('admits the first line per key, then one per interval carrying the suppressed count', () => {
    let now = 1000;
    const l = new LogLimiter(10_000, 1024, () => now);
    expect(l.admit('a')).toBe(0);
    expect(l.admit('a')).toBeUndefined();
    expect(l.admit('a')).toBeUndefined();
    expect(l.admit('b')).toBe(0); // keys are independent
    now += 9_999;
    expect(l.admit('a')).toBeUndefined();
    now += 1;
    expect(l.admit('a')).toBe(3);
    expect(l.admit('a')).toBeUndefined();
  });

  it('keeps a bounded key table: new keys past the cap share one aggregate key', () => {
    const l = new LogLimiter(10_000, 2, () => 0);
    expect(l.admit('s1')).toBe(0);
    expect(l.admit('s2')).toBe(0);
    expect(l.admit('s3')).toBe(0); // the aggregate's first line
    expect(l.admit('s4')).toBeUndefined();
    expect(l.size).toBe(3);
  });

  it('forgets keys quiet for a whole interval', () => {
    let now = 0;
    const l = new LogLimiter(10_000, 1024, () => now);
    l.admit('a');
    now = 19_999;
    l.sweep();
    expect(l.size).toBe(1);
    now = 20_000;
    l.sweep();
    expect(l.size).toBe(0);
    expect(l.admit('a')).toBe(0);
  });
});
