import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCommand, which } from '../helpers/peers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('real-peer detection (test/helpers/peers.ts)', () => {
  it('finds an executable on PATH and nothing off it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-which-'));
    try {
      const exe = join(dir, 'fake-peer');
      writeFileSync(exe, '#!/bin/sh\n');
      chmodSync(exe, 0o755);
      expect(which('fake-peer', `/nonexistent${delimiter}${dir}`)).toBe(exe);
      expect(which('fake-peer', '/nonexistent')).toBeUndefined();
      writeFileSync(join(dir, 'not-executable'), '');
      expect(which('not-executable', dir)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the Debian packages to install, once each', () => {
    expect(installCommand(['kamailio', 'sipp', 'kamailio'])).toBe('apt-get update && apt-get install -y --no-install-recommends kamailio sip-tester');
  });

  // Runs vitest on the Kamailio suite with every sbin directory (where Debian puts kamailio) off PATH.
  const withoutSbin = (process.env.PATH ?? '').split(delimiter).filter((d) => !d.endsWith('sbin')).join(delimiter);
  const runKamailioSuite = (env: Record<string, string>): { status: number | null; out: string } => {
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', 'test/e2e/kamailio.test.ts'], {
      cwd: ROOT,
      env: { ...process.env, PATH: withoutSbin, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };

  it('without REQUIRE_PEERS, a missing kamailio skips its groups visibly and the run passes', () => {
    const r = runKamailioSuite({ REQUIRE_PEERS: '0' });
    expect(r.out).toContain('Skipped for want of real peers');
    expect(r.out).toMatch(/Kamailio 5\.6 rtpengine module -> tandem\s+\(needs kamailio\)/);
    expect(r.out).toMatch(/Kamailio 5\.6 rtpengine module -> rtpengine\s+\(needs kamailio/);
    expect(r.out).toContain('apt-get install -y --no-install-recommends kamailio');
    expect(r.status, r.out).toBe(0);
  });

  it('with REQUIRE_PEERS=1, the same run fails and says why', () => {
    const r = runKamailioSuite({ REQUIRE_PEERS: '1' });
    expect(r.out).toContain('REQUIRE_PEERS=1 and this group needs kamailio');
    expect(r.status).not.toBe(0);
  });
});
