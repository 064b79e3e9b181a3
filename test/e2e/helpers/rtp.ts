// RTP helpers for e2e tests: one endpoint = an RTP socket plus an RTCP socket on 127.0.0.1 (port 0),
// minimal RFC 3550 packets, and G.711 A-law -> mu-law reference tables built once with Debian's sox.
import { createSocket, type Socket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, sleep } from './proc.js';

export interface RtpPacket {
  pt: number;
  marker: boolean;
  seq: number;
  ts: number;
  ssrc: number;
  payload: Buffer;
  from: { address: string; port: number };
  at: number;
}

export function buildRtp(p: { pt: number; seq: number; ts: number; ssrc: number; marker?: boolean; payload: Buffer }): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80; // V=2, no padding, no extension, CC=0
  h[1] = (p.marker ? 0x80 : 0) | (p.pt & 0x7f);
  h.writeUInt16BE(p.seq & 0xffff, 2);
  h.writeUInt32BE(p.ts >>> 0, 4);
  h.writeUInt32BE(p.ssrc >>> 0, 8);
  return Buffer.concat([h, p.payload]);
}

/** Parses an RTP packet (header extension, CSRCs and padding honoured); undefined if it is not RTP. */
export function parseRtp(buf: Buffer): Omit<RtpPacket, 'from' | 'at'> | undefined {
  if (buf.length < 12 || buf[0] >> 6 !== 2) return undefined;
  const pt = buf[1] & 0x7f;
  if (pt >= 72 && pt <= 76) return undefined; // RTCP (RFC 5761 demux)
  const cc = buf[0] & 0x0f;
  let off = 12 + 4 * cc;
  if (buf[0] & 0x10) {
    if (buf.length < off + 4) return undefined;
    off += 4 + 4 * buf.readUInt16BE(off + 2);
  }
  let end = buf.length;
  if (buf[0] & 0x20) end -= buf[buf.length - 1];
  if (end < off) return undefined;
  return {
    pt,
    marker: (buf[1] & 0x80) !== 0,
    seq: buf.readUInt16BE(2),
    ts: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: Buffer.from(buf.subarray(off, end)),
  };
}

async function bindUdp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  return s;
}

/** An RTP socket and an RTCP socket; packets received on the RTP socket are collected. */
export class RtpEndpoint {
  readonly received: RtpPacket[] = [];
  rtcpReceived = 0;
  private constructor(
    readonly rtp: Socket,
    readonly rtcp: Socket,
  ) {
    rtp.on('message', (msg, rinfo) => {
      const p = parseRtp(msg);
      if (p) this.received.push({ ...p, from: { address: rinfo.address, port: rinfo.port }, at: Date.now() });
      else this.rtcpReceived++;
    });
    rtcp.on('message', () => {
      this.rtcpReceived++;
    });
    rtp.on('error', () => undefined);
    rtcp.on('error', () => undefined);
  }

  static async open(): Promise<RtpEndpoint> {
    return new RtpEndpoint(await bindUdp(), await bindUdp());
  }

  get port(): number {
    return this.rtp.address().port;
  }
  get rtcpPort(): number {
    return this.rtcp.address().port;
  }

  /**
   * Sends `payloads` as consecutive RTP packets (20 ms apart, 160 samples each) from the advertised
   * RTP socket, so symmetric latching on the far side learns this socket.
   */
  async sendStream(
    to: { address: string; port: number },
    pt: number,
    payloads: Buffer[],
    opts: { intervalMs?: number; ssrc?: number; seq0?: number; ts0?: number } = {},
  ): Promise<void> {
    const ssrc = opts.ssrc ?? Math.floor(Math.random() * 0xffffffff);
    const seq0 = opts.seq0 ?? Math.floor(Math.random() * 0x8000);
    const ts0 = opts.ts0 ?? Math.floor(Math.random() * 0x7fffffff);
    const interval = opts.intervalMs ?? 20;
    const start = Date.now();
    for (let i = 0; i < payloads.length; i++) {
      const pkt = buildRtp({ pt, seq: seq0 + i, ts: ts0 + 160 * i, ssrc, marker: i === 0, payload: payloads[i] });
      await new Promise<void>((r) => this.rtp.send(pkt, to.port, to.address, () => r()));
      // Pace against the start time so timer drift does not accumulate.
      const next = start + (i + 1) * interval;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
    }
  }

