import { expect, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisLocationStore } from '../../src/state/redis-location.js';
import type { Binding } from '../../src/edge/location.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startRedis } from '../helpers/redis.js';
import { describeWithPeers, itWithPeers } from '../helpers/peers.js';
import { SipPeer, isRequest } from '../helpers/sip-peer.js';
import { isFinalFor, outOfDialog, startB2bua } from '../helpers/b2bua-env.js';
import { sdpOffer } from '../helpers/sip-peer.js';

/** Registrations in Redis (--redis): the location store against a real redis-server, and two Tandems sharing it. */
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function binding(aor: string, contact: string, expiresAt: number): Binding {
  return { aor, contact, q: 1000, expiresAt, callId: 'c', cseq: 1, path: [], flow: { protocol: 'udp', address: '127.0.0.1', port: 5070 }, connectionBound: false };
}

describeWithPeers('registrations in Redis', ['redis'], () => {
  itWithPeers('the location store keeps bindings, their count and their expiry across processes with other clocks', ['redis'], async () => {
    const server = await startRedis();
    cleanups.push(() => server.stop());
    const r1 = new Redis(server.url);
    const r2 = new Redis(server.url);
    cleanups.push(() => r1.quit(), () => r2.quit());
    // Two "processes": their monotonic clocks started at different times.
    const c1 = new FakeClock(1_000);
    const c2 = new FakeClock(500_000);
    const s1 = new RedisLocationStore(r1, c1);
    const s2 = new RedisLocationStore(r2, c2);
    await s1.put(binding('sip:alice@example.com', 'sip:alice@10.0.0.1', c1.now() + 60_000));
    await s1.put(binding('sip:alice@example.com', 'sip:alice@10.0.0.2', c1.now() + 1_000));
    await s1.put(binding('sip:alice@example.com', 'sip:alice@10.0.0.2', c1.now() + 2_000)); // a refresh: still two
    await s1.put(binding('sip:bob@example.com', 'sip:bob@10.0.0.3', c1.now() + 60_000));
    expect(await s2.size()).toBe(3);
    const seen = await s2.get('sip:alice@example.com');
    expect(seen.map((b) => b.contact).sort()).toEqual(['sip:alice@10.0.0.1', 'sip:alice@10.0.0.2']);
    // the same expiry in the other process's clock (within the few ms the test took)
    const e = seen.find((b) => b.contact === 'sip:alice@10.0.0.1')?.expiresAt ?? 0;
    expect(Math.abs(e - (c2.now() + 60_000))).toBeLessThan(1_000);
    // A value something else wrote is skipped, not thrown.
    await r1.hset('tandem:location:aor:sip:alice@example.com', 'junk', '{not json');
    expect((await s2.get('sip:alice@example.com')).length).toBe(2);
    await r1.hdel('tandem:location:aor:sip:alice@example.com', 'junk');
    // expiry: the 2 s binding goes once the clock passes it
    expect(await s2.expire(c2.now() + 10_000)).toHaveLength(1);
    expect(await s1.size()).toBe(2);
    expect(await s1.remove('sip:alice@example.com')).toBe(1);
    expect(await s1.remove('sip:bob@example.com', 'sip:bob@10.0.0.3')).toBe(1);
    expect(await s2.size()).toBe(0);
    expect(await s2.list()).toEqual([]);
    expect(await r1.smembers('tandem:location:aors')).toEqual([]);
  });

  itWithPeers('a UA registered at one Tandem is called through another on the same --redis', ['redis'], async () => {
    const server = await startRedis();
    cleanups.push(() => server.stop());
    const dir = mkdtempSync(join(tmpdir(), 'tandem-redis-loc-'));
    const routes = join(dir, 'routes.json');
    writeFileSync(routes, JSON.stringify({ routes: [{ name: 'users', targets: [{ uri: 'registered' }] }], trusted: ['127.0.0.1'] }));
    const one = await startB2bua({ routesFile: routes, registrar: true, registrarExpiryJitter: 0, redis: server.url });
    cleanups.push(() => one.tandem.close());
    const two = await startB2bua({ routesFile: routes, registrar: true, registrarExpiryJitter: 0, redis: server.url });
    cleanups.push(() => two.tandem.close());
    const ua = await SipPeer.udp();
    const caller = await SipPeer.udp();
    cleanups.push(() => { ua.close(); caller.close(); });
    const reg = outOfDialog('REGISTER', ua, one.sip, { user: 'carol', headers: [`Contact: <sip:carol@127.0.0.1:${ua.port}>`, 'Expires: 600'] });
    ua.send(reg.text.replace(/^REGISTER sip:carol@127\.0\.0\.1:\d+/, 'REGISTER sip:127.0.0.1').replace(/^Contact: <sip:alice@[^>]+>\n/m, ''), one.sip);
    const ok = await ua.next(isFinalFor(reg.callId, 'REGISTER'));
    expect(ok.msg.kind === 'response' && ok.msg.status).toBe(200);
    expect((await two.tandem.sip?.registrar?.store.get('sip:carol@127.0.0.1'))?.map((b) => b.contact)).toEqual([`sip:carol@127.0.0.1:${ua.port}`]);
    // The call goes through the other Tandem and reaches the UA where it registered.
    const inv = outOfDialog('INVITE', caller, two.sip, { user: 'carol', sdp: sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]) });
    caller.send(inv.text, two.sip);
    const reached = await ua.next(isRequest('INVITE'));
    expect(reached.msg.kind === 'request' && reached.msg.uri).toBe(`sip:carol@127.0.0.1:${ua.port}`);
  });
});
