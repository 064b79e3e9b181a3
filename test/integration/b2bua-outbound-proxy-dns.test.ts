import { it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningTandem } from '../../src/main.js';
import { getCallId, getHeader, type SipMessage } from '../../src/sip/message.js';
import { SipPeer, isResponse, sdpOffer } from '../helpers/sip-peer.js';
import { startB2bua, outOfDialog, ackNon2xx, ackAndBye } from '../helpers/b2bua-env.js';
import { describeWithPeers } from '../helpers/peers.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';

/**
 * X-Outbound-Proxy naming a host (issue 13's follow-up): dnsmasq on loopback gives proxy.test two
 * SRV records (priority 10 → proxyA, 20 → proxyB); the route's target is an IP (the callee). A
 * trusted source's header makes leg B fail over across the proxy's records as a named target does
 * (RFC 3263 §4.3); an untrusted source's header is ignored.
 */
describeWithPeers('B2BUA: X-Outbound-Proxy by name fails over across its DNS records', ['dnsmasq'], () => {
  let dns: Dnsmasq;
  let tandem: RunningTandem;
  let sip: { address: string; port: number };
  /** 127.0.0.1: a trusted proxy source. */
  let caller: SipPeer;
  /** 127.0.0.2: not trusted, its X-Outbound-Proxy must not count. */
  let stranger: SipPeer;
  let proxyA: SipPeer;
  let proxyB: SipPeer;
  let callee: SipPeer;
  const XOP = 'X-Outbound-Proxy: <sip:proxy.test>';

  beforeAll(async () => {
    caller = await SipPeer.udp();
    stranger = await SipPeer.udp('127.0.0.2');
    proxyA = await SipPeer.udp();
    proxyB = await SipPeer.udp();
    callee = await SipPeer.udp();
    dns = await startDnsmasq(
      () => [
        `--srv-host=_sip._udp.proxy.test,a.proxy.test,${proxyA.port},10,0`,
        `--srv-host=_sip._udp.proxy.test,b.proxy.test,${proxyB.port},20,0`,
        '--host-record=a.proxy.test,127.0.0.1',
        '--host-record=b.proxy.test,127.0.0.1',
      ],
      '_sip._udp.proxy.test',
    );
    const dir = mkdtempSync(join(tmpdir(), 'tandem-xop-dns-'));
    const file = join(dir, 'routes.json');
    writeFileSync(file, JSON.stringify({ routes: [{ name: 'callee', match: { userPrefix: '7' }, targets: [{ uri: `sip:127.0.0.1:${callee.port}` }] }], trustedProxySources: ['127.0.0.1'] }));
    ({ tandem, sip } = await startB2bua({ routesFile: file, dnsServers: [`127.0.0.1:${dns.port}`] }));
  }, 15_000);

  afterAll(async () => {
    await tandem?.close();
    dns?.stop();
    for (const p of [caller, stranger, proxyA, proxyB, callee]) p?.close();
  });

  const inviteFor = (user: string) => (m: SipMessage): boolean => m.kind === 'request' && m.method === 'INVITE' && m.uri.startsWith(`sip:${user}@`);
  /** INVITE transactions (UDP retransmissions share their branch) that reached `peer` for `user`. */
  const invitesAt = (peer: SipPeer, user: string): number => new Set(peer.inbox.filter((r) => inviteFor(user)(r.msg)).map((r) => getHeader(r.msg, 'Via'))).size;
  const counters = () => ({ failovers: tandem.sip?.b2bua.counters.legBFailovers ?? -1, exhausted: tandem.sip?.b2bua.counters.legBExhausted ?? -1 });

  it('the first proxy record answers 503: the INVITE goes to the second, the call connects through it, and its dialog stays on it', async () => {
    const before = counters();
    const user = '7001';
    const inv = outOfDialog('INVITE', caller, sip, { user, sdp: sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]), headers: [XOP] });
    caller.send(inv.text, sip);
    const a = await proxyA.next(inviteFor(user));
    // The Request-URI is the route's target: the proxy is only the next hop.
    expect(a.msg.kind === 'request' && a.msg.uri).toBe(`sip:${user}@127.0.0.1:${callee.port}`);
    proxyA.reply(a, 503, { reason: 'Service Unavailable' });
    const b = await proxyB.next((m) => inviteFor(user)(m) && getCallId(m) === getCallId(a.msg));
    proxyB.reply(b, 200, { reason: 'OK', sdp: sdpOffer(41000, [{ pt: 0, name: 'PCMU' }]) });
    const ok = await caller.next((m) => isResponse(200, 'INVITE')(m) && getCallId(m) === inv.callId);
    ackAndBye(ok, caller, sip);
    // Leg B's ACK and BYE go through the proxy that answered.
    await proxyB.next((m) => m.kind === 'request' && m.method === 'ACK' && getCallId(m) === getCallId(a.msg));
    const bye = await proxyB.next((m) => m.kind === 'request' && m.method === 'BYE' && getCallId(m) === getCallId(a.msg));
    proxyB.reply(bye, 200, { reason: 'OK' });
    await caller.next((m) => isResponse(200, 'BYE')(m) && getCallId(m) === inv.callId);
    expect(invitesAt(proxyA, user)).toBe(1);
    expect(invitesAt(proxyB, user)).toBe(1);
    expect(callee.count(inviteFor(user))).toBe(0);
    expect(counters()).toEqual({ failovers: before.failovers + 1, exhausted: before.exhausted });
  });

  it('both proxy records fail (503): the caller gets 503 with a Warning saying every next hop failed', async () => {
    const before = counters();
    const user = '7002';
    const inv = outOfDialog('INVITE', caller, sip, { user, sdp: sdpOffer(40002, [{ pt: 0, name: 'PCMU' }]), headers: [XOP] });
    caller.send(inv.text, sip);
    proxyA.reply(await proxyA.next(inviteFor(user)), 503, { reason: 'Service Unavailable' });
    proxyB.reply(await proxyB.next(inviteFor(user)), 503, { reason: 'Service Unavailable' });
    const res = await caller.next((m) => isResponse(503, 'INVITE')(m) && getCallId(m) === inv.callId);
    expect(getHeader(res.msg, 'Warning')).toBe('399 tandem "every next hop failed (2 tried); the last: 503 Service Unavailable"');
    ackNon2xx(res, inv, caller, sip);
    expect([invitesAt(proxyA, user), invitesAt(proxyB, user), callee.count(inviteFor(user))]).toEqual([1, 1, 0]);
    expect(counters()).toEqual({ failovers: before.failovers + 1, exhausted: before.exhausted + 1 });
  });

  it('a malformed header from a trusted source gets 400 naming it, a proxy name that does not resolve 503 with a DNS Warning; nothing goes out', async () => {
    const seen = (): number => [proxyA, proxyB, callee].reduce((n, p) => n + p.count((m) => m.kind === 'request' && m.method === 'INVITE'), 0);
    const before = seen();
    const samples: [string, number, RegExp][] = [
      ['<not a uri>', 400, /^Bad X-Outbound-Proxy$/],
      ['<sip:proxy.test;transport=sctp>', 400, /^Bad X-Outbound-Proxy$/],
      ['<sip:proxy.test:0>', 400, /^Bad X-Outbound-Proxy$/],
      ['<sip:bad_host!.test>', 400, /^Bad X-Outbound-Proxy$/],
      ['<sip:nowhere.test>', 503, /^Service Unavailable$/],
    ];
    for (const [value, status, reason] of samples) {
      const inv = outOfDialog('INVITE', caller, sip, { user: '7005', sdp: sdpOffer(40008, [{ pt: 0, name: 'PCMU' }]), headers: [`X-Outbound-Proxy: ${value}`] });
      caller.send(inv.text, sip);
      const res = await caller.next((m) => m.kind === 'response' && m.status >= 200 && getCallId(m) === inv.callId);
      expect(res.msg.kind === 'response' && [res.msg.status, res.msg.reason]).toEqual([status, expect.stringMatching(reason)]);
      if (status === 503) expect(getHeader(res.msg, 'Warning')).toMatch(/^399 tandem "DNS: nowhere\.test did not resolve/);
      ackNon2xx(res, inv, caller, sip);
    }
    // Positive control: a good header from the same caller reaches the proxy.
    const control = outOfDialog('INVITE', caller, sip, { user: '7006', sdp: sdpOffer(40010, [{ pt: 0, name: 'PCMU' }]), headers: [XOP] });
    caller.send(control.text, sip);
    proxyA.reply(await proxyA.next(inviteFor('7006')), 486, { reason: 'Busy Here' });
    ackNon2xx(await caller.next((m) => isResponse(486, 'INVITE')(m) && getCallId(m) === control.callId), control, caller, sip);
    expect(seen()).toBeGreaterThan(before);
    expect([proxyA, proxyB, callee].reduce((n, p) => n + p.count(inviteFor('7005')), 0)).toBe(0);
  });

  it('from an untrusted source the header is ignored: the call goes to the route\'s target (the same header from a trusted source reaches the proxy)', async () => {
    const user = '7003';
    const inv = outOfDialog('INVITE', stranger, sip, { user, sdp: sdpOffer(40004, [{ pt: 0, name: 'PCMU' }]), headers: [XOP] });
    stranger.send(inv.text, sip);
    const c = await callee.next(inviteFor(user));
    callee.reply(c, 486, { reason: 'Busy Here' });
    ackNon2xx(await stranger.next((m) => isResponse(486, 'INVITE')(m) && getCallId(m) === inv.callId), inv, stranger, sip);
    // Positive control: the trusted caller's identical INVITE goes to the proxy, not to the callee.
    const control = '7004';
    const trusted = outOfDialog('INVITE', caller, sip, { user: control, sdp: sdpOffer(40006, [{ pt: 0, name: 'PCMU' }]), headers: [XOP] });
    caller.send(trusted.text, sip);
    proxyA.reply(await proxyA.next(inviteFor(control)), 486, { reason: 'Busy Here' });
    ackNon2xx(await caller.next((m) => isResponse(486, 'INVITE')(m) && getCallId(m) === trusted.callId), trusted, caller, sip);
    expect([invitesAt(proxyA, user), invitesAt(proxyB, user)]).toEqual([0, 0]);
    expect(callee.count(inviteFor(control))).toBe(0);
  });
});
