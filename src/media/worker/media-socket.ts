import dgram from 'node:dgram';

/**
 * What the media path uses of a UDP socket, on either backend (`--io`): node:dgram, or the
 * batched native layer (batch-io.ts). Bridge sides, the latched socket and the guard see only this.
 */

/** The source of a datagram. The batch backend hands every packet the same object: read it, never keep it. */
export interface MediaRemoteInfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
  size: number;
}

/** A packet handler; `msg` may be a view into a ring that is reused after the handler returns. */
export type MediaMessageHandler = (msg: Buffer, rinfo: MediaRemoteInfo) => void;

export interface MediaSocket {
  /** send() has copied the bytes when it returns (batch), so the caller may reuse its buffer at once. */
  readonly copiesOnSend: boolean;
  /** Addressed, or to the connected peer when `port` is undefined; may throw (the guard catches it). */
  send(buf: Buffer, len: number, port?: number, address?: string): void;
  /** Sends without an address go to this peer from now; `done` runs once it holds (maybe synchronously). */
  connect(port: number, address: string, done: () => void): void;
  disconnect(): void;
  onMessage(handler: MediaMessageHandler): void;
  close(): void;
}

export type MediaIo = 'batch' | 'dgram';

/** Binds one media socket on an address (IPv4 or IPv6) and port; rejects with the OS error (code EADDRINUSE…). */
export type MediaSocketFactory = (family: 4 | 6, address: string, port: number) => Promise<MediaSocket>;

/** node:dgram, one datagram per system call; connect() lets the kernel skip the route lookup per send. */
class DgramMediaSocket implements MediaSocket {
  /** dgram keeps the buffer until an addressed or queued send completes. */
  readonly copiesOnSend = false;

  constructor(private readonly sock: dgram.Socket) {}

  send(buf: Buffer, len: number, port?: number, address?: string): void {
    if (port === undefined) this.sock.send(buf, 0, len);
    else this.sock.send(buf, 0, len, port, address);
  }

  connect(port: number, address: string, done: () => void): void {
    this.sock.connect(port, address, done);
  }

  disconnect(): void {
    this.sock.disconnect();
  }

  onMessage(handler: MediaMessageHandler): void {
    this.sock.on('message', handler);
  }

  close(): void {
    this.sock.close();
  }
}

export function bindDgramSocket(family: 4 | 6, address: string, port: number): Promise<MediaSocket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: false });
    const onError = (err: Error): void => {
      sock.close();
      reject(err);
    };
    sock.once('error', onError);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', onError);
      // A socket error after bind (e.g. ICMP-driven) must never take the worker down.
      sock.on('error', () => undefined);
      resolve(new DgramMediaSocket(sock));
    });
  });
}
