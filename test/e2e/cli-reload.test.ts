// SIGHUP to the real `tandem` command (dist/cli/tandem.js): the routes file is read again; a broken
// one is refused with the error in the log and the process keeps running on the old routes; then
// `tandem ctl reload` (the same, through the admin API) and `tandem ctl drain` on an idle Tandem,
// which exits 0.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runCtl } from '../../src/cli/ctl.js';
import { TANDEM_CLI, REPO_ROOT } from './helpers/media-servers.js';
import { freeUdpPort, makeTempDir, randomPortRange, startProcess, waitFor, type RunningProcess } from './helpers/proc.js';

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const routes = (name: string): string => JSON.stringify({ routes: [{ name, match: {}, targets: [{ uri: 'sip:127.0.0.1:5999' }] }] });

describe('the tandem command: SIGHUP reload and ctl drain', () => {
  let proc: RunningProcess | undefined;

  afterEach(async () => {
    await proc?.stop(500);
    proc = undefined;
  });

  it('SIGHUP reloads the routes file, refuses a broken one and keeps running; ctl drain on an idle Tandem exits 0', async () => {
    expect(existsSync(TANDEM_CLI), `${TANDEM_CLI} missing: run npm run build`).toBe(true);
    const dir = makeTempDir('reload');
    const file = join(dir, 'routes.json');
    writeFileSync(file, routes('first'));
    const httpPort = await freeTcpPort();
    const ports = randomPortRange(100);
    proc = startProcess({
      name: 'tandem-reload',
      cmd: process.execPath,
      args: [TANDEM_CLI, `--listen-ng=127.0.0.1:${await freeUdpPort()}`, `--listen-sip=udp:127.0.0.1:${await freeUdpPort()}`, `--listen-http=127.0.0.1:${httpPort}`, `--routes-file=${file}`, `--port-min=${ports.min}`, `--port-max=${ports.max}`, '--num-threads=1', '--log-level=info'],
      cwd: REPO_ROOT,
      logDir: dir,
    });
    const p = proc;
    const log = (): string => readFileSync(p.logPath, 'utf8');
    await waitFor('admin listener', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, { timeoutMs: 15_000, abort: () => (p.hasExited() ? p.tail() : undefined) });

    writeFileSync(file, routes('second'));
    p.child.kill('SIGHUP');
    await waitFor('routes reloaded', () => /"routes":\["second"\],"msg":"routes reloaded"/.test(log()), { timeoutMs: 5000 });

    writeFileSync(file, '{ "routes": [ { "name": "broken" ');
    p.child.kill('SIGHUP');
    await waitFor('reload refused', () => log().includes('routes reload refused; the old routes stay'), { timeoutMs: 5000 });
    expect(log()).toMatch(/routes\.json: not valid JSON/);
    expect(p.hasExited()).toBe(false);

    let out = '';
    let err = '';
    expect(await runCtl([`--url=http://127.0.0.1:${httpPort}`, 'reload'], (s) => (out += s), (s) => (err += s))).toBe(1);
    expect(err).toContain('not valid JSON');
    writeFileSync(file, routes('third'));
    expect(await runCtl([`--url=http://127.0.0.1:${httpPort}`, 'reload'], (s) => (out += s), (s) => (err += s))).toBe(0);
    expect(out).toContain('routes: ["third"]');

    expect(await runCtl([`--url=http://127.0.0.1:${httpPort}`, 'drain'], (s) => (out += s), (s) => (err += s))).toBe(0);
    const code = await Promise.race([p.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
    expect(code, p.tail()).toBe('0');
  }, 40_000);
});
