import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningTandem } from '../../src/main.js';
import { getCallId, getHeader, type SipMessage } from '../../src/sip/message.js';
import { SipPeer, isRequest, isResponse } from '../helpers/sip-peer.js';
import { startB2bua, outOfDialog, ackNon2xx } from '../helpers/b2bua-env.js';
import { describeWithPeers } from '../helpers/peers.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';

/**
 * RFC 3263 end to end: Debian's dnsmasq on loopback serves trunk.test's SRV records (two callees,
 * priorities 10 and 20) and a NAPTR pointing at them; Tandem's resolver asks only it
 * (--dns-server=127.0.0.1:PORT).
 */
describeWithPeers('B2BUA: route targets by name (RFC 3263) through dnsmasq on loopback', ['dnsmasq'], () => {
  let dns: Dnsmasq;
  let tandem: RunningTandem;
  let sip: { address: string; port: number };
  let caller: SipPeer;
  let first: SipPeer;
  let second: SipPeer;
  /** an upstream DNS server that never answers: slow.test's lookups hang until their timeout. */
  let blackHole: dgram.Socket;
  /** start lines that reached the black hole (a SIP target that never answers). */
  const muted: string[] = [];
  let hangUp: net.Server;
  let hangUps = 0;

  beforeAll(async () => {
    caller = await SipPeer.udp();
    first = await SipPeer.udp();
    second = await SipPeer.udp();
    blackHole = dgram.createSocket('udp4');
    await new Promise<void>((r) => blackHole.bind(0, '127.0.0.1', r));
    blackHole.on('message', (m) => muted.push(m.toString('latin1').split('\r\n')[0]));
    // A TCP trunk that hangs up on every connection (counted).
    hangUp = net.createServer((c) => {
      hangUps++;
      c.destroy();
    });
    await new Promise<void>((r) => hangUp.listen(0, '127.0.0.1', r));
    const hangUpPort = (hangUp.address() as net.AddressInfo).port;
    dns = await startDnsmasq(() => [
      `--server=/slow.test/127.0.0.1#${blackHole.address().port}`,
      `--srv-host=_sip._udp.trunk.test,one.trunk.test,${first.port},10,0`,
      `--srv-host=_sip._udp.trunk.test,two.trunk.test,${second.port},20,0`,
      '--host-record=one.trunk.test,127.0.0.1',
      '--host-record=two.trunk.test,127.0.0.1',
      // NAPTR → SRV: the same pair, reached through naptr.test's SIP+D2U record.
      '--naptr-record=naptr.test,10,10,S,SIP+D2U,,_sip._udp.trunk.test',
      // SRV target "." (RFC 2782): the service is decidedly not offered there.
      '--srv-host=_sip._udp.closed.test,.,0,0,0',
      // Only port 0: records, none usable (so no A fallback either).
      '--srv-host=_sip._udp.zero.test,one.trunk.test,0,10,0',
      // 300 SRV records (TCP: too many for a UDP answer), on the two callees' ports by turns.
      ...Array.from({ length: 300 }, (_, i) => `--srv-host=_sip._udp.huge.test,h${i}.huge.test,${i % 2 === 0 ? first.port : second.port},10,1`),
      ...Array.from({ length: 300 }, (_, i) => `--host-record=h${i}.huge.test,127.0.0.1`),
      // Failover on a timeout: the priority-10 record is the black hole (it never answers SIP either).
      `--srv-host=_sip._udp.mute.test,one.trunk.test,${blackHole.address().port},10,0`,
      `--srv-host=_sip._udp.mute.test,two.trunk.test,${second.port},20,0`,
      // Failover from a TCP trunk that hangs up: NAPTR's first service is TCP to it, the second UDP.
      '--naptr-record=hangup.test,10,10,S,SIP+D2T,,_sip._tcp.hangup.test',
      '--naptr-record=hangup.test,20,10,S,SIP+D2U,,_sip._udp.hangup.test',
      `--srv-host=_sip._tcp.hangup.test,one.trunk.test,${hangUpPort},10,0`,
      `--srv-host=_sip._udp.hangup.test,two.trunk.test,${second.port},10,0`,
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'tandem-dns-'));
    const file = join(dir, 'routes.json');
    writeFileSync(
      file,
      JSON.stringify({
        routes: [
          { name: 'srv', match: { userPrefix: '1' }, targets: [{ uri: 'sip:trunk.test' }] },
          { name: 'naptr', match: { userPrefix: '2' }, targets: [{ uri: 'sip:naptr.test' }] },
          { name: 'nowhere', match: { userPrefix: '3' }, targets: [{ uri: 'sip:nowhere.test' }] },
          { name: 'closed', match: { userPrefix: '4' }, targets: [{ uri: 'sip:closed.test' }] },
          { name: 'proxied', match: { userPrefix: '5' }, targets: [{ uri: `sip:127.0.0.1:${second.port}` }] },
          { name: 'slow', match: { userPrefix: '6' }, targets: [{ uri: 'sip:slow.test' }] },
          { name: 'zero', match: { userPrefix: '7' }, targets: [{ uri: 'sip:zero.test' }] },
          { name: 'huge', match: { userPrefix: '8' }, targets: [{ uri: 'sip:huge.test' }] },
          { name: 'mute', match: { userPrefix: '91' }, targets: [{ uri: 'sip:mute.test' }] },
          { name: 'hangup', match: { userPrefix: '92' }, targets: [{ uri: 'sip:hangup.test' }] },
        ],
        trustedProxySources: ['127.0.0.1'],
      }),
    );
    ({ tandem, sip } = await startB2bua({ routesFile: file, dnsServers: [`127.0.0.1:${dns.port}`] }));
  }, 15_000);

  afterAll(async () => {
    await tandem?.close();
    dns?.stop();
    for (const p of [caller, first, second]) p?.close();
    blackHole?.close();
    hangUp?.close();
  });

  /** A call to `user`: the first SRV target answers 503, the call must land on the second. */
  async function failsOverToSecond(user: string, host: string): Promise<void> {
    const inv = outOfDialog('INVITE', caller, sip, { user });
    caller.send(inv.text, sip);
    const a = await first.next((m) => m.kind === 'request' && m.method === 'INVITE' && m.uri.startsWith(`sip:${user}@`));
    // The Request-URI keeps the name: the provider's host sees its own domain.
    expect(a.msg.kind === 'request' && a.msg.uri).toBe(`sip:${user}@${host}`);
    first.reply(a, 503, { reason: 'Service Unavailable' });
    const b = await second.next((m) => m.kind === 'request' && m.method === 'INVITE' && getCallId(m) === getCallId(a.msg));
    second.reply(b, 486, { reason: 'Busy Here' });
    const busy = await caller.next((m) => isResponse(486, 'INVITE')(m) && getCallId(m) === inv.callId);
    ackNon2xx(busy, inv, caller, sip);
  }

  it('sip:trunk.test: SRV priority 10 first; its 503 fails over to priority 20 within the call', async () => {
    await failsOverToSecond('1001', 'trunk.test');
  });

  it('sip:naptr.test: NAPTR SIP+D2U → the same SRV pair, same failover', async () => {
    await failsOverToSecond('2001', 'naptr.test');
  });

  it('a name that does not resolve, or whose SRV says ".", gets 503 with a Warning naming the name; nothing is sent to the callees', async () => {
    const before = first.count(isRequest('INVITE')) + second.count(isRequest('INVITE'));
    for (const [user, host] of [['3001', 'nowhere.test'], ['4001', 'closed.test']]) {
      const inv = outOfDialog('INVITE', caller, sip, { user });
      caller.send(inv.text, sip);
      const res = await caller.next((m) => isResponse(503, 'INVITE')(m) && getCallId(m) === inv.callId);
      expect(getHeader(res.msg, 'Warning')).toMatch(new RegExp(`^399 .*"DNS: ${host.replace('.', '\\.')} did not resolve`));
      ackNon2xx(res, inv, caller, sip);
    }
    // Positive control: the same callees still get the next resolvable call.
    await failsOverToSecond('1002', 'trunk.test');
    expect(first.count(isRequest('INVITE')) + second.count(isRequest('INVITE'))).toBe(before + 2);
  });

  it('SRV records that are all port 0 get 503 with a Warning saying none is usable; nothing is sent', async () => {
    const before = first.count(isRequest('INVITE')) + second.count(isRequest('INVITE'));
    const inv = outOfDialog('INVITE', caller, sip, { user: '7001' });
    caller.send(inv.text, sip);
    const res = await caller.next((m) => isResponse(503, 'INVITE')(m) && getCallId(m) === inv.callId);
    expect(getHeader(res.msg, 'Warning')).toMatch(/^399 .*"DNS: zero\.test did not resolve: SRV _sip\._udp\.zero\.test: 1 record, none usable/);
    ackNon2xx(res, inv, caller, sip);
    // Positive control: the next call to a good name reaches the callees.
    await failsOverToSecond('1003', 'trunk.test');
    expect(first.count(isRequest('INVITE')) + second.count(isRequest('INVITE'))).toBe(before + 2);
  });

  it('300 SRV records on two addresses: the call tries each address once (a failover list, not 300 tries) and ends', async () => {
    const user = '8001';
    const forUs = (m: SipMessage): boolean => m.kind === 'request' && m.method === 'INVITE' && m.uri.startsWith(`sip:${user}@`);
    const inv = outOfDialog('INVITE', caller, sip, { user });
    caller.send(inv.text, sip);
    // Weighted order: either callee may come first; the first says 503, the other 486.
    const [p1, p2] = [first.next(forUs, 5000), second.next(forUs, 5000)];
    const [one, other] = await Promise.race([p1.then((r) => [first, r, second, p2] as const), p2.then((r) => [second, r, first, p1] as const)]).then(([peer, r, rest, pending]) => [{ peer, r }, { peer: rest, pending }] as const);
    one.peer.reply(one.r, 503, { reason: 'Service Unavailable' });
    const r2 = await other.pending;
    expect(getCallId(r2.msg)).toBe(getCallId(one.r.msg));
    other.peer.reply(r2, 486, { reason: 'Busy Here' });
    ackNon2xx(await caller.next((m) => isResponse(486, 'INVITE')(m) && getCallId(m) === inv.callId), inv, caller, sip);
    // One INVITE transaction per address (UDP retransmissions share their CSeq).
    const tries = [first, second].flatMap((p) => p.inbox.filter((x) => forUs(x.msg)).map((x) => `${p.port} ${getHeader(x.msg, 'CSeq') ?? ''}`));
    expect(new Set(tries).size).toBe(2);
  });

  for (const [user, host, why, firstTries] of [
    ['9101', 'mute.test', 'a timeout (no answer within 64*T1)', (): number => muted.filter((l) => l === 'INVITE sip:9101@mute.test SIP/2.0').length],
    // A connection the trunk closes before any response ends in the INVITE's timeout too (Tandem does
    // not report a closed connection to its transactions as a transport error, RFC 3261 §18.4).
    ['9201', 'hangup.test', 'a TCP trunk that hangs up without a response', (): number => hangUps],
  ] as const) {
    it(`sip:${host}: the first record fails by ${why}; the call moves on to the next record`, async () => {
      const inv = outOfDialog('INVITE', caller, sip, { user });
      caller.send(inv.text, sip);
      const b = await second.next((m) => m.kind === 'request' && m.method === 'INVITE' && m.uri === `sip:${user}@${host}`, 5000);
      second.reply(b, 486, { reason: 'Busy Here' });
      ackNon2xx(await caller.next((m) => isResponse(486, 'INVITE')(m) && getCallId(m) === inv.callId, 5000), inv, caller, sip);
      // The first record was really tried before the call moved on.
      expect(firstTries()).toBeGreaterThan(0);
    });
  }

  it('X-Outbound-Proxy by name (explicit port: A record only) is leg B\'s first hop; the Request-URI stays the target', async () => {
    const inv = outOfDialog('INVITE', caller, sip, { user: '5001', headers: [`X-Outbound-Proxy: <sip:one.trunk.test:${first.port}>`] });
    caller.send(inv.text, sip);
    const a = await first.next((m) => m.kind === 'request' && m.method === 'INVITE' && m.uri.startsWith('sip:5001@'));
    expect(a.msg.kind === 'request' && a.msg.uri).toBe(`sip:5001@127.0.0.1:${second.port}`);
    first.reply(a, 486, { reason: 'Busy Here' });
    ackNon2xx(await caller.next((m) => isResponse(486, 'INVITE')(m) && getCallId(m) === inv.callId), inv, caller, sip);
    expect(second.count((m) => m.kind === 'request' && m.uri.startsWith('sip:5001@'))).toBe(0);
  });

  it('a CANCEL while the targets are still resolving gets 200 and the INVITE 487; the call never starts', async () => {
    const callsBefore = tandem.sip?.b2bua.counters.calls;
    const inv = outOfDialog('INVITE', caller, sip, { user: '6001' });
    caller.send(inv.text, sip);
    // The INVITE is in: its 100 Trying came back, and the black hole holds slow.test's NAPTR query.
    await caller.next((m) => isResponse(100, 'INVITE')(m) && getCallId(m) === inv.callId);
    const cancel = inv.text
      .split('\n')
      .filter((l) => !/^(Contact|Content-Type):/i.test(l))
      .map((l) => l.replace(/^INVITE /, 'CANCEL ').replace(/^CSeq: (\d+) INVITE$/, 'CSeq: $1 CANCEL'))
      .join('\n');
    caller.send(cancel, sip);
    await caller.next((m) => isResponse(200, 'CANCEL')(m) && getCallId(m) === inv.callId);
    const ended = await caller.next((m) => isResponse(487, 'INVITE')(m) && getCallId(m) === inv.callId);
    ackNon2xx(ended, inv, caller, sip);
    expect(tandem.sip?.b2bua.counters.calls ?? -1).toBe(callsBefore);
  });
});
