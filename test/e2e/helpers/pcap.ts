// libpcap files (not pcapng): read SIPp's RTP pcaps, write shortened or re-encoded copies for it to
// play, and capture what really crossed the loopback with dumpcap (Wireshark's capture engine).
import { readFileSync, writeFileSync, mkdtempSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

export interface PcapRecord {
  tsSec: number;
  tsUsec: number;
  /** the whole frame, link layer included. */
  frame: Buffer;
}

export interface Pcap {
  linkType: number;
  records: PcapRecord[];
}

const MAGIC_US = 0xa1b2c3d4;

export function readPcap(file: string): Pcap {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  if (magic !== MAGIC_US) throw new Error(`${file}: not a little-endian microsecond libpcap file (magic ${magic.toString(16)})`);
  const linkType = b.readUInt32LE(20);
  const records: PcapRecord[] = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const tsSec = b.readUInt32LE(off);
    const tsUsec = b.readUInt32LE(off + 4);
    const incl = b.readUInt32LE(off + 8);
    records.push({ tsSec, tsUsec, frame: Buffer.from(b.subarray(off + 16, off + 16 + incl)) });
    off += 16 + incl;
  }
  return { linkType, records };
}

export function writePcap(file: string, p: Pcap): void {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(MAGIC_US, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(p.linkType, 20);
  const parts: Buffer[] = [head];
  for (const r of p.records) {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(r.tsSec, 0);
    h.writeUInt32LE(r.tsUsec, 4);
    h.writeUInt32LE(r.frame.length, 8);
    h.writeUInt32LE(r.frame.length, 12);
    parts.push(h, r.frame);
  }
  writeFileSync(file, Buffer.concat(parts));
}

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  /** offset of the UDP payload in the frame. */
  payloadOffset: number;
  payload: Buffer;
}

/** Ethernet (DLT 1) or Linux cooked (DLT 113) → IPv4 → UDP; undefined for anything else. */
export function udpOf(frame: Buffer, linkType: number): UdpDatagram | undefined {
  let ip: number;
  if (linkType === 1) {
    if (frame.readUInt16BE(12) !== 0x0800) return undefined;
    ip = 14;
  } else if (linkType === 113) {
    if (frame.readUInt16BE(14) !== 0x0800) return undefined;
    ip = 16;
  } else return undefined;
  if (frame[ip] >> 4 !== 4 || frame[ip + 9] !== 17) return undefined;
  const udp = ip + (frame[ip] & 0x0f) * 4;
  const len = frame.readUInt16BE(udp + 4);
  return { srcPort: frame.readUInt16BE(udp), dstPort: frame.readUInt16BE(udp + 2), payloadOffset: udp + 8, payload: frame.subarray(udp + 8, udp + len) };
}

export interface CapturedRtp {
  srcPort: number;
  dstPort: number;
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
  atMs: number;
}

export function rtpOf(d: UdpDatagram): Omit<CapturedRtp, 'srcPort' | 'dstPort' | 'atMs'> | undefined {
  const b = d.payload;
  if (b.length < 12 || b[0] >> 6 !== 2) return undefined;
  const cc = b[0] & 0x0f;
  const start = 12 + cc * 4;
  return { payloadType: b[1] & 0x7f, seq: b.readUInt16BE(2), timestamp: b.readUInt32BE(4), ssrc: b.readUInt32BE(8), payload: Buffer.from(b.subarray(start)) };
}

/**
 * A copy of an RTP pcap with only the first `count` packets, and optionally every RTP payload
 * mapped byte by byte, the payload type changed (PCMA → PCMU for a codec-change test) and the SSRC
 * set (so a second play can be told from the first on the wire).
 */
export function deriveRtpPcap(src: string, opts: { count: number; table?: Buffer; payloadType?: number; ssrc?: number }): string {
  const p = readPcap(src);
  const records = p.records.slice(0, opts.count).map((r) => {
    const frame = Buffer.from(r.frame);
    const d = udpOf(frame, p.linkType);
    if (d !== undefined && (opts.table !== undefined || opts.payloadType !== undefined || opts.ssrc !== undefined)) {
      const rtp = d.payloadOffset;
      if (opts.payloadType !== undefined) frame[rtp + 1] = (frame[rtp + 1] & 0x80) | opts.payloadType;
      if (opts.ssrc !== undefined) frame.writeUInt32BE(opts.ssrc >>> 0, rtp + 8);
      if (opts.table !== undefined) for (let i = rtp + 12; i < rtp + d.payload.length; i++) frame[i] = opts.table[frame[i]];
      // A zero UDP checksum means "none": the bytes changed, so the old one would be wrong.
      frame.writeUInt16BE(0, d.payloadOffset - 2);
    }
    return { ...r, frame };
  });
  const dir = mkdtempSync(join(tmpdir(), 'tandem-pcap-'));
  const out = join(dir, `rtp-${opts.payloadType ?? 'same'}-${opts.count}.pcap`);
  writePcap(out, { linkType: p.linkType, records });
  return out;
}

