// Builds the batched-UDP addon (native/udp_batch.c) with node-gyp. Run by `npm install`/`npm ci`
// (the package's install script) and `npm run build`. It never fails: without a compiler, Python
// or Node's headers Tandem runs on node:dgram (--io=dgram), so this prints one warning and exits 0.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const prefix = dirname(dirname(process.execPath));
// npm's bundled node-gyp: next to npm when npm runs this (npm_execpath), else where npm is installed beside node.
const bundled = [
  process.env.npm_execpath ? join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js') : '',
  join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].find((p) => p !== '' && existsSync(p));
const [cmd, pre] = bundled !== undefined ? [process.execPath, [bundled]] : ['node-gyp', []];
const args = [...pre, 'rebuild', `--directory=${here}`];
// Headers installed beside this node (Debian's /usr, the node image's /usr/local) need no download,
// so the build works offline; an npm config nodedir wins.
if (process.env.npm_config_nodedir === undefined && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status === 0) {
  process.stdout.write('udp_batch: native batched UDP addon built (--io=batch available)\n');
} else {
  const why = r.error?.message ?? (r.stderr || r.stdout || '').split('\n').filter((l) => /ERR!|error/i.test(l)).slice(0, 3).join(' | ');
  process.stderr.write(`udp_batch: WARNING: the native addon was not built (${why || `exit ${r.status}`}); Tandem will run on node:dgram (--io=dgram)\n`);
}
process.exit(0);
