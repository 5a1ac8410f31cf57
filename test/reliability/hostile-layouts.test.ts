// "A hostile input cannot escape or damage a layout": a generated corpus of bad layouts, each met by
// every command that reads or writes a layout (the built CLI, --json). Each refusal is a typed
// error code with its documented exit status; a command that may legitimately succeed must leave
// the layout unchanged; nothing outside the layout changes (symlink targets, a victim directory);
// no command hangs (a FIFO, a 1 GB index.json). Bad archives are the archive suite's
// (test/archive/hostile.test.ts); this file covers layouts at rest.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FSCK_CHECKS,
  EXIT_CODE,
  Layout,
  fsck,
  MediaType,
  attach,
  digestOf,
  parseDigest,
  pushFiles,
  releaseLease,
  type ErrorCode,
} from '../../src/internal.js';
import { CLI, pool } from '../helpers/crash.js';
import { tmpDir } from '../helpers/tmp.js';

/** A command that hangs (reading a FIFO) is killed after this and fails the case. */
const HANG_MS = 20_000;

type Command =
  'info' | 'tags' | 'resolve' | 'fsck' | 'gc' | 'discover' | 'copy' | 'export' | 'push' | 'attach';
const COMMANDS: readonly Command[] = [
  'info',
  'tags',
  'resolve',
  'fsck',
  'gc',
  'discover',
  'copy',
  'export',
  'push',
  'attach',
];

function argsFor(cmd: Command, dir: string): string[] {
  const L = join(dir, 'layout');
  switch (cmd) {
    case 'info':
      return ['info', L];
    case 'tags':
      return ['tags', L];
    case 'resolve':
      return ['resolve', `${L}:v1`];
    case 'fsck':
      return ['fsck', L];
    case 'gc':
      return ['gc', L];
    case 'discover':
      return ['discover', `${L}:v1`];
    case 'copy':
      return ['copy', `${L}:v1`, join(dir, 'out-copy')];
    case 'export':
      return ['export', L, join(dir, 'out-export.tar'), '--no-progress'];
    case 'push':
      return ['push', `${L}:v2`, join(dir, 'files', 'new.txt')];
    case 'attach':
      return [
        'attach',
        `${L}:v1`,
        join(dir, 'files', 'sig.txt'),
        '--artifact-type',
        'application/vnd.test.sig',
      ];
  }
}

/**
 * What a command must do with a case: refuse with one of `codes`; `ok`: it may succeed (a read, a
 * gc with nothing safe to collect) or refuse with any typed code, and the layout is unchanged
 * either way; `write`: a push/attach whose target the damage does not touch must succeed, change
 * nothing outside the layout, and leave the damage exactly as it was (it is not "repaired" or
 * followed); `heal`: a push of the very bytes a damaged blob should hold replaces the damaged
 * entry with a verified regular file (never writing through it) and fsck finds fewer errors.
 * fsck must report one of `findings` as an error and exit 4.
 */
type Expect = { codes: ErrorCode[] } | 'ok' | 'write' | 'heal';

interface HostileCase {
  name: string;
  /** Damage the good layout at `dir/layout` (`dir/outside` exists for symlink targets). */
  make: (f: Fixture) => void;
  /** The refusal most commands must give. */
  refuse: ErrorCode[];
  /** Per-command exceptions (a command that never reads the damaged part may succeed). */
  except?: Partial<Record<Command, Expect>>;
  /** fsck's error finding codes (one must be present); omitted: fsck refuses like the others. */
  findings?: string[];
}

/**
 * A layer blob that is not a regular file (a symlink out of the layout, a FIFO): only the commands
 * that read that layer refuse. push stores the same bytes as that layer: it must not trust the
 * damaged entry, and replaces it with the verified bytes by rename (a link goes, its target is
 * untouched).
 */
