import dgram from 'node:dgram';

/** A plain RTP endpoint on 127.0.0.1 for tests: sends packets, collects what arrives. */
export class RtpPeer {
  readonly socket = dgram.createSocket('udp4');
  readonly received: Buffer[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  static async open(): Promise<RtpPeer> {
    const p = new RtpPeer();
    await new Promise<void>((r) => p.socket.bind(0, '127.0.0.1', () => r()));
    p.socket.on('message', (m) => {
      p.received.push(Buffer.from(m));
      p.waiters = p.waiters.filter((w) => {
        if (p.received.length >= w.n) w.resolve();
        return p.received.length < w.n;
      });
    });
    return p;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((r, j) => this.socket.send(buf, port, address, (e) => (e ? j(e) : r())));
  }

  /** Resolves when n packets have arrived in total; rejects after timeoutMs. */
  waitFor(n: number, timeoutMs = 3000): Promise<Buffer[]> {
    if (this.received.length >= n) return Promise.resolve(this.received);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`expected ${n} packets, got ${this.received.length}`)), timeoutMs);
      this.waiters.push({ n, resolve: () => { clearTimeout(t); resolve(this.received); } });
    });
  }

  close(): void {
    this.socket.close();
  }
}

export function rtpPacket(o: { pt: number; seq: number; ts: number; ssrc: number; payload: Buffer; marker?: boolean }): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (o.marker ? 0x80 : 0) | o.pt;
  h.writeUInt16BE(o.seq & 0xffff, 2);
  h.writeUInt32BE(o.ts >>> 0, 4);
  h.writeUInt32BE(o.ssrc >>> 0, 8);
  return Buffer.concat([h, o.payload]);
}

/** A payload that walks through many code values, so a wrong table shows. */
export function patternPayload(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

export function sdpFor(o: { port: number; pts: number[]; rtpmaps?: string[]; ptime?: number; extra?: string[] }): string {
  return [
    'v=0',
    'o=- 1545997027 1 IN IP4 127.0.0.1',
    's=tandem test',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${o.port} RTP/AVP ${o.pts.join(' ')}`,
    ...(o.rtpmaps ?? []).map((r) => `a=rtpmap:${r}`),
    ...(o.ptime !== undefined ? [`a=ptime:${o.ptime}`] : []),
    ...(o.extra ?? []),
    'a=sendrecv',
    '',
  ].join('\r\n');
}

/** The m= port and c= address of an SDP, where a peer must send. */
export function mediaTarget(sdp: string): { address: string; port: number } {
  const m = /^m=audio (\d+) /m.exec(sdp);
  const c = /^c=IN IP4 (\S+)/m.exec(sdp);
  if (m === null || c === null) throw new Error(`no media target in SDP:\n${sdp}`);
  return { address: c[1], port: Number(m[1]) };
}
