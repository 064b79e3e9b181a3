import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TandemError } from '../../common/errors.js';
import { noteSetUp } from '../codecs/set-ups.js';

/**
 * DTLS-SRTP (RFC 5763/5764) on a media socket, with werift's DTLS state machine (Node has no DTLS).
 * Only the handshake and the keying-material export are werift's; the peer's certificate is
 * checked here against the SDP fingerprint (werift does not), and SRTP is ours.
 *
 * werift waits a fixed 500 ms before it looks whether the peer's next flight arrived, even when it
 * arrived after a millisecond: every handshake cost ≥ 0.5 s. Its Flight.transmit is replaced by one
 * that keeps the same retransmission schedule but polls every 5 ms.
 */
interface WeriftFlight {
  state: string;
  nextFlight: number | undefined;
  flight: number;
  dtls: { flight: number; sessionId?: string };
  send(buffers: Buffer[]): Promise<unknown>;
  setState(s: string): void;
}

interface WeriftSocket {
  onConnect: { subscribe(fn: () => void): void };
  onError: { subscribe(fn: (e: Error) => void): void };
  connect?(): Promise<void>;
  extractSessionKeys(keyLength: number, saltLength: number): { localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer };
  readonly remoteCertificate: Buffer | undefined;
  close(): void;
  /** werift internals used to send one encrypted alert record (see DtlsEndpoint.refuse). */
  dtls?: { version: unknown; epoch: number; recordSequenceNumber: number };
  cipher?: { encryptPacket(p: unknown): { serialize(): Buffer } };
}

type CreatePlaintext = (dtls: object) => (fragments: { type: number; fragment: Buffer }[], seq: number) => unknown[];

interface WeriftTransport {
  type: string;
  address: { address: string; port: number; family: string };
  closed: boolean;
  onData: (data: Buffer, addr: [string, number]) => void;
  send: (data: Buffer) => Promise<void>;
  close: () => Promise<void>;
}

interface WeriftDtls {
  DtlsServer: new (o: object) => WeriftSocket;
  DtlsClient: new (o: object) => WeriftSocket;
  CipherContext: { createSelfSignedCertificateWithKey(sh: { hash: number; signature: number }, curve: number): Promise<{ certPem: string; keyPem: string }> };
}

const requireCjs = createRequire(import.meta.url);
let lib: WeriftDtls | undefined;
let createPlaintext: CreatePlaintext | undefined;

const SHA256 = 4;
const ECDSA = 3;
const SECP256R1 = 23;
const SRTP_AES128_CM_HMAC_SHA1_80 = 1;
const CONTENT_ALERT = 21;
/** RFC 5246 §7.2: level fatal, bad_certificate. */
const ALERT_BAD_CERTIFICATE = Buffer.from([2, 42]);

function werift(): WeriftDtls {
  if (lib !== undefined) return lib;
  try {
    lib = requireCjs('werift') as WeriftDtls;
    noteSetUp('werift');
    const dtlsSrc = join(dirname(requireCjs.resolve('werift')), '../../dtls/src');
    createPlaintext = (requireCjs(join(dtlsSrc, 'record/builder.js')) as { createPlaintext: CreatePlaintext }).createPlaintext;
    const flightFile = join(dtlsSrc, 'flight/flight.js');
    const { Flight } = requireCjs(flightFile) as { Flight: { prototype: { transmit(b: Buffer[]): Promise<void> }; RetransmitCount: number } };
    Flight.prototype.transmit = async function transmit(this: WeriftFlight, buffers: Buffer[]): Promise<void> {
      for (let n = 0; n <= Flight.RetransmitCount; n++) {
        this.setState('SENDING');
        this.send(buffers).catch(() => undefined);
        this.setState('WAITING');
        if (this.nextFlight === undefined) {
          this.setState('FINISHED');
          return;
        }
        // Same back-off as werift (0.5 s, 1 s, 1.5 s …), but looking every 5 ms.
        const until = performance.now() + 500 * (n + 1);
        while (performance.now() < until) {
          await new Promise((r) => setTimeout(r, 5));
          if (this.dtls.flight >= this.nextFlight) {
            this.setState('FINISHED');
            return;
          }
        }
      }
      throw new Error(`DTLS flight ${this.flight} got no answer`);
    };
  } catch (err) {
    throw new TandemError('CODEC', `cannot load werift DTLS: ${err instanceof Error ? err.message : String(err)}`);
  }
  return lib;
}

