import { describe, it, expect } from 'vitest';
import type { SideConfig, TransportAddress } from '../../../../src/media/pool/protocol.js';
import { LatchedSocket, type MediaSocket } from '../../../../src/media/worker/latched-socket.js';
import type { MediaRemoteInfo } from '../../../../src/media/worker/media-socket.js';

/** Records what the latched socket asks of its media socket; connect() completes when the test says so. */
class FakeSocket {
  /** 'connected' for an unaddressed send, else "address:port". */
  readonly sent: { to: string; bytes: string }[] = [];
  readonly connects: { to: string; done: () => void }[] = [];
  disconnects = 0;
  send(buf: Buffer, len: number, port?: number, address?: string): void {
    this.sent.push({ to: port === undefined ? 'connected' : `${address}:${port}`, bytes: buf.subarray(0, len).toString() });
  }
  connect(port: number, address: string, done: () => void): void {
    this.connects.push({ to: `${address}:${port}`, done });
  }
  disconnect(): void {
    this.disconnects++;
  }
  get last(): string | undefined {
    return this.sent.at(-1)?.to;
  }
}

const SDP_RTP = { address: '192.0.2.10', port: 4000 };
const SDP_RTCP = { address: '192.0.2.10', port: 4001 };
const NAT = { address: '198.51.100.7', port: 61000 };
const OTHER = { address: '203.0.113.66', port: 5555 };

function cfg(over: Partial<SideConfig> = {}): SideConfig {
  return { rtcpMux: false, latch: 'symmetric', strictSource: false, clockRate: 8000, peerRtp: SDP_RTP, peerRtcp: SDP_RTCP, ...over };
}

function from(a: TransportAddress): MediaRemoteInfo {
  return { address: a.address, port: a.port, family: 'IPv4', size: 0 };
}

function setup(c: SideConfig = cfg()): { s: LatchedSocket; rtp: FakeSocket; rtcp: FakeSocket } {
  const rtp = new FakeSocket();
  const rtcp = new FakeSocket();
  const s = new LatchedSocket('call-1', rtp as unknown as MediaSocket, rtcp as unknown as MediaSocket);
  s.configure(c);
  return { s, rtp, rtcp };
}

const pkt = (t: string): Buffer => Buffer.from(t);

