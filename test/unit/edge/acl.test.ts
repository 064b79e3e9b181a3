import { describe, it, expect } from 'vitest';
import { AccessControl } from '../../../src/edge/acl.js';
import { SourceLimits } from '../../../src/edge/acl-sources.js';
import type { SipEndpoint } from '../../../src/sip/transport/types.js';

const udp: SipEndpoint = { protocol: 'udp', address: '127.0.0.1', port: 5060 };
const tcp: SipEndpoint = { protocol: 'tcp', address: '127.0.0.1', port: 5060 };

describe('AccessControl', () => {
  it('lets everything through when nothing is configured', () => {
    const a = new AccessControl({});
    expect(a.active).toBe(false);
    expect(a.admit('203.0.113.9', udp)).toBe(true);
  });

  it('with an allow list, only what it names passes; a deny entry wins over an allow entry; refusals are counted', () => {
    const a = new AccessControl({ allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.6.6.6'] });
    expect(a.admit('10.1.2.3', udp)).toBe(true);
    expect(a.admit('2001:db8::1', udp)).toBe(true);
    expect(a.admit('10.6.6.6', udp)).toBe(false);
    expect(a.admit('192.0.2.1', udp)).toBe(false);
    // a dual-stack socket's IPv4-mapped form cannot slip past an IPv4 rule
    expect(a.admit('::ffff:10.6.6.6', udp)).toBe(false);
    expect(a.counters.denied).toBe(3);
  });

  it('a listener\'s own lists apply on top of the global ones, to that listener only (port 0 = whatever it was given)', () => {
    const a = new AccessControl({ deny: ['192.0.2.66'], listeners: [{ protocol: 'tcp', address: '127.0.0.1', port: 0, allow: ['127.0.0.2'] }] });
    expect(a.admit('127.0.0.2', tcp)).toBe(true);
    expect(a.admit('127.0.0.3', tcp)).toBe(false);
    expect(a.admit('127.0.0.3', udp)).toBe(true);
    expect(a.admit('192.0.2.66', udp)).toBe(false);
  });
});

describe('SourceLimits', () => {
  it('hands out slots up to the limit per source, counts refusals, and takes each slot back once', () => {
    const s = new SourceLimits({ maxCallsPerSource: 2, maxRegistrationsPerSource: 1 });
    const a = s.acquire('call', '192.0.2.1');
    const b = s.acquire('call', '192.0.2.1');
    expect(a && b).toBeDefined();
    expect(s.acquire('call', '192.0.2.1')).toBeUndefined();
    expect(s.acquire('call', '192.0.2.2')).toBeDefined();
    expect(s.acquire('registration', '192.0.2.1')).toBeDefined();
    expect(s.acquire('registration', '192.0.2.1')).toBeUndefined();
    expect(s.counters).toEqual({ refusedCalls: 1, refusedRegistrations: 1 });
    a?.();
    a?.();
    expect(s.count('call', '192.0.2.1')).toBe(1);
    expect(s.acquire('call', '192.0.2.1')).toBeDefined();
    expect(s.acquire('call', '192.0.2.1')).toBeUndefined();
  });

  it('does not limit trusted sources, nor anyone with a limit of 0', () => {
    const s = new SourceLimits({ maxCallsPerSource: 1, maxRegistrationsPerSource: 0, isTrusted: (a) => a === '10.0.0.1' });
    for (let i = 0; i < 10; i++) expect(s.acquire('call', '10.0.0.1')).toBeDefined();
    for (let i = 0; i < 10; i++) expect(s.acquire('registration', '192.0.2.1')).toBeDefined();
  });
});
