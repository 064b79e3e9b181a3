import { describe, it, expect } from 'vitest';
import { createCipheriv, createHmac } from 'node:crypto';
import { SrtpContext, UNPROTECT_FAILED, counterIv, deriveSessionKey, LABEL } from '../../../../src/media/rtp/srtp.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function rtp(seq: number, ssrc = 0x11223344, payload = Buffer.from('hello srtp payload')): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = 0;
  h.writeUInt16BE(seq, 2);
  h.writeUInt32BE(seq * 160, 4);
  h.writeUInt32BE(ssrc, 8);
  return Buffer.concat([h, payload]);
}

describe('SRTP key derivation and AES-CM (RFC 3711 Appendix B)', () => {
  it('B.3: session keys from the example master key and salt', () => {
    const key = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
    const salt = hex('0EC675AD498AFEEBB6960B3AABE6');
    expect(deriveSessionKey(key, salt, LABEL.rtpCipher, 16).toString('hex').toUpperCase()).toBe('C61E7A93744F39EE10734AFE3FF7A087');
    expect(deriveSessionKey(key, salt, LABEL.rtpSalt, 14).toString('hex').toUpperCase()).toBe('30CBBC08863D8C85D49DB34A9AE1');
    expect(deriveSessionKey(key, salt, LABEL.rtpAuth, 20).toString('hex').toUpperCase()).toBe('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });

  it('B.2: the AES-CM keystream for SSRC 0, index 0', () => {
    const iv = counterIv(hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'), 0, 0);
    expect(iv.toString('hex').toUpperCase()).toBe('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
    const ks = createCipheriv('aes-128-ctr', hex('2B7E151628AED2A6ABF7158809CF4F3C'), iv).update(Buffer.alloc(0xff02 * 16));
    const block = (n: number) => ks.subarray(n * 16, n * 16 + 16).toString('hex').toUpperCase();
    expect(block(0x0000)).toBe('E03EAD0935C95E80E166B16DD92B4EB4');
    expect(block(0x0001)).toBe('D23513162B02D0F72A43A2FE4A5F97AB');
    expect(block(0x0002)).toBe('41E95B3BB0A2E8DD477901E4FCA894C0');
    expect(block(0xfeff)).toBe('EC8CDF7398607CB0F2D21675EA9EA1E4');
    expect(block(0xff00)).toBe('362B7C3C6773516318A077D7FC5073AE');
    expect(block(0xff01)).toBe('6A2CC3787889374FBEB4C81B17BA6C44');
  });

  it('the IV places SSRC at bits 64–95 and the index at bits 16–63', () => {
    expect(counterIv(Buffer.alloc(14), 0xdeadbeef, 0x123456789abc).toString('hex')).toBe('00000000deadbeef123456789abc0000');
  });
});

describe('SRTP authentication against independent values', () => {
  it('all-zero master key: auth key and HMAC-SHA1-80 tag of a message with ROC 0', () => {
    const ak = deriveSessionKey(Buffer.alloc(16), Buffer.alloc(14), LABEL.rtpAuth, 20);
    expect(ak.toString('hex')).toBe('788bcd111ecf73d4e78d2e21bef55460daacdaf7');
    const tag = createHmac('sha1', ak).update(Buffer.from('hello_rtp')).update(Buffer.alloc(4)).digest().subarray(0, 10);
    expect(tag.toString('hex')).toBe('e60c68053178ee795142');
  });

  it('SRTCP with E=0 (unencrypted) from another implementation authenticates and comes back unchanged', () => {
    const ctx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', Buffer.alloc(16), Buffer.alloc(14));
    const srtcp = hex('80cc000810feff99466c75782105000310feff990000100200001603000000090000000400000001a0573cb69ef3c96e1253');
    const r = ctx.unprotectRtcp(srtcp);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.packet.equals(srtcp.subarray(0, srtcp.length - 14))).toBe(true);
  });
});

describe('SRTP context', () => {
  const key = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const salt = hex('0EC675AD498AFEEBB6960B3AABE6');

  for (const [profile, tagLen] of [['AES_CM_128_HMAC_SHA1_80', 10], ['AES_CM_128_HMAC_SHA1_32', 4]] as const) {
    it(`${profile}: round trip, ciphertext differs, tag of ${tagLen} bytes`, () => {
      const tx = new SrtpContext(profile, key, salt);
      const rx = new SrtpContext(profile, key, salt);
      const p = rtp(1000);
      const s = tx.protectRtp(p);
      expect(s.length).toBe(p.length + tagLen);
      expect(s.subarray(0, 12).equals(p.subarray(0, 12))).toBe(true);
      expect(s.subarray(12, p.length).equals(p.subarray(12))).toBe(false);
      const r = rx.unprotectRtp(s);
      expect(r.ok && r.packet.equals(p)).toBe(true);
    });
  }

  it('drops and counts a tampered packet, a replay, and a packet older than the window', () => {
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const first = tx.protectRtp(rtp(10));
    const bad = Buffer.from(first);
    bad[15] ^= 1;
    expect(rx.unprotectRtp(bad)).toEqual({ ok: false, reason: 'auth' });
    expect(rx.unprotectRtp(first).ok).toBe(true);
    expect(rx.unprotectRtp(first)).toEqual({ ok: false, reason: 'replay' });
    const later: Buffer[] = [];
    for (let seq = 11; seq < 100; seq++) later.push(tx.protectRtp(rtp(seq)));
    // 11..99 arrive except 20, which comes late: inside the window it is accepted once.
    for (const p of later) if (p.readUInt16BE(2) !== 20) expect(rx.unprotectRtp(p).ok).toBe(true);
    expect(rx.unprotectRtp(later[9]).ok).toBe(false); // seq 20 is 79 behind 99: outside the 64-packet window
    expect(rx.counters).toMatchObject({ authFailures: 1, replays: 2 });
    expect(rx.unprotectRtp(Buffer.alloc(5))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('reads the header with the same rules as plain RTP, except for the encrypted padding', () => {
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    // P bit set: the padding count is encrypted with the payload, so it is checked after decryption.
    const padded = rtp(7);
    padded[0] |= 0x20;
    padded[padded.length - 1] = 4;
    const r = rx.unprotectRtp(tx.protectRtp(padded));
    expect(r.ok && r.packet.equals(padded)).toBe(true);
    // Version 1 is not RTP, encrypted or not.
    const v1 = tx.protectRtp(rtp(8));
    v1[0] = (v1[0] & 0x3f) | 0x40;
    expect(rx.unprotectRtp(v1)).toEqual({ ok: false, reason: 'malformed' });
    expect(() => tx.protectRtp(Buffer.from([0x40, ...rtp(9).subarray(1)]))).toThrow(RangeError);
  });

  it('accepts reordering inside the window exactly once', () => {
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const ps = [1, 2, 3, 4].map((s) => tx.protectRtp(rtp(s)));
    expect([ps[0], ps[2], ps[1], ps[3], ps[1]].map((p) => rx.unprotectRtp(p).ok)).toEqual([true, true, true, true, false]);
  });

  it('follows the rollover counter across a sequence-number wrap (the tag covers the ROC)', () => {
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const seqs = [65533, 65534, 65535, 0, 1, 2];
    const out = seqs.map((s) => rx.unprotectRtp(tx.protectRtp(rtp(s))));
    expect(out.every((r) => r.ok)).toBe(true);
    // A receiver that assumed ROC 0 after the wrap could not authenticate seq 0.
    const wrapped = tx.protectRtp(rtp(3));
    const fresh = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    expect(fresh.unprotectRtp(wrapped)).toEqual({ ok: false, reason: 'auth' });
  });

  it('SRTCP: protect/unprotect with encryption, index replay', () => {
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_32', key, salt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_32', key, salt);
    const sr = Buffer.concat([hex('80c8000611223344'), Buffer.from('sender report body!!')]);
    const s = tx.protectRtcp(sr);
    expect(s.length).toBe(sr.length + 4 + 10);
    expect(s.readUInt32BE(sr.length)).toBe(0x80000000);
    const r = rx.unprotectRtcp(s);
    expect(r.ok && r.packet.equals(sr)).toBe(true);
    expect(rx.unprotectRtcp(s)).toEqual({ ok: false, reason: 'replay' });
    const s2 = tx.protectRtcp(sr);
    expect(s2.readUInt32BE(sr.length)).toBe(0x80000001);
    expect(rx.unprotectRtcp(s2).ok).toBe(true);
  });

  it('in place: returns the RTP length and decrypts into the received buffer; a refused packet is left as it came', () => {
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const p = rtp(500);
    const s = tx.protectRtp(p);
    const forged = Buffer.from(s);
    forged[forged.length - 1] ^= 1;
    const before = Buffer.from(forged);
    expect(rx.unprotectRtpInPlace(forged, forged.length)).toBe(UNPROTECT_FAILED.auth);
    expect(forged.equals(before)).toBe(true);
    const n = rx.unprotectRtpInPlace(s, s.length);
    expect(n).toBe(p.length);
    expect(s.subarray(0, n).equals(p)).toBe(true);
    const again = tx.protectRtp(p); // same seq: a replay
    const copy = Buffer.from(again);
    expect(rx.unprotectRtpInPlace(again, again.length)).toBe(UNPROTECT_FAILED.replay);
    expect(again.equals(copy)).toBe(true);
    expect(rx.counters).toMatchObject({ unprotected: 1, authFailures: 1, replays: 1 });
  });

  it('protects the first len bytes of a larger buffer exactly as the packet alone', () => {
    const a = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const b = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const p = rtp(42);
    const roomy = Buffer.concat([p, Buffer.alloc(30, 0xee)]);
    expect(a.protectRtp(roomy, p.length).equals(b.protectRtp(p))).toBe(true);
  });

  it('malformed lengths are counted and refused, never thrown', () => {
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const p = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt).protectRtp(rtp(1));
    expect(rx.unprotectRtpInPlace(p, p.length + 1)).toBe(UNPROTECT_FAILED.malformed); // len beyond the buffer
    expect(rx.unprotectRtpInPlace(p, 13)).toBe(UNPROTECT_FAILED.short); // a header and no room for the tag
    expect(rx.unprotectRtcpInPlace(Buffer.alloc(21), 21)).toBe(UNPROTECT_FAILED.short);
    expect(rx.unprotectRtcpInPlace(Buffer.alloc(30), 31)).toBe(UNPROTECT_FAILED.short);
    expect(rx.counters.malformed).toBe(4);
  });

  it('SRTCP in place: the compound comes back at the start of the buffer', () => {
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const rr = Buffer.concat([hex('81c90007aabbccdd'), Buffer.alloc(24, 3)]);
    const s = tx.protectRtcp(rr);
    const n = rx.unprotectRtcpInPlace(s, s.length);
    expect(n).toBe(rr.length);
    expect(s.subarray(0, n).equals(rr)).toBe(true);
  });

  it('replay window: the same verdicts as a 64-bit BigInt window over a long reordered, duplicated stream across a ROC wrap', () => {
    // The reference model: the window as one BigInt, bit d = maxIndex − d (RFC 3711 §3.3.2).
    let maxIndex = -1;
    let window = 0n;
    const reference = (index: number): boolean => {
      if (maxIndex >= 0 && index <= maxIndex) {
        const d = BigInt(maxIndex - index);
        if (d >= 64n || ((window >> d) & 1n) === 1n) return false;
        window |= 1n << d;
        return true;
      }
      const shift = maxIndex < 0 ? 64n : BigInt(index - maxIndex);
      window = shift >= 64n ? 1n : ((window << shift) | 1n) & ((1n << 64n) - 1n);
      maxIndex = index;
      return true;
    };
    const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', key, salt);
    // Deterministic pseudo-random order: mostly in order, some late (up to 100 behind), some repeated.
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const sent: { seq: number; index: number; pkt: Buffer }[] = [];
    let verdicts = 0;
    for (let i = 0; i < 3000; i++) {
      const index = 65536 - 1500 + i;
      sent.push({ seq: index & 0xffff, index, pkt: tx.protectRtp(rtp(index & 0xffff)) });
      const pick = rand(10) < 7 ? sent[sent.length - 1] : sent[Math.max(0, sent.length - 1 - rand(100))];
      const n = rx.unprotectRtpInPlace(Buffer.from(pick.pkt), pick.pkt.length);
      expect(n >= 0, `index ${pick.index}`).toBe(reference(pick.index));
      verdicts++;
    }
    expect(verdicts).toBe(3000);
    expect(rx.counters.replays).toBeGreaterThan(100);
    expect(rx.counters.authFailures).toBe(0);
  });
});

