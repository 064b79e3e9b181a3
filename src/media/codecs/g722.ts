/**
 * G.722 (ITU-T Rec. G.722, 64 kbit/s mode) through the wasm codec in wasm/g722.ts: 16 kHz linear
 * samples ↔ one code byte per two samples. RTP (RFC 3551 §4.5.2): the rtpmap says G722/8000 although
 * the audio is 16 kHz, so a packet's timestamp advances by its byte count (160 per 20 ms), as G.711's.
 *
 * The wasm module is stateless; each encoder or decoder keeps its stream's state (QMF delay line,
 * both sub-bands' predictors) here and lends it to the module for each call.
 */
import { TandemError } from '../../common/errors.js';
import { wasmInstance, WASM_PAGE_BYTES, type WasmMemory } from './wasm.js';

interface G722Exports {
  memory: WasmMemory;
  scratchBase(): number;
  stateWords(): number;
  init(state: number): void;
  encode(state: number, src: number, dst: number, n: number): void;
  decode(state: number, src: number, dst: number, n: number): void;
}

/** Samples per call into wasm (a 20 ms frame is 320): larger inputs go in chunks. */
const CHUNK = 8192;

interface Module {
  x: G722Exports;
  stateOff: number;
  stateWords: number;
  inOff: number;
  outOff: number;
}

let mod: Module | undefined;

function load(): Module {
  if (mod !== undefined) return mod;
  const e = wasmInstance('g722').exports as Partial<G722Exports>;
  for (const f of ['scratchBase', 'stateWords', 'init', 'encode', 'decode'] as const) {
    if (typeof e[f] !== 'function') throw new TandemError('CODEC', `g722.wasm lacks export ${f}(): rebuild with \`npm run build:wasm\``);
  }
  if (e.memory === undefined) throw new TandemError('CODEC', 'g722.wasm exports no memory');
  const x = e as G722Exports;
  const stateOff = x.scratchBase();
  const stateWords = x.stateWords();
  const inOff = stateOff + ((stateWords * 4 + 15) & ~15);
  const outOff = inOff + CHUNK * 2;
  const need = outOff + CHUNK * 2;
  const have = x.memory.buffer.byteLength;
  if (have < need) x.memory.grow(Math.ceil((need - have) / WASM_PAGE_BYTES));
  mod = { x, stateOff, stateWords, inOff, outOff };
  return mod;
}

/** One stream's state, copied in and out of the module around each call. */
abstract class G722Stream {
  protected readonly m = load();
  protected readonly state: Int32Array;

  constructor() {
    const { x, stateOff, stateWords } = this.m;
    x.init(stateOff);
    this.state = new Int32Array(x.memory.buffer, stateOff, stateWords).slice();
  }

  protected lend<T>(run: (mem: ArrayBuffer) => T): T {
    const { x, stateOff } = this.m;
    new Int32Array(x.memory.buffer, stateOff, this.state.length).set(this.state);
    const out = run(x.memory.buffer);
    this.state.set(new Int32Array(x.memory.buffer, stateOff, this.state.length));
    return out;
  }
}

export class G722Encoder extends G722Stream {
  /** 16 kHz samples (an even count) → one code byte per two samples. */
  encode(pcm: Int16Array): Buffer {
    if (pcm.length % 2 !== 0) throw new TandemError('CODEC', `G.722 encodes pairs of samples, got ${pcm.length}`);
    const out = Buffer.allocUnsafe(pcm.length / 2);
    const { x, stateOff, inOff, outOff } = this.m;
    this.lend((mem) => {
      for (let off = 0; off < pcm.length; off += CHUNK) {
        const len = Math.min(CHUNK, pcm.length - off);
        new Int16Array(mem, inOff, len).set(pcm.subarray(off, off + len));
        x.encode(stateOff, inOff, outOff, len);
        out.set(new Uint8Array(mem, outOff, len / 2), off / 2);
      }
    });
    return out;
  }
}

export class G722Decoder extends G722Stream {
  /** Code bytes → two 16 kHz samples each. Every byte is a valid code, so nothing is rejected. */
  decode(codes: Uint8Array): Int16Array {
    const out = new Int16Array(codes.length * 2);
    const { x, stateOff, inOff, outOff } = this.m;
    const chunk = CHUNK / 2;
    this.lend((mem) => {
      for (let off = 0; off < codes.length; off += chunk) {
        const len = Math.min(chunk, codes.length - off);
        new Uint8Array(mem, inOff, len).set(codes.subarray(off, off + len));
        x.decode(stateOff, inOff, outOff, len);
        out.set(new Int16Array(mem, outOff, len * 2), off * 2);
      }
    });
    return out;
  }
}

/** 16 kHz samples per RTP timestamp unit: the G722/8000 clock quirk of RFC 3551 §4.5.2. */
export const G722_SAMPLES_PER_TS = 2;
