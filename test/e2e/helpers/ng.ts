// A small, independent ng-protocol client for e2e tests: bencode + UDP ("<cookie> <bencoded dict>").
// Independent of src/ on purpose: it checks the media server from the outside, and it also serves
// as the tap that logs the ng messages a real Kamailio sends.
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export type BValue = string | number | BValue[] | { [key: string]: BValue };
export type BDict = { [key: string]: BValue };

export function bencode(v: BValue): Buffer {
  const parts: Buffer[] = [];
  const enc = (x: BValue): void => {
    if (typeof x === 'number') {
      if (!Number.isInteger(x)) throw new Error(`bencode: not an integer: ${x}`);
      parts.push(Buffer.from(`i${x}e`));
    } else if (typeof x === 'string') {
      const b = Buffer.from(x, 'utf8');
      parts.push(Buffer.from(`${b.length}:`), b);
    } else if (Array.isArray(x)) {
      parts.push(Buffer.from('l'));
      x.forEach(enc);
      parts.push(Buffer.from('e'));
    } else {
      parts.push(Buffer.from('d'));
      // Keys sorted as raw byte strings (bencode canonical form).
      for (const k of Object.keys(x).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
        enc(k);
        enc(x[k]);
      }
      parts.push(Buffer.from('e'));
    }
  };
  enc(v);
  return Buffer.concat(parts);
}

export function bdecode(buf: Buffer): BValue {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`bdecode: ${msg} at offset ${i}`);
  };
  const dec = (): BValue => {
    if (i >= buf.length) fail('unexpected end');
    const c = buf[i];
    if (c === 0x69 /* i */) {
      const end = buf.indexOf(0x65, i);
      if (end < 0) fail('unterminated integer');
      const n = Number(buf.subarray(i + 1, end).toString('latin1'));
      if (!Number.isFinite(n)) fail('bad integer');
      i = end + 1;
      return n;
    }
    if (c === 0x6c /* l */) {
      i++;
      const out: BValue[] = [];
      while (buf[i] !== 0x65) out.push(dec());
      i++;
      return out;
    }
    if (c === 0x64 /* d */) {
      i++;
      const out: BDict = {};
      while (buf[i] !== 0x65) {
        const k = dec();
        if (typeof k !== 'string') fail('dict key is not a string');
        out[k as string] = dec();
      }
      i++;
      return out;
    }
    if (c >= 0x30 && c <= 0x39) {
      const colon = buf.indexOf(0x3a, i);
      if (colon < 0) fail('string without colon');
      const len = Number(buf.subarray(i, colon).toString('latin1'));
      const start = colon + 1;
      if (start + len > buf.length) fail('string past end');
      i = start + len;
      return buf.subarray(start, start + len).toString('utf8');
    }
    return fail(`unexpected byte 0x${c.toString(16)}`);
  };
  const v = dec();
  if (i !== buf.length) fail('trailing bytes');
  return v;
}

/** Splits one ng datagram into cookie and decoded dict. */
export function parseNgDatagram(msg: Buffer): { cookie: string; dict: BDict } {
  const sp = msg.indexOf(0x20);
  if (sp < 0) throw new Error('ng datagram without cookie');
  const dict = bdecode(msg.subarray(sp + 1));
  if (typeof dict !== 'object' || Array.isArray(dict)) throw new Error('ng body is not a dict');
  return { cookie: msg.subarray(0, sp).toString('latin1'), dict: dict as BDict };
}

export class TestNgClient {
  private sock: Socket;
  private pending = new Map<string, (d: BDict) => void>();
  private ready: Promise<void>;

  constructor(
    private readonly opts: { host: string; port: number; timeoutMs?: number; retries?: number },
  ) {
    this.sock = createSocket('udp4');
    this.sock.on('message', (msg) => {
      try {
        const { cookie, dict } = parseNgDatagram(msg);
        const cb = this.pending.get(cookie);
        if (cb) {
          this.pending.delete(cookie);
          cb(dict);
        }
      } catch {
        /* ignore garbage */
      }
    });
    this.sock.on('error', () => undefined);
    this.ready = new Promise((r) => this.sock.bind(0, '127.0.0.1', () => r()));
  }

  /** Sends `dict`, retransmitting the same cookie on timeout; rejects after all retries. */
  async request(dict: BDict): Promise<BDict> {
    await this.ready;
    const cookie = randomBytes(6).toString('hex');
    const payload = Buffer.concat([Buffer.from(`${cookie} `), bencode(dict)]);
    const timeoutMs = this.opts.timeoutMs ?? 1000;
    const tries = 1 + (this.opts.retries ?? 2);
    return new Promise<BDict>((resolve, reject) => {
      let n = 0;
      let timer: NodeJS.Timeout | undefined;
      const send = (): void => {
        if (n++ >= tries) {
          this.pending.delete(cookie);
          reject(new Error(`ng ${String(dict.command)}: no reply from ${this.opts.host}:${this.opts.port}`));
          return;
        }
        this.sock.send(payload, this.opts.port, this.opts.host);
        timer = setTimeout(send, timeoutMs);
      };
      this.pending.set(cookie, (d) => {
        clearTimeout(timer);
        resolve(d);
      });
      send();
    });
  }

  close(): void {
    for (const k of this.pending.keys()) this.pending.delete(k);
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

export interface NgTapRecord {
  dir: 'request' | 'reply';
  cookie: string;
  dict: BDict;
  /** The datagram as received (latin1), for exact logging. */
  raw: string;
}

/**
 * A UDP relay between an ng client (Kamailio) and the media server that decodes and records every
 * datagram. One upstream socket per client address, so replies go back to the right sender.
 */
export class NgTap {
  readonly records: NgTapRecord[] = [];
  private front: Socket;
  private upstreams = new Map<string, Socket>();
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.front = createSocket('udp4');
  }

  static async start(target: { host: string; port: number }): Promise<NgTap> {
    const tap = new NgTap(target);
    await new Promise<void>((r) => tap.front.bind(0, '127.0.0.1', () => r()));
    tap.port = tap.front.address().port;
    tap.front.on('message', (msg, rinfo) => tap.fromClient(msg, rinfo.address, rinfo.port));
    tap.front.on('error', () => undefined);
    return tap;
  }

  private record(dir: 'request' | 'reply', msg: Buffer): void {
    try {
      const { cookie, dict } = parseNgDatagram(msg);
      this.records.push({ dir, cookie, dict, raw: msg.toString('latin1') });
    } catch {
      /* keep relaying even if we cannot decode */
    }
  }

  private fromClient(msg: Buffer, host: string, port: number): void {
    this.record('request', msg);
    const key = `${host}:${port}`;
    let up = this.upstreams.get(key);
    if (!up) {
      const s = createSocket('udp4');
      s.on('message', (reply) => {
        this.record('reply', reply);
        this.front.send(reply, port, host);
      });
      s.on('error', () => undefined);
      s.bind(0, '127.0.0.1');
      this.upstreams.set(key, s);
      up = s;
    }
    up.send(msg, this.target.port, this.target.host);
  }

  close(): void {
    for (const s of [this.front, ...this.upstreams.values()]) {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
    this.upstreams.clear();
  }
}
