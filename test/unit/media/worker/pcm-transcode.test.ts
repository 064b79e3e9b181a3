import { describe, it, expect } from 'vitest';
import { PcmTranscoder, pcmPair, rtpClock } from '../../../../src/media/worker/pcm-transcode.js';
import { G722Encoder } from '../../../../src/media/codecs/g722.js';
import { encodeAlaw } from '../../../../src/media/codecs/g711.js';
import { tone } from '../../../helpers/audio.js';

function rtp(pt: number, ts: number, payload: Uint8Array, marker = false): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | pt;
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(0xabcdef01, 8);
  Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).copy(b, 12);
  return b;
}

function alawFrame(k: number, n = 160): Buffer {
  const codes = Buffer.alloc(n);
  encodeAlaw(tone(1000, 8000, n, 8000, k * n), codes);
  return codes;
}

describe('PcmTranscoder (the pairs with G.722)', () => {
  it('names only the pairs with G.722; G.722 runs on an 8000 Hz RTP clock', () => {
    expect(pcmPair('alaw-g722')).toEqual({ from: 'alaw', to: 'g722' });
    expect(pcmPair('g722-opus')).toEqual({ from: 'g722', to: 'opus' });
    for (const c of ['alaw-ulaw', 'opus-alaw', 'none', 'g722', 'g729-g722', '']) expect(pcmPair(c), c).toBeUndefined();
    expect(rtpClock('g722')).toBe(8000);
    expect(rtpClock('opus')).toBe(48000);
  });

  it('PCMA → G.722: one 160-byte packet per 20 ms, timestamps +160, marker and SSRC carried', () => {
    const out: Buffer[] = [];
    const t = new PcmTranscoder('alaw', 'g722', 0, (p) => out.push(p));
    for (let k = 0; k < 5; k++) t.push(rtp(8, 0xfffffe00 + k * 160, alawFrame(k), k === 0), 12, 12 + 160, 9);
    expect(out.map((p) => p.length)).toEqual(new Array(5).fill(172));
    expect(out.every((p) => (p[1] & 0x7f) === 9 && p.readUInt32BE(8) === 0xabcdef01)).toBe(true);
    expect(out.map((p) => p[1] & 0x80)).toEqual([0x80, 0, 0, 0, 0]);
    const ts = out.map((p) => p.readUInt32BE(4));
    // across the sender's 32-bit wrap, too
    expect(ts.slice(1).map((v, i) => (v - ts[i]) >>> 0)).toEqual([160, 160, 160, 160]);
  });

  it('G.722 → PCMA at 30 ms: 20 ms packets in, 30 ms out (240 bytes, +240)', () => {
    const out: Buffer[] = [];
    const t = new PcmTranscoder('g722', 'alaw', 30, (p) => out.push(p));
    const enc = new G722Encoder();
    for (let k = 0; k < 6; k++) t.push(rtp(9, 1000 + k * 160, enc.encode(tone(500, 16000, 320, 8000, k * 320))), 12, 12 + 160, 8);
    expect(out.map((p) => p.length - 12)).toEqual([240, 240, 240, 240]);
    const ts = out.map((p) => p.readUInt32BE(4));
    expect(ts.slice(1).map((v, i) => (v - ts[i]) >>> 0)).toEqual([240, 240, 240]);
  });

  it('a gap in the input is not stretched over: what was gathered is dropped and the output jumps with it', () => {
    const out: Buffer[] = [];
    const t = new PcmTranscoder('alaw', 'g722', 30, (p) => out.push(p));
    t.push(rtp(8, 0, alawFrame(0)), 12, 172, 9); // 20 ms gathered, 30 needed
    t.push(rtp(8, 800, alawFrame(5)), 12, 172, 9); // 80 ms later: a new frame starts here
    t.push(rtp(8, 960, alawFrame(6)), 12, 172, 9);
    expect(out.length).toBe(1);
    expect(t.outTs(800)).toBe(out[0].readUInt32BE(4));
  });

  it('an Opus packet libopus rejects and an empty payload are counted and dropped, not thrown', () => {
    const out: Buffer[] = [];
    const t = new PcmTranscoder('opus', 'g722', 20, (p) => out.push(p));
    expect(t.push(rtp(111, 0, Buffer.from([0x03, 0x00])), 12, 14, 9)).toBe(false); // code 3 with zero frames: invalid (RFC 6716 §3.2.5)
    expect(t.push(rtp(111, 960, Buffer.from([0xff, 0xff, 0xff])), 12, 15, 9)).toBe(false);
    expect(t.push(rtp(111, 1920, new Uint8Array(0)), 12, 12, 9)).toBe(false);
    expect(t.errors).toBe(3);
    expect(out).toEqual([]);
  });

  it('odd payload sizes (one byte, a jumbo packet) neither throw nor lose the frame count', () => {
    for (const [from, to, pt] of [['alaw', 'g722', 8], ['g722', 'ulaw', 9], ['g722', 'opus', 9]] as const) {
      const out: Buffer[] = [];
      const t = new PcmTranscoder(from, to, 20, (p) => out.push(p));
      let ts = 0;
      // 1 byte, then 1199 bytes: 1200 bytes of 8000 Hz clock = 150 ms, i.e. 7 whole 20 ms frames
      for (const n of [1, 1199]) {
        t.push(rtp(pt, ts, new Uint8Array(n).fill(0x55)), 12, 12 + n, 0);
        ts += n;
      }
      expect(out.length, `${from} → ${to}`).toBe(7);
      expect(t.errors).toBe(0);
    }
  });
});
