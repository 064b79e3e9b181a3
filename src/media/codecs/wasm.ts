/**
 * Loads the codec modules built into wasm/build/ (see wasm/README.md): read and compiled
 * synchronously on first use, then cached for the life of the thread. Each worker thread has its own
 * module graph, so each worker compiles once (undici's `lazyllhttp` pattern). The modules are small
 * (about 1 KB) and compile in well under a millisecond, so synchronous compilation is acceptable.
 *
 * The project's tsconfig has no DOM lib and @types/node 20 does not declare the `WebAssembly`
 * namespace, so the few members used here are typed locally rather than by a global augmentation
 * that could clash with another file's.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TandemError } from '../../common/errors.js';
import { noteSetUp } from './set-ups.js';

/** A compiled module (opaque). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

/** The linear memory a module exports. `buffer` is replaced (old views detach) after `grow`. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

export interface WasmInstance {
  readonly exports: Readonly<Record<string, unknown>>;
}

interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports?: Record<string, Record<string, unknown>>) => WasmInstance;
}

const WA = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** Names of the modules wasm/build.mjs produces. */
export type WasmName = 'g711' | 'g722' | 'resample' | 'srtp';

export const WASM_PAGE_BYTES = 65536;

/**
 * wasm/build/<name>.wasm, resolved from this file: src/media/codecs/wasm.ts under vitest/tsx and
 * dist/media/codecs/wasm.js after tsc are both three directories below the repository root.
 */
export function wasmPath(name: WasmName): string {
  return fileURLToPath(new URL(`../../../wasm/build/${name}.wasm`, import.meta.url));
}

const modules = new Map<WasmName, WasmModule>();
const instances = new Map<WasmName, WasmInstance>();

/** The compiled module, compiled on the first call in this thread. Throws TandemError('CODEC'). */
export function wasmModule(name: WasmName): WasmModule {
  let m = modules.get(name);
  if (m === undefined) {
    const file = wasmPath(name);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new TandemError('CODEC', `cannot read ${file} (${code}): run \`npm run build:wasm\` first`, {
        wasm: name,
      });
    }
    m = new WA.Module(bytes);
    modules.set(name, m);
    noteSetUp(`wasm:${name}`);
  }
  return m;
}

/**
 * The one instance of a module in this thread. The codec modules need no imports. Callers own the
 * typing of `exports` and should check it once (see `g711.ts`).
 */
export function wasmInstance(name: WasmName): WasmInstance {
  let inst = instances.get(name);
  if (inst === undefined) {
    inst = new WA.Instance(wasmModule(name), {});
    instances.set(name, inst);
  }
  return inst;
}
