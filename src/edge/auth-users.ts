import { readFileSync } from 'node:fs';
import { TandemError } from '../common/errors.js';
import { ha1Of, type DigestAlgorithm } from '../sip/digest.js';

/**
 * The users file (`--auth-users`): Apache htdigest lines `user:realm:HA1` (MD5) and, for
 * RFC 7616's SHA-256, `user:realm:SHA-256:HA1`. Only hashes: a stolen file gives no password
 * (though an HA1 is enough to answer challenges of its realm, so the file stays private).
 * `#` starts a comment line; several realms may share one file.
 */
export interface UserEntry {
  user: string;
  realm: string;
  algorithm: DigestAlgorithm;
  ha1: string;
}


const HEX = { MD5: /^[0-9a-f]{32}$/i, 'SHA-256': /^[0-9a-f]{64}$/i } as const;

function parseLine(line: string, where: string): UserEntry {
  const f = line.split(':');
  let user: string, realm: string, algorithm: DigestAlgorithm, ha1: string;
  if (f.length === 3) [user, realm, algorithm, ha1] = [f[0], f[1], 'MD5', f[2]];
  else if (f.length === 4) {
    if (f[2] !== 'SHA-256' && f[2] !== 'MD5') throw new TandemError('CONFIG', `${where}: algorithm "${f[2].slice(0, 32)}" is not SHA-256 or MD5`);
    [user, realm, algorithm, ha1] = [f[0], f[1], f[2], f[3]];
  } else throw new TandemError('CONFIG', `${where}: expected user:realm:HA1 or user:realm:SHA-256:HA1 (${f.length} fields)`);
  if (user === '') throw new TandemError('CONFIG', `${where}: empty user name`);
  if (realm === '') throw new TandemError('CONFIG', `${where}: empty realm`);
  if (!HEX[algorithm].test(ha1)) throw new TandemError('CONFIG', `${where}: the ${algorithm} HA1 must be ${algorithm === 'MD5' ? 32 : 64} hex digits`);
  return { user, realm, algorithm, ha1: ha1.toLowerCase() };
}

/** File text → entries; an error names the file and line. A user listed twice for one realm and algorithm is an error. */
export function parseUsersFile(text: string, file: string): UserEntry[] {
  const out: UserEntry[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const e = parseLine(line, where);
    const key = `${e.user}\0${e.realm}\0${e.algorithm}`;
    if (seen.has(key)) throw new TandemError('CONFIG', `${where}: ${e.user} in realm ${e.realm} (${e.algorithm}) is listed twice`);
    seen.add(key);
    out.push(e);
  });
  return out;
}

export function loadUsersFile(path: string): UserEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new TandemError('CONFIG', `--auth-users: cannot read ${path}: ${typeof code === 'string' ? code : String(err)}`);
  }
  return parseUsersFile(text, path);
}

/** HA1 lookup for one realm. */
export class UserStore {
  private readonly byKey = new Map<string, string>();

  constructor(entries: readonly UserEntry[]) {
    for (const e of entries) this.byKey.set(`${e.algorithm}\0${e.realm}\0${e.user}`, e.ha1);
  }

  ha1(algorithm: DigestAlgorithm, realm: string, user: string): string | undefined {
    return this.byKey.get(`${algorithm}\0${realm}\0${user}`);
  }

  get size(): number {
    return this.byKey.size;
  }
}

/**
 * `tandem passwd`: the file's text with the user's MD5 and SHA-256 lines for `realm` replaced (or
 * added at the end). Other lines, comments included, stay as they were.
 */
export function withPassword(text: string, user: string, realm: string, password: string): string {
  if (user === '' || user.includes(':') || /[\r\n]/.test(user)) throw new TandemError('CONFIG', `user name "${user}" must be non-empty without ":" or line breaks`);
  if (realm === '' || realm.includes(':') || /[\r\n]/.test(realm)) throw new TandemError('CONFIG', `realm "${realm}" must be non-empty without ":" or line breaks`);
  const kept = text
    .split(/\r?\n/)
    .filter((raw) => {
      const f = raw.trim().split(':');
      return raw.trim().startsWith('#') || !(f.length >= 3 && f[0] === user && f[1] === realm);
    });
  while (kept.length > 0 && kept[kept.length - 1].trim() === '') kept.pop();
  kept.push(`${user}:${realm}:${ha1Of('MD5', user, realm, password)}`, `${user}:${realm}:SHA-256:${ha1Of('SHA-256', user, realm, password)}`);
  return `${kept.join('\n')}\n`;
}
