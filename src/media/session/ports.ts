import { TandemError } from '../../common/errors.js';

/**
 * RTP/RTCP port pairs from the configured range: RTP on an even port, RTCP on the next odd
 * one (RFC 3550 §11). Allocation starts after the last pair handed out so a port just
 * released is not reused at once (late packets of the old call would land in the new one).
 */
export class PortAllocator {
  private readonly first: number;
  private readonly pairs: number;
  private readonly used: Uint8Array;
  private cursor = 0;
  private inUse = 0;

  constructor(min: number, max: number) {
    this.first = min % 2 === 0 ? min : min + 1;
    this.pairs = Math.max(0, Math.floor((max - this.first + 1) / 2));
    if (this.pairs === 0) throw new TandemError('CONFIG', `port range ${min}-${max} holds no RTP/RTCP pair`);
    this.used = new Uint8Array(this.pairs);
    this.cursor = Math.floor(Math.random() * this.pairs);
  }

  /** Returns the RTP port of a free pair; throws NO_PORTS when the range is exhausted. */
  allocate(): number {
    for (let n = 0; n < this.pairs; n++) {
      const i = (this.cursor + n) % this.pairs;
      if (this.used[i] === 0) {
        this.used[i] = 1;
        this.inUse++;
        this.cursor = (i + 1) % this.pairs;
        return this.first + 2 * i;
      }
    }
    throw new TandemError('NO_PORTS', 'Ran out of ports');
  }

  release(rtpPort: number): void {
    const i = (rtpPort - this.first) / 2;
    if (!Number.isInteger(i) || i < 0 || i >= this.pairs || this.used[i] === 0) return;
    this.used[i] = 0;
    this.inUse--;
  }

  get free(): number {
    return this.pairs - this.inUse;
  }

  get capacity(): number {
    return this.pairs;
  }
}
