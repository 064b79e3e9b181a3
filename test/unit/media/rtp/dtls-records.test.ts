import { describe, it, expect } from 'vitest';
import { acceptableRecords } from '../../../../src/media/rtp/dtls.js';

/** Which datagrams reach werift's DTLS state machine (RFC 6347 §4.1 framing, RFC 7983 demux). */
function record(type: number, epoch: number, body: Buffer, version = [0xfe, 0xfd]): Buffer {
  const h = Buffer.alloc(13);
  h[0] = type;
  h[1] = version[0];
  h[2] = version[1];
  h.writeUInt16BE(epoch, 3);
  h.writeUInt16BE(body.length, 11);
  return Buffer.concat([h, body]);
}

describe('DTLS record framing check', () => {
  const hello = record(22, 0, Buffer.alloc(60, 1));
  it('takes handshake and ChangeCipherSpec records, DTLS 1.0 or 1.2, one or several per datagram', () => {
    expect(acceptableRecords(hello)).toBe(true);
    expect(acceptableRecords(record(22, 0, Buffer.alloc(60, 1), [0xfe, 0xff]))).toBe(true);
    expect(acceptableRecords(Buffer.concat([hello, record(20, 0, Buffer.from([1])), record(22, 1, Buffer.alloc(48))]))).toBe(true);
    // After the handshake, alerts and application data come encrypted (epoch ≥ 1).
    expect(acceptableRecords(record(21, 1, Buffer.alloc(26)))).toBe(true);
    expect(acceptableRecords(record(23, 1, Buffer.alloc(40)))).toBe(true);
  });

  it('drops bad framing: short, wrong type or version, lengths that do not add up, empty records', () => {
    expect(acceptableRecords(Buffer.alloc(0))).toBe(false);
    expect(acceptableRecords(hello.subarray(0, 12))).toBe(false);
    expect(acceptableRecords(hello.subarray(0, hello.length - 1))).toBe(false);
    expect(acceptableRecords(Buffer.concat([hello, Buffer.from([22, 0xfe])]))).toBe(false);
    expect(acceptableRecords(record(24, 0, Buffer.alloc(4)))).toBe(false);
    expect(acceptableRecords(record(63, 0, Buffer.alloc(4)))).toBe(false);
    expect(acceptableRecords(record(22, 0, Buffer.alloc(4), [0x03, 0x03]))).toBe(false);
    expect(acceptableRecords(record(22, 0, Buffer.alloc(0)))).toBe(false);
  });

  it('drops unauthenticated alerts and application data (epoch 0): a spoofed alert must not end the association', () => {
    expect(acceptableRecords(record(21, 0, Buffer.from([2, 40])))).toBe(false);
    expect(acceptableRecords(record(23, 0, Buffer.from('data')))).toBe(false);
    expect(acceptableRecords(Buffer.concat([hello, record(21, 0, Buffer.from([2, 40]))]))).toBe(false);
  });
});
