// SRTP micro-bench (issue 14): protect + unprotect of one 20 ms G.711 packet (12-byte header,
// 160-byte payload, AES_CM_128_HMAC_SHA1_80), the per-packet-object implementation that was
// (bench/lib/srtp-baseline.ts) against src/media/rtp/srtp.ts, alternating rounds in one process so
// both see the same machine. Bounded: --rounds × --packets pairs each (defaults 6 × 50 000).
// Not a test: prints pairs/s for each and the ratio (median of the rounds); then the HMAC-SHA1 tag
// alone three ways (createHmac per packet, Hash.copy() of keyed states, the wasm one), same rounds.
//   npx tsx bench/srtp-micro.ts [--rounds N] [--packets N] [--payload BYTES]
import { createHash, createHmac } from 'node:crypto';
import { SrtpContext } from '../src/media/rtp/srtp.js';
import { HmacSha1Key, srtpWork } from '../src/media/rtp/srtp-crypto.js';
import { BaselineSrtp } from './lib/srtp-baseline.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0 || v > 10_000_000) throw new Error(`--${name} must be a whole number from 1 to 10000000`);
  return v;
};
const ROUNDS = arg('rounds', 6);
const PACKETS = arg('packets', 50_000);
const PAYLOAD = arg('payload', 160);

const masterKey = Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139', 'hex');
const masterSalt = Buffer.from('0EC675AD498AFEEBB6960B3AABE6', 'hex');

function packet(seq: number): Buffer {
  const p = Buffer.alloc(12 + PAYLOAD, seq & 0xff);
  p[0] = 0x80;
  p[1] = 8;
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE((seq * 160) >>> 0, 4);
  p.writeUInt32BE(0x5eed, 8);
  return p;
}

interface Impl {
  name: string;
  /** Protects and unprotects `n` packets starting at sequence `from`; returns how many came back. */
  run(from: number, n: number): number;
}

function baseline(): Impl {
  const tx = new BaselineSrtp(masterKey, masterSalt);
  const rx = new BaselineSrtp(masterKey, masterSalt);
  return {
    name: 'per-packet objects (before)',
    run(from, n) {
      let ok = 0;
      for (let i = 0; i < n; i++) if (rx.unprotectRtp(tx.protectRtp(packet(from + i))).ok) ok++;
      return ok;
    },
  };
}

function current(): Impl {
  const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', masterKey, masterSalt);
  const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', masterKey, masterSalt);
  return {
    name: 'reused context (src/media/rtp/srtp.ts)',
    run(from, n) {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const s = tx.protectRtp(packet(from + i));
        if (rx.unprotectRtpInPlace(s, s.length) >= 0) ok++;
      }
      return ok;
    },
  };
}

const impls = [baseline(), current()];
const rates: number[][] = impls.map(() => []);
const seq = impls.map(() => 0);
// Warm-up (JIT), not measured.
impls.forEach((m, k) => {
  m.run(seq[k], 5000);
  seq[k] += 5000;
});
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which goes first, so neither always runs on a warmer or cooler machine.
  const order = r % 2 === 0 ? [0, 1] : [1, 0];
  for (const k of order) {
    const t0 = process.hrtime.bigint();
    const ok = impls[k].run(seq[k], PACKETS);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (ok !== PACKETS) throw new Error(`${impls[k].name}: ${PACKETS - ok} packets did not come back`);
    seq[k] += PACKETS;
    rates[k].push(PACKETS / s);
  }
}
// The tag alone: the same 172 bytes + ROC, three ways.
const authKey = Buffer.from('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4', 'hex');
const msg = packet(1);
const rocBytes = Buffer.alloc(4);
const pads = [0x36, 0x5c].map((x) => {
  const b = Buffer.alloc(64, x);
  for (let i = 0; i < authKey.length; i++) b[i] = authKey[i] ^ x;
  return createHash('sha1').update(b);
});
const wasmKey = new HmacSha1Key(authKey);
const w = srtpWork();
const tagWays: { name: string; tag(): number }[] = [
  { name: 'createHmac per packet', tag: () => createHmac('sha1', authKey).update(msg).update(rocBytes).digest()[0] },
  { name: 'Hash.copy() of keyed states', tag: () => pads[1].copy().update(pads[0].copy().update(msg).update(rocBytes).digest()).digest()[0] },
  {
    name: 'wasm HMAC-SHA1 (srtp-crypto.ts)',
    tag: () => {
      msg.copy(w.mem, w.data);
      wasmKey.tagAt(w, w.data, msg.length, 0, true, w.tag);
      return w.mem[w.tag];
    },
  },
];
const tagNs: number[][] = tagWays.map(() => []);
const first = tagWays.map((t) => t.tag());
if (new Set(first).size !== 1) throw new Error('the three HMAC-SHA1 ways disagree');
for (let r = 0; r < ROUNDS; r++) {
  tagWays.forEach((t, k) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PACKETS; i++) t.tag();
    tagNs[k].push(Number(process.hrtime.bigint() - t0) / PACKETS);
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const out: string[] = [`SRTP protect+unprotect, ${12 + PAYLOAD}-byte RTP, AES_CM_128_HMAC_SHA1_80, ${ROUNDS} rounds × ${PACKETS} packets`];
impls.forEach((m, k) => {
  const perRound = rates[k].map((x) => Math.round(x / 1000)).join(' ');
  out.push(`  ${m.name.padEnd(40)} median ${Math.round(median(rates[k])).toLocaleString('en')} pairs/s (rounds, k/s: ${perRound})`);
});
const ratios = rates[1].map((x, r) => x / rates[0][r]);
out.push(`  ratio after/before: median ${median(ratios).toFixed(2)}× (per round: ${ratios.map((x) => x.toFixed(2)).join(' ')})`);
out.push(`HMAC-SHA1 tag of ${msg.length} bytes + ROC, ${ROUNDS} rounds × ${PACKETS}`);
tagWays.forEach((t, k) => out.push(`  ${t.name.padEnd(40)} median ${median(tagNs[k]).toFixed(0)} ns/tag`));
process.stdout.write(`${out.join('\n')}\n`);
