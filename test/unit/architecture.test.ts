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
  cli: ['main', 'config', 'edge', 'phone'],
  main: ['b2bua', 'edge', 'control', 'media/api', 'media/session', 'sip', 'sdp', 'config', 'ops', 'state'],
  config: [],
  common: [],
  sdp: [],
  sip: [],
  b2bua: ['sip', 'sdp', 'media/api', 'edge'],
  edge: ['sip'],
  control: ['media/api', 'sdp'],
  'media/api': ['sdp'],
  'media/session': ['media/api', 'media/pool', 'media/pool/protocol', 'media/rtp', 'media/codecs', 'sdp'],
  'media/pool': ['media/pool/protocol'],
  'media/pool/protocol': [],
  'media/worker': ['media/rtp', 'media/codecs', 'media/pool/protocol'],
  'media/rtp': ['media/codecs'],
  'media/codecs': [],
  ops: ['b2bua', 'edge', 'control', 'media/api', 'media/session', 'sip'],
  phone: ['sip', 'sdp', 'media/codecs', 'media/rtp', 'config', 'common'],
  state: ['edge', 'sip'],
};

/**
 * Runtime packages and the modules that may use them: each library has one owner, so replacing it
 * touches one place. Found in static imports and in require()/createRequire loads.
 */
const PACKAGES: Record<string, string[]> = {
  pino: ['common'],
  'sdp-transform': ['sdp'],
  ws: ['sip'],
  werift: ['media/rtp'],
  '@evan/opus': ['media/codecs'],
  'prom-client': ['ops'],
  ioredis: ['state'],
};

/** Every module specifier in a file: static and dynamic imports, re-exports, and require() calls. */
function importSpecifiers(text: string): string[] {
  const patterns = [
    /^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\b(?:require|requireCjs)\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]));
}

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

  it('every package import under src/ is a Node builtin or a runtime dependency of the module that owns that job', () => {
    const deps = new Set(Object.keys((JSON.parse(readFileSync(resolve(SRC, '../package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies));
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const from = moduleOf(file);
      for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!deps.has(pkg)) violations.push(`${relative(SRC, file)} imports ${spec}: not a runtime dependency in package.json`);
        else if (!(PACKAGES[pkg] ?? []).includes(from)) violations.push(`${relative(SRC, file)} imports ${pkg}, which only ${(PACKAGES[pkg] ?? []).join(', ') || 'nobody'} may use`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('no import cycles between files under src/ (type-only imports aside: they vanish at run time)', () => {
    const graph = new Map<string, string[]>();
    for (const file of files(SRC)) {
      const text = readFileSync(file, 'utf8');
      const targets = [...text.matchAll(/^\s*(import|export)(?!\s+type\b)[^'"]*from\s+['"](\.[^'"]+)['"]/gm)].map((m) => resolve(dirname(file), m[2]).replace(/\.js$/, '.ts'));
      graph.set(file, targets);
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((x) => relative(SRC, x)).join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('src/ has no console.log', () => {
    const offenders = files(SRC).filter((f) => /console\.log\(/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
