import { pino } from 'pino';
import { defaultMediaOptions, type MediaOptions } from '../../../../src/media/api.js';
import type { BridgeStats, BridgePorts } from '../../../../src/media/pool/protocol.js';
import { CallMedia, MediaCall, type BridgeLease } from '../../../../src/media/session/call.js';

/** Session-level and per-m= lines of a test SDP; `media` entries are whole m= sections. */
export function sdp(media: string[][], session: string[] = []): string {
  return ['v=0', 'o=- 1 1 IN IP4 192.0.2.10', 's=-', 'c=IN IP4 192.0.2.10', 't=0 0', ...session, ...media.flat(), ''].join('\r\n');
}

/** An audio m= line: port, profile and payload types, plus extra attributes. */
export function audio(port: number, pts: string, extra: string[] = [], proto = 'RTP/AVP'): string[] {
  return [`m=audio ${port} ${proto} ${pts}`, ...extra];
}

export const OPUS = ['a=rtpmap:111 opus/48000/2'];
export const TE8 = ['a=rtpmap:101 telephone-event/8000'];
export const KEY = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
export const FP = 'sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99';

export function options(o: Partial<MediaOptions> = {}): MediaOptions {
  return { ...defaultMediaOptions(), ...o };
}

/** A bridge lease that records what was asked of it; ports count up from `base`. */
export class FakeLease implements BridgeLease {
  closes: boolean[] = [];
  readonly ports: BridgePorts;
  constructor(readonly id: number, base = 40000 + id * 4, private readonly stats?: BridgeStats) {
    this.ports = [base, base + 1, base + 2, base + 3];
  }
  async close(workerGone: boolean): Promise<BridgeStats | undefined> {
    this.closes.push(workerGone);
    return workerGone ? undefined : this.stats;
  }
}

export const silent = pino({ level: 'silent' });

/** A call with `n` medias on fake bridges, its worker slot counting releases. */
export function testCall(n: number, fromTag = 'a'): { call: MediaCall; leases: FakeLease[]; released: () => number } {
  let releases = 0;
  const call = new MediaCall('call-1', { index: 0, release: () => { releases++; } }, silent);
  call.tags[0] = fromTag;
  const leases = Array.from({ length: n }, (_v, i) => new FakeLease(i + 1));
  call.medias = leases.map((l, i) => new CallMedia(i + 1, l));
  return { call, leases, released: () => releases };
}
