// index.ts: the curated public API, the package's only entry. internal.ts: what the CLI uses (the
// public API plus plumbing), not exposed. The defaults the CLI runs gc and fsck with are the
// referrer conventions' policy and checks.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import * as internal from '../src/internal.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function cliFiles(dir = join(ROOT, 'src', 'cli')): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? cliFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Value (not type-only) names a file imports from the library's internal entry. */
function valuesImportedFromLibrary(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(
    /import\s+(type\s+)?\{([^}]*)\}\s+from\s+'(?:\.\.\/)+internal\.js'/g,
  )) {
    if (m[1] !== undefined) continue;
    for (const part of m[2]!.split(',')) {
      const name = part.trim();
      if (name === '' || name.startsWith('type ')) continue;
      out.push(name.split(/\s+as\s+/)[0]!);
    }
  }
  return out;
}

describe('the public API (index.ts)', () => {
  const names = Object.keys(api);

  it('is curated: well under a hundred runtime names, listed by name', () => {
    expect(names.length).toBeGreaterThan(50);
    expect(names.length).toBeLessThan(100);
    const text = readFileSync(join(ROOT, 'src', 'index.ts'), 'utf8');
    expect(text).not.toMatch(/export \*/);
  });

  it('leaves the plumbing out', () => {
    for (const plumbing of [
      'writeFileDurable',
      'fsyncDir',
      'errnoCode',
      'wrapFsError',
      'releaseLease',
      'leaseDigest',
      'stageFile',
      'withLayoutLock',
      'IndexStore',
      'BlobStore',
      'writeToStream',
      'listIngest',
    ]) {
      expect(names, plumbing).not.toContain(plumbing);
    }
  });

  it('is a subset of the internal entry, with no undefined value', () => {
    const all = internal as Record<string, unknown>;
    const exported = api as Record<string, unknown>;
    expect(names.filter((n) => all[n] !== exported[n])).toEqual([]);
    expect(names.filter((n) => exported[n] === undefined)).toEqual([]);
  });

  it('is what README documents: every runtime name is named in its Library section', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Library'), readme.indexOf('## Exit codes'));
    expect(names.filter((n) => !section.includes(`\`${n}`))).toEqual([]);
  });

  it('runs gc and fsck by default with the referrer conventions wired in', () => {
    expect(api.DEFAULT_ROOT_POLICY).toBe(internal.referrerRootPolicy);
    expect(api.DEFAULT_FSCK_CHECKS).toBe(internal.referrerFsckChecks);
  });

  it('is the only entry of the package', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
    };
    expect(pkg.exports).toEqual({
      '.': { types: './dist/index.d.ts', import: './dist/index.js' },
    });
  });
});

describe('the internal entry (internal.ts)', () => {
  it('exports every value the CLI imports from it', () => {
    const used = new Set(cliFiles().flatMap(valuesImportedFromLibrary));
    expect(used.size).toBeGreaterThan(40);
    const exported = internal as Record<string, unknown>;
    expect([...used].filter((n) => exported[n] === undefined)).toEqual([]);
  });

  it('exports no undefined value', () => {
    expect(Object.entries(internal).filter(([, v]) => v === undefined)).toEqual([]);
  });
});
