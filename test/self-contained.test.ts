// The repository stands alone: a clone holds everything its code, tests, notes and scripts refer
// to. No machine paths, no files that live beside the clone on one machine, no references to our
// own issue tracker (those mean nothing to a reader of the clone). Upstream references (a spec's
// pull request, a peer's bug) are public and stay, each allowed by name below.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What is scanned: every text file under these (blobs of fixture layouts excepted). */
const SCANNED = [
  'src',
  'test',
  'spec-notes',
  'scripts',
  'bench',
  'testdata',
  '.ci',
  'README.md',
  'BENCHMARKS.md',
  'package.json',
  'vitest.config.ts',
  'eslint.config.mjs',
];
const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.git', 'blobs', '.bench-work']);

/** Public upstream references, cited on purpose. Anything else shaped `#N` is refused. */
const UPSTREAM = new Set([
  'image-spec PR #1171', // the subject-annotation convention (opencontainers/image-spec)
  'PR #1171', // the same image-spec pull request, where the text is about that convention
  'PR #563', // distribution-spec: the referrers fallback tag
  'containers/image#1028', // skopeo: parallel copies into one oci: directory lose tags
  'c/image#1028',
  'containers/image#2460', // skopeo copy --all drops artifactType from an index
  'umoci#146', // umoci: no lock on index.json
  'oras#149', // oras: lost updates of index.json
  'oras#1888', // oras: torn index.json
  'oras-go#1396', // oras-go: stale fallback tag
]);

export interface Finding {
  file: string;
  line: number;
  rule: string;
  text: string;
}

// What lies outside is spelled in parts, so that the guard itself names no path or document
// outside the repository (its samples below are built from the same parts).
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** The machine's workspace root, where the clone and its neighbours sat. */
const WORKSPACE = ['', 'work', ''].join('/');
/** The folder of shared notes beside the clone. */
const SHARED = 'shared';
const BESIDE = `../${SHARED}`;
/** Documents that lived outside the repository. */
const OUTSIDE_DOCUMENTS = [
  ['perf', 'baseline'],
  ['spec', 'facts'],
  ['style', 'anchors'],
  ['helper', 'preamble'],
].map((parts) => parts.join('-'));
const PEERS_NOTE = ['peers', 'md'].join('.');

const MACHINE_PATH = new RegExp(escape(WORKSPACE));
/** Home directories are only prose here; code may use them as sample data (`/home/me/.docker`). */
const HOME_PATH = /\/(?:home|root)\//;
const BESIDE_THE_CLONE = new RegExp(`${escape(BESIDE)}\\b`);
const OUTSIDE_DOCUMENT = new RegExp(
  [
    ...OUTSIDE_DOCUMENTS.map(escape),
    `\\b${escape(PEERS_NOTE)}\\b`,
    `\\b${SHARED}/(?:interop|bench)\\b`,
  ].join('|'),
);
const HASH_REFERENCE = /(?:\b(?:image-spec|distribution-spec) )?(?:\bPR )?[\w./-]*#\d+/g;
/**
 * A measured figure in a comment of src/ (spec-notes/performance.md keeps those; the code says why).
 * Code samples in backticks, like a progress line, are not measurements.
 */
const TIMING_FIGURE = /\d\s?(?:ms|µs|seconds)\b|\d\s?(?:GB|MB|GiB|MiB)\/s\b/;
const ISSUE_WORD = /\bissues?[ -]#?\d+|\b(?:the|this|our) issue(?:'s)?(?![\w-])/i;

/** The comment part of a line of code (after `//`, or a `*`, `/*` or `#` line), else ''. */
function commentOf(line: string): string {
  const t = line.trimStart();
  if (t.startsWith('*') || t.startsWith('/*') || t.startsWith('#')) return t;
  const at = line.indexOf('//');
  return at >= 0 ? line.slice(at + 2) : '';
}

