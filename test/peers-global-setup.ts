// Collects the groups that were skipped for want of a real peer (test/helpers/peers.ts) and lists
// them, with the one command that installs everything missing, once the run is over.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installCommand, peersRequired, SKIP_LOG_ENV, type PeerName } from './helpers/peers.js';

let dir = '';

export function setup(): void {
  dir = mkdtempSync(join(tmpdir(), 'tandem-peers-'));
  process.env[SKIP_LOG_ENV] = join(dir, 'skipped.jsonl');
}

export function teardown(): void {
  const file = process.env[SKIP_LOG_ENV];
  if (file === undefined || !existsSync(file)) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const seen = new Map<string, PeerName[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const r = JSON.parse(line) as { title: string; missing: PeerName[] };
    seen.set(r.title, r.missing);
  }
  rmSync(dir, { recursive: true, force: true });
  if (seen.size === 0) return;
  const all = [...new Set([...seen.values()].flat())];
  const lines = [
    '',
    peersRequired() ? 'Real peers missing (REQUIRE_PEERS=1: these groups FAILED):' : 'Skipped for want of real peers (set REQUIRE_PEERS=1 to make this a failure):',
    ...[...seen].map(([title, missing]) => `  - ${title}  (needs ${missing.join(', ')})`),
    `Install them: ${installCommand(all)}`,
    '',
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
}