/**
 * Loads werift and patches its flight timer now. A worker calls it before it reports ready: loading
 * werift's module graph takes a few hundred ms, which the first DTLS call would otherwise wait for
 * inside its ng offer or answer.
 */
export function preloadDtls(): void {
  werift();
}

/**
 * One DTLS-SRTP handshake between two in-memory endpoints, so the first real call does not pay for
 * compiling werift's handshake and crypto paths (measured with Chromium: the first ClientHello was
 * answered ~300 ms late without it). Resolves with the time it took, rejects after `timeoutMs`.
 */
export async function warmUpDtls(timeoutMs = 3000): Promise<number> {
  const t0 = performance.now();
  const cert = await createDtlsCertificate();
  const peers: { server?: DtlsEndpoint; client?: DtlsEndpoint } = {};
  let done = 0;
  let close = (): void => undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`DTLS warm-up handshake did not finish in ${timeoutMs} ms`)), timeoutMs);
      close = () => clearTimeout(timer);
      const keyed = (): void => {
        if (++done === 2) resolve();
      };
      const to = (other: 'server' | 'client') => (data: Buffer): void => {
        setImmediate(() => peers[other]?.input(data, ['127.0.0.1', 9]));
      };
      peers.server = new DtlsEndpoint('server', cert, cert.fingerprint, to('client'), keyed, (why) => reject(new Error(why)));
      peers.client = new DtlsEndpoint('client', cert, cert.fingerprint, to('server'), keyed, (why) => reject(new Error(why)));
      peers.server.start();
      peers.client.start();
    });
  } finally {
    close();
    peers.server?.close();
    peers.client?.close();
  }
  return performance.now() - t0;
}

export interface DtlsCertificate {
  certPem: string;
  keyPem: string;
  /** `sha-256 AB:CD:…` as a=fingerprint carries it. */
  fingerprint: string;
}

/** SHA-256 fingerprint of a DER certificate, upper-case hex with colons (RFC 8122 §5). */
export function fingerprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)?.join(':') ?? '';
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** One ECDSA P-256 certificate per process (RFC 8827 §6.5 allows one per session; one is plenty). */
export async function createDtlsCertificate(): Promise<DtlsCertificate> {
  const { certPem, keyPem } = await werift().CipherContext.createSelfSignedCertificateWithKey({ hash: SHA256, signature: ECDSA }, SECP256R1);
  return { certPem, keyPem, fingerprint: `sha-256 ${fingerprintOf(pemToDer(certPem))}` };
}

const CONTENT_CHANGE_CIPHER_SPEC = 20;
const CONTENT_HANDSHAKE = 22;
const CONTENT_APPLICATION_DATA = 23;
const RECORD_HEADER = 13;

/**
 * Whether a datagram is a run of whole DTLS records (RFC 6347 §4.1) worth giving to the state
 * machine: content type 20–23, version DTLS 1.0 or 1.2, lengths that add up exactly, and no alert or
 * application data in epoch 0 (unauthenticated: one spoofed plaintext alert would otherwise tear the
 * association down). Anything else is dropped by the caller, as RFC 6347 §4.1.2.7 asks.
 */
export function acceptableRecords(d: Buffer): boolean {
  let off = 0;
  if (d.length < RECORD_HEADER) return false;
  while (off < d.length) {
    if (d.length - off < RECORD_HEADER) return false;
    const type = d[off];
    if (type < CONTENT_CHANGE_CIPHER_SPEC || type > CONTENT_APPLICATION_DATA) return false;
    if (d[off + 1] !== 0xfe || (d[off + 2] !== 0xfd && d[off + 2] !== 0xff)) return false;
    const epoch = d.readUInt16BE(off + 3);
    if (epoch === 0 && type !== CONTENT_HANDSHAKE && type !== CONTENT_CHANGE_CIPHER_SPEC) return false;
    const len = d.readUInt16BE(off + 11);
    if (len === 0 || off + RECORD_HEADER + len > d.length) return false;
    off += RECORD_HEADER + len;
  }
  return true;
}

