import { describe, it, expect } from 'vitest';
import type { NaptrRecord, RecordWithTtl, SrvRecord } from 'node:dns';
import { DnsFailure, SipResolver, srvOrder, type DnsBackend } from '../../../src/sip/dns.js';

/** A zone in memory; a name it lacks answers ENOTFOUND, `broken` names ETIMEOUT. Every query is logged. */
interface Zone {
  naptr?: Record<string, Partial<NaptrRecord>[]>;
  srv?: Record<string, SrvRecord[]>;
  a?: Record<string, RecordWithTtl[]>;
  aaaa?: Record<string, RecordWithTtl[]>;
  broken?: string[];
}

function fakeBackend(zone: Zone): DnsBackend & { log: string[] } {
  const log: string[] = [];
  const answer = <T>(type: string, table: Record<string, T[]> | undefined, name: string): Promise<T[]> => {
    log.push(`${type} ${name}`);
    if (zone.broken?.includes(name)) return Promise.reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' }));
    const r = table?.[name];
    return r === undefined ? Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' })) : Promise.resolve(r);
  };
  const naptrs = (name: string): Promise<NaptrRecord[]> =>
    answer('NAPTR', zone.naptr, name).then((rs) => rs.map((r) => ({ flags: 's', service: 'SIP+D2U', regexp: '', replacement: '', order: 10, preference: 10, ...r })));
  return {
    log,
    resolveNaptr: naptrs,
    resolveSrv: (name) => answer('SRV', zone.srv, name),
    resolve4: (name) => answer('A', zone.a, name),
    resolve6: (name) => answer('AAAA', zone.aaaa, name),
  };
}

const srv = (name: string, port: number, priority = 10, weight = 0): SrvRecord => ({ name, port, priority, weight });
const a = (address: string, ttl = 300): RecordWithTtl => ({ address, ttl });