const DAMAGED_LAYER_EXCEPT: HostileCase['except'] = {
  info: 'ok',
  tags: 'ok',
  resolve: 'ok',
  discover: 'ok',
  gc: 'ok',
  push: 'heal',
  attach: 'write',
};

/**
 * What tag v1 names cannot be read (its manifest is not a regular file or is over 4 MiB, or v1 was
 * retagged to a too-deep or self-listing index): the commands that never read it succeed; discover
 * lists v1's referrers without reading v1, and attaching names v1 by its descriptor.
 */
const V1_UNREADABLE_EXCEPT: HostileCase['except'] = {
  info: 'ok',
  tags: 'ok',
  resolve: 'ok',
  discover: 'ok',
  push: 'write',
  attach: 'write',
};

interface Fixture {
  dir: string;
  root: string;
  outside: string;
  /** The v1 manifest, its layer (content "hello\n") and config. */
  manifest: string;
  layer: string;
  blob: (digest: string) => string;
  index: () => { manifests: Record<string, unknown>[] } & Record<string, unknown>;
  writeIndex: (doc: unknown) => void;
  /** Store raw bytes as a blob file (bypassing the store, as a hostile tool would). */
  rawBlob: (bytes: Buffer | string) => string;
}

/** A good layout: v1 (one layer, "hello\n") with a per-manifest referrer; files to push. */
async function goodLayout(): Promise<Fixture> {
  const dir = tmpDir('ocilayout-hostile-');
  const root = join(dir, 'layout');
  const files = join(dir, 'files');
  const outside = join(dir, 'outside');
  mkdirSync(files);
  mkdirSync(outside);
  writeFileSync(join(files, 'hello.txt'), 'hello\n');
  writeFileSync(join(files, 'new.txt'), 'hello\n'); // same bytes as v1's layer: the idempotent path
  writeFileSync(join(files, 'sig.txt'), 'signature\n');
  writeFileSync(join(outside, 'secret.txt'), 'outside the layout\n');
  const layout = Layout.init(root).layout;
  const { descriptor, manifest } = await pushFiles(layout, [{ path: join(files, 'hello.txt') }], {
    tag: 'v1',
  });
  await attach(layout, { tag: 'v1' }, [{ path: join(files, 'sig.txt') }], {
    artifactType: 'application/vnd.test.sig',
  });
  releaseLease(root);
  rmSync(join(root, 'ingest'), { recursive: true, force: true });
  const blob = (d: string): string => layout.blobs.path(parseDigest(d));
  return {
    dir,
    root,
    outside,
    manifest: descriptor.digest,
    layer: manifest.layers[0]!.digest,
    blob,
    index: () => JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')),
    writeIndex: (doc) => writeFileSync(join(root, 'index.json'), JSON.stringify(doc)),
    rawBlob: (bytes) => {
      const digest = digestOf(Buffer.from(bytes));
      writeFileSync(blob(digest), bytes);
      return digest;
    },
  };
}

/**
 * Point v1 (its index.json entry) at another descriptor. The original manifest stays listed,
 * untagged, so the change makes no garbage (gc must then find nothing to delete).
 */
function retag(f: Fixture, desc: Record<string, unknown>): void {
  const index = f.index();
  const v1 = index.manifests.find((e) => e['digest'] === f.manifest)!;
  const { annotations: _tag, ...original } = v1;
  index.manifests.push(original);
  Object.assign(v1, desc);
  f.writeIndex(index);
}

function imageIndexDoc(children: Record<string, unknown>[]): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: children });
}

