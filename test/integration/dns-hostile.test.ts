import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { isIP } from 'node:net';
import { DnsFailure, SipResolver, type SipLookup } from '../../src/sip/dns.js';
import { reply, startScriptedDns, TYPE, type ScriptedDns } from '../helpers/dns-script.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { describeWithPeers } from '../helpers/peers.js';
import { mulberry32 } from '../fuzz/prng.js';
import { mutateBytes } from '../fuzz/mutate.js';

/**
 * Hostile DNS answers through node:dns (c-ares) as they come off the network, not through a fake
 * backend: a scripted server on loopback sends what no sane server would (CNAME loops, garbage,
 * SERVFAIL, replies with the wrong ID, SRV port 0), and dnsmasq serves hundreds of SRV records
 * (more than a UDP answer holds: c-ares goes over TCP). Each must end in a DnsFailure with a reason
 * or a capped list, never a throw of anything else or a hang, and the resolver must still work after.
 */
async function failure(r: SipResolver, l: SipLookup): Promise<string> {
  const err = await r.resolve(l).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DnsFailure);
  return (err as DnsFailure).message;
}

describe('SipResolver against a scripted DNS server on loopback', () => {
  let dns: ScriptedDns;

  beforeAll(async () => {
    dns = await startScriptedDns((q) => {
      const [label] = q.name.replace(/^_sips?\._(udp|tcp)\./, '').split('.');
      switch (label) {
        case 'loop': // loop.test → loop2.test → loop.test, for every record type
          return reply(q, [{ name: q.name, type: 'CNAME', target: 'loop2.test' }, { name: 'loop2.test', type: 'CNAME', target: q.name }]);
        case 'self':
          return reply(q, [{ name: q.name, type: 'CNAME', target: q.name }]);
        case 'garbage': {
          const b = Buffer.alloc(64, 0xff);
          b.writeUInt16BE(q.id, 0);
          return b;
        }
        case 'short':
          return Buffer.from([q.id >> 8, q.id & 255, 0x84]);
        case 'servfail':
          return reply(q, [], 2);
        case 'nx':
          return reply(q, [], 3);
        case 'wrongid': {
          const b = reply(q, []);
          b.writeUInt16BE(q.id ^ 0x5555, 0);
          return b;
        }
        case 'zero':
          return q.type === TYPE.SRV ? reply(q, [{ name: q.name, type: 'SRV', priority: 1, weight: 0, port: 0, target: 'good.test' }]) : reply(q, []);
        case 'fz':
        case 't': {
          // fz.N.test's SRV (→ t.fz.N.test) and t.fz.N.test's A: good answers damaged by the seeded mutator; the ID is kept so c-ares reads them.
          const n = Number(q.name.split('.').find((x) => /^\d+$/.test(x)) ?? 0);
          const good =
            q.type === TYPE.SRV ? reply(q, [{ name: q.name, type: 'SRV', priority: 1, weight: 1, port: 5060 + n, target: `t.fz.${n}.test` }])
            : q.type === TYPE.A ? reply(q, [{ name: q.name, type: 'A', address: `192.0.2.${n % 250}` }])
            : reply(q, []);
          const rand = mulberry32(n * 7 + q.type);
          // Even N: the header and question stay whole, so c-ares parses the damaged records; odd N: anything but the ID.
          const keep = n % 2 === 0 ? 12 + q.question.length : 2;
          const bad = Buffer.concat([good.subarray(0, keep), mutateBytes(good.subarray(keep), rand).value]);
          bad.writeUInt16BE(q.id, 0);
          return bad;
        }
        case 'good':
          if (q.type === TYPE.SRV) return reply(q, [{ name: q.name, type: 'SRV', priority: 1, weight: 0, port: 5070, target: 'good.test' }]);
          return reply(q, q.type === TYPE.A ? [{ name: q.name, type: 'A', address: '192.0.2.7' }] : []);
        default: // silent.test and anything else: no answer at all
          return undefined;
      }
    });
  });

  afterAll(() => dns?.close());

  it('CNAME loops, garbage, a short datagram, SERVFAIL, NXDOMAIN and all-port-0 SRV are DnsFailures with a reason; the same resolver then resolves a good name', async () => {
    const r = new SipResolver({ servers: [`127.0.0.1:${dns.port}`], maxResolveMs: 5000 });
    const cases: [string, RegExp][] = [
      ['loop.test', /loop\.test did not resolve: no usable address record/],
      ['self.test', /self\.test did not resolve: no usable address record/],
      ['garbage.test', /garbage\.test did not resolve: EBADRESP/],
      ['short.test', /short\.test did not resolve: EBADRESP/],
      ['servfail.test', /servfail\.test did not resolve: ESERVFAIL/],
      ['nx.test', /nx\.test did not resolve: no such name \(NXDOMAIN\): nx\.test$/],
      ['zero.test', /zero\.test did not resolve: SRV _sip\._udp\.zero\.test: 1 record, none usable/],
    ];
    for (const [host, reason] of cases) expect(await failure(r, { host, secure: false })).toMatch(reason);
    expect(r.counters.failures).toBe(cases.length);
    // Positive control: the server and the resolver work; no NAPTR → SRV _sip._udp then _sip._tcp → A.
    expect(await r.resolve({ host: 'good.test', secure: false })).toEqual([
      { protocol: 'udp', address: '192.0.2.7', port: 5070 },
      { protocol: 'tcp', address: '192.0.2.7', port: 5070 },
    ]);
  });

  it('300 seeded mutations of good SRV and A answers: each resolution ends in sane endpoints or a DnsFailure, and the resolver still works', async () => {
    const r = new SipResolver({ servers: [`127.0.0.1:${dns.port}`], maxResolveMs: 150 });
    const N = 300;
    // One after the other: c-ares drops its socket on a reply it cannot read, which would make
    // parallel resolutions wait for one another's damage rather than their own.
    const results: unknown[] = [];
    for (let n = 0; n < N; n++) results.push(await r.resolve({ host: `fz.${n}.test`, secure: false, transport: 'udp' }).then((eps) => eps, (e: unknown) => e));
    let resolved = 0;
    let failed = 0;
    for (const x of results) {
      if (x instanceof DnsFailure) {
        failed++;
        expect(x.message).toMatch(/^fz\.\d+\.test did not resolve: [\x20-\x7e]+$/);
      } else if (Array.isArray(x)) {
        resolved++;
        for (const e of x as { protocol: string; address: string; port: number }[]) {
          expect(isIP(e.address)).not.toBe(0);
          expect(e.port >= 1 && e.port <= 65535 && e.protocol === 'udp').toBe(true);
        }
      } else throw x;
    }
    // The mutations did damage, and some answers survived it: both paths were taken.
    expect({ resolved: resolved > 0, failed: failed > 0, total: resolved + failed }).toEqual({ resolved: true, failed: true, total: N });
    expect(await r.resolve({ host: 'good.test', secure: false, transport: 'udp' })).toEqual([{ protocol: 'udp', address: '192.0.2.7', port: 5070 }]);
  });

  it('a server that never answers, or answers with the wrong ID, costs one call its deadline, not the resolver\'s minutes of retries', async () => {
    const r = new SipResolver({ servers: [`127.0.0.1:${dns.port}`], maxResolveMs: 200 });
    expect(await failure(r, { host: 'silent.test', secure: false })).toMatch(/silent\.test did not resolve: no answer within 200 ms/);
    expect(await failure(r, { host: 'wrongid.test', secure: false, transport: 'udp' })).toMatch(/wrongid\.test did not resolve: no answer within 200 ms/);
    expect(r.counters.deadlines).toBe(2);
    // The queries did reach the server: it was asked, it just did not (usefully) answer.
    expect(dns.queries.some((q) => q.name === 'silent.test') && dns.queries.some((q) => q.name === '_sip._udp.wrongid.test')).toBe(true);
  });
});

