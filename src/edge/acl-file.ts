import { readFileSync } from 'node:fs';
import { TandemError } from '../common/errors.js';
import { cidrError } from '../common/cidr.js';

/**
 * The access-list file (`--sip-acl-file`): one `allow IP/CIDR` or `deny IP/CIDR` per line, `#`
 * starts a comment. Its entries join `--sip-allow`/`--sip-deny` (a deny still wins), and a reload
 * (SIGHUP, `tandem ctl reload`) reads it again, as Kamailio's permissions.addressReload does.
 */
export interface AclFileEntries {
  allow: string[];
  deny: string[];
}

/**
 * Entries a file may hold. Every datagram is checked against the lists before it is parsed, and
 * node:net's BlockList checks rule by rule: about 17 µs a packet at 1000 entries, 275 µs at 10 000
 * (README, Flood defence), which would let a flood of small packets stall the main thread. Banning
 * single flooders is the flood defence's job (`--pike`); this file is for networks.
 */
export const MAX_ACL_FILE_ENTRIES = 1000;

/** File text → entries; an error names the file and line. */
export function parseAclFile(text: string, file: string): AclFileEntries {
  const out: AclFileEntries = { allow: [], deny: [] };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${file}:${i + 1}`;
    const m = /^(allow|deny)\s+(\S+)$/i.exec(line);
    if (m === null) throw new TandemError('CONFIG', `${where}: expected "allow IP/CIDR" or "deny IP/CIDR", got "${line.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}"`);
    const bad = cidrError(m[2]);
    if (bad !== undefined) throw new TandemError('CONFIG', `${where}: ${bad}`);
    if (out.allow.length + out.deny.length >= MAX_ACL_FILE_ENTRIES) throw new TandemError('CONFIG', `${where}: more than ${MAX_ACL_FILE_ENTRIES} entries`);
    (m[1].toLowerCase() === 'allow' ? out.allow : out.deny).push(m[2]);
  }
  return out;
}

export function loadAclFile(path: string): AclFileEntries {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new TandemError('CONFIG', `--sip-acl-file: cannot read ${path}: ${typeof code === 'string' ? code : String(err)}`);
  }
  return parseAclFile(text, path);
}
