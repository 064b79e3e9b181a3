// src/phone against hostile or broken peers on loopback: garbage RTP and strangers' packets at the
// media socket (counted and dropped while the real stream keeps flowing), and scripted SIP peers
// that answer with an unusable SDP or an unanswerable challenge (clear exit codes, no crash, no loop).
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { pino } from 'pino';
import { MediaSession } from '../../src/phone/media.js';
import { runCall } from '../../src/phone/caller.js';
import { parsePhoneArgs, type PhoneOptions } from '../../src/phone/options.js';
import { dominantTone, ToneSource } from '../../src/phone/tone.js';
import { encodeUlaw } from '../../src/media/codecs/g711.js';
import { tone } from '../helpers/audio.js';
import { isRequest, SipPeer } from '../helpers/sip-peer.js';

const log = pino({ level: process.env.TANDEM_TEST_LOG ?? 'silent' });
const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function poll(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe('phone media against hostile input', () => {
  it('counts and drops junk from the far end and anything from strangers; the far end\'s audio still counts and decodes', async () => {
    const b = new MediaSession(new ToneSource(1000), log);
    closers.push(() => b.close());
    const pb = await b.open('127.0.0.1');
    const bind = async (address: string): Promise<dgram.Socket> => {
      const sock = dgram.createSocket('udp4');
      closers.push(() => sock.close());
      await new Promise<void>((r) => sock.bind(0, address, () => r()));
      return sock;
    };
    const far = await bind('127.0.0.1');
    const stranger = await bind('127.0.0.2');
    b.start({ address: '127.0.0.1', port: far.address().port, codec: { name: 'PCMU', pt: 0, clockRate: 8000 }, dtmfPt: 101 }, '', 0);
    const rtp = (pt: number, seq: number, payload: Buffer): Buffer => {
      const h = Buffer.from([0x80, pt, seq >> 8, seq & 0xff, 0, 0, 0, 0, 1, 2, 3, 4]);
      h.writeUInt32BE(seq * 160, 4);
      return Buffer.concat([h, payload]);
    };
    const ulaw = (hz: number, i: number): Buffer => {
      const out = Buffer.alloc(160);
      encodeUlaw(tone(hz, 8000, 160, 8000, i * 160), out);
      return out;
    };
    const junk = [
      Buffer.from('hello'), // shorter than an RTP header
      Buffer.from([0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]), // version 1
      Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 9]), // header extension past the end
      rtp(101, 9999, Buffer.from([1, 0x80])), // a telephone-event of 2 bytes
      rtp(96, 9998, Buffer.alloc(20)), // a payload type nobody agreed
    ];
    for (let i = 0; i < 30; i++) {
      far.send(rtp(0, i, ulaw(440, i)), pb, '127.0.0.1');
      if (i < junk.length) far.send(junk[i], pb, '127.0.0.1');
      if (i < 10) stranger.send(rtp(0, 100 + i, ulaw(1000, i)), pb, '127.0.0.1');
    }
    await poll(() => b.snapshot().received + b.snapshot().dropped >= 30 + junk.length + 10);
    const s = b.snapshot();
    expect({ received: s.received, dropped: s.dropped, lost: s.lost, undecodable: s.undecodable }).toEqual({ received: 30, dropped: junk.length + 10, lost: 0, undecodable: 0 });
    // The stranger's 1000 Hz entered neither the stats nor the audio.
    expect(dominantTone(b.audio())?.hz).toBe(440);
  });
});

describe('tandem call against scripted callees', () => {
  async function call(peer: SipPeer, extra: string[] = []): Promise<Awaited<ReturnType<typeof runCall>>> {
    const o = parsePhoneArgs('call', [`sip:100@127.0.0.1:${peer.port}`, '--duration', '1', '--answer-timeout', '5', ...extra]) as PhoneOptions;
    return runCall(o, new ToneSource(440), log);
  }

  it('a 200 whose SDP cannot be used: ACKed, hung up with BYE, exit 5 naming the SDP fault', async () => {
    const peer = await SipPeer.udp();
    closers.push(() => peer.close());
    const result = call(peer);
    const invite = await peer.next(isRequest('INVITE'));
    peer.reply(invite, 200, { reason: 'OK', sdp: 'v=0\r\nthis is not SDP\r\n' });
    await peer.next(isRequest('ACK'));
    const bye = await peer.next(isRequest('BYE'));
    peer.reply(bye, 200, { reason: 'OK' });
    const s = await result;
    expect(s.exitCode).toBe(5);
    expect(s.reason).toMatch(/^answer SDP: /);
    expect(s.timeline.map((e) => e.event)).toEqual(['→ INVITE', '← 200 OK', '→ ACK', '→ BYE', '← 200 OK (BYE)']);
  });

  it.each([
    ['no challenge header at all', []],
    ['an unbalanced quote', ['WWW-Authenticate: Digest realm="x, nonce="abc']],
    ['an algorithm we do not speak', ['WWW-Authenticate: Digest realm="x", nonce="abc", algorithm=SHA-512-256']],
    ['qop=auth-int only', ['WWW-Authenticate: Digest realm="x", nonce="abc", qop="auth-int"']],
    ['a control character in the nonce', ['WWW-Authenticate: Digest realm="x", nonce="a\x01b"']],
  ])('a 401 with %s: exit 3 with the reason, one INVITE only', async (_name, headers) => {
    const peer = await SipPeer.udp();
    closers.push(() => peer.close());
    const result = call(peer, ['--user', 'alice', '--password', 'pw']);
    const invite = await peer.next(isRequest('INVITE'));
    peer.reply(invite, 401, { reason: 'Unauthorized', headers });
    const s = await result;
    expect(s.exitCode).toBe(3);
    expect(s.reason).toMatch(/^cannot answer the 401 challenge: /);
    expect(peer.count(isRequest('INVITE'))).toBe(1);
  });

  it('a 200 retransmitted (our ACK lost) is ACKed again; the call still ends with one BYE', async () => {
    const peer = await SipPeer.udp();
    closers.push(() => peer.close());
    const result = call(peer);
    const invite = await peer.next(isRequest('INVITE'));
    const sdp = 'v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 8\r\n';
    peer.reply(invite, 200, { reason: 'OK', sdp });
    await peer.next(isRequest('ACK'));
    const acks = peer.inbox.length;
    peer.reply(invite, 200, { reason: 'OK', sdp });
    await peer.next(isRequest('ACK'), 3000, acks);
    const bye = await peer.next(isRequest('BYE'));
    peer.reply(bye, 200, { reason: 'OK' });
    const s = await result;
    expect(peer.count(isRequest('ACK'))).toBe(2);
    expect(peer.count(isRequest('BYE'))).toBe(1);
    expect(s.exitCode).toBe(5); // the peer sent no RTP
  });
});
