// The dependency rule of the layers, checked on the real import graph of src/:
//   cli → internal.ts (index.ts: the curated public part) → {transfer (copy), serve} → {referrers, archive, registry, maintenance, artifact, output}
//   → core {layout/, artifact/manifest.ts} → store/ → base {digest, errors, media-types, schema/}
// Imports are read with the TypeScript parser (static, re-exports, dynamic import(), type-only).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

interface Edge {
  from: string; // path relative to src/, e.g. 'store/lock.ts'
  to: string; // resolved target relative to src/, or the bare package / node: name
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

function importsOf(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      specs.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      specs.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const lit = node.argument.literal;
      if (ts.isStringLiteral(lit)) specs.push(lit.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs;
}

const toPosix = (p: string): string => p.split(sep).join('/');

function edges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) =>
    importsOf(file).map((spec) => ({
      from: toPosix(relative(SRC, file)),
      to: spec.startsWith('.')
        ? toPosix(relative(SRC, resolve(dirname(file), spec))).replace(/\.js$/, '.ts')
        : spec,
    })),
  );
}

const ALL = edges();
const internal = ALL.filter((e) => e.to.endsWith('.ts'));
const inDir = (dir: string) => (path: string) => path.startsWith(`${dir}/`);
const isOneOf =
  (...names: string[]) =>
  (path: string): boolean =>
    names.includes(path);
/** Render violations so a failure says exactly which import breaks which rule. */
const show = (es: Edge[]): string[] => es.map((e) => `${e.from} → ${e.to}`);

/** The bottom layer: pure values and types. */
const isBase = (p: string): boolean =>
  isOneOf('digest.ts', 'errors.ts', 'media-types.ts')(p) || inDir('schema')(p);
/** The core: what referrers, archives, copy and maintenance are built on. */
const isCore = (p: string): boolean =>
  isBase(p) || inDir('store')(p) || inDir('layout')(p) || p === 'artifact/manifest.ts';

/**
 * Violations that exist today and are owned by someone else. This list may only shrink: the test
 * fails for a new violation and also when a listed one is gone (then delete its line).
 */
const KNOWN: Record<string, string> = {};

function check(violations: Edge[]): void {
  const found = show(violations);
  const fresh = found.filter((v) => !(v in KNOWN));
  expect(fresh, 'new dependency-rule violations').toEqual([]);
}

