import { describe, it, expect } from 'vitest';
import { guardCounters, guardHandler, safeSend } from '../../../../src/media/worker/guard.js';
import { bindDgramSocket } from '../../../../src/media/worker/media-socket.js';

describe('socket guard', () => {
  it('a send dgram would throw on (port 65536) is refused and counted, not thrown', async () => {
    const sock = await bindDgramSocket(4, '127.0.0.1', 0);
    try {
      const before = guardCounters.caught;
      expect(() => sock.send(Buffer.alloc(4), 4, 65536, '127.0.0.1')).toThrow(/ERR_SOCKET_BAD_PORT|Port should be/);
      expect(safeSend(sock, 'c1', Buffer.alloc(4), 4, { port: 65536, address: '127.0.0.1' })).toBe(false);
      expect(guardCounters.caught).toBe(before + 1);
      // Positive control: a good destination goes out.
      expect(safeSend(sock, 'c1', Buffer.alloc(4), 4, { port: 9, address: '127.0.0.1' })).toBe(true);
    } finally {
      sock.close();
    }
  });

  it('a handler that throws drops the packet, counts it and lets the next one through', () => {
    let dropped = 0;
    const seen: number[] = [];
    const h = guardHandler('c2', 'rtp', (msg) => {
      if (msg[0] === 0xff) throw new RangeError('boom');
      seen.push(msg[0]);
    }, () => dropped++);
    const rinfo = { address: '127.0.0.1', family: 'IPv4' as const, port: 4000, size: 1 };
    expect(() => h(Buffer.from([0xff]), rinfo)).not.toThrow();
    h(Buffer.from([1]), rinfo);
    expect(dropped).toBe(1);
    expect(seen).toEqual([1]);
  });
});
