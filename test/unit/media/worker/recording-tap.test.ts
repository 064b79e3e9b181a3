import { describe, it, expect } from 'vitest';
import { RecordingQueue, RecordingTap, type TappedPacket, type TapSink } from '../../../../src/media/worker/recording-tap.js';

class Sink implements TapSink {
  taking = true;
  got: TappedPacket[] = [];
  consume(p: TappedPacket): void {
    this.got.push(p);
  }
}

describe('recording tap and queue', () => {
  it('copies packets (the packet path may change its buffer after) and drains them on a later turn', async () => {
    const q = new RecordingQueue();
    const sink = new Sink();
    const tap = new RecordingTap(sink, q, 3);
    const buf = Buffer.from([0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xd5, 0xd5, 99]);
    tap.received(0, buf, 14, { address: '127.0.0.2', port: 4000 });
    tap.sent(1, buf, 14, undefined);
    buf[12] = 0;
    expect(sink.got).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(sink.got.map((p) => [p.side, p.inbound, p.bridge, p.data.length, p.data[12], p.peer])).toEqual([
      [0, true, 3, 14, 0xd5, { address: '127.0.0.2', port: 4000 }],
      [1, false, 3, 14, 0xd5, undefined],
    ]);
  });

  it('a full queue drops and counts, never waits; a sink that stopped taking gets nothing', async () => {
    const q = new RecordingQueue();
    q.limit = 16;
    const sink = new Sink();
    const tap = new RecordingTap(sink, q, 1);
    const pkt = Buffer.alloc(20);
    for (let i = 0; i < 40; i++) tap.received(0, pkt, 20, { address: '127.0.0.1', port: 1 });
    expect(q.length).toBe(16);
    expect(q.dropped).toBe(24);
    await new Promise((r) => setImmediate(r));
    expect(sink.got.length).toBe(16);
    sink.taking = false;
    tap.received(0, pkt, 20, { address: '127.0.0.1', port: 1 });
    expect(q.length).toBe(0);
  });
});
