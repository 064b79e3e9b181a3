// Builds wasm/build/*.wasm from the AssemblyScript sources in wasm/, using the compiler pinned in
// package.json (devDependency assemblyscript, exact version). npm tooling only: asc and binaryen are
// JS/wasm packages, no native toolchain. Run with `npm run build:wasm` (also part of `npm run build`).
//
// Why a script and not a one-line asc call in package.json: one place lists every module and its
// flags, the output directory is created, and a failure exits non-zero with asc's diagnostics.
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import asc from 'assemblyscript/asc';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, 'build');

/** Flags shared by every module: optimised release build, no GC runtime, no imports. */
const COMMON = [
  '--optimizeLevel', '3',
  '--shrinkLevel', '0',
  '--noAssert', // no trapping assertions, hence no `env.abort` import
  '--runtime', 'stub', // bump allocator stub; the codecs allocate nothing
  '--use', 'abort=', // any remaining abort() becomes `unreachable`, not an import
  '--initialMemory', '2', // static data + 64 KiB of host scratch (see src/media/codecs/g711.ts)
];

/** One entry per wasm module: source file (relative to wasm/) → output name. */
const MODULES = [
  { src: 'g711.ts', out: 'g711', flags: [] },
  { src: 'g722.ts', out: 'g722', flags: [] },
  // 128-bit SIMD for the FIR dot products (Node 20's V8 has it on by default).
  { src: 'resample.ts', out: 'resample', flags: ['--enable', 'simd', '--initialMemory', '4'] },
  // SRTP's HMAC-SHA1 and AES-CM helpers: room above the fixed regions for a 64 KiB datagram and
  // its counter blocks.
  { src: 'srtp.ts', out: 'srtp', flags: ['--initialMemory', '3'] },
];

await mkdir(outDir, { recursive: true });
for (const m of MODULES) {
  const args = [
    path.join(here, m.src),
    '--outFile', path.join(outDir, `${m.out}.wasm`),
    '--textFile', path.join(outDir, `${m.out}.wat`),
    ...COMMON,
    ...m.flags,
  ];
  const { error, stderr } = await asc.main(args, { stdout: process.stdout, stderr: process.stderr });
  if (error) {
    process.stderr.write(`build:wasm: ${m.src} failed: ${error.message}\n${stderr.toString()}`);
    process.exit(1);
  }
  process.stdout.write(`build:wasm: ${path.relative(process.cwd(), path.join(outDir, `${m.out}.wasm`))} (asc ${asc.version})\n`);
}