describe('latched socket', () => {
  it('sends to the SDP address until something is heard', () => {
    const { s, rtp, rtcp } = setup();
    expect(s.sendRtp(pkt('a'), 1)).toBe(true);
    expect(rtp.last).toBe('192.0.2.10:4000');
    expect(s.sendRtcp(pkt('r'))).toBe(true);
    expect(rtcp.last).toBe('192.0.2.10:4001');
    expect(s.latchedRtp).toBe(false);
  });

  it('hearing the SDP source connects the RTP socket, holds sends meanwhile and flushes them in order', () => {
    const { s, rtp } = setup();
    expect(s.accept(from(SDP_RTP), false)).toBe(true);
    expect(rtp.connects.map((c) => c.to)).toEqual(['192.0.2.10:4000']);
    expect(s.sendRtp(pkt('1'), 1)).toBe(true);
    expect(s.sendRtp(pkt('2'), 1)).toBe(true);
    expect(rtp.sent).toEqual([]);
    rtp.connects[0].done();
    expect(rtp.sent).toEqual([{ to: 'connected', bytes: '1' }, { to: 'connected', bytes: '2' }]);
    s.sendRtp(pkt('3'), 1);
    expect(rtp.last).toBe('connected');
  });

  it('a NAT source latches without connecting, guesses RTCP next to it, and the SDP source takes the peer back', () => {
    const { s, rtp } = setup();
    expect(s.accept(from(NAT), false)).toBe(true);
    expect(s.peerRtp).toEqual(NAT);
    expect(s.peerRtcp).toEqual({ address: NAT.address, port: NAT.port + 1 });
    expect(s.latchedRtp).toBe(true);
    expect(rtp.connects).toEqual([]);
    // Once something latched, a third source is refused.
    expect(s.accept(from(OTHER), false)).toBe(false);
    expect(s.accept(from(SDP_RTP), false)).toBe(true);
    expect(s.peerRtp).toEqual(SDP_RTP);
    expect(rtp.connects.map((c) => c.to)).toEqual(['192.0.2.10:4000']);
  });

  it('no RTCP port is guessed above 65535; the SDP source keeps the SDP RTCP address', () => {
    const high = setup();
    high.s.accept(from({ address: NAT.address, port: 65535 }), false);
    expect(high.s.peerRtcp).toBeUndefined();
    expect(high.s.sendRtcp(pkt('r'))).toBe(false);
    const sdp = setup(cfg({ peerRtcp: { address: '192.0.2.10', port: 5009 } }));
    sdp.s.accept(from(SDP_RTP), false);
    expect(sdp.s.peerRtcp).toEqual({ address: '192.0.2.10', port: 5009 });
  });

  it('port latching keeps the SDP address and takes the source port', () => {
    const { s, rtp } = setup(cfg({ latch: 'port' }));
    s.accept(from({ address: SDP_RTP.address, port: 7000 }), false);
    expect(s.peerRtp).toEqual({ address: SDP_RTP.address, port: 7000 });
    expect(rtp.connects.map((c) => c.to)).toEqual(['192.0.2.10:7000']);
  });

  it('RTCP from a new source is refused once RTP proved the SDP address', () => {
    const { s } = setup();
    s.accept(from(SDP_RTP), false);
    expect(s.accept(from(NAT), true)).toBe(false);
    expect(s.accept(from(SDP_RTCP), true)).toBe(true);
    expect(s.latchedRtcp).toBe(true);
  });

  it('a re-offer with a new SDP address disconnects and starts over; one with the same address keeps the latch', () => {
    const { s, rtp } = setup();
    s.accept(from(NAT), false);
    s.configure(cfg());
    expect(s.peerRtp).toEqual(NAT);
    s.accept(from(SDP_RTP), false);
    rtp.connects[0].done();
    const moved = { address: '192.0.2.20', port: 6000 };
    s.configure(cfg({ peerRtp: moved, peerRtcp: { address: moved.address, port: 6001 } }));
    expect(rtp.disconnects).toBe(1);
    expect(s.peerRtp).toEqual(moved);
    expect(s.latchedRtp).toBe(false);
    s.sendRtp(pkt('x'), 1);
    expect(rtp.last).toBe('192.0.2.20:6000');
  });

  it('a connect() that completes after the peer moved is undone and the held packets go to the new peer', () => {
    const { s, rtp } = setup(cfg({ peerRtp: undefined, ice: { ufrag: 'u', pwd: 'p' } }));
    s.configure(cfg());
    s.accept(from(SDP_RTP), false);
    s.sendRtp(pkt('held'), 4);
    s.nominateRtp(NAT);
    rtp.connects[0].done();
    expect(rtp.disconnects).toBe(1);
    expect(rtp.sent).toEqual([{ to: '198.51.100.7:61000', bytes: 'held' }]);
  });

  it('an ICE nomination moves the peer, ends NAT learning, and survives the answer that follows it', () => {
    const { s } = setup(cfg({ peerRtp: undefined, peerRtcp: undefined, ice: { ufrag: 'u', pwd: 'p' } }));
    s.nominateRtp(NAT);
    expect(s.peerRtp).toEqual(NAT);
    // The browser's answer arrives with its placeholder address: the nomination stands.
    s.configure(cfg({ peerRtp: { address: '0.0.0.0', port: 9 }, ice: { ufrag: 'u', pwd: 'p' } }));
    expect(s.peerRtp).toEqual(NAT);
    expect(s.accept(from(OTHER), false)).toBe(false);
    expect(s.accept(from(NAT), false)).toBe(true);
  });

  it('a component-2 nomination moves where RTCP goes', () => {
    const { s, rtcp } = setup();
    s.nominateRtcp(NAT);
    s.sendRtcp(pkt('r'));
    expect(rtcp.last).toBe('198.51.100.7:61000');
    expect(s.accept(from(NAT), true)).toBe(true);
  });

  it('a verified DTLS source becomes the peer, unless a packet latched or the side is asymmetric', () => {
    const placeholder = cfg({ peerRtp: { address: '0.0.0.0', port: 9 } });
    const a = setup(placeholder);
    a.s.adoptVerified(NAT);
    expect(a.s.peerRtp).toEqual(NAT);
    expect(a.s.accept(from(OTHER), false)).toBe(false);
    const b = setup(placeholder);
    b.s.accept(from(OTHER), false);
    b.s.adoptVerified(NAT);
    expect(b.s.peerRtp).toEqual(OTHER);
    const c = setup(cfg({ latch: 'asymmetric' }));
    c.s.adoptVerified(NAT);
    expect(c.s.peerRtp).toEqual(SDP_RTP);
  });

  it('STUN responses: addressed while unconnected, dropped while connecting, only to the connected peer once connected', () => {
    const { s, rtp } = setup();
    s.replyRtp(pkt('s1'), NAT);
    expect(rtp.last).toBe('198.51.100.7:61000');
    s.accept(from(SDP_RTP), false);
    s.replyRtp(pkt('s2'), SDP_RTP);
    expect(rtp.sent).toHaveLength(1);
    rtp.connects[0].done();
    s.replyRtp(pkt('s3'), NAT);
    expect(rtp.sent).toHaveLength(1);
    s.replyRtp(pkt('s4'), SDP_RTP);
    expect(rtp.sent.at(-1)).toEqual({ to: 'connected', bytes: 's4' });
  });

  it('with rtcp-mux, RTCP and its echo leave through the RTP socket', () => {
    const { s, rtp, rtcp } = setup(cfg({ rtcpMux: true, peerRtcp: undefined }));
    expect(s.sendRtcp(pkt('r'))).toBe(true);
    s.echoRtcp(pkt('e'), from(NAT));
    expect(rtp.sent.map((x) => x.to)).toEqual(['192.0.2.10:4000', '198.51.100.7:61000']);
    expect(rtcp.sent).toEqual([]);
  });
});
