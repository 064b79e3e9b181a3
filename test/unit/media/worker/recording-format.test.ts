import { describe, it, expect } from 'vitest';
import { ipv4Checksum, pcapGlobalHeader, pcapRecord, PCAP_LINKTYPE_RAW, PCAP_RECORD_OVERHEAD, wavHeader } from '../../../../src/media/worker/recording-format.js';
import { parseWav } from '../../../../src/phone/wav.js';

describe('pcap records with fake IPv4/UDP headers', () => {
  it('global header: libpcap 2.4, microseconds, LINKTYPE_RAW', () => {
    const h = pcapGlobalHeader();
    expect(h.length).toBe(24);
    expect(h.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect([h.readUInt16LE(4), h.readUInt16LE(6)]).toEqual([2, 4]);
    expect(h.readUInt32LE(20)).toBe(PCAP_LINKTYPE_RAW);
  });

  it('a record carries the packet after IPv4 and UDP headers with the real addresses, ports and lengths', () => {
    const rtp = Buffer.from('80080001000000a0000000aa' + 'd5'.repeat(160), 'hex');
    const r = pcapRecord(rtp, { address: '127.0.0.2', port: 40000 }, { address: '10.1.2.3', port: 30000 }, 1_700_000_000_123_456, 7);
    expect(r.length).toBe(PCAP_RECORD_OVERHEAD + rtp.length);
    expect([r.readUInt32LE(0), r.readUInt32LE(4)]).toEqual([1_700_000_000, 123_456]);
    expect([r.readUInt32LE(8), r.readUInt32LE(12)]).toEqual([28 + rtp.length, 28 + rtp.length]);
    const ip = r.subarray(16);
    expect(ip[0]).toBe(0x45);
    expect(ip.readUInt16BE(2)).toBe(28 + rtp.length);
    expect(ip.readUInt16BE(4)).toBe(7);
    expect(ip[9]).toBe(17);
    expect([...ip.subarray(12, 16)]).toEqual([127, 0, 0, 2]);
    expect([...ip.subarray(16, 20)]).toEqual([10, 1, 2, 3]);
    // A header with its checksum in place sums to zero (RFC 1071).
    expect(ipv4Checksum(ip, 0, 20)).toBe(0);
    expect([ip.readUInt16BE(20), ip.readUInt16BE(22), ip.readUInt16BE(24), ip.readUInt16BE(26)]).toEqual([40000, 30000, 8 + rtp.length, 0]);
    expect(ip.subarray(28).equals(rtp)).toBe(true);
  });

  it('RFC 1071’s example checksum, and an IPv6 or junk address written as 0.0.0.0', () => {
    // The IPv4 header of the RFC 791 / Wikipedia example: checksum 0xb861.
    const h = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
    expect(ipv4Checksum(h, 0, 20)).toBe(0xb861);
    const r = pcapRecord(Buffer.alloc(12), { address: '::1', port: 1 }, { address: 'not-an-ip', port: 2 }, 0, 0);
    expect([...r.subarray(28, 36)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('WAV header', () => {
  it('is what a WAV reader takes: stereo 8 kHz 16-bit, sizes from the data length', () => {
    const data = Buffer.alloc(8);
    data.writeInt16LE(1000, 0);
    data.writeInt16LE(-5, 2);
    data.writeInt16LE(2000, 4);
    data.writeInt16LE(-6, 6);
    const wav = Buffer.concat([wavHeader(2, 8000, data.length), data]);
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(wav.readUInt32LE(28)).toBe(32000);
    const pcm = parseWav(wav, 'test');
    expect(pcm.sampleRate).toBe(8000);
    expect([...pcm.samples]).toEqual([1000, 2000]);
  });
});
