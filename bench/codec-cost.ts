/**
 * CPU per 20 ms frame of the worker's audio conversion paths, side by side in one process (so the
 * ratios hold on a shared box where absolute figures move): G.711 → G.722 and back through PCM
 * (worker/pcm-transcode.ts) against G.711 → Opus (worker/opus-transcode.ts). Three rounds of 2000
 * frames each after 200 to warm up; a few seconds. See wasm/README.md.
 *
 *   npx tsx bench/codec-cost.ts
 */
import { PcmTranscoder } from '../src/media/worker/pcm-transcode.js';
import { G711ToOpus } from '../src/media/worker/opus-transcode.js';
import { G722Encoder } from '../src/media/codecs/g722.js';
import { encodeAlaw } from '../src/media/codecs/g711.js';

function packet(pt: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = pt;
  Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).copy(b, 12);
  return b;
}
const alaw = new Uint8Array(160);
encodeAlaw(Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin(i / 3))), alaw);
const pcma = packet(8, alaw);
const g722 = packet(9, new G722Encoder().encode(Int16Array.from({ length: 320 }, (_, i) => Math.round(8000 * Math.sin(i / 5)))));

type Path = { name: string; frame: (ts: number) => void };
const through = (buf: Buffer, push: (b: Buffer) => void) => (ts: number): void => {
  buf.writeUInt32BE(ts >>> 0, 4);
  push(buf);
};
const toG722 = new PcmTranscoder('alaw', 'g722', 20, () => undefined);
const fromG722 = new PcmTranscoder('g722', 'alaw', 20, () => undefined);
const toOpus = new G711ToOpus('alaw', () => undefined);
const paths: Path[] = [
  { name: 'PCMA → G.722', frame: through(pcma, (b) => toG722.push(b, 12, b.length, 9)) },
  { name: 'G.722 → PCMA', frame: through(g722, (b) => fromG722.push(b, 12, b.length, 8)) },
  { name: 'PCMA → Opus', frame: through(pcma, (b) => toOpus.push(b, 12, b.length, 111)) },
];

let ts = 0;
for (let round = 1; round <= 3; round++) {
  const us: number[] = [];
  for (const p of paths) {
    for (let k = 0; k < 200; k++) p.frame((ts += 160));
    const t0 = performance.now();
    for (let k = 0; k < 2000; k++) p.frame((ts += 160));
    us.push(((performance.now() - t0) * 1000) / 2000);
  }
  const opus = us[2];
  process.stdout.write(`round ${round}: ${paths.map((p, i) => `${p.name} ${us[i].toFixed(1)} µs (${(us[i] / opus).toFixed(2)}× PCMA → Opus)`).join(', ')}\n`);
}