describe('dependency rule', () => {
  it('parses a meaningful import graph', () => {
    expect(internal.length).toBeGreaterThan(50);
    expect(internal).toContainEqual({ from: 'layout/layout.ts', to: 'store/blob-store.ts' });
  });

  it('store/ knows no manifests walk, tags, layouts or referrers (only base modules and store/)', () => {
    check(internal.filter((e) => inDir('store')(e.from) && !isBase(e.to) && !inDir('store')(e.to)));
  });

  it('the base layer (digest, errors, media-types, schema/) imports only the base layer', () => {
    check(internal.filter((e) => isBase(e.from) && !isBase(e.to)));
  });

  it('nothing in the core (below referrers/) imports referrers/ or any module above the core', () => {
    check(internal.filter((e) => isCore(e.from) && !isCore(e.to)));
  });

  it('transfer/ (copy) sits above the core and registry/, below cli/: only the entries import it', () => {
    expect(internal.some((e) => inDir('transfer')(e.from) && isCore(e.to))).toBe(true);
    check(
      internal.filter(
        (e) =>
          inDir('transfer')(e.to) &&
          !inDir('transfer')(e.from) &&
          e.to !== e.from &&
          e.from !== 'internal.ts',
      ),
    );
  });

  it('serve/ (the registry server) sits above the core, below cli/: only internal.ts imports it', () => {
    expect(internal.some((e) => inDir('serve')(e.from) && inDir('layout')(e.to))).toBe(true);
    check(
      internal.filter(
        (e) => inDir('serve')(e.to) && !inDir('serve')(e.from) && e.from !== 'internal.ts',
      ),
    );
    // It serves layouts through the engine; the client side (registry/, transfer/) is not its own.
    check(
      internal.filter(
        (e) =>
          inDir('serve')(e.from) &&
          (inDir('cli')(e.to) ||
            inDir('transfer')(e.to) ||
            inDir('registry')(e.to) ||
            inDir('archive')(e.to)),
      ),
    );
  });

  it('cli/ imports only src/internal.ts and cli/ files from the library', () => {
    check(
      internal.filter((e) => inDir('cli')(e.from) && e.to !== 'internal.ts' && !inDir('cli')(e.to)),
    );
  });

  it('nothing outside cli/ imports cli/; internal.ts serves cli/ (and index.ts picks from it)', () => {
    check(internal.filter((e) => !inDir('cli')(e.from) && inDir('cli')(e.to)));
    check(
      internal.filter(
        (e) => !inDir('cli')(e.from) && e.from !== 'index.ts' && e.to === 'internal.ts',
      ),
    );
    check(internal.filter((e) => e.to === 'index.ts'));
  });

  it('every import of a package is a node: builtin or a declared dependency', () => {
    const pkg = JSON.parse(readFileSync(join(SRC, '..', 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    const declared = new Set(Object.keys(pkg.dependencies ?? {}));
    const packages = ALL.filter((e) => !e.to.endsWith('.ts')).map((e) => ({
      ...e,
      to: e.to.startsWith('@') ? e.to.split('/').slice(0, 2).join('/') : e.to.split('/')[0]!,
    }));
    const undeclared = packages.filter((e) => !e.to.startsWith('node:') && !declared.has(e.to));
    expect(show(undeclared)).toEqual([]);
  });

  it('keeps the list of known violations honest (each still exists)', () => {
    const all = new Set(show(internal));
    expect(Object.keys(KNOWN).filter((k) => !all.has(k))).toEqual([]);
  });
});

describe('referrer conventions are plug-ins', () => {
  // A new convention is one file plus one registry line: nothing else may know a convention by
  // name. (The registry's own fallback-tag scheme in registry/ is the distribution-spec's, not a
  // layout convention.)
  const OWNERS = new Set([
    'referrers/convention.ts',
    'referrers/fallback-tag.ts',
    'referrers/subject-annotation.ts',
    'referrers/per-manifest.ts',
    // the read-only cosign tag dialect (not a convention, but the same rule: one file knows it)
    'referrers/cosign-tag.ts',
  ]);
  it('no module outside a convention and the registry names one', () => {
    const offenders = sourceFiles(SRC)
      .map((f) => toPosix(relative(SRC, f)))
      .filter((f) => !OWNERS.has(f) && !inDir('registry')(f) && !inDir('cli')(f))
      .filter((f) =>
        /'(fallback-tag|subject-annotation|per-manifest|cosign-tag)'/.test(
          readFileSync(join(SRC, f), 'utf8'),
        ),
      );
    expect(offenders).toEqual([]);
  });
});

describe('the source tree shows the layers', () => {
  it('src/ holds folders, the entry points and the leaf modules only', () => {
    const loose = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
    expect(loose).toEqual(['digest.ts', 'errors.ts', 'index.ts', 'internal.ts', 'media-types.ts']);
  });

  it('tests mirror src/: every test/<dir>/ next to the unit tests is a folder of src/ or a suite', () => {
    const TEST = join(SRC, '..', 'test');
    const srcDirs = new Set(
      readdirSync(SRC, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name),
    );
    const suites = new Set([
      'helpers',
      'integration',
      'interop',
      'properties',
      'regressions',
      'reliability',
    ]);
    const strays = readdirSync(TEST, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !srcDirs.has(e.name) && !suites.has(e.name))
      .map((e) => e.name);
    expect(strays).toEqual([]);
  });
});
