import { describe, it, expect } from 'vitest';
import { rtpPayloadStart } from '../../../bench/lib/rtp-leg.js';

function rtp(o: { cc?: number; ext?: number; pad?: number; pt?: number; marker?: boolean; payload?: number }): Buffer {
  const cc = o.cc ?? 0;
  const extWords = o.ext;
  const head = 12 + cc * 4 + (extWords !== undefined ? 4 + extWords * 4 : 0);
  const b = Buffer.alloc(head + (o.payload ?? 160) + (o.pad ?? 0));
  b[0] = 0x80 | cc | (extWords !== undefined ? 0x10 : 0) | (o.pad !== undefined ? 0x20 : 0);
  b[1] = (o.marker ? 0x80 : 0) | (o.pt ?? 8);
  if (extWords !== undefined) b.writeUInt16BE(extWords, 12 + cc * 4 + 2);
  if (o.pad !== undefined) b[b.length - 1] = o.pad;
  return b;
}

describe('bench receivers: where the RTP payload starts', () => {
  it('skips CSRCs and a header extension', () => {
    const stats = { rtcp: 0 };
    expect(rtpPayloadStart(rtp({}), stats)).toBe(12);
    expect(rtpPayloadStart(rtp({ cc: 2 }), stats)).toBe(20);
    expect(rtpPayloadStart(rtp({ cc: 1, ext: 3 }), stats)).toBe(12 + 4 + 4 + 12);
    expect(stats.rtcp).toBe(0);
  });

  it('counts muxed RTCP and refuses what is not media', () => {
    const stats = { rtcp: 0 };
    expect(rtpPayloadStart(rtp({ pt: 72, marker: true }), stats)).toBe(-1); // SR
    expect(stats.rtcp).toBe(1);
    expect(rtpPayloadStart(Buffer.alloc(11), stats)).toBe(-1);
    const v1 = rtp({});
    v1[0] = 0x40;
    expect(rtpPayloadStart(v1, stats)).toBe(-1);
    expect(rtpPayloadStart(rtp({ payload: 0, pad: 4 }), stats)).toBe(-1); // all padding
    expect(rtpPayloadStart(rtp({ payload: 4, pad: 4 }), stats)).toBe(12);
    // An extension header cut off by the datagram's end.
    const cut = rtp({ ext: 1 }).subarray(0, 14);
    expect(rtpPayloadStart(cut, stats)).toBe(-1);
    expect(stats.rtcp).toBe(1);
  });
});