describeWithPeers('SipResolver against dnsmasq serving 300 SRV records (over TCP: too many for UDP)', ['dnsmasq'], () => {
  let dnsmasq: Dnsmasq;
  const N = 300;

  beforeAll(async () => {
    dnsmasq = await startDnsmasq(() => [
      ...Array.from({ length: N }, (_, i) => `--srv-host=_sip._udp.huge.test,h${i}.huge.test,${6000 + i},10,1`),
      ...Array.from({ length: N }, (_, i) => `--host-record=h${i}.huge.test,127.0.${i >> 8}.${(i & 255) || 1}`),
    ], '_sip._udp.huge.test');
  }, 15_000);

  afterAll(() => dnsmasq?.stop());

  it('a name expands to at most maxEndpoints endpoints, after at most that many address lookups; the rest is counted as capped', async () => {
    for (const max of [16, 4]) {
      const r = new SipResolver({ servers: [`127.0.0.1:${dnsmasq.port}`], maxEndpoints: max });
      const out = await r.resolve({ host: 'huge.test', secure: false, transport: 'udp' });
      expect(out).toHaveLength(max);
      expect(new Set(out.map((e) => e.port)).size).toBe(max);
      expect(out.every((e) => e.port >= 6000 && e.port < 6000 + N && e.protocol === 'udp')).toBe(true);
      // SRV, then A and AAAA of each kept target: nothing for the 300 - max left out.
      expect(r.counters.queries).toBeLessThanOrEqual(1 + 2 * max);
      expect(r.counters).toMatchObject({ capped: N - max, skipped: 0, failures: 0 });
    }
  });
});
