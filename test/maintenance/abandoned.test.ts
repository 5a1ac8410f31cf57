// abandoned.ts on its own: which files in ingest/ (and our `.tmp-*` files at the root) a dead
// writer left, what kind each is and how big, which blobs a dead gc parked, and their removal.
// A live writer's file, a recent foreign one, and a foreign root temp file are never listed.
import { mkdirSync, utimesSync, writeFileSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { listAbandoned, parkedByDeadGc, removeAbandoned } from '../../src/maintenance/abandoned.js';
import { newPartPath, newTrashPath } from '../../src/store/ingest.js';
import { freshDir, makeLayout } from '../helpers/make-layout.js';
import { deadIngestFile, deadOwnerToken } from './helpers.js';

const OLD = new Date(Date.now() - 3 * 24 * 3600_000);

describe('listAbandoned', () => {
  it("lists a dead writer's part, lease and trash files by kind and size, sorted", () => {
    const m = makeLayout();
    const part = deadIngestFile(m.root, '.part', 'x'.repeat(7));
    const lease = deadIngestFile(m.root, '.lease', 'sha256:abc\n');
    const trash = deadIngestFile(m.root, `.sha256-${'a'.repeat(64)}.trash`, 'tr');
    const tmp = `.tmp-${deadOwnerToken()}.abcdef012345.index.json`;
    writeFileSync(join(m.root, tmp), '{}');
    expect(listAbandoned(m.root)).toEqual(
      [
        { path: tmp, kind: 'temp', size: 2 },
        { path: lease, kind: 'lease', size: 11 },
        { path: part, kind: 'part', size: 7 },
        { path: trash, kind: 'trash', size: 2 },
      ].sort((a, b) => (a.path < b.path ? -1 : 1)),
    );
  });

  it("never lists a live writer's files or a foreign root temp file", () => {
    const m = makeLayout();
    writeFileSync(newPartPath(m.root), 'mine, being written');
    writeFileSync(newTrashPath(m.root, digestOf('x')), 'parked by a live gc');
    writeFileSync(join(m.root, '.tmp-someone-else'), 'not ours');
    expect(listAbandoned(m.root)).toEqual([]);
  });

  it('lists foreign ingest files and directories only past the age rule, judging a directory by its newest file', () => {
    const m = makeLayout();
    const ingest = join(m.root, 'ingest');
    mkdirSync(ingest);
    writeFileSync(join(ingest, 'oras-old'), 'old');
    utimesSync(join(ingest, 'oras-old'), OLD, OLD);
    writeFileSync(join(ingest, 'oras-new'), 'new');
    mkdirSync(join(ingest, 'containerd-old', 'sub'), { recursive: true });
    writeFileSync(join(ingest, 'containerd-old', 'data'), '12345');
    writeFileSync(join(ingest, 'containerd-old', 'sub', 'ref'), '678');
    for (const p of [
      'containerd-old/data',
      'containerd-old/sub/ref',
      'containerd-old/sub',
      'containerd-old',
    ])
      utimesSync(join(ingest, p), OLD, OLD);
    mkdirSync(join(ingest, 'containerd-busy'));
    writeFileSync(join(ingest, 'containerd-busy', 'data'), 'fresh append');
    utimesSync(join(ingest, 'containerd-busy'), OLD, OLD); // the dir is old, its file is not
    expect(listAbandoned(m.root)).toEqual([
      { path: 'ingest/containerd-old', kind: 'foreign', size: 8 },
      { path: 'ingest/oras-old', kind: 'foreign', size: 3 },
    ]);
    // "now" two days on: everything foreign is old.
    const later = Date.now() + 2 * 24 * 3600_000;
    expect(listAbandoned(m.root, later).map((f) => f.path)).toEqual([
      'ingest/containerd-busy',
      'ingest/containerd-old',
      'ingest/oras-new',
      'ingest/oras-old',
    ]);
  });

  it('is empty for a layout without ingest/ or a missing root', () => {
    expect(listAbandoned(makeLayout().root)).toEqual([]);
    expect(listAbandoned(join(freshDir(), 'nowhere'))).toEqual([]);
  });
});

describe('parkedByDeadGc', () => {
  it("maps digests to a dead gc's trash files, one per digest, ignoring live ones", () => {
    const m = makeLayout();
    const d = digestOf('parked');
    const dead = deadIngestFile(m.root, `.sha256-${d.slice(7)}.trash`, 'parked');
    writeFileSync(newTrashPath(m.root, digestOf('live')), 'live gc');
    deadIngestFile(m.root, '.part');
    expect(parkedByDeadGc(m.root)).toEqual(new Map([[d, join(m.root, dead)]]));
  });
});

describe('removeAbandoned', () => {
  it('removes a file or a whole directory, and a symlink without following it', () => {
    const m = makeLayout();
    const part = deadIngestFile(m.root, '.part');
    mkdirSync(join(m.root, 'ingest', 'tree', 'sub'), { recursive: true });
    writeFileSync(join(m.root, 'ingest', 'tree', 'sub', 'f'), 'x');
    const victim = join(freshDir(), 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'keep'), 'precious');
    symlinkSync(victim, join(m.root, 'ingest', 'link'));
    for (const path of [part, 'ingest/tree', 'ingest/link'])
      removeAbandoned(m.root, { path, kind: 'foreign', size: 0 });
    for (const path of [part, 'ingest/tree', 'ingest/link'])
      expect(existsSync(join(m.root, path))).toBe(false);
    expect(existsSync(join(victim, 'keep'))).toBe(true);
    removeAbandoned(m.root, { path: part, kind: 'part', size: 0 }); // gone already: fine
  });
});
