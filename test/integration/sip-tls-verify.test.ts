import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import tls from 'node:tls';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { SipTransportLayer, type SipTransportOptions } from '../../src/sip/transport/transport-layer.js';
import type { SipEndpoint } from '../../src/sip/transport/types.js';
import type { SipRequest } from '../../src/sip/message.js';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig } from '../../src/config/config.js';
import { SipPeer, isRequest, sdpOffer } from '../helpers/sip-peer.js';
import { describeWithPeers, peerPath } from '../helpers/peers.js';

/**
 * Issue 10, defect 6: outbound TLS checks the peer's certificate. A "trunk" on loopback presents a
 * self-signed certificate made with openssl.
 */
const dir = mkdtempSync(join(tmpdir(), 'tandem-tlsverify-'));
let certFile = '';
let cert = '';
let key = '';
let otherCert = '';
let otherKey = '';
let trunk: tls.Server | undefined;
let trunkPort = 0;
let received = '';
let layer: SipTransportLayer | undefined;
let tandem: RunningTandem | undefined;
const peers: SipPeer[] = [];

function makeCert(name: string, san: string): { cert: string; key: string; file: string } {
  const k = join(dir, `${name}.key`);
  const c = join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`, '-days', '2', '-keyout', k, '-out', c], { stdio: 'ignore' });
  return { cert: readFileSync(c, 'utf8'), key: readFileSync(k, 'utf8'), file: c };
}

beforeAll(() => {
  // Every test here needs certificates made with openssl; without it the groups below are skipped.
  if (peerPath('openssl') === undefined) return;
  const a = makeCert('trunk', 'IP:127.0.0.1');
  ({ cert, key } = a);
  certFile = a.file;
  const b = makeCert('elsewhere', 'IP:127.0.0.2');
  otherCert = b.cert;
  otherKey = b.key;
});

async function startTrunk(pem = { cert, key }): Promise<SipEndpoint> {
  received = '';
  trunk = tls.createServer({ cert: pem.cert, key: pem.key }, (s) => {
    s.on('data', (d: Buffer) => (received += d.toString()));
    s.on('error', () => undefined);
  });
  trunk.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => trunk?.listen(0, '127.0.0.1', () => r()));
  trunkPort = (trunk.address() as { port: number }).port;
  return { protocol: 'tls', address: '127.0.0.1', port: trunkPort };
}

afterEach(async () => {
  for (const p of peers) p.close();
  peers.length = 0;
  await layer?.close();
  layer = undefined;
  await tandem?.close();
  tandem = undefined;
  await new Promise<void>((r) => (trunk === undefined ? r() : trunk.close(() => r())));
  trunk = undefined;
});

async function client(tlsClient: SipTransportOptions['tlsClient']): Promise<SipTransportLayer> {
  layer = await SipTransportLayer.start({
    listen: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
    ...(tlsClient !== undefined ? { tlsClient } : {}),
    log: pino({ level: 'silent' }),
    onMessage: () => undefined,
  });
  return layer;
}

const options: SipRequest = {
  kind: 'request', version: 'SIP/2.0', method: 'OPTIONS', uri: 'sip:trunk@127.0.0.1',
  headers: [
    { name: 'Via', value: 'SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKverify' }, { name: 'From', value: '<sip:t@127.0.0.1>;tag=1' },
    { name: 'To', value: '<sip:trunk@127.0.0.1>' }, { name: 'Call-ID', value: 'verify-1' }, { name: 'CSeq', value: '1 OPTIONS' },
    { name: 'Content-Length', value: '0' },
  ],
  body: Buffer.alloc(0),
};

describeWithPeers('outbound TLS verification (issue 10, defect 6)', ['openssl'], () => {
  it('a self-signed peer is refused by default, and nothing reaches it', async () => {
    const to = await startTrunk();
    const t = await client(undefined);
    await expect(t.send(options, to)).rejects.toThrow(/tls connect to 127\.0\.0\.1:\d+ failed: self[- ]signed certificate/);
    expect(t.stats().tlsVerifyFailures).toBe(1);
    // Positive control on the same trunk: with its certificate as the CA the message arrives.
    await layer?.close();
    const trusted = await client({ ca: cert });
    await trusted.send(options, to);
    await expect.poll(() => received).toMatch(/^OPTIONS sip:trunk@127\.0\.0\.1 SIP\/2\.0/);
    expect(trusted.stats().tlsVerifyFailures).toBe(0);
  });

  it('an address resolved from a name is checked against that name (RFC 5922 §4: serverName), not the IP', async () => {
    const named = makeCert('named', 'DNS:tls.trunk.test');
    const to = await startTrunk(named);
    const t = await client({ ca: named.cert });
    await expect(t.send(options, { ...to, serverName: 'other.trunk.test' })).rejects.toThrow(/other\.trunk\.test.* is not in the cert's altnames/);
    await expect(t.send(options, to)).rejects.toThrow(/IP: 127\.0\.0\.1 is not in the cert's list/);
    expect(received).toBe('');
    // Positive control: the name the certificate carries passes, and the message arrives.
    await t.send(options, { ...to, serverName: 'tls.trunk.test' });
    await expect.poll(() => received).toMatch(/^OPTIONS /);
  });

  it('a certificate from the trusted CA that names another IP is refused', async () => {
    const to = await startTrunk({ cert: otherCert, key: otherKey });
    const t = await client({ ca: otherCert });
    await expect(t.send(options, to)).rejects.toThrow(/IP: 127\.0\.0\.1 is not in the cert's list/);
    expect(received).toBe('');
  });

  it('a target opted out (noVerify) is reached without a check; other targets are still checked', async () => {
    const to = await startTrunk();
    const other = await startSecondTrunk();
    const t = await client({ noVerify: [to] });
    await t.send(options, to);
    await expect.poll(() => received).toMatch(/^OPTIONS /);
    await expect(t.send(options, other.endpoint)).rejects.toThrow(/self[- ]signed/);
    other.server.close();
  });
});

describeWithPeers('outbound connect deadline (sibling: the TLS client had none)', ['openssl'], () => {
  it('a peer that accepts TCP and never completes the TLS handshake fails the send at the deadline', async () => {
    const mute = net.createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    const to: SipEndpoint = { protocol: 'tls', address: '127.0.0.1', port: (mute.address() as { port: number }).port };
    layer = await SipTransportLayer.start({
      listen: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
      limits: { tlsHandshakeMs: 300 },
      log: pino({ level: 'silent' }),
      onMessage: () => undefined,
    });
    await expect(layer.send(options, to)).rejects.toThrow(/no TLS handshake within 300 ms/);
    const t = layer;
    await expect.poll(() => t.stats()).toMatchObject({ tlsHandshakeTimeouts: 1, openConnections: 0 });
    mute.close();
  });
});

async function startSecondTrunk(): Promise<{ server: tls.Server; endpoint: SipEndpoint }> {
  const server = tls.createServer({ cert, key }, (s) => s.on('error', () => undefined));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, endpoint: { protocol: 'tls', address: '127.0.0.1', port: (server.address() as { port: number }).port } };
}

describeWithPeers('B2BUA toward a sips: trunk with a self-signed certificate', ['openssl'], () => {
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') warnings.push((JSON.parse(l) as { msg: string }).msg);
      cb();
    },
  });

  async function call(over: { tlsCa?: string; tlsVerify?: boolean }): Promise<{ fallback: SipPeer }> {
    warnings.length = 0;
    await startTrunk();
    const caller = await SipPeer.udp();
    const fallback = await SipPeer.udp();
    peers.push(caller, fallback);
    const file = join(dir, `routes-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({
      routes: [{
        name: 'trunk',
        targets: [
          { uri: `sips:127.0.0.1:${trunkPort}`, priority: 1, ...(over.tlsVerify !== undefined ? { tlsVerify: over.tlsVerify } : {}) },
          { uri: `sip:127.0.0.1:${fallback.port}`, priority: 2 },
        ],
      }],
    }));
    const base = 10000 + Math.floor(Math.random() * 45) * 400;
    tandem = await startTandem(
      {
        ...defaultConfig(),
        listenNg: { address: '127.0.0.1', port: 0 },
        listenSip: [{ protocol: 'udp', address: '127.0.0.1', port: 0 }],
        portMin: base,
        portMax: base + 399,
        numThreads: 1,
        logLevel: 'silent',
        sipT1: 50,
        routesFile: file,
        ...(over.tlsCa !== undefined ? { tlsCa: over.tlsCa } : {}),
      },
      pino({ level: 'warn' }, sink),
    );
    const udp = tandem.sip?.listeners.find((l) => l.protocol === 'udp');
    if (udp === undefined) throw new Error('no UDP listener');
    const sdp = sdpOffer(40000, [{ pt: 0, name: 'PCMU' }]);
    caller.send([
      `INVITE sip:100@127.0.0.1:${udp.port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
      'Max-Forwards: 70',
      `From: <sip:alice@127.0.0.1>;tag=${caller.tag}`,
      'To: <sip:100@127.0.0.1>',
      `Call-ID: tlsverify-${Math.random().toString(36).slice(2)}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:alice@127.0.0.1:${caller.port}>`,
      'Content-Type: application/sdp',
      '',
      sdp,
    ].join('\n'), udp);
    return { fallback };
  }

  it('by default the trunk is refused and the call fails over to the next target', async () => {
    const { fallback } = await call({});
    expect(warnings).not.toContain('TLS certificate of this target is not verified (tlsVerify: false)');
    await fallback.next(isRequest('INVITE'));
    expect(received).toBe('');
    expect(tandem?.sip?.transport.stats().tlsVerifyFailures).toBe(1);
  });

  it('with --tls-ca naming its certificate the trunk gets the INVITE', async () => {
    const { fallback } = await call({ tlsCa: certFile });
    await expect.poll(() => received).toMatch(/^INVITE sips?:/);
    expect(fallback.count(isRequest('INVITE'))).toBe(0);
  });

  it('with "tlsVerify": false on the target the trunk gets the INVITE, and the start says so', async () => {
    const { fallback } = await call({ tlsVerify: false });
    expect(warnings).toContain('TLS certificate of this target is not verified (tlsVerify: false)');
    await expect.poll(() => received).toMatch(/^INVITE sips?:/);
    expect(fallback.count(isRequest('INVITE'))).toBe(0);
  });

  it('an unreadable --tls-ca is a config error naming the option', async () => {
    await expect(call({ tlsCa: join(dir, 'absent.pem') })).rejects.toThrow(/--tls-ca: cannot read .*absent\.pem/);
  });
});
