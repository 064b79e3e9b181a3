import { describe, it, expect } from 'vitest';
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, patternPayload, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { SrtpContext } from '../../src/media/rtp/srtp.js';
import { createDtlsCertificate } from '../../src/media/rtp/dtls.js';

/**
 * DTLS-SRTP (RFC 5763/5764) offerer → plain RTP answerer through the media plane. The "browser" is
 * werift's DTLS client on its own socket; it checks Tandem's certificate against the answer's
 * a=fingerprint, and Tandem checks it against the offer's.
 */
const requireCjs = createRequire(import.meta.url);
interface Client {
  onConnect: { subscribe(fn: () => void): void };
  connect(): Promise<void>;
  extractSessionKeys(k: number, s: number): { localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer };
  remoteCertificate: Buffer | undefined;
  close(): void;
}
const { DtlsClient } = requireCjs('werift') as { DtlsClient: new (o: object) => Client };

const tandem = tandemPerFile();

async function browserSocket(): Promise<{ sock: dgram.Socket; port: number; got: Buffer[] }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { sock, port: sock.address().port, got: [] };
}

/** werift's DTLS client on the test's socket: DTLS records to it, everything else into `media`. */
function dtlsClient(sock: dgram.Socket, port: number, cert: { certPem: string; keyPem: string }, media: Buffer[]): Client {
  let onData: (d: Buffer, a: [string, number]) => void = () => undefined;
  sock.on('message', (m) => {
    if (m[0] >= 20 && m[0] <= 63) onData(m, ['127.0.0.1', port]);
    else media.push(m);
  });
  const transport = {
    type: 'udp', closed: false, address: sock.address(),
    set onData(f: (d: Buffer, a: [string, number]) => void) { onData = f; },
    get onData() { return onData; },
    send: (d: Buffer) => new Promise<void>((r) => sock.send(d, port, '127.0.0.1', () => r())),
    close: async () => undefined,
  };
  return new DtlsClient({ transport, cert: cert.certPem, key: cert.keyPem, signatureHash: { hash: 4, signature: 3 }, srtpProfiles: [1] });
}

