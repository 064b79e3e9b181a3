import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

/** The dependency direction of docs/architecture.md, checked on every import under src/. */
const SRC = resolve(__dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function moduleOf(file: string): string {
  const rel = relative(SRC, file).replace(/\\/g, '/');
  if (rel === 'main.ts') return 'main';
  if (rel === 'media/api.ts') return 'media/api';
  if (rel === 'media/pool/protocol.ts') return 'media/pool/protocol';
  const parts = rel.split('/');
  return parts[0] === 'media' ? `media/${parts[1]}` : parts[0];
}

/** "may import" table; everyone may import common. */
const ALLOWED: Record<string, string[]> = {
  cli: ['main', 'config'],
  main: ['b2bua', 'control', 'media/api', 'media/session', 'sip', 'sdp', 'config'],
  config: [],
  common: [],
  sdp: [],
  sip: [],
  b2bua: ['sip', 'sdp', 'media/api'],
  control: ['media/api', 'sdp'],
  'media/api': ['sdp'],
  'media/session': ['media/api', 'media/pool', 'media/pool/protocol', 'media/rtp', 'media/codecs', 'sdp'],
  'media/pool': ['media/pool/protocol'],
  'media/pool/protocol': [],
  'media/worker': ['media/rtp', 'media/codecs', 'media/pool/protocol'],
  'media/rtp': [],
  'media/codecs': [],
};

describe('architecture', () => {
  it('every import under src/ follows the dependency direction', () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const from = moduleOf(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"](\.[^'"]+)['"]/gm)) {
        const target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts');
        const to = moduleOf(target);
        if (to === from || to === 'common') continue;
        if (!(ALLOWED[from] ?? []).includes(to)) violations.push(`${relative(SRC, file)} → ${relative(SRC, target)} (${from} → ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('src/ has no console.log', () => {
    const offenders = files(SRC).filter((f) => /console\.log\(/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
