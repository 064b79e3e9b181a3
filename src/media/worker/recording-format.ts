import { isIP } from 'node:net';

/**
 * The bytes of Tandem's recording files, as pure functions (recorder.ts does the I/O).
 *
 * pcap (libpcap 2.4, microsecond timestamps, LINKTYPE_RAW = 101: each record starts at an IPv4
 * header): every RTP packet gets a fake IPv4 + UDP header with the addresses and ports it really
 * travelled between, as rtpengine's pcap recording method does, so Wireshark/tshark decode it as
 * RTP with `-d udp.port==X,rtp` or `-o rtp.heuristic_rtp:TRUE`. The UDP checksum is 0 (RFC 768:
 * none computed), the IPv4 header checksum is real. An IPv6 address is written as 0.0.0.0.
 *
 * WAV: RIFF/WAVE, 16-bit PCM; the sizes are written as 0 at first and fixed when the file closes.
 */
export const PCAP_LINKTYPE_RAW = 101;
const PCAP_SNAPLEN = 65535;
const IPV4_HEADER = 20;
const UDP_HEADER = 8;
/** The bytes a pcap record adds in front of the RTP packet: record header, IPv4, UDP. */
export const PCAP_RECORD_OVERHEAD = 16 + IPV4_HEADER + UDP_HEADER;

export function pcapGlobalHeader(): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeInt32LE(0, 8); // thiszone: UTC
  b.writeUInt32LE(0, 12); // sigfigs
  b.writeUInt32LE(PCAP_SNAPLEN, 16);
  b.writeUInt32LE(PCAP_LINKTYPE_RAW, 20);
  return b;
}

export interface PcapEndpoint {
  address: string;
  port: number;
}

function writeIpv4(b: Buffer, at: number, address: string): void {
  if (isIP(address) !== 4) {
    b.writeUInt32BE(0, at);
    return;
  }
  const parts = address.split('.');
  for (let i = 0; i < 4; i++) b[at + i] = Number(parts[i]);
}

/** RFC 791's header checksum: one's complement of the one's complement sum of 16-bit words. */
export function ipv4Checksum(b: Buffer, at: number, len: number): number {
  let sum = 0;
  for (let i = at; i < at + len; i += 2) sum += (b[i] << 8) | b[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * One pcap record: header, fake IPv4/UDP, then `payload` (the RTP packet as it was received or
 * sent, decrypted). `usec` is the capture time in microseconds since the epoch; `ipId` the IPv4
 * identification (any counter).
 */
export function pcapRecord(payload: Uint8Array, from: PcapEndpoint, to: PcapEndpoint, usec: number, ipId: number): Buffer {
  const ipLen = IPV4_HEADER + UDP_HEADER + payload.length;
  const b = Buffer.allocUnsafe(16 + ipLen);
  const sec = Math.floor(usec / 1e6);
  b.writeUInt32LE(sec >>> 0, 0);
  b.writeUInt32LE(Math.floor(usec - sec * 1e6), 4);
  b.writeUInt32LE(ipLen, 8);
  b.writeUInt32LE(ipLen, 12);
  const ip = 16;
  b[ip] = 0x45;
  b[ip + 1] = 0;
  b.writeUInt16BE(ipLen & 0xffff, ip + 2);
  b.writeUInt16BE(ipId & 0xffff, ip + 4);
  b.writeUInt16BE(0x4000, ip + 6); // don't fragment
  b[ip + 8] = 64;
  b[ip + 9] = 17; // UDP
  b.writeUInt16BE(0, ip + 10);
  writeIpv4(b, ip + 12, from.address);
  writeIpv4(b, ip + 16, to.address);
  b.writeUInt16BE(ipv4Checksum(b, ip, IPV4_HEADER), ip + 10);
  const udp = ip + IPV4_HEADER;
  b.writeUInt16BE(from.port & 0xffff, udp);
  b.writeUInt16BE(to.port & 0xffff, udp + 2);
  b.writeUInt16BE((UDP_HEADER + payload.length) & 0xffff, udp + 4);
  b.writeUInt16BE(0, udp + 6);
  b.set(payload, udp + UDP_HEADER);
  return b;
}

export const WAV_HEADER_BYTES = 44;

/** A 44-byte WAV header for `dataBytes` of interleaved 16-bit PCM. */
export function wavHeader(channels: number, sampleRate: number, dataBytes: number): Buffer {
  const b = Buffer.alloc(WAV_HEADER_BYTES);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(Math.min(0xffffffff, 36 + dataBytes), 4);
  b.write('WAVE', 8, 'latin1');
  b.write('fmt ', 12, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * channels * 2, 28);
  b.writeUInt16LE(channels * 2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(Math.min(0xffffffff - 36, dataBytes), 40);
  return b;
}