const CASES: HostileCase[] = [
  {
    name: 'index.json is not JSON',
    make: (f) => writeFileSync(join(f.root, 'index.json'), '{"schemaVersion":2,"manifests":['),
    refuse: ['E_INVALID_JSON'],
    findings: ['INDEX_INVALID_JSON'],
  },
  {
    name: 'index.json has the wrong schema',
    make: (f) => f.writeIndex({ schemaVersion: 2, manifests: { v1: f.manifest } }),
    refuse: ['E_SCHEMA'],
    findings: ['INDEX_SCHEMA'],
  },
  {
    name: 'index.json is 1 GB (sparse)',
    make: (f) => execFileSync('truncate', ['-s', '1G', join(f.root, 'index.json')]),
    refuse: ['E_TOO_LARGE'],
    findings: ['INDEX_TOO_LARGE'],
  },
  {
    name: 'a descriptor digest with ../',
    make: (f) => retag(f, { digest: 'sha256:../../outside/secret.txt' }),
    refuse: ['E_SCHEMA'],
    findings: ['INDEX_SCHEMA'],
  },
  {
    name: 'a descriptor with an unknown algorithm',
    make: (f) => retag(f, { digest: `blake3:${'ab'.repeat(32)}` }),
    refuse: ['E_UNSUPPORTED_ALGORITHM'],
    // Only what follows the descriptor must refuse. fsck: another tool may know the algorithm,
    // so it is a warning (spec-notes/gc-fsck.md), and gc keeps everything.
    except: {
      info: 'ok',
      tags: 'ok',
      resolve: 'ok',
      discover: 'ok',
      gc: 'ok',
      fsck: 'ok',
      push: 'write',
    },
  },
  {
    name: 'a layer blob that is a symlink out of the layout',
    make: (f) => {
      copyFileSync(f.blob(f.layer), join(f.outside, 'layer'));
      rmSync(f.blob(f.layer));
      symlinkSync(join(f.outside, 'layer'), f.blob(f.layer));
    },
    refuse: ['E_UNSAFE_ENTRY'],
    except: DAMAGED_LAYER_EXCEPT,
    findings: ['BLOB_NOT_REGULAR'],
  },
  {
    name: 'a manifest blob that is a symlink out of the layout',
    make: (f) => {
      copyFileSync(f.blob(f.manifest), join(f.outside, 'manifest'));
      rmSync(f.blob(f.manifest));
      symlinkSync(join(f.outside, 'manifest'), f.blob(f.manifest));
    },
    refuse: ['E_UNSAFE_ENTRY', 'E_FSCK_FINDINGS'],
    except: V1_UNREADABLE_EXCEPT,
    findings: ['BLOB_NOT_REGULAR'],
  },
  {
    name: 'a layer blob that is a FIFO',
    make: (f) => {
      rmSync(f.blob(f.layer));
      execFileSync('mkfifo', [f.blob(f.layer)]);
    },
    refuse: ['E_UNSAFE_ENTRY'],
    except: DAMAGED_LAYER_EXCEPT,
    findings: ['BLOB_NOT_REGULAR'],
  },
  {
    name: 'a manifest blob that is a FIFO',
    make: (f) => {
      rmSync(f.blob(f.manifest));
      execFileSync('mkfifo', [f.blob(f.manifest)]);
    },
    refuse: ['E_UNSAFE_ENTRY', 'E_FSCK_FINDINGS'],
    except: V1_UNREADABLE_EXCEPT,
    findings: ['BLOB_NOT_REGULAR'],
  },
  {
    name: 'a manifest over 4 MiB',
    make: (f) => {
      const doc = JSON.parse(readFileSync(f.blob(f.manifest), 'utf8'));
      doc.annotations = { padding: 'x'.repeat(5 * 1024 * 1024) };
      const bytes = Buffer.from(JSON.stringify(doc));
      retag(f, { digest: f.rawBlob(bytes), size: bytes.byteLength });
    },
    refuse: ['E_TOO_LARGE', 'E_SCHEMA', 'E_FSCK_FINDINGS'],
    except: V1_UNREADABLE_EXCEPT,
    findings: ['MANIFEST_INVALID'],
  },
  {
    name: 'a chain of 100 nested indexes',
    make: (f) => {
      let child: Record<string, unknown> = {
        mediaType: MediaType.ImageManifest,
        digest: f.manifest,
        size: statSync(f.blob(f.manifest)).size,
      };
      for (let i = 0; i < 100; i++) {
        const bytes = imageIndexDoc([child]);
        child = { mediaType: MediaType.ImageIndex, digest: f.rawBlob(bytes), size: bytes.length };
      }
      retag(f, child);
    },
    refuse: ['E_SCHEMA', 'E_FSCK_FINDINGS'],
    except: V1_UNREADABLE_EXCEPT,
    findings: ['MANIFEST_INVALID', 'WALK_ERROR'],
  },
  {
    name: 'an index that lists itself (wrong digest)',
    make: (f) => {
      // Content that names its own digest cannot hash to it: the file sits under a name it
      // does not hash to, and only a reader that skips verification would loop.
      const fake = digestOf(Buffer.from('placeholder'));
      const bytes = imageIndexDoc([{ mediaType: MediaType.ImageIndex, digest: fake, size: 999 }]);
      writeFileSync(f.blob(fake), bytes);
      retag(f, { mediaType: MediaType.ImageIndex, digest: fake, size: Buffer.byteLength(bytes) });
    },
    refuse: ['E_DIGEST_MISMATCH', 'E_FSCK_FINDINGS'],
    except: V1_UNREADABLE_EXCEPT,
    findings: ['BLOB_DIGEST_MISMATCH'],
  },
  {
    name: 'oci-layout is missing',
    make: (f) => rmSync(join(f.root, 'oci-layout')),
    refuse: ['E_NOT_A_LAYOUT'],
    findings: ['LAYOUT_HEADER_MISSING'],
  },
  {
    name: 'oci-layout has another version',
    make: (f) => writeFileSync(join(f.root, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}'),
    refuse: ['E_NOT_A_LAYOUT'],
    findings: ['LAYOUT_VERSION_UNSUPPORTED'],
  },
  {
    name: 'oci-layout is a FIFO',
    make: (f) => {
      rmSync(join(f.root, 'oci-layout'));
      execFileSync('mkfifo', [join(f.root, 'oci-layout')]);
    },
    refuse: ['E_SCHEMA', 'E_UNSAFE_ENTRY', 'E_NOT_A_LAYOUT'],
    findings: ['LAYOUT_HEADER_INVALID'],
  },
  {
    name: 'index.json is a FIFO',
    make: (f) => {
      rmSync(join(f.root, 'index.json'));
      execFileSync('mkfifo', [join(f.root, 'index.json')]);
    },
    refuse: ['E_NOT_A_LAYOUT'],
    findings: ['INDEX_NOT_REGULAR', 'INDEX_SCHEMA'],
  },
  {
    name: 'index.json is a symlink out of the layout',
    make: (f) => {
      renameSync(join(f.root, 'index.json'), join(f.outside, 'index.json'));
      symlinkSync(join(f.outside, 'index.json'), join(f.root, 'index.json'));
    },
    refuse: ['E_NOT_A_LAYOUT', 'E_UNSAFE_ENTRY'],
    findings: ['INDEX_NOT_REGULAR'],
  },
  {
    name: 'ingest/ is a symlink to a directory outside',
    make: (f) => {
      const victim = join(f.outside, 'victim');
      mkdirSync(join(victim, 'docs'), { recursive: true });
      writeFileSync(join(victim, 'docs', 'thesis.txt'), 'years of work\n');
      writeFileSync(join(victim, 'notes.txt'), 'notes\n');
      const old = new Date(Date.now() - 3 * 24 * 3600 * 1000);
      for (const p of ['docs/thesis.txt', 'notes.txt', 'docs'])
        utimesSync(join(victim, p), old, old);
      symlinkSync(victim, join(f.root, 'ingest'));
    },
    refuse: ['E_UNSAFE_ENTRY'],
    // Readers never look in ingest/; copy and export only read this layout.
    except: { info: 'ok', tags: 'ok', resolve: 'ok', discover: 'ok', copy: 'ok', export: 'ok' },
    findings: ['INGEST_UNSAFE'],
  },
  {
    name: 'blobs/sha256 is a symlink to a directory outside',
    make: (f) => {
      const shared = join(f.outside, 'sha256');
      renameSync(join(f.root, 'blobs', 'sha256'), shared);
      // Another layout's blob there, garbage to this one: gc must not delete it.
      writeFileSync(join(shared, createHash('sha256').update('other').digest('hex')), 'other');
      symlinkSync(shared, join(f.root, 'blobs', 'sha256'));
    },
    refuse: ['E_UNSAFE_ENTRY', 'E_FSCK_FINDINGS'],
    // discover skips documents it cannot read (fsck names them) and so finds no referrer here.
    except: { info: 'ok', tags: 'ok', resolve: 'ok', discover: 'ok' },
    findings: ['BLOBS_DIR_UNSAFE'],
  },
];

interface Outcome {
  exit: number | null;
  code: string | undefined;
  findings: string[];
  stderr: string;
  hung: boolean;
}

function runJson(args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--json', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OCILAYOUT_LOCK_TIMEOUT_MS: '10000' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, HANG_MS);
    child.on('error', reject);
    child.on('close', (exit) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      let code: string | undefined;
      try {
        code = (JSON.parse(stderr.trim().split('\n').pop() ?? '') as { error: { code: string } })
          .error.code;
      } catch {
        code = undefined;
      }
      let findings: string[] = [];
      try {
        const report = JSON.parse(Buffer.concat(out).toString('utf8')) as {
          findings?: { code: string; severity: string }[];
        };
        findings = (report.findings ?? []).filter((x) => x.severity === 'error').map((x) => x.code);
      } catch {
        /* not fsck */
      }
      resolve({ exit, code, findings, stderr, hung });
    });
  });
}

