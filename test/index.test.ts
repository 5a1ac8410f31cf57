// index.ts: the public API. It is the package's only entry, it exports every value the CLI uses
// (the CLI imports nothing else, see architecture.test.ts), and the defaults the CLI runs gc and
// fsck with are the referrer conventions' policy and checks.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function cliFiles(dir = join(ROOT, 'src', 'cli')): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? cliFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Value (not type-only) names a file imports from the public API. */
function valuesImportedFromApi(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(
    /import\s+(type\s+)?\{([^}]*)\}\s+from\s+'(?:\.\.\/)+index\.js'/g,
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

describe('the public API', () => {
  it('exports every value the CLI imports from it', () => {
    const used = new Set(cliFiles().flatMap(valuesImportedFromApi));
    expect(used.size).toBeGreaterThan(40);
    const exported = api as Record<string, unknown>;
    const missing = [...used].filter((n) => exported[n] === undefined);
    expect(missing).toEqual([]);
  });

  it('exports no undefined value', () => {
    const undefinedNames = Object.entries(api)
      .filter(([, v]) => v === undefined)
      .map(([k]) => k);
    expect(undefinedNames).toEqual([]);
  });

  it('runs gc and fsck by default with the referrer conventions wired in', () => {
    expect(api.DEFAULT_ROOT_POLICY).toBe(api.referrerRootPolicy);
    expect(api.DEFAULT_FSCK_CHECKS).toBe(api.referrerFsckChecks);
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