/** RTP payloads (in order) of a pcap, for comparing with what was captured. */
export function rtpPayloads(file: string): Buffer[] {
  const p = readPcap(file);
  return p.records.flatMap((r) => {
    const d = udpOf(r.frame, p.linkType);
    const rtp = d === undefined ? undefined : rtpOf(d);
    return rtp === undefined ? [] : [rtp.payload];
  });
}

/** Captures UDP on lo for the given ports with dumpcap, until stop(); `file` is the capture (for tshark). */
export async function startCapture(opts: { ports: number[]; timeoutMs: number }): Promise<{ file: string; stop(): Promise<CapturedRtp[]> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-cap-'));
  const file = join(dir, 'cap.pcap');
  const filter = `udp and (${opts.ports.map((p) => `port ${p}`).join(' or ')})`;
  const child = spawn('dumpcap', ['-i', 'lo', '-f', filter, '-w', file, '-P', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  kill.unref();
  // dumpcap says "Capturing on" once the filter is in place; packets before that would be lost.
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`dumpcap did not start: ${stderr}`)), 5000);
    const check = (): void => {
      if (/Capturing on/.test(stderr)) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stderr.on('data', check);
    child.once('error', (e) => reject(e));
    child.once('exit', (code) => reject(new Error(`dumpcap exited (${code}): ${stderr}`)));
    check();
  });
  return {
    file,
    async stop() {
      child.kill('SIGINT');
      await exited;
      clearTimeout(kill);
      if (!existsSync(file) || statSync(file).size < 24) return [];
      const p = readPcap(file);
      const first = p.records[0];
      const t0 = first === undefined ? 0 : first.tsSec * 1000 + first.tsUsec / 1000;
      return p.records.flatMap((r) => {
        const d = udpOf(r.frame, p.linkType);
        const rtp = d === undefined ? undefined : rtpOf(d);
        if (d === undefined || rtp === undefined) return [];
        return [{ ...rtp, srcPort: d.srcPort, dstPort: d.dstPort, atMs: r.tsSec * 1000 + r.tsUsec / 1000 - t0 }];
      });
    },
  };
}

/**
 * An RTP pcap made from scratch for SIPp to play: `payloads` as 20 ms packets, Ethernet/IPv4/UDP
 * on 127.0.0.1 (SIPp replaces addresses and ports, and paces by the pcap's timestamps).
 */
export function rtpPcapFrom(file: string, o: { payloadType: number; payloads: Buffer[]; samplesPerPacket: number }): string {
  const records: PcapRecord[] = o.payloads.map((payload, i) => {
    const rtp = Buffer.alloc(12 + payload.length);
    rtp[0] = 0x80;
    rtp[1] = (i === 0 ? 0x80 : 0) | o.payloadType;
    rtp.writeUInt16BE(i & 0xffff, 2);
    rtp.writeUInt32BE((i * o.samplesPerPacket) >>> 0, 4);
    rtp.writeUInt32BE(0x5ec0ffee, 8);
    payload.copy(rtp, 12);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(4000, 0);
    udp.writeUInt16BE(4002, 2);
    udp.writeUInt16BE(8 + rtp.length, 4); // checksum 0 = none
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + udp.length + rtp.length, 2);
    ip[8] = 64;
    ip[9] = 17;
    ip.writeUInt32BE(0x7f000001, 12);
    ip.writeUInt32BE(0x7f000001, 16);
    let sum = 0;
    for (let k = 0; k < 20; k += 2) sum += ip.readUInt16BE(k);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    ip.writeUInt16BE(~sum & 0xffff, 10);
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const ms = i * 20;
    return { tsSec: Math.floor(ms / 1000), tsUsec: (ms % 1000) * 1000, frame: Buffer.concat([eth, ip, udp, rtp]) };
  });
  writePcap(file, { linkType: 1, records });
  return file;
}