export interface SrtpKeys {
  /** what we encrypt with / the peer decrypts with */
  localKeySalt: Buffer;
  remoteKeySalt: Buffer;
}

/**
 * One DTLS association on one media socket. `input` takes DTLS records (first byte 20–63, RFC 7983);
 * `send` puts records on the wire. `onKeys` fires once the handshake is done and the peer's
 * certificate matched the SDP fingerprint; `onFailure` otherwise.
 */
export class DtlsEndpoint {
  private readonly socket: WeriftSocket;
  private readonly transport: WeriftTransport;
  private done = false;

  constructor(
    readonly role: 'server' | 'client',
    cert: { certPem: string; keyPem: string },
    private readonly peerFingerprint: string,
    send: (data: Buffer) => void,
    private readonly onKeys: (keys: SrtpKeys) => void,
    private readonly onFailure: (why: string) => void,
    /** A record the state machine could not use (well framed, bad inside): counted by the owner. */
    private readonly onBadRecord: () => void = () => undefined,
  ) {
    const w = werift();
    this.transport = {
      type: 'udp',
      address: { address: '0.0.0.0', port: 0, family: 'IPv4' },
      closed: false,
      onData: () => undefined,
      send: async (data: Buffer) => send(data),
      close: async () => undefined,
    };
    const opts = { transport: this.transport, cert: cert.certPem, key: cert.keyPem, signatureHash: { hash: SHA256, signature: ECDSA }, srtpProfiles: [SRTP_AES128_CM_HMAC_SHA1_80], certificateRequest: true };
    this.socket = role === 'server' ? new w.DtlsServer(opts) : new w.DtlsClient(opts);
    this.socket.onConnect.subscribe(() => this.connected());
    // werift reports a handshake message it cannot parse as an error; its state is left as it was,
    // so a forged or corrupt record only costs that record. Only a flight that got no answer (our
    // Flight.transmit, after the last retransmission) ends the association.
    this.socket.onError.subscribe((e) => {
      if (/got no answer/.test(e.message)) this.fail(`DTLS error: ${e.message}`);
      else this.onBadRecord();
    });
  }

  /** A client starts the handshake; a server waits for the ClientHello. */
  start(): void {
    if (this.role === 'client') this.socket.connect?.().catch((e: unknown) => this.fail(`DTLS handshake failed: ${String(e)}`));
  }

  /** Gives a datagram of records to the state machine; false (and nothing done) if it is not acceptable. */
  input(record: Buffer, from: [string, number]): boolean {
    if (!acceptableRecords(record)) return false;
    try {
      this.transport.onData(record, from);
    } catch {
      return false;
    }
    return true;
  }

  private connected(): void {
    if (this.done) return;
    this.done = true;
    const cert = this.socket.remoteCertificate;
    const got = cert === undefined ? '' : fingerprintOf(cert);
    const want = this.peerFingerprint.replace(/^sha-256\s+/i, '').toUpperCase();
    if (got === '' || got !== want) {
      this.refuse();
      this.onFailure(`peer certificate fingerprint ${got || '(none)'} does not match a=fingerprint ${want}`);
      return;
    }
    const k = this.socket.extractSessionKeys(16, 14);
    this.onKeys({ localKeySalt: Buffer.concat([k.localKey, k.localSalt]), remoteKeySalt: Buffer.concat([k.remoteKey, k.remoteSalt]) });
  }

  /**
   * werift finishes the handshake before we can look at the certificate; a fatal bad_certificate
   * alert (RFC 5246 §7.2.2) tells the peer at once that this association is refused, instead of
   * leaving it to send SRTP nobody decrypts. Best effort: it needs werift internals.
   */
  private refuse(): void {
    try {
      const { dtls, cipher } = this.socket;
      if (dtls === undefined || cipher === undefined || createPlaintext === undefined) return;
      const [record] = createPlaintext(dtls)([{ type: CONTENT_ALERT, fragment: ALERT_BAD_CERTIFICATE }], ++dtls.recordSequenceNumber);
      void this.transport.send(cipher.encryptPacket(record).serialize());
    } catch {
      /* the refusal still holds: nothing is decrypted or forwarded */
    }
  }

  private fail(why: string): void {
    if (this.done) return;
    this.done = true;
    this.onFailure(why);
  }

  close(): void {
    this.transport.closed = true;
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
  }
}
