import { describe, it, expect } from 'vitest';
import { answerCheck, type IceCredentials } from '../../../../src/media/worker/ice-lite.js';
import {
  ATTR, STUN_TYPE, type StunAttribute, attribute, decodeXorMappedAddress, parseStun, serializeStun, verifyFingerprint, verifyMessageIntegrity,
} from '../../../../src/media/rtp/stun.js';

/** RFC 5769 §2.1 sample request: USERNAME "evtj:h6vY", password "VOkJxbRl1RmTxUk/WvJxBt", with FINGERPRINT. */
const RFC5769_REQUEST = Buffer.from(
  '000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf',
  'hex',
);
const RFC5769: IceCredentials = { ufrag: 'evtj', pwd: 'VOkJxbRl1RmTxUk/WvJxBt' };

const OURS: IceCredentials = { ufrag: 'tnd1', pwd: 'our-ice-password-22chars' };
const TID = Buffer.from('0102030405060708090a0b0c', 'hex');
const SRC = { address: '192.0.2.1', port: 32853, family: 'IPv4' };

/** A browser's check toward us: USERNAME "<our ufrag>:<its ufrag>", signed with our password. */
function check(o: { username?: string; pwd?: string; useCandidate?: boolean; fingerprint?: boolean; type?: number } = {}): Buffer {
  const priority = Buffer.alloc(4);
  priority.writeUInt32BE(0x6e0001ff, 0);
  const attributes: StunAttribute[] = [
    { type: ATTR.username, value: Buffer.from(o.username ?? `${OURS.ufrag}:brws`) },
    { type: ATTR.priority, value: priority },
    { type: ATTR.iceControlling, value: Buffer.alloc(8, 7) },
  ];
  if (o.useCandidate === true) attributes.push({ type: ATTR.useCandidate, value: Buffer.alloc(0) });
  return serializeStun(
    { type: o.type ?? STUN_TYPE.bindingRequest, transactionId: TID, attributes },
    { integrityKey: Buffer.from(o.pwd ?? OURS.pwd), fingerprint: o.fingerprint ?? true },
  );
}

function accepted(v: ReturnType<typeof answerCheck>): Extract<ReturnType<typeof answerCheck>, { accepted: true }> {
  if (!v.accepted) throw new Error(`refused: ${v.reason}`);
  return v;
}

describe('ICE-lite responder (RFC 8445 §7.3)', () => {
  it('answers the RFC 5769 sample request with a signed success naming its source', () => {
    const v = accepted(answerCheck(RFC5769_REQUEST, SRC, 1, RFC5769));
    expect(v.nomination).toBeUndefined();
    const r = parseStun(v.response);
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.type).toBe(STUN_TYPE.bindingSuccess);
    expect(r.message.transactionId.toString('hex')).toBe('b7e7a701bc34d686fa87dfae');
    const xma = attribute(r.message, ATTR.xorMappedAddress);
    expect(xma && decodeXorMappedAddress(xma, r.message.transactionId)).toEqual({ family: 4, address: '192.0.2.1', port: 32853 });
    expect(verifyMessageIntegrity(v.response, Buffer.from(RFC5769.pwd))).toBe(true);
    expect(verifyMessageIntegrity(v.response, Buffer.from('some other password'))).toBe(false);
    expect(verifyFingerprint(v.response)).toBe(true);
  });

  it('refuses a USERNAME that does not start with our ufrag and a colon', () => {
    expect(answerCheck(RFC5769_REQUEST, SRC, 1, { ...RFC5769, ufrag: 'h6vY' })).toEqual({ accepted: false, reason: 'unknown username' });
    // A prefix of the ufrag is not the ufrag.
    expect(answerCheck(RFC5769_REQUEST, SRC, 1, { ...RFC5769, ufrag: 'evt' })).toEqual({ accepted: false, reason: 'unknown username' });
    expect(answerCheck(check({ username: 'tnd1' }), SRC, 1, OURS)).toEqual({ accepted: false, reason: 'unknown username' });
    expect(accepted(answerCheck(check(), SRC, 1, OURS)).response.length).toBeGreaterThan(20);
  });

  it('refuses a check signed with another password', () => {
    expect(answerCheck(RFC5769_REQUEST, SRC, 1, { ...RFC5769, pwd: 'VOkJxbRl1RmTxUk/WvJxBT' })).toEqual({ accepted: false, reason: 'bad message integrity' });
    expect(answerCheck(check({ pwd: 'the peer guessed wrong' }), SRC, 1, OURS)).toEqual({ accepted: false, reason: 'bad message integrity' });
  });

  it('refuses a FINGERPRINT that does not match, and accepts a check without one', () => {
    const bad = Buffer.from(RFC5769_REQUEST);
    bad[bad.length - 1] ^= 0x01;
    expect(answerCheck(bad, SRC, 1, RFC5769)).toEqual({ accepted: false, reason: 'bad fingerprint' });
    expect(accepted(answerCheck(check({ fingerprint: false }), SRC, 1, OURS)).nomination).toBeUndefined();
  });

  it('refuses what is not a Binding request', () => {
    expect(answerCheck(check({ type: STUN_TYPE.bindingIndication }), SRC, 1, OURS)).toEqual({ accepted: false, reason: 'not a binding request' });
    expect(answerCheck(check({ type: STUN_TYPE.bindingSuccess }), SRC, 1, OURS)).toEqual({ accepted: false, reason: 'not a binding request' });
    expect(answerCheck(RFC5769_REQUEST.subarray(0, RFC5769_REQUEST.length - 8), SRC, 1, RFC5769)).toEqual({ accepted: false, reason: 'not a binding request' });
  });

  it('USE-CANDIDATE nominates the source for the component the check came on', () => {
    expect(accepted(answerCheck(check({ useCandidate: true }), SRC, 1, OURS)).nomination).toEqual({ component: 1, peer: { address: '192.0.2.1', port: 32853 } });
    expect(accepted(answerCheck(check(), SRC, 1, OURS)).nomination).toBeUndefined();
  });

  it('component 2 (RTCP without rtcp-mux) is answered the same way and nominates component 2', () => {
    const rtcpSrc = { address: '192.0.2.1', port: 32854, family: 'IPv4' };
    const v = accepted(answerCheck(check({ useCandidate: true }), rtcpSrc, 2, OURS));
    expect(v.nomination).toEqual({ component: 2, peer: { address: '192.0.2.1', port: 32854 } });
    const r = parseStun(v.response);
    if (!r.ok) throw new Error(r.reason);
    const xma = attribute(r.message, ATTR.xorMappedAddress);
    expect(xma && decodeXorMappedAddress(xma, TID)).toEqual({ family: 4, address: '192.0.2.1', port: 32854 });
    expect(verifyMessageIntegrity(v.response, Buffer.from(OURS.pwd))).toBe(true);
  });

  it('an IPv6 source gets an IPv6 XOR-MAPPED-ADDRESS', () => {
    const v = accepted(answerCheck(check(), { address: '2001:db8::5', port: 5000, family: 'IPv6' }, 1, OURS));
    const r = parseStun(v.response);
    if (!r.ok) throw new Error(r.reason);
    const xma = attribute(r.message, ATTR.xorMappedAddress);
    expect(xma && decodeXorMappedAddress(xma, TID)).toEqual({ family: 6, address: '2001:db8:0:0:0:0:0:5', port: 5000 });
  });
});
