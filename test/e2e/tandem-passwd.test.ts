// `tandem passwd` as a user runs it: the built CLI (dist/, as the other e2e suites use), the
// password piped on stdin, the users file it writes read back by the same parser the server uses.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TANDEM_CLI } from './helpers/media-servers.js';
import { makeTempDir } from './helpers/proc.js';
import { parseUsersFile } from '../../src/edge/auth-users.js';
import { ha1Of } from '../../src/sip/digest.js';

function passwd(args: string[], input: string): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [TANDEM_CLI, 'passwd', ...args], { input, encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stderr: r.stderr };
}

describe('tandem passwd', () => {
  it('needs the built CLI', () => {
    expect(existsSync(TANDEM_CLI), `${TANDEM_CLI} missing: run npm run build`).toBe(true);
  });

  it('writes both HA1 lines from a piped password, replaces them on a second run, keeps other lines, mode 0600', () => {
    const file = join(makeTempDir('passwd'), 'users');
    writeFileSync(file, '# ours\nbob:tandem:0b1f7ecdeb8691665403d1894d1b619e\n');
    expect(passwd([file, 'alice', '--realm=example.com'], 'first\n').code).toBe(0);
    expect(passwd([file, 'alice', '--realm', 'example.com'], 'Circle of Life\nignored second line\n').code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('# ours\nbob:tandem:')).toBe(true);
    expect(parseUsersFile(text, file).filter((e) => e.user === 'alice')).toEqual([
      { user: 'alice', realm: 'example.com', algorithm: 'MD5', ha1: ha1Of('MD5', 'alice', 'example.com', 'Circle of Life') },
      { user: 'alice', realm: 'example.com', algorithm: 'SHA-256', ha1: ha1Of('SHA-256', 'alice', 'example.com', 'Circle of Life') },
    ]);
    expect(text).not.toContain('Circle of Life');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses bad usage and an empty password, writing nothing', () => {
    const file = join(makeTempDir('passwd'), 'users');
    expect(passwd([file], 'x\n')).toMatchObject({ code: 2 });
    expect(passwd([file, 'alice', '--bogus'], 'x\n').stderr).toMatch(/unexpected option --bogus/);
    expect(passwd([file, 'alice'], '\n').code).toBe(1);
    expect(passwd([file, 'al:ice'], 'x\n').stderr).toMatch(/user name/);
    expect(existsSync(file)).toBe(false);
  });
});
