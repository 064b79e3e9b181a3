import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../common/clock.js';

/**
 * Nonces we can check without keeping one per challenge: `base64url(time ‖ random ‖ HMAC)`, the
 * HMAC keyed with a secret made at start (RFC 7616 §5.5 suggests time and a private key). Only a
 * nonce somebody used is remembered, with the highest `nc` seen, so a replayed or lower `nc` is
 * refused (RFC 7616 §3.4: the server may reject a repeated nc). That map is bounded; a nonce
 * pushed out of it, or older than the newest one pushed out, is stale, never fresh again.
 */
export type NonceVerdict = 'fresh' | 'stale' | 'replay' | 'forged';

export interface NonceStats {
  issued: number;
  /** nonces dropped from the in-use map to keep it within its bound. */
  evicted: number;
  inUse: number;
}

const TIME_BYTES = 6;
const RANDOM_BYTES = 9;
const MAC_BYTES = 18;

export class NonceKeeper {
  private readonly secret = randomBytes(32);
  /** nonce → highest nc accepted; insertion order = order of first use (the oldest go first). */
  private readonly inUse = new Map<string, number>();
  /** nonces issued at or before this time (ms) and not in `inUse` may have been pushed out: stale. */
  private floorMs = -Infinity;
  private readonly counts = { issued: 0, evicted: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = 300_000,
    private readonly maxInUse = 10_000,
  ) {}

  issue(): string {
    this.counts.issued++;
    const body = Buffer.alloc(TIME_BYTES + RANDOM_BYTES);
    body.writeUIntBE(Math.max(0, Math.floor(this.clock.now())), 0, TIME_BYTES);
    randomBytes(RANDOM_BYTES).copy(body, TIME_BYTES);
    return Buffer.concat([body, this.mac(body)]).toString('base64url');
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(body).digest().subarray(0, MAC_BYTES);
  }

  /** Is this nonce ours and still good? Does not record anything (see `use`). */
  check(nonce: string): { verdict: 'fresh' | 'stale' | 'forged'; issuedMs?: number } {
    if (nonce.length > 64 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return { verdict: 'forged' };
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== TIME_BYTES + RANDOM_BYTES + MAC_BYTES || raw.toString('base64url') !== nonce) return { verdict: 'forged' };
    const body = raw.subarray(0, TIME_BYTES + RANDOM_BYTES);
    if (!timingSafeEqual(raw.subarray(TIME_BYTES + RANDOM_BYTES), this.mac(body))) return { verdict: 'forged' };
    const issuedMs = body.readUIntBE(0, TIME_BYTES);
    const age = this.clock.now() - issuedMs;
    if (age > this.ttlMs || age < -1000) return { verdict: 'stale', issuedMs };
    if (!this.inUse.has(nonce) && issuedMs <= this.floorMs) return { verdict: 'stale', issuedMs };
    return { verdict: 'fresh', issuedMs };
  }

  /**
   * Records `nc` (8 hex digits) for a nonce whose response was right. A nc not above the last one
   * accepted is a replay (a retransmission of the same request is absorbed by the transaction
   * layer before it gets here, so a repeat is never innocent).
   */
  use(nonce: string, issuedMs: number, nc: number): NonceVerdict {
    const last = this.inUse.get(nonce);
    if (last !== undefined && nc <= last) return 'replay';
    if (last === undefined && issuedMs <= this.floorMs) return 'stale';
    this.inUse.delete(nonce);
    this.inUse.set(nonce, nc);
    while (this.inUse.size > this.maxInUse) {
      const oldest = this.inUse.keys().next().value;
      if (oldest === undefined) break;
      this.inUse.delete(oldest);
      this.counts.evicted++;
      const t = Buffer.from(oldest, 'base64url').readUIntBE(0, TIME_BYTES);
      this.floorMs = Math.max(this.floorMs, t);
    }
    return 'fresh';
  }

  /** Forgets nonces past their lifetime (they are refused as stale by their time anyway). */
  sweep(): void {
    const now = this.clock.now();
    for (const nonce of this.inUse.keys()) {
      const t = Buffer.from(nonce, 'base64url').readUIntBE(0, TIME_BYTES);
      if (now - t > this.ttlMs) this.inUse.delete(nonce);
    }
  }

  stats(): NonceStats {
    return { ...this.counts, inUse: this.inUse.size };
  }
}