/** Every rule broken by `content` (a file at `file`, relative to the repository root). */
export function selfContainedFindings(file: string, content: string): Finding[] {
  const prose = file.endsWith('.md');
  const out: Finding[] = [];
  content.split('\n').forEach((text, i) => {
    const add = (rule: string): void => {
      out.push({ file, line: i + 1, rule, text: text.trim() });
    };
    if (MACHINE_PATH.test(text)) add('machine path');
    if (HOME_PATH.test(prose ? text : commentOf(text))) add('home directory path');
    if (BESIDE_THE_CLONE.test(text)) add('file beside the clone');
    if (OUTSIDE_DOCUMENT.test(text)) add('document outside the repository');
    for (const m of text.matchAll(HASH_REFERENCE)) {
      if (!UPSTREAM.has(m[0])) add(`issue or PR reference "${m[0]}"`);
    }
    if (ISSUE_WORD.test(text)) add('issue reference');
    const code = file.startsWith('src/') ? commentOf(text).replaceAll(/`[^`]*`/g, '') : '';
    if (TIMING_FIGURE.test(code)) add('timing figure in a src/ comment');
  });
  return out;
}

function textFiles(path: string): string[] {
  const st = statSync(path);
  if (st.isFile()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() && SKIPPED_DIRS.has(e.name) ? [] : textFiles(join(path, e.name)),
  );
}

describe('the repository stands alone', () => {
  it('no machine paths, files beside the clone, or issue references', () => {
    const findings = SCANNED.flatMap((p) => textFiles(join(ROOT, p)))
      // This file spells out what it looks for, so it is the one file not scanned.
      .filter((f) => f !== fileURLToPath(import.meta.url))
      .flatMap((f) => {
        const bytes = readFileSync(f);
        if (bytes.includes(0)) return []; // binary
        return selfContainedFindings(relative(ROOT, f).split(sep).join('/'), bytes.toString());
      });
    expect(findings.map((x) => `${x.file}:${x.line} ${x.rule}: ${x.text}`)).toEqual([]);
  });

  it('scans a real share of the repository', () => {
    const files = SCANNED.flatMap((p) => textFiles(join(ROOT, p)));
    expect(files.some((f) => f.endsWith(join('src', 'index.ts')))).toBe(true);
    expect(files.some((f) => f.endsWith(join('.ci', 'run')))).toBe(true);
    expect(files.length).toBeGreaterThan(200);
  });

  it.each([
    ['a.md', `see ${WORKSPACE}${SHARED}/x.md`, 'machine path'],
    ['a.ts', `// Mirrors ${BESIDE}/interop/registry.sh`, 'file beside the clone'],
    ['a.md', 'installed under /home/me/tools', 'home directory path'],
    ['a.ts', '// read from /root/.config', 'home directory path'],
    ['a.ts', `// (${OUTSIDE_DOCUMENTS[0]}.md §3)`, 'document outside the repository'],
    ['a.md', `as ${PEERS_NOTE} says`, 'document outside the repository'],
    ['a.md', `the judge in ${SHARED}/interop`, 'document outside the repository'],
    ['a.ts', '// the goal of issue 5', 'issue reference'],
    ['a.md', "Per the issue's table", 'issue reference'],
    ['a.ts', '// fixed in #12', 'issue or PR reference "#12"'],
    ['a.md', 'see PR #7', 'issue or PR reference "PR #7"'],
    ['a.md', 'ocilayout#3', 'issue or PR reference "ocilayout#3"'],
    ['src/a.ts', '// a clone cost 190 ms at 100k entries', 'timing figure in a src/ comment'],
    ['src/a.ts', ' * hashing runs at 1.3 GB/s here', 'timing figure in a src/ comment'],
  ])('flags %s: %s', (file, text, rule) => {
    expect(selfContainedFindings(file, text).map((f) => f.rule)).toContain(rule);
  });

  it.each([
    ['a.md', 'subject annotation (image-spec PR #1171)'],
    ['a.ts', '// oras#1888: a torn index.json'],
    ['a.ts', "expect(dockerConfigPath({}, '/home/u')).toBe('/home/u/.docker/config.json');"],
    ['a.ts', 'const issues = error.issues.slice(0, 5);'],
    ['a.md', 'naming the first five issues'],
    ['src/a.ts', '/** One line: `label  310.0 MiB/s  ETA 0:05` */'],
    ['src/a.ts', "const label = '5 ms'; // code, not a comment"],
  ])('allows %s: %s', (file, text) => {
    expect(selfContainedFindings(file, text)).toEqual([]);
  });
});
