import { describe, it, expect } from 'vitest';
import {
  ATTR, STUN_TYPE, attribute, decodeXorMappedAddress, encodeXorMappedAddress, isStun, parseStun, serializeStun,
  verifyFingerprint, verifyMessageIntegrity,
} from '../../../../src/media/rtp/stun.js';

/** RFC 5769 test vectors (password "VOkJxbRl1RmTxUk/WvJxBt"). */
const PASSWORD = Buffer.from('VOkJxbRl1RmTxUk/WvJxBt');
const REQUEST = Buffer.from(
  '000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf',
  'hex',
);
const RESPONSE_V4 = Buffer.from(
  '0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96',
  'hex',
);

describe('STUN (RFC 8489) against RFC 5769 test vectors', () => {
  it('2.1 sample request: parses, integrity and fingerprint verify, attributes read', () => {
    expect(isStun(REQUEST)).toBe(true);
    const r = parseStun(REQUEST);
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.type).toBe(STUN_TYPE.bindingRequest);
    expect(attribute(r.message, ATTR.username)?.toString()).toBe('evtj:h6vY');
    expect(attribute(r.message, ATTR.software)?.toString()).toBe('STUN test client');
    expect(attribute(r.message, ATTR.priority)?.readUInt32BE(0)).toBe(0x6e0001ff);
    expect(verifyMessageIntegrity(REQUEST, PASSWORD)).toBe(true);
    expect(verifyFingerprint(REQUEST)).toBe(true);
    expect(verifyMessageIntegrity(REQUEST, Buffer.from('wrong'))).toBe(false);
  });

  it('2.1 sample request: serializing the same attributes gives the same bytes', () => {
    const r = parseStun(REQUEST);
    if (!r.ok) throw new Error(r.reason);
    const attrs = r.message.attributes.filter((a) => a.type !== ATTR.messageIntegrity && a.type !== ATTR.fingerprint);
    const out = serializeStun({ ...r.message, attributes: attrs }, { integrityKey: PASSWORD, fingerprint: true, padding: 0x20 });
    expect(out.toString('hex')).toBe(REQUEST.toString('hex'));
  });

  it('2.2 sample IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853, integrity, fingerprint', () => {
    const r = parseStun(RESPONSE_V4);
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.type).toBe(STUN_TYPE.bindingSuccess);
    const xma = attribute(r.message, ATTR.xorMappedAddress);
    expect(xma && decodeXorMappedAddress(xma, r.message.transactionId)).toEqual({ family: 4, address: '192.0.2.1', port: 32853 });
    expect(verifyMessageIntegrity(RESPONSE_V4, PASSWORD)).toBe(true);
    expect(verifyFingerprint(RESPONSE_V4)).toBe(true);
    const again = serializeStun(
      { type: STUN_TYPE.bindingSuccess, transactionId: r.message.transactionId, attributes: [
        { type: ATTR.software, value: Buffer.from('test vector') },
        { type: ATTR.xorMappedAddress, value: encodeXorMappedAddress({ family: 4, address: '192.0.2.1', port: 32853 }, r.message.transactionId) },
      ] },
      { integrityKey: PASSWORD, fingerprint: true, padding: 0x20 },
    );
    expect(again.toString('hex')).toBe(RESPONSE_V4.toString('hex'));
  });

  it('IPv6 XOR-MAPPED-ADDRESS round trip', () => {
    const tid = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');
    const a = { family: 6 as const, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 };
    expect(encodeXorMappedAddress(a, tid).toString('hex')).toBe('0002a1470113a9faa5d3f179bc25f4b5bed2b9d9');
    expect(decodeXorMappedAddress(encodeXorMappedAddress(a, tid), tid)).toEqual(a);
  });

  it('malformed input is refused with a reason, never thrown', () => {
    expect(isStun(Buffer.from([0x80, 0, 0, 0]))).toBe(false); // RTP
    expect(parseStun(REQUEST.subarray(0, 50))).toMatchObject({ ok: false });
    const badLen = Buffer.from(REQUEST);
    badLen.writeUInt16BE(0x59, 2);
    expect(parseStun(badLen)).toEqual({ ok: false, reason: 'message length not a multiple of 4' });
    const overrun = Buffer.from(REQUEST);
    overrun.writeUInt16BE(0x0400, 22);
    expect(parseStun(overrun)).toMatchObject({ ok: false });
    const flipped = Buffer.from(REQUEST);
    flipped[30] ^= 1;
    expect(verifyMessageIntegrity(flipped, PASSWORD)).toBe(false);
    expect(verifyFingerprint(flipped)).toBe(false);
    for (let i = 0; i < 500; i++) {
      const junk = Buffer.from(REQUEST);
      junk[20 + ((i * 7) % (junk.length - 20))] = (i * 31) & 0xff;
      expect(() => { parseStun(junk); verifyMessageIntegrity(junk, PASSWORD); verifyFingerprint(junk); }).not.toThrow();
    }
  });
});