/** A seeded PRNG (mulberry32): weights are tested on a known sequence, not on luck. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('RFC 3263 §4.1 transport selection', () => {
  it('NAPTR in order/preference → SRV of each SIP service; unknown services, regexps and non-terminal flags are skipped', async () => {
    const backend = fakeBackend({
      naptr: {
        'trunk.test': [
          { service: 'SIP+D2U', order: 20, replacement: '_sip._udp.trunk.test' },
          { service: 'E2U+sip', order: 1, replacement: 'x.trunk.test' },
          { service: 'SIP+D2T', order: 5, regexp: '!^.*$!sip:evil@example.com!', replacement: '' },
          { service: 'SIP+D2T', order: 6, flags: 'u', replacement: '_sip._tcp.evil.test' },
          { service: 'SIP+D2T', order: 10, replacement: '_sip._tcp.trunk.test' },
        ],
      },
      srv: { '_sip._tcp.trunk.test': [srv('t1.trunk.test', 5070)], '_sip._udp.trunk.test': [srv('u1.trunk.test', 5080)] },
      a: { 't1.trunk.test': [a('192.0.2.1')], 'u1.trunk.test': [a('192.0.2.2')] },
    });
    const r = new SipResolver({ backend });
    expect(await r.resolve({ host: 'trunk.test', secure: false })).toEqual([
      { protocol: 'tcp', address: '192.0.2.1', port: 5070 },
      { protocol: 'udp', address: '192.0.2.2', port: 5080 },
    ]);
    expect(r.counters.skipped).toBe(3);
    expect(backend.log).not.toContain('SRV _sip._tcp.evil.test');
  });

  it('sips: takes only SIPS+D2T NAPTRs', async () => {
    const backend = fakeBackend({
      naptr: { 'trunk.test': [{ service: 'SIP+D2U', order: 1, replacement: '_sip._udp.trunk.test' }, { service: 'SIPS+D2T', order: 2, replacement: '_sips._tcp.trunk.test' }] },
      srv: { '_sips._tcp.trunk.test': [srv('t.trunk.test', 5071)], '_sip._udp.trunk.test': [srv('t.trunk.test', 5060)] },
      a: { 't.trunk.test': [a('192.0.2.7')] },
    });
    expect(await new SipResolver({ backend }).resolve({ host: 'trunk.test', secure: true })).toEqual([{ protocol: 'tls', address: '192.0.2.7', port: 5071 }]);
  });

  it('no NAPTR → SRV for UDP then TCP; no SRV → the host A/AAAA on 5060 (5061 for sips:)', async () => {
    const withSrv = fakeBackend({ srv: { '_sip._tcp.trunk.test': [srv('t.trunk.test', 5090)] }, a: { 't.trunk.test': [a('192.0.2.3')] } });
    expect(await new SipResolver({ backend: withSrv }).resolve({ host: 'trunk.test', secure: false })).toEqual([{ protocol: 'tcp', address: '192.0.2.3', port: 5090 }]);
    expect(withSrv.log.slice(0, 3)).toEqual(['NAPTR trunk.test', 'SRV _sip._udp.trunk.test', 'SRV _sip._tcp.trunk.test']);
    const bare = fakeBackend({ a: { 'trunk.test': [a('192.0.2.4')] }, aaaa: { 'trunk.test': [a('2001:db8::4')] } });
    expect(await new SipResolver({ backend: bare }).resolve({ host: 'trunk.test', secure: false })).toEqual([
      { protocol: 'udp', address: '192.0.2.4', port: 5060 },
      { protocol: 'udp', address: '2001:db8::4', port: 5060 },
    ]);
    expect(await new SipResolver({ backend: bare }).resolve({ host: 'trunk.test', secure: true })).toEqual([
      { protocol: 'tls', address: '192.0.2.4', port: 5061 },
      { protocol: 'tls', address: '2001:db8::4', port: 5061 },
    ]);
  });

  it('an explicit port skips NAPTR and SRV; an explicit transport skips NAPTR; a numeric host skips DNS', async () => {
    const backend = fakeBackend({ srv: { '_sip._tcp.trunk.test': [srv('t.trunk.test', 5090)] }, a: { 'trunk.test': [a('192.0.2.5')], 't.trunk.test': [a('192.0.2.6')] } });
    const r = new SipResolver({ backend });
    expect(await r.resolve({ host: 'trunk.test', secure: false, port: 5072 })).toEqual([{ protocol: 'udp', address: '192.0.2.5', port: 5072 }]);
    expect(backend.log.filter((q) => q.startsWith('NAPTR') || q.startsWith('SRV'))).toEqual([]);
    expect(await r.resolve({ host: 'trunk.test', secure: false, transport: 'tcp' })).toEqual([{ protocol: 'tcp', address: '192.0.2.6', port: 5090 }]);
    expect(backend.log.some((q) => q.startsWith('NAPTR'))).toBe(false);
    const before = backend.log.length;
    expect(await r.resolve({ host: '[2001:db8::9]', secure: false })).toEqual([{ protocol: 'udp', address: '2001:db8::9', port: 5060 }]);
    expect(backend.log.length).toBe(before);
  });
});

describe('SRV order (RFC 2782)', () => {
  it('priority first; within one, weighted random on a seeded sequence; weight 0 only by luck of zero', () => {
    const recs = [srv('low', 1, 20, 100), srv('a', 1, 10, 10), srv('b', 1, 10, 90)];
    const random = seeded(42);
    let bFirst = 0;
    for (let i = 0; i < 1000; i++) {
      const o = srvOrder(recs, random).map((r) => r.name);
      expect(o[2]).toBe('low');
      if (o[0] === 'b') bFirst++;
    }
    // b carries 90 of the 100 weight: ~900 of 1000 on this sequence, never all.
    expect(bFirst).toBeGreaterThan(850);
    expect(bFirst).toBeLessThan(950);
    // random() = 0 picks the running sum ≥ 0: the weight-0 record placed first (RFC 2782).
    expect(srvOrder([srv('w', 1, 1, 5), srv('z', 1, 1, 0)], () => 0).map((r) => r.name)).toEqual(['z', 'w']);
    expect(srvOrder([srv('w', 1, 1, 5), srv('z', 1, 1, 0)], () => 0.999).map((r) => r.name)).toEqual(['w', 'z']);
  });
});

describe('hostile and broken answers', () => {
  it('SRV port 0 is skipped; a lone "." target means the service is not available: a DnsFailure, no A fallback', async () => {
    const backend = fakeBackend({
      srv: { '_sip._udp.p0.test': [srv('x.test', 0), srv('y.test', 5060, 20)], '_sip._udp.dot.test': [srv('.', 0)] },
      a: { 'x.test': [a('192.0.2.10')], 'y.test': [a('192.0.2.11')], 'dot.test': [a('192.0.2.12')] },
    });
    const r = new SipResolver({ backend });
    expect(await r.resolve({ host: 'p0.test', secure: false, transport: 'udp' })).toEqual([{ protocol: 'udp', address: '192.0.2.11', port: 5060 }]);
    const err = await r.resolve({ host: 'dot.test', secure: false, transport: 'udp' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsFailure);
    expect((err as DnsFailure).message).toMatch(/dot\.test did not resolve: .*not available/);
    expect(backend.log).not.toContain('A dot.test');
  });

  it('one SRV target whose address lookup times out, or one service that says ".", does not sink the others', async () => {
    const backend = fakeBackend({
      naptr: { 'mixed.test': [{ service: 'SIP+D2T', order: 1, replacement: '_sip._tcp.mixed.test' }, { service: 'SIP+D2U', order: 2, replacement: '_sip._udp.mixed.test' }] },
      srv: { '_sip._tcp.mixed.test': [srv('.', 0)], '_sip._udp.mixed.test': [srv('dead.test', 5060, 1), srv('live.test', 5070, 2)] },
      a: { 'live.test': [a('192.0.2.40')] },
      broken: ['dead.test'],
    });
    expect(await new SipResolver({ backend }).resolve({ host: 'mixed.test', secure: false })).toEqual([{ protocol: 'udp', address: '192.0.2.40', port: 5070 }]);
  });

  it('a huge record set is capped: at most maxEndpoints endpoints and address lookups', async () => {
    const many = Array.from({ length: 500 }, (_, i) => srv(`h${i}.test`, 5060 + (i % 100), i));
    const a4: Record<string, RecordWithTtl[]> = {};
    for (let i = 0; i < 500; i++) a4[`h${i}.test`] = [a(`10.0.${i >> 8}.${i & 255}`)];
    const backend = fakeBackend({ srv: { '_sip._udp.big.test': many }, a: a4 });
    const r = new SipResolver({ backend, maxEndpoints: 8 });
    const out = await r.resolve({ host: 'big.test', secure: false, transport: 'udp' });
    expect(out).toHaveLength(8);
    expect(out[0]).toEqual({ protocol: 'udp', address: '10.0.0.0', port: 5060 });
    expect(backend.log.filter((q) => q.startsWith('A ')).length).toBeLessThanOrEqual(8);
    // Usable records beyond the cap are counted as capped, not as unusable.
    expect(r.counters).toMatchObject({ capped: 492, skipped: 0 });
  });

  it('SRV records that are all unusable (port 0, target "." among others) are no SRV to fall back from: a DnsFailure saying so, no A query of the domain', async () => {
    const backend = fakeBackend({
      srv: { '_sip._udp.zero.test': [srv('x.test', 0), srv('.', 5060, 20)] },
      a: { 'x.test': [a('192.0.2.10')], 'zero.test': [a('192.0.2.12')] },
    });
    const r = new SipResolver({ backend });
    await expect(r.resolve({ host: 'zero.test', secure: false, transport: 'udp' })).rejects.toThrow(/zero\.test did not resolve: SRV _sip\._udp\.zero\.test: 2 records, none usable \(port 0 or no target\)/);
    expect(backend.log).not.toContain('A zero.test');
    expect(r.counters).toMatchObject({ skipped: 2, failures: 1 });
  });

  it('hundreds of NAPTR records for the same few services: one SRV query per distinct service, at most 3, the rest counted as capped', async () => {
    const naptrs = Array.from({ length: 300 }, (_, i) => ({ service: ['SIP+D2U', 'SIP+D2T', 'SIPS+D2T'][i % 3], order: i, replacement: `_sip._x${i % 5}.many.test` }));
    const backend = fakeBackend({ naptr: { 'many.test': naptrs }, srv: { '_sip._x0.many.test': [srv('h.test', 5060)] }, a: { 'h.test': [a('192.0.2.50')] } });
    const r = new SipResolver({ backend });
    expect(await r.resolve({ host: 'many.test', secure: false })).toEqual([{ protocol: 'udp', address: '192.0.2.50', port: 5060 }]);
    expect(backend.log.filter((q) => q.startsWith('SRV '))).toHaveLength(3);
    expect(r.counters.capped).toBeGreaterThan(0);
  });

  it('one resolution stops at its deadline: a server that never answers is a DnsFailure, and what was found before the deadline is used', async () => {
    const never = new Promise<never>(() => undefined);
    const hanging: DnsBackend = { resolveNaptr: () => never, resolveSrv: () => never, resolve4: () => never, resolve6: () => never };
    const r = new SipResolver({ backend: hanging, maxResolveMs: 30 });
    await expect(r.resolve({ host: 'hang.test', secure: false })).rejects.toThrow(/hang\.test did not resolve: no answer within 30 ms/);
    expect(r.counters).toMatchObject({ deadlines: 1, failures: 1 });
    // The first SRV target answers, the second's address queries hang: the call gets the first, not a failure.
    const fake = fakeBackend({ srv: { '_sip._udp.half.test': [srv('fast.test', 5060, 1), srv('slow.test', 5062, 2)] }, a: { 'fast.test': [a('192.0.2.60')] } });
    const partial: DnsBackend = { ...fake, resolve4: (n, o) => (n === 'slow.test' ? never : fake.resolve4(n, o)), resolve6: (n, o) => (n === 'slow.test' ? never : fake.resolve6(n, o)) };
    const r2 = new SipResolver({ backend: partial, maxResolveMs: 30 });
    expect(await r2.resolve({ host: 'half.test', secure: false, transport: 'udp' })).toEqual([{ protocol: 'udp', address: '192.0.2.60', port: 5060 }]);
    expect(r2.counters).toMatchObject({ deadlines: 1, failures: 0 });
    // 16 SRV targets whose address queries hang: after the deadline no further query is even sent.
    const asked: string[] = [];
    const many = fakeBackend({ srv: { '_sip._udp.many.test': Array.from({ length: 16 }, (_, i) => srv(`s${i}.test`, 5060 + i, i)) } });
    const hangs: DnsBackend = { ...many, resolve4: (n) => (asked.push(`A ${n}`), never), resolve6: (n) => (asked.push(`AAAA ${n}`), never) };
    const r3 = new SipResolver({ backend: hangs, maxResolveMs: 30 });
    await expect(r3.resolve({ host: 'many.test', secure: false, transport: 'udp' })).rejects.toThrow(/many\.test did not resolve: no answer within 30 ms$/);
    expect(asked).toEqual(['A s0.test']);
  });

  it('past the deadline, a real error met on the way is named with it', async () => {
    // The first address query fails (ETIMEOUT) before the deadline, the second hangs past it.
    const backend = fakeBackend({ srv: { '_sip._udp.t.test': [srv('dead.test', 5060, 1), srv('hang.test', 5062, 2)] }, broken: ['dead.test'] });
    const never = new Promise<never>(() => undefined);
    const mixed: DnsBackend = { ...backend, resolve4: (n, o) => (n === 'hang.test' ? never : backend.resolve4(n, o)), resolve6: (n, o) => (n === 'hang.test' ? never : backend.resolve6(n, o)) };
    await expect(new SipResolver({ backend: mixed, maxResolveMs: 30 }).resolve({ host: 't.test', secure: false, transport: 'udp' })).rejects.toThrow(/t\.test did not resolve: no answer within 30 ms \(ETIMEOUT\)$/);
  });

  it('the reason tells a name that does not exist (NXDOMAIN, named) from one without address records (ENODATA)', async () => {
    const fail = (code: string) => (): Promise<never> => Promise.reject(Object.assign(new Error(code), { code }));
    const nodata: DnsBackend = { resolveNaptr: fail('ENODATA'), resolveSrv: fail('ENODATA'), resolve4: fail('ENODATA'), resolve6: fail('ENODATA') };
    await expect(new SipResolver({ backend: nodata }).resolve({ host: 'empty.test', secure: false })).rejects.toThrow(/empty\.test did not resolve: no usable address record$/);
    await expect(new SipResolver({ backend: fakeBackend({}) }).resolve({ host: 'nowhere.test', secure: false })).rejects.toThrow(/nowhere\.test did not resolve: no such name \(NXDOMAIN\): nowhere\.test$/);
    // An SRV whose targets do not exist names them (at most three, then a count).
    const dangling = fakeBackend({ srv: { '_sip._udp.d.test': ['t1', 't2', 't3', 't4', 't5'].map((n, i) => srv(`${n}.test`, 5060 + i)) } });
    await expect(new SipResolver({ backend: dangling }).resolve({ host: 'd.test', secure: false, transport: 'udp' })).rejects.toThrow(/d\.test did not resolve: no such name \(NXDOMAIN\): t1\.test, t2\.test, t3\.test and 2 more$/);
    // Names as a server sent them go into a SIP Warning: control characters do not.
    const hostile = fakeBackend({ srv: { '_sip._udp.h.test': [srv('bad\r\nX-Injected: 1\u0000.test', 5060)] } });
    await expect(new SipResolver({ backend: hostile }).resolve({ host: 'h.test', secure: false, transport: 'udp' })).rejects.toThrow(/h\.test did not resolve: no such name \(NXDOMAIN\): bad\?\?X-Injected: 1\?\.test$/);
  });

  it('a name with no records → DnsFailure; a server timeout → DnsFailure naming the code, and it is not cached', async () => {
    const backend = fakeBackend({ broken: ['_sip._udp.slow.test'] });
    const r = new SipResolver({ backend });
    await expect(r.resolve({ host: 'nowhere.test', secure: false })).rejects.toThrow(/nowhere\.test did not resolve/);
    await expect(r.resolve({ host: 'slow.test', secure: false, transport: 'udp' })).rejects.toThrow(/slow\.test did not resolve: ETIMEOUT/);
    await expect(r.resolve({ host: 'slow.test', secure: false, transport: 'udp' })).rejects.toThrow(/ETIMEOUT/);
    expect(backend.log.filter((q) => q === 'SRV _sip._udp.slow.test')).toHaveLength(2);
    expect(r.counters.failures).toBe(3);
  });
});

describe('cache', () => {
  it('A answers live for their TTL, NAPTR/SRV and negative answers for 60 s, on a manual clock', async () => {
    const backend = fakeBackend({ a: { 'trunk.test': [a('192.0.2.20', 30)] } });
    let now = 1_000_000;
    const r = new SipResolver({ backend, now: () => now });
    const l = { host: 'trunk.test', secure: false };
    await r.resolve(l);
    const first = backend.log.length;
    await r.resolve(l);
    expect(backend.log.length).toBe(first);
    expect(r.counters.cacheHits).toBeGreaterThan(0);
    now += 31_000; // the A record's 30 s are over, the negative NAPTR/SRV/AAAA answers' 60 s are not
    await r.resolve(l);
    expect(backend.log.slice(first)).toEqual(['A trunk.test']);
    now += 30_000;
    await r.resolve(l);
    expect(backend.log.slice(first + 1)).toEqual(expect.arrayContaining(['NAPTR trunk.test', 'AAAA trunk.test']));
  });

  it('is bounded: the oldest names go first', async () => {
    const a4: Record<string, RecordWithTtl[]> = {};
    for (let i = 0; i < 50; i++) a4[`n${i}.test`] = [a('192.0.2.30')];
    const r = new SipResolver({ backend: fakeBackend({ a: a4 }), maxCacheEntries: 10 });
    for (let i = 0; i < 50; i++) await r.resolve({ host: `n${i}.test`, secure: false, port: 5060 });
    expect(r.cacheSize).toBeLessThanOrEqual(10);
  });
});
