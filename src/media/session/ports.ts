import { randomInt } from 'node:crypto';
import { TandemError } from '../../common/errors.js';

const FREE = 0;
const USED = 1;
const COOLING = 2;
/** Random probes before falling back to a scan from a random start (a nearly full range). */
const PROBES = 32;

/**
 * RTP/RTCP port pairs from the configured range: RTP on an even port, RTCP on the next odd
 * one (RFC 3550 §11). Pairs are picked at random: ports handed out in sequence let anyone who saw
 * one call's port guess the next call's and send to it first. A released pair cools down (up to half
 * the range, oldest first) before it is picked again, so late packets of an old call do not land in a
 * new one; when nothing else is free the pair that cooled longest is reused.
 */
export class PortAllocator {
  private readonly first: number;
  private readonly pairs: number;
  private readonly state: Uint8Array;
  private readonly cooling: number[] = [];
  private readonly maxCooling: number;
  private inUse = 0;

  constructor(min: number, max: number) {
    this.first = min % 2 === 0 ? min : min + 1;
    this.pairs = Math.max(0, Math.floor((max - this.first + 1) / 2));
    if (this.pairs === 0) throw new TandemError('CONFIG', `port range ${min}-${max} holds no RTP/RTCP pair`);
    this.state = new Uint8Array(this.pairs);
    this.maxCooling = Math.min(1024, Math.floor(this.pairs / 2));
  }

  /** Returns the RTP port of a free pair; throws NO_PORTS when the range is exhausted. */
  allocate(): number {
    const i = this.pick();
    if (i < 0) throw new TandemError('NO_PORTS', 'Ran out of ports');
    this.state[i] = USED;
    this.inUse++;
    return this.first + 2 * i;
  }

  private pick(): number {
    if (this.pairs - this.inUse - this.cooling.length > 0) {
      for (let n = 0; n < PROBES; n++) {
        const i = randomInt(this.pairs);
        if (this.state[i] === FREE) return i;
      }
      const start = randomInt(this.pairs);
      for (let n = 0; n < this.pairs; n++) {
        const i = (start + n) % this.pairs;
        if (this.state[i] === FREE) return i;
      }
    }
    return this.cooling.shift() ?? -1;
  }

  release(rtpPort: number): void {
    const i = (rtpPort - this.first) / 2;
    if (!Number.isInteger(i) || i < 0 || i >= this.pairs || this.state[i] !== USED) return;
    this.inUse--;
    this.state[i] = COOLING;
    this.cooling.push(i);
    while (this.cooling.length > this.maxCooling) {
      const j = this.cooling.shift();
      if (j !== undefined) this.state[j] = FREE;
    }
  }

  /** Takes the pair of this RTP port (a session restored on the ports it had); false if it is not free. */
  take(rtpPort: number): boolean {
    const i = (rtpPort - this.first) / 2;
    if (!Number.isInteger(i) || i < 0 || i >= this.pairs || this.state[i] === USED) return false;
    if (this.state[i] === COOLING) this.cooling.splice(this.cooling.indexOf(i), 1);
    this.state[i] = USED;
    this.inUse++;
    return true;
  }

  get free(): number {
    return this.pairs - this.inUse;
  }

  get capacity(): number {
    return this.pairs;
  }
}
