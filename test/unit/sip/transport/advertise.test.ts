import { describe, it, expect } from 'vitest';
import { advertisedEndpoints, advertisingSender } from '../../../../src/sip/transport/advertise.js';
import type { SipEndpoint, SipSender, StreamWatcher, TransportProtocol } from '../../../../src/sip/transport/types.js';
import { parseArgs } from '../../../../src/config/load.js';
import { parseAdvertise } from '../../../../src/config/listen-params.js';

/** A transport with a UDP listener on 127.0.0.1:5060 bound to port 0 (the system picked 40123) and a TCP one on 5061. */
const inner: SipSender = {
  send: () => Promise.resolve(),
  localEndpoint(protocol: TransportProtocol): SipEndpoint {
    if (protocol === 'tcp') return { protocol, address: '127.0.0.1', port: 5061 };
    return { protocol, address: '127.0.0.1', port: 40123 };
  },
};

describe('advertised SIP listeners', () => {
  it('replaces the bound address with the advertised host, keeping the bound port when none is given', () => {
    const s = advertisingSender(inner, [
      { protocol: 'udp', address: '127.0.0.1', port: 0, advertise: { host: 'sip.example.test' } },
      { protocol: 'tcp', address: '127.0.0.1', port: 5061, advertise: { host: '203.0.113.7', port: 15061 } },
    ]);
    expect(s.localEndpoint('udp')).toEqual({ protocol: 'udp', address: 'sip.example.test', port: 40123 });
    expect(s.localEndpoint('tcp')).toEqual({ protocol: 'tcp', address: '203.0.113.7', port: 15061 });
    // TLS has no listener here: it borrows the UDP one's address, and so its advertisement.
    expect(s.localEndpoint('tls')).toEqual({ protocol: 'tls', address: 'sip.example.test', port: 40123 });
  });

  it('hands a client transaction\'s stream watcher through to the transport (else a closed trunk connection is never reported)', async () => {
    const seen: (StreamWatcher | undefined)[] = [];
    const recording: SipSender = { ...inner, send: (_m, _d, w) => (seen.push(w), Promise.resolve()) };
    const s = advertisingSender(recording, [{ protocol: 'tcp', address: '127.0.0.1', port: 5061, advertise: { host: '203.0.113.7' } }]);
    const watcher: StreamWatcher = { watching: true, connectionLost: () => undefined };
    await s.send({ kind: 'request', method: 'OPTIONS', uri: 'sip:x@127.0.0.1', version: 'SIP/2.0', headers: [], body: Buffer.alloc(0) }, { protocol: 'tcp', address: '127.0.0.1', port: 5070 }, watcher);
    expect(seen).toEqual([watcher]);
  });

  it('is the transport itself when nothing is advertised', () => {
    expect(advertisingSender(inner, [{ protocol: 'udp', address: '127.0.0.1', port: 0 }])).toBe(inner);
  });

  it('counts advertised endpoints as our own (loop detection)', () => {
    const listeners: SipEndpoint[] = [{ protocol: 'udp', address: '127.0.0.1', port: 40123 }, { protocol: 'tcp', address: '127.0.0.1', port: 5061 }];
    expect(advertisedEndpoints(listeners, [{ protocol: 'udp', address: '127.0.0.1', port: 0, advertise: { host: 'sip.example.test', port: 5080 } }]))
      .toEqual([{ protocol: 'udp', address: 'sip.example.test', port: 5080 }]);
  });

  it('parses ;advertise=HOST[:PORT] on --listen-sip, beside the access lists', () => {
    const r = parseArgs(['--listen-sip=udp:127.0.0.1:5060;advertise=sip.example.test:5080;allow=127.0.0.0/8,tcp:127.0.0.1:5060;advertise=[2001:db8::1]']);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config.listenSip).toEqual([
      { protocol: 'udp', address: '127.0.0.1', port: 5060, advertise: { host: 'sip.example.test', port: 5080 }, allow: ['127.0.0.0/8'] },
      { protocol: 'tcp', address: '127.0.0.1', port: 5060, advertise: { host: '2001:db8::1' } },
    ]);
    expect(parseAdvertise('203.0.113.7', '--x')).toEqual({ host: '203.0.113.7' });
    expect(parseAdvertise('2001:db8::1', '--x')).toEqual({ host: '2001:db8::1' });
  });

  it('refuses a bad advertised host naming the option', () => {
    for (const bad of ['', 'sip.example.test:0', 'sip.example.test:70000', 'bad host', '-x.example', '[nope]:5060', 'a:b:c', '999.1.1.1']) {
      expect(() => parseArgs([`--listen-sip=udp:127.0.0.1:5060;advertise=${bad}`]), bad).toThrow(/--listen-sip: .*advertise/);
    }
  });
});
