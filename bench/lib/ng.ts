/**
 * A tiny ng client (rtpengine control protocol: "COOKIE bencoded-dict" over UDP). Retransmits the same
 * cookie on timeout, as Kamailio does, so a server's cookie cache answers a retry with the same reply.
 */
import dgram from 'node:dgram';
import { bdecode, bencode, type BDict } from './bencode.js';

export interface NgClientOptions {
  host: string;
  port: number;
  timeoutMs?: number;
  retries?: number;
}

interface Pending {
  resolve(d: BDict): void;
  reject(e: Error): void;
}

export class NgClient {
  private readonly socket = dgram.createSocket('udp4');
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private readonly prefix = `b${process.pid.toString(36)}${Date.now().toString(36)}_`;
  private closed = false;

  constructor(private readonly opts: NgClientOptions) {
    this.socket.on('message', (msg) => {
      const sp = msg.indexOf(0x20);
      if (sp < 0) return;
      const cookie = msg.toString('latin1', 0, sp);
      const p = this.pending.get(cookie);
      if (!p) return;
      this.pending.delete(cookie);
      try {
        p.resolve(bdecode(msg.subarray(sp + 1)) as BDict);
      } catch (e) {
        p.reject(e as Error);
      }
    });
    this.socket.on('error', () => undefined);
    this.socket.unref();
  }

  async request(dict: BDict): Promise<BDict> {
    if (this.closed) throw new Error('ng client closed');
    const cookie = this.prefix + (++this.seq).toString(36);
    const frame = Buffer.concat([Buffer.from(`${cookie} `), bencode(dict)]);
    const timeoutMs = this.opts.timeoutMs ?? 1000;
    const tries = (this.opts.retries ?? 3) + 1;
    return new Promise<BDict>((resolve, reject) => {
      let attempt = 0;
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        this.pending.delete(cookie);
      };
      this.pending.set(cookie, {
        resolve: (d) => {
          done();
          resolve(d);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      const send = (): void => {
        if (this.closed) return;
        attempt++;
        this.socket.send(frame, this.opts.port, this.opts.host);
        timer = setTimeout(() => {
          if (attempt >= tries) {
            done();
            reject(new Error(`ng ${String(dict.command)}: no reply from ${this.opts.host}:${this.opts.port} after ${tries} tries`));
          } else send();
        }, timeoutMs);
      };
      send();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new Error('ng client closed'));
    this.pending.clear();
    this.socket.close();
  }
}

/** Throws with the server's error-reason when result is not ok (warnings are returned). */
export function expectOk(reply: BDict, what: string): BDict {
  if (reply.result !== 'ok' && reply.result !== 'pong') {
    throw new Error(`ng ${what}: ${String(reply.result)}${reply['error-reason'] ? `: ${String(reply['error-reason'])}` : ''}`);
  }
  return reply;
}
