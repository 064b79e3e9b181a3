import { describe, it, expect } from 'vitest';
import { createCipheriv, createHmac } from 'node:crypto';
import { AesCmKey, HmacSha1Key, srtpWork } from '../../../../src/media/rtp/srtp-crypto.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** The tag HmacSha1Key computes for `data` (and the ROC after it, if given). */
function tag(key: Buffer, data: Buffer, roc?: number): Buffer {
  const w = srtpWork();
  const k = new HmacSha1Key(key);
  data.copy(w.mem, w.data);
  k.tagAt(w, w.data, data.length, roc ?? 0, roc !== undefined, w.tag);
  return Buffer.from(w.mem.subarray(w.tag, w.tag + 20));
}

/** The keystream AesCmKey applies: XORed onto zeros it is the keystream itself. */
function keystream(key: Buffer, salt: Buffer, ssrc: number, index: number, n: number): Buffer {
  const w = srtpWork();
  w.mem.fill(0, w.data, w.data + n);
  new AesCmKey(key, salt).applyAt(w, ssrc, index, w.data, n);
  return Buffer.from(w.mem.subarray(w.data, w.data + n));
}

describe('HMAC-SHA1 from keyed states (wasm/srtp.ts)', () => {
  // RFC 2202 §3, the cases whose key fits one block (SRTP's keys are 20 bytes).
  const cases: [string, Buffer, Buffer, string][] = [
    ['1', Buffer.alloc(20, 0x0b), Buffer.from('Hi There'), 'b617318655057264e28bc0b6fb378c8ef146be00'],
    ['2', Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79'],
    ['3', Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd), '125d7342b9ac11cd91a39af48aa17b4f63f175d3'],
    ['4', hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), Buffer.alloc(50, 0xcd), '4c9007f4026250c6bc8414f9bf50c86c2d7235da'],
    ['5', Buffer.alloc(20, 0x0c), Buffer.from('Test With Truncation'), '4c1a03424b55e07fe7f27be1d58bb9324a9a5a04'],
  ];
  for (const [n, key, data, digest] of cases) {
    it(`RFC 2202 test case ${n}`, () => {
      expect(tag(key, data).toString('hex')).toBe(digest);
    });
  }

  it('agrees with node:crypto at every length around the padding boundaries, with and without the ROC', () => {
    const key = hex('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
    for (let len = 0; len <= 200; len++) {
      const data = Buffer.alloc(len);
      for (let i = 0; i < len; i++) data[i] = (i * 31 + len) & 0xff;
      const roc = (len * 0x9e3779b9) >>> 0;
      const r = Buffer.alloc(4);
      r.writeUInt32BE(roc);
      expect(tag(key, data).equals(createHmac('sha1', key).update(data).digest()), `len ${len}`).toBe(true);
      expect(tag(key, data, roc).equals(createHmac('sha1', key).update(data).update(r).digest()), `len ${len} + ROC`).toBe(true);
    }
  });

  it('refuses a key longer than one block rather than hashing it differently from RFC 2104', () => {
    expect(() => new HmacSha1Key(Buffer.alloc(65))).toThrow(RangeError);
  });

  it('verify is true only for equal bytes', () => {
    const w = srtpWork();
    w.mem.fill(7, w.tag, w.tag + 10);
    w.mem.fill(7, w.data, w.data + 10);
    expect(w.x.verify(w.tag, w.data, 10)).toBe(1);
    w.mem[w.data + 9] ^= 0x80;
    expect(w.x.verify(w.tag, w.data, 10)).toBe(0);
  });
});

describe('AES-CM from one ECB cipher per key', () => {
  it('RFC 3711 B.2: the keystream for SSRC 0, index 0 (blocks 0–2)', () => {
    const ks = keystream(hex('2B7E151628AED2A6ABF7158809CF4F3C'), hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'), 0, 0, 48);
    expect(ks.toString('hex').toUpperCase()).toBe(
      'E03EAD0935C95E80E166B16DD92B4EB4' + 'D23513162B02D0F72A43A2FE4A5F97AB' + '41E95B3BB0A2E8DD477901E4FCA894C0',
    );
  });

  it('agrees with aes-128-ctr at the RFC 3711 IV for any SSRC, 48-bit index and length (partial blocks too)', () => {
    const key = hex('C61E7A93744F39EE10734AFE3FF7A087');
    const salt = hex('30CBBC08863D8C85D49DB34A9AE1');
    const samples: [number, number, number][] = [
      [0, 0, 1], [0xdeadbeef, 0x123456789abc, 160], [0xffffffff, 0xffffffffffff, 17], [1, 65535, 1500], [0x11223344, 0x10000, 4096 * 16],
    ];
    for (const [ssrc, index, n] of samples) {
      const iv = Buffer.alloc(16);
      salt.copy(iv);
      iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
      iv.writeUInt16BE(iv.readUInt16BE(8) ^ Math.floor(index / 2 ** 32), 8);
      iv.writeUInt32BE((iv.readUInt32BE(10) ^ (index >>> 0)) >>> 0, 10);
      const expected = createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(n));
      expect(keystream(key, salt, ssrc, index, n).equals(expected), `ssrc ${ssrc} index ${index} n ${n}`).toBe(true);
    }
  });
});