/**
 * Every path under `dir` with its type and content hash, except the layout's ingest/ and lock
 * (allowed to change) and the command outputs (judged apart).
 */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const rel = relative(dir, path);
      if (['layout/ingest', 'layout/.ocilayout-index.lock'].includes(rel) || rel.startsWith('out-'))
        continue;
      const st = lstatSync(path);
      if (st.isSymbolicLink()) out[rel] = `symlink:${readlinkSync(path)}`;
      else if (st.isDirectory()) {
        out[rel] = 'dir';
        walk(path);
      } else if (st.isFile())
        out[rel] =
          `${st.size}:${st.size > 64 << 20 ? 'big' : createHash('sha256').update(readFileSync(path)).digest('hex')}`;
      else out[rel] = 'special';
    }
  };
  walk(dir);
  return out;
}

/** The judge: returns the problems of one command on one case (empty: as required). */
async function judge(c: HostileCase, f: Fixture, cmd: Command): Promise<string[]> {
  const expect: Expect = c.except?.[cmd] ?? { codes: c.refuse };
  const before = tree(f.dir);
  const findingsBefore = expect === 'write' || expect === 'heal' ? await errorCodes(f.root) : [];
  const r = await runJson(argsFor(cmd, f.dir));
  const problems: string[] = [];
  const what = `${c.name} / ${cmd}`;
  if (r.hung) return [`${what}: hung (killed after ${HANG_MS} ms)`];
  if (cmd === 'fsck' && c.findings !== undefined) {
    if (r.exit !== 4 || !r.findings.some((x) => c.findings!.includes(x)))
      problems.push(
        `${what}: want exit 4 with one of ${c.findings.join('|')}, got exit ${r.exit} findings [${r.findings.join(', ')}] ${r.code ?? ''} ${r.stderr.slice(0, 300)}`,
      );
  } else if (expect === 'ok') {
    if (r.exit !== 0 && !(r.code !== undefined && r.code !== 'E_INTERNAL' && r.exit !== 1))
      problems.push(`${what}: exit ${r.exit} ${r.stderr.slice(0, 300)}`);
  } else if (expect === 'heal') {
    if (r.exit !== 0) problems.push(`${what}: exit ${r.exit} ${r.stderr.slice(0, 300)}`);
    const after = tree(f.dir);
    const outside = Object.keys(before).filter(
      (k) => !k.startsWith('layout/') && before[k] !== after[k],
    );
    if (outside.length > 0) problems.push(`${what}: changed ${outside.join(', ')}`);
    const rel = relative(f.dir, f.blob(f.layer));
    if (!after[rel]?.startsWith('6:')) problems.push(`${what}: ${rel} is ${after[rel]}`);
    const findingsAfter = await errorCodes(f.root);
    if (findingsAfter.length >= findingsBefore.length)
      problems.push(
        `${what}: fsck before [${findingsBefore.join()}], after [${findingsAfter.join()}]`,
      );
    return problems;
  } else if (expect === 'write') {
    if (r.exit !== 0) problems.push(`${what}: exit ${r.exit} ${r.stderr.slice(0, 300)}`);
    // The damage is left exactly as it was, and the write made nothing worse.
    const after = tree(f.dir);
    const touched = Object.keys(before).filter(
      (k) => before[k] !== after[k] && (k.startsWith('layout/blobs/') || !k.startsWith('layout/')),
    );
    if (touched.length > 0) problems.push(`${what}: changed ${touched.slice(0, 5).join(', ')}`);
    const findingsAfter = await errorCodes(f.root);
    if (JSON.stringify(findingsAfter) !== JSON.stringify(findingsBefore))
      problems.push(
        `${what}: fsck before [${findingsBefore.join()}], after [${findingsAfter.join()}]`,
      );
    return problems;
  } else {
    const ok =
      r.code !== undefined &&
      expect.codes.includes(r.code as ErrorCode) &&
      r.exit === EXIT_CODE[r.code as ErrorCode];
    if (!ok)
      problems.push(
        `${what}: want ${expect.codes.join('|')}, got exit ${r.exit} ${r.code ?? ''} ${r.stderr.slice(0, 300)}`,
      );
  }
  const after = tree(f.dir);
  if (JSON.stringify(after) !== JSON.stringify(before)) {
    const changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]);
    problems.push(`${what}: changed ${changed.slice(0, 5).join(', ')}`);
  }
  if (r.exit !== 0) {
    if (existsSync(join(f.dir, 'out-export.tar'))) problems.push(`${what}: left out-export.tar`);
    const copied = join(f.dir, 'out-copy');
    if (existsSync(copied) && readFileSync(join(copied, 'index.json'), 'utf8').includes('"v1"'))
      problems.push(`${what}: the failed copy tagged v1`);
  }
  rmSync(join(f.dir, 'out-export.tar'), { force: true });
  rmSync(join(f.dir, 'out-copy'), { recursive: true, force: true });
  return problems;
}

/** fsck's error codes (in-process, as `ocilayout fsck` runs it), sorted. */
async function errorCodes(root: string): Promise<string[]> {
  const report = await fsck(root, { checks: DEFAULT_FSCK_CHECKS });
  return report.findings
    .filter((x) => x.severity === 'error')
    .map((x) => x.code)
    .sort();
}

describe('hostile layouts: every command refuses cleanly, nothing escapes, nothing changes', () => {
  it(`${CASES.length} cases × ${COMMANDS.length} commands`, async () => {
    // A fresh damaged layout for every command, so one command's effect never masks another's.
    const runs = CASES.flatMap((c) =>
      COMMANDS.map((cmd) => async () => {
        const f = await goodLayout();
        c.make(f);
        return judge(c, f, cmd);
      }),
    );
    const results = await pool(3, runs);
    const problems = results.flat();
    console.log(
      `hostile layouts: ${CASES.length} cases × ${COMMANDS.length} commands, ${problems.length} problems`,
    );
    for (const p of problems) console.log(`  PROBLEM ${p}`);
    expect(problems).toEqual([]);
  }, 300_000);
});