describe('DTLS-SRTP ↔ plain RTP', () => {
  it("handshakes as DTLS server for an actpass offerer, checks the peer's fingerprint, and carries SRTP both ways", async () => {
    const cert = await createDtlsCertificate();
    const b = await browserSocket();
    const plain = await RtpPeer.open();
    const offerSdp = sdpFor({ port: b.port, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: ['a=rtcp-mux', `a=fingerprint:${cert.fingerprint}`, 'a=setup:actpass'] }).replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': 'dtls-1', 'from-tag': 'a', sdp: offerSdp, 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['accept'] });
    expect(offer.result, String(offer['error-reason'])).toBe('ok');
    expect(String(offer.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 0/m);
    expect(String(offer.sdp)).not.toMatch(/a=fingerprint|a=setup/);
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'dtls-1', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plain.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect(answer.result, String(answer['error-reason'])).toBe('ok');
    const toBrowser = String(answer.sdp);
    expect(toBrowser).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0/m);
    expect(toBrowser).toMatch(/^a=setup:passive/m);
    const theirFp = /^a=fingerprint:sha-256 (\S+)/m.exec(toBrowser)?.[1];
    expect(theirFp).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const port = mediaTarget(toBrowser).port;

    // The browser side: DTLS client over its own socket, SRTP from the exported keys.
    const media: Buffer[] = [];
    const client = dtlsClient(b.sock, port, cert, media);
    // How long the handshake takes is measured in bench/ (`--dtls-setup`), not asserted here.
    const up = new Promise<void>((r) => client.onConnect.subscribe(() => r()));
    void client.connect();
    await up;
    const k = client.extractSessionKeys(16, 14);
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.localKey, k.localSalt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.remoteKey, k.remoteSalt);

    const p = patternPayload(160, 5);
    await new Promise<void>((r) => b.sock.send(tx.protectRtp(rtpPacket({ pt: 0, seq: 1, ts: 0, ssrc: 3, payload: p })), port, '127.0.0.1', () => r()));
    const [atPlain] = await plain.waitFor(1);
    expect(atPlain.subarray(12)).toEqual(p);
    const q = patternPayload(160, 6);
    await plain.send(rtpPacket({ pt: 0, seq: 9, ts: 0, ssrc: 4, payload: q }), mediaTarget(String(offer.sdp)).port);
    await expect.poll(() => media.length, { timeout: 3000 }).toBeGreaterThan(0);
    const r = rx.unprotectRtp(media[0]);
    expect(r.ok && r.packet.subarray(12).equals(q)).toBe(true);
    client.close();
    b.sock.close();
    plain.close();
  });

  it('a peer whose certificate does not match the offer\'s a=fingerprint gets no media through', async () => {
    const cert = await createDtlsCertificate();
    const other = await createDtlsCertificate();
    const b = await browserSocket();
    const plain = await RtpPeer.open();
    const offerSdp = sdpFor({ port: b.port, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: ['a=rtcp-mux', `a=fingerprint:${other.fingerprint}`, 'a=setup:actpass'] }).replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': 'dtls-2', 'from-tag': 'a', sdp: offerSdp, 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['accept'] });
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'dtls-2', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plain.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect([offer.result, answer.result]).toEqual(['ok', 'ok']);
    const port = mediaTarget(String(answer.sdp)).port;
    const client = dtlsClient(b.sock, port, cert, []);
    const up = new Promise<void>((r) => client.onConnect.subscribe(() => r()));
    void client.connect();
    await up;
    const k = client.extractSessionKeys(16, 14);
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.localKey, k.localSalt);
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => b.sock.send(tx.protectRtp(rtpPacket({ pt: 0, seq: i, ts: 0, ssrc: 3, payload: patternPayload(160, i) })), port, '127.0.0.1', () => r()));
    // Positive control: Tandem has seen all three (counted as errors) before we look at the plain side.
    await expect.poll(async () => JSON.stringify(await tandem.ng.request({ command: 'query', 'call-id': 'dtls-2' })), { timeout: 3000 }).toMatch(/"errors":3/);
    expect(plain.received).toHaveLength(0);
    client.close();
    b.sock.close();
    plain.close();
  });

  it('garbage in the DTLS, STUN and RTP ranges on a DTLS side is dropped; the handshake and media still work', async () => {
    const cert = await createDtlsCertificate();
    const b = await browserSocket();
    const plain = await RtpPeer.open();
    const offerSdp = sdpFor({ port: b.port, pts: [0], rtpmaps: ['0 PCMU/8000'], extra: ['a=rtcp-mux', `a=fingerprint:${cert.fingerprint}`, 'a=setup:actpass', 'a=ice-ufrag:grbg', 'a=ice-pwd:garbagegarbagegarbage12'] }).replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': 'dtls-3', 'from-tag': 'a', sdp: offerSdp, 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['accept'] });
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'dtls-3', 'from-tag': 'a', 'to-tag': 'b', sdp: sdpFor({ port: plain.port, pts: [0], rtpmaps: ['0 PCMU/8000'] }) });
    expect([offer.result, answer.result]).toEqual(['ok', 'ok']);
    const port = mediaTarget(String(answer.sdp)).port;
    const send = (m: Buffer): Promise<void> => new Promise((r) => b.sock.send(m, port, '127.0.0.1', () => r()));
    // Deterministic junk: truncated and corrupted DTLS records (20–63), STUN-looking bytes (0–3),
    // unkeyed RTP (128–191), empty and one-byte datagrams.
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    const junk: Buffer[] = [Buffer.alloc(0), Buffer.from([22]), Buffer.from([1])];
    for (let i = 0; i < 60; i++) {
      const first = [22, 23, 20, 21, 63, 0, 1, 3, 0x80, 0x90][i % 10];
      const len = 1 + ((i * 37) % 300);
      const buf = Buffer.from(Array.from({ length: len }, rnd));
      buf[0] = first;
      junk.push(buf);
    }
    // A ClientHello-shaped record with a length that runs past the datagram.
    junk.push(Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 0, 0, 0x40]));
    // Well-framed records with junk inside: handshake messages of every type, a plaintext alert,
    // application data in epoch 0, an epoch-1 record nobody can decrypt.
    const record = (type: number, epoch: number, body: Buffer): Buffer => {
      const h = Buffer.alloc(13);
      h[0] = type;
      h[1] = 0xfe;
      h[2] = 0xfd;
      h.writeUInt16BE(epoch, 3);
      h.writeUIntBE(junk.length, 5, 6);
      h.writeUInt16BE(body.length, 11);
      return Buffer.concat([h, body]);
    };
    for (const msgType of [1, 2, 3, 11, 12, 13, 14, 15, 16, 20]) {
      const body = Buffer.from(Array.from({ length: 40 }, rnd));
      body[0] = msgType;
      junk.push(record(22, 0, body));
    }
    junk.push(record(21, 0, Buffer.from([2, 40])), record(23, 0, Buffer.from('hello')), record(22, 1, Buffer.from(Array.from({ length: 48 }, rnd))));
    for (const m of junk) await send(m);

    const media: Buffer[] = [];
    const client = dtlsClient(b.sock, port, cert, media);
    const up = new Promise<void>((r) => client.onConnect.subscribe(() => r()));
    void client.connect();
    await Promise.race([up, new Promise((_, j) => setTimeout(() => j(new Error('no DTLS handshake after the junk')), 8000))]);
    const k = client.extractSessionKeys(16, 14);
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.localKey, k.localSalt);
    const p = patternPayload(160, 9);
    await send(tx.protectRtp(rtpPacket({ pt: 0, seq: 1, ts: 0, ssrc: 3, payload: p })));
    const [atPlain] = await plain.waitFor(1);
    expect(atPlain.subarray(12)).toEqual(p);
    // None of the junk reached the plain side, and it shows as errors on the call.
    expect(plain.received).toHaveLength(1);
    const q = await tandem.ng.request({ command: 'query', 'call-id': 'dtls-3' });
    expect(q.result).toBe('ok');
    expect(JSON.stringify(q)).toMatch(/"errors":[1-9]/);
    client.close();
    b.sock.close();
    plain.close();
  });
});

