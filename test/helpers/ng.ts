import dgram from 'node:dgram';
import { encode, decode, type BDict } from '../../src/control/bencode.js';

/** Raw ng access for tests that need exact datagrams (cookies, malformed bytes). */
export class RawNg {
  readonly socket = dgram.createSocket('udp4');
  private seq = 0;

  /** `bindAddress`: any 127/8 address, to test per-source rules (`--ng-allow`) from one host. */
  constructor(
    readonly port: number,
    private readonly bindAddress = '127.0.0.1',
  ) {}

  async open(): Promise<this> {
    await new Promise<void>((r) => this.socket.bind(0, this.bindAddress, () => r()));
    return this;
  }

  sendRaw(buf: Buffer, timeoutMs = 2000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.socket.off('message', on);
        reject(new Error('no ng reply'));
      }, timeoutMs);
      const on = (m: Buffer): void => {
        clearTimeout(t);
        this.socket.off('message', on);
        resolve(m);
      };
      this.socket.on('message', on);
      this.socket.send(buf, this.port, '127.0.0.1');
    });
  }

  static frame(cookie: string, dict: BDict): Buffer {
    return Buffer.concat([Buffer.from(`${cookie} `), encode(dict)]);
  }

  static parse(reply: Buffer): { cookie: string; dict: BDict } {
    const sp = reply.indexOf(0x20);
    return { cookie: reply.subarray(0, sp).toString(), dict: decode(reply.subarray(sp + 1)) as BDict };
  }

  async request(dict: BDict): Promise<BDict> {
    const cookie = `t${process.pid}_${++this.seq}`;
    const r = RawNg.parse(await this.sendRaw(RawNg.frame(cookie, dict)));
    if (r.cookie !== cookie) throw new Error(`cookie mismatch ${r.cookie} != ${cookie}`);
    return r.dict;
  }

  close(): void {
    this.socket.close();
  }
}
