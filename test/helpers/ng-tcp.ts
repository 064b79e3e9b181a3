import net from 'node:net';
import { decode, encode, type BDict } from '../../src/control/bencode.js';
import { NgStreamFramer } from '../../src/control/ng-stream.js';

/**
 * A raw ng client over TCP, as rtpengine's `--listen-tcp-ng` takes it: `<cookie> <dict>` back to
 * back on one connection. Replies are framed with Tandem's own framer (the same format both ways).
 */
export class TcpNg {
  readonly socket: net.Socket;
  readonly replies: { cookie: string; dict: BDict }[] = [];
  /** Resolves when the server closes (or resets) the connection. */
  readonly closed: Promise<void>;
  private readonly framer = new NgStreamFramer(1 << 24);
  private waiters: (() => void)[] = [];
  /**
   * One count for every connection: the reply cache is per source address over TCP (a client that
   * reconnects gets its reply), so cookies must not repeat across a host's connections, as with rtpengine.
   */
  private static seq = 0;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.framer.push(chunk)) {
        if (f.kind !== 'message') throw new Error(`unframeable reply: ${f.reason}`);
        const sp = f.bytes.indexOf(0x20);
        this.replies.push({ cookie: f.bytes.toString('latin1', 0, sp), dict: decode(f.bytes.subarray(sp + 1)) as BDict });
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  }

  /** `allowHalfOpen`: a peer that does not close its side when the server closes its own. */
  static connect(port: number, localAddress = '127.0.0.1', allowHalfOpen = false): Promise<TcpNg> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen }, () => {
        s.off('error', reject);
        resolve(new TcpNg(s));
      });
      s.once('error', reject);
    });
  }

  static frame(cookie: string, dict: BDict): Buffer {
    return Buffer.concat([Buffer.from(`${cookie} `), encode(dict)]);
  }

  write(buf: Buffer | string): void {
    this.socket.write(buf);
  }

  /** The reply with `cookie`, waiting at most `timeoutMs`. */
  async reply(cookie: string, timeoutMs = 3000): Promise<BDict> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.replies.find((x) => x.cookie === cookie);
      if (r !== undefined) return r.dict;
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.destroyed) throw new Error(`no ng TCP reply for ${cookie}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
        void this.closed.then(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async request(dict: BDict): Promise<BDict> {
    const cookie = `tcp${process.pid}_${++TcpNg.seq}`;
    this.write(TcpNg.frame(cookie, dict));
    return this.reply(cookie);
  }

  /** Whether the server closes the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.closed.then(() => true), new Promise<boolean>((resolve) => (t = setTimeout(() => resolve(false), ms)))]);
    clearTimeout(t);
    return r;
  }

  close(): void {
    this.socket.destroy();
  }
}