  close(): void {
    for (const s of [this.rtp, this.rtcp]) {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
  }
}

/** `count` payloads of `size` bytes whose bytes walk through all 256 values (with a per-packet offset). */
export function patternPayloads(count: number, size = 160, salt = 0): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const b = Buffer.alloc(size);
    for (let j = 0; j < size; j++) b[j] = (salt + i * 37 + j * 7) & 0xff; // 7 is odd: 160 steps hit 160 distinct values
    out.push(b);
  }
  return out;
}

export interface G711Tables {
  /** Linear 16-bit level of each A-law / mu-law byte, as Debian sox decodes it. */
  alawLevels: Int16Array;
  ulawLevels: Int16Array;
  /** sox's direct conversion (`sox -t al ... -t ul`): decode, then a *truncating* encode. */
  alawToUlaw: Buffer;
  ulawToAlaw: Buffer;
  /**
   * Minimum-error transcoding: for each source byte, the target-law bytes whose level is nearest to
   * the source byte's level (two candidates only where the source level lies exactly between two target
   * levels: 16 mu-law bytes near zero). This is what rtpengine (via ffmpeg's G.711 tables) produces.
   */
  alawToUlawNearest: number[][];
  ulawToAlawNearest: number[][];
}

let tables: G711Tables | undefined;

function nearestCodes(levels: Int16Array, x: number): number[] {
  let best = Infinity;
  for (const l of levels) best = Math.min(best, Math.abs(l - x));
  const out: number[] = [];
  levels.forEach((l, code) => {
    if (Math.abs(l - x) === best) out.push(code);
  });
  return out;
}

/**
 * Builds the 256-entry G.711 tables once by running Debian sox on all 256 byte values (-D: no dither,
 * so each mapping is a pure function of the byte):
 *   sox -D -t al -r 8000 -c 1 in.raw -t ul out.raw      (and ul -> al)
 *   sox -D -t al -r 8000 -c 1 in.raw -t s16 out.raw     (decoded levels; likewise for ul)
 */
export function soxG711Tables(): G711Tables {
  if (tables) return tables;
  const dir = makeTempDir('sox');
  try {
    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    const input = join(dir, 'in.raw');
    writeFileSync(input, all);
    const conv = (from: string, to: string[], bytes: number): Buffer => {
      const out = join(dir, `out.${to.join('')}.raw`);
      execFileSync('sox', ['-D', '-t', from, '-r', '8000', '-c', '1', input, ...to, out], { timeout: 10_000 });
      const b = readFileSync(out);
      if (b.length !== bytes) throw new Error(`sox ${from}->${to.join(' ')} produced ${b.length} bytes, expected ${bytes}`);
      return b;
    };
    const levels = (from: string): Int16Array => {
      const b = conv(from, ['-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L'], 512);
      const out = new Int16Array(256);
      for (let i = 0; i < 256; i++) out[i] = b.readInt16LE(2 * i);
      return out;
    };
    const alawLevels = levels('al');
    const ulawLevels = levels('ul');
    tables = {
      alawLevels,
      ulawLevels,
      alawToUlaw: conv('al', ['-t', 'ul'], 256),
      ulawToAlaw: conv('ul', ['-t', 'al'], 256),
      alawToUlawNearest: Array.from(alawLevels, (x) => nearestCodes(ulawLevels, x)),
      ulawToAlawNearest: Array.from(ulawLevels, (x) => nearestCodes(alawLevels, x)),
    };
    return tables;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function mapBytes(table: Buffer, payload: Buffer): Buffer {
  const out = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = table[payload[i]];
  return out;
}
