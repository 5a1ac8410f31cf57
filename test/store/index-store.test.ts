import { spawnSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Annotation, MediaType } from '../../src/media-types.js';
import type { IndexFile } from '../../src/schema/layout-files.js';
import {
  IndexStore,
  MAX_INDEX_BYTES,
  readCappedText,
  serializeIndex,
} from '../../src/store/index-store.js';
import { INDEX_LOCK } from '../../src/store/paths.js';
import { beforeFs, failFs } from '../helpers/fault.js';
import { imageBlobs, makeLayout, tagged, type MadeLayout } from '../helpers/make-layout.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const entry = (digest: string, tag?: string): IndexFile['manifests'][number] => ({
  mediaType: MediaType.ImageManifest,
  digest,
  size: 10,
  ...(tag === undefined ? {} : { annotations: { [Annotation.RefName]: tag } }),
});
const withIndex = (index: unknown): MadeLayout =>
  makeLayout({ index: typeof index === 'string' ? index : (index as Record<string, unknown>) });
const addTag = (store: IndexStore, digest: string, tag: string): Promise<void> =>
  store.update((index) => {
    index.manifests.push(entry(digest, tag));
    return { index, result: undefined };
  });
const fileId = (path: string): { ino: number; mtimeMs: number; text: string } => {
  const st = statSync(path);
  return { ino: st.ino, mtimeMs: st.mtimeMs, text: readFileSync(path, 'utf8') };
};

describe('IndexStore.read', () => {
  it('returns the parsed document as written (key order, unknown fields) and the exact text', () => {
    const text =
      '{"manifests":[{"size":10,"digest":"' +
      D1 +
      '","mediaType":"application/vnd.oci.image.manifest.v1+json","vnd.x":1}],"schemaVersion":2,"zz":true}';
    const fx = withIndex(text);
    const snap = new IndexStore(fx.root).read();
    expect(snap.text).toBe(text);
    expect(JSON.stringify(snap.index)).toBe(text);
  });

  it('throws E_NOT_FOUND when index.json is missing', () => {
    const fx = withIndex(null);
    expect(() => new IndexStore(fx.root).read()).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
  });

  it.each([
    ['truncated', '{"schemaVersion":2,"manifests":['],
    ['empty file', ''],
    ['torn write (oras#1888)', '{"med{"mediaType":"application/vnd.oci.image.index.v1+json"}'],
    ['trailing garbage', '{"schemaVersion":2,"manifests":[]}}'],
  ])('throws E_INVALID_JSON naming the file when it is %s', (_name, text) => {
    const fx = withIndex(text);
    const path = join(fx.root, 'index.json');
    expect(() => new IndexStore(fx.root).read()).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_JSON',
        message: expect.stringContaining(path),
        details: expect.objectContaining({ what: path }),
      }),
    );
  });

  it.each([
    ['a JSON array', []],
    ['schemaVersion 1', { schemaVersion: 1, manifests: [] }],
    ['no manifests', { schemaVersion: 2 }],
    ['manifests not an array', { schemaVersion: 2, manifests: {} }],
    ['descriptor without mediaType', { schemaVersion: 2, manifests: [{ digest: D1, size: 1 }] }],
    [
      'negative size',
      { schemaVersion: 2, manifests: [{ mediaType: 'a/b', digest: D1, size: -1 }] },
    ],
    [
      'digest outside the grammar',
      { schemaVersion: 2, manifests: [{ mediaType: 'a/b', digest: '../x', size: 1 }] },
    ],
    [
      'annotation value not a string',
      {
        schemaVersion: 2,
        manifests: [{ mediaType: 'a/b', digest: D1, size: 1, annotations: { k: 1 } }],
      },
    ],
  ])('throws E_SCHEMA naming the file for %s', (_name, doc) => {
    const fx = withIndex(JSON.stringify(doc));
    expect(() => new IndexStore(fx.root).read()).toThrow(
      expect.objectContaining({
        code: 'E_SCHEMA',
        message: expect.stringContaining(join(fx.root, 'index.json')),
      }),
    );
  });

  it('accepts what the schema allows but we do not use: unsupported algorithms, unknown media types', () => {
    const fx = withIndex({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/xml', digest: `sha384:${'a'.repeat(96)}`, size: 1 },
        { mediaType: 'application/vnd.example+json', digest: `blake3:${'b'.repeat(64)}`, size: 2 },
      ],
    });
    expect(new IndexStore(fx.root).read().index.manifests).toHaveLength(2);
  });

  it('throws E_TOO_LARGE without reading an index.json over the cap', () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [] });
    truncateSync(join(fx.root, 'index.json'), MAX_INDEX_BYTES + 1); // sparse: costs nothing
    expect(() => new IndexStore(fx.root).read()).toThrow(
      expect.objectContaining({ code: 'E_TOO_LARGE' }),
    );
  });

  it('refuses a symlinked index.json (E_UNSAFE_ENTRY)', () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [] });
    const real = join(fx.root, 'real.json');
    writeFileSync(real, '{"schemaVersion":2,"manifests":[]}');
    unlinkSync(join(fx.root, 'index.json'));
    symlinkSync(real, join(fx.root, 'index.json'));
    expect(() => new IndexStore(fx.root).read()).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }),
    );
  });

  it('refuses a FIFO or a directory in place of index.json (E_UNSAFE_ENTRY), without blocking', () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [] });
    const path = join(fx.root, 'index.json');
    unlinkSync(path);
    expect(spawnSync('mkfifo', [path]).status).toBe(0);
    expect(() => new IndexStore(fx.root).read()).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY', details: { path } }),
    );
    unlinkSync(path);
    mkdirSync(path);
    expect(() => readCappedText(path, 1024)).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY', details: { path } }),
    );
  });

  it('reads a go-containerregistry empty index (`"manifests": null`) as empty', () => {
    // layout.Write(path, empty.Index) marshals a nil slice: fresh crane/cosign layouts look like this.
    const fx = withIndex('{"schemaVersion":2,"manifests":null}');
    expect(new IndexStore(fx.root).read().index.manifests).toEqual([]);
  });
});

describe('IndexStore.update', () => {
  it('writes compact JSON with a trailing newline', async () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [] });
    await addTag(new IndexStore(fx.root), D1, 'v1');
    expect(fx.indexText()).toBe(serializeIndex({ schemaVersion: 2, manifests: [entry(D1, 'v1')] }));
    expect(fx.indexText().endsWith('}\n')).toBe(true);
  });

  it('keeps unknown top-level fields, annotations, artifactType and key order of other entries', async () => {
    // olareg: org.olareg.history + top-level annotations; oras: artifactType after annotations;
    // crane: size before digest; an unknown descriptor field; skopeo: no top-level mediaType.
    const original = {
      schemaVersion: 2,
      manifests: [
        {
          mediaType: MediaType.ImageManifest,
          size: 499,
          digest: D1,
          annotations: {
            'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
            [Annotation.RefName]: 'v1',
          },
        },
        {
          mediaType: MediaType.ImageManifest,
          digest: D2,
          size: 774,
          annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
          artifactType: 'application/vnd.example.signature.v1+json',
          'vnd.example.unknown': { nested: [1, 2] },
        },
      ],
      annotations: { 'org.olareg.referrer.convert': 'true' },
      'org.olareg.history': { v1: [{ time: '2024-01-01T00:00:00Z', descriptor: { digest: D1 } }] },
    };
    const fx = withIndex(original);
    await addTag(new IndexStore(fx.root), D2, 'v2');
    const written = JSON.parse(fx.indexText());
    expect(written).toEqual({
      ...original,
      manifests: [...original.manifests, entry(D2, 'v2')],
    });
    expect(Object.keys(written)).toEqual(Object.keys(original));
    expect(Object.keys(written.manifests[0])).toEqual(Object.keys(original.manifests[0]!));
    expect(Object.keys(written.manifests[1])).toEqual(Object.keys(original.manifests[1]!));
  });

  it.each([
    [
      'ours (compact + newline)',
      serializeIndex({ schemaVersion: 2, manifests: [entry(D1, 'v1')] }),
    ],
    [
      'skopeo (compact, no newline)',
      JSON.stringify({ schemaVersion: 2, manifests: [entry(D1, 'v1')] }),
    ],
    [
      'crane/cosign (3-space indent)',
      JSON.stringify({ schemaVersion: 2, manifests: [entry(D1, 'v1')] }, null, 3),
    ],
    ['go-containerregistry empty index', '{"schemaVersion":2,"manifests":null}'],
  ])('writes nothing for a no-op update of %s (same inode, mtime, bytes)', async (_name, text) => {
    const fx = withIndex(text);
    const path = join(fx.root, 'index.json');
    const before = fileId(path);
    const store = new IndexStore(fx.root);
    let commits = 0;
    const counting = new IndexStore(fx.root, {}, () => commits++);
    await store.update((index) => ({ index, result: undefined }));
    await counting.update((index) => ({ index: structuredClone(index), result: undefined }));
    await store.update(() => ({ index: undefined, result: undefined }));
    expect(fileId(path)).toEqual(before);
    expect(commits).toBe(0);
    expect(readdirSync(fx.root).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  // update() takes the version of index.json it wrote last as its own re-serialisation, without
  // stringifying it again; any other version, a peer's rewrite of it included, is compared as read.
  it('writes nothing for a no-op update after its own commit, nor after a peer rewrote that', async () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [] });
    const path = join(fx.root, 'index.json');
    const store = new IndexStore(fx.root);
    await addTag(store, D1, 'v1');
    const ours = fileId(path);
    await store.update((index) => ({ index, result: undefined }));
    expect(fileId(path)).toEqual(ours);

    const doc = JSON.parse(fx.indexText()) as IndexFile;
    // crane's formatting, written in place (same inode) and, next, by rename (a new one).
    writeFileSync(path, JSON.stringify(doc, null, 3));
    const inPlace = fileId(path);
    await store.update((index) => ({ index, result: undefined }));
    expect(fileId(path)).toEqual(inPlace);
    writeFileSync(`${path}.peer`, JSON.stringify(doc));
    renameSync(`${path}.peer`, path);
    const renamed = fileId(path);
    await store.update((index) => ({ index, result: undefined }));
    expect(fileId(path)).toEqual(renamed);

    await addTag(store, D2, 'v2'); // and a real change is still written
    expect((JSON.parse(fx.indexText()) as IndexFile).manifests).toHaveLength(2);
  });

  it('calls beforeCommit once per write, inside the lock, before index.json changes', async () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [] });
    const seen: string[] = [];
    const original = fx.indexText();
    const store = new IndexStore(fx.root, {}, () => seen.push(fx.indexText()));
    await addTag(store, D1, 'v1');
    expect(seen).toEqual([original]);
    expect(fx.indexText()).not.toBe(original);
  });

  it('returns the result of fn', async () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [entry(D1, 'v1')] });
    const n = await new IndexStore(fx.root).update((index) => ({
      index: undefined,
      result: index.manifests.length,
    }));
    expect(n).toBe(1);
  });

  it('gives fn a private copy: mutating it without returning it writes nothing', async () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [] });
    const before = fx.indexText();
    const store = new IndexStore(fx.root);
    await store.update((index) => {
      index.manifests.push(entry(D1));
      return { index: undefined, result: undefined };
    });
    expect(fx.indexText()).toBe(before);
    expect(store.read().index.manifests).toEqual([]);
  });

  describe('when index.json is malformed', () => {
    it.each([
      ['invalid JSON', '{"schemaVersion":2,"manif', 'E_INVALID_JSON'],
      ['a schema violation', '{"schemaVersion":2,"manifests":[{"digest":"x"}]}', 'E_SCHEMA'],
    ])('never overwrites %s, and never calls fn', async (_name, text, code) => {
      const fx = withIndex(text);
      const before = layoutSnapshot(fx.root);
      let called = false;
      await expect(
        new IndexStore(fx.root).update((index) => {
          called = true;
          return { index, result: undefined };
        }),
      ).rejects.toMatchObject({ code });
      expect(called).toBe(false);
      expect(layoutSnapshot(fx.root)).toEqual(before);
      expect(fx.indexText()).toBe(text);
    });
  });

  it('refuses to write an index that breaks the schema (E_SCHEMA), leaving the file alone', async () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [entry(D1, 'v1')] });
    const before = layoutSnapshot(fx.root);
    await expect(
      new IndexStore(fx.root).update((index) => {
        (index.manifests[0] as Record<string, unknown>)['size'] = 'big';
        return { index, result: undefined };
      }),
    ).rejects.toMatchObject({ code: 'E_SCHEMA' });
    expect(layoutSnapshot(fx.root)).toEqual(before);
  });

  it('writes nothing when fn throws, and rethrows its error', async () => {
    const fx = withIndex({ schemaVersion: 2, manifests: [] });
    const before = layoutSnapshot(fx.root);
    const boom = new Error('boom');
    await expect(
      new IndexStore(fx.root).update((index) => {
        index.manifests.push(entry(D1));
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(layoutSnapshot(fx.root)).toEqual(before);
  });

  describe('when the atomic rename fails', () => {
    it('leaves the old index.json intact and no temp file behind (E_IO)', async () => {
      const fx = withIndex({ schemaVersion: 2, manifests: [entry(D1, 'v1')] });
      const before = layoutSnapshot(fx.root);
      const { calls } = failFs('renameSync', 'EIO', (_from, to) =>
        String(to).endsWith('index.json'),
      );
      await expect(addTag(new IndexStore(fx.root), D2, 'v2')).rejects.toMatchObject({
        code: 'E_IO',
      });
      expect(calls).toHaveLength(1);
      expect(layoutSnapshot(fx.root)).toEqual(before);
      expect(readdirSync(fx.root).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    });

    it('also when fsync of the temp file fails (full disk, EIO)', async () => {
      const fx = withIndex({ schemaVersion: 2, manifests: [] });
      const before = layoutSnapshot(fx.root);
      failFs('fsyncSync', 'ENOSPC');
      await expect(addTag(new IndexStore(fx.root), D1, 'v1')).rejects.toMatchObject({
        code: 'E_IO',
      });
      expect(layoutSnapshot(fx.root)).toEqual(before);
      expect(readdirSync(fx.root).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    });
  });

  describe('when the lock is taken over while index.json is being written', () => {
    // Stand-in for another process that judged our lock stale while we stalled in the write (a
    // SIGSTOP, a starved VM): between the write and the rename it removed our lock directory, made
    // its own (at least the stale time after our last refresh, which is the mtime it carries) and
    // committed. The CLI-level version with real processes: test/reliability/lock-stall.test.ts.
    const takeOverDuringWrite = (root: string, theirs: string, keepLock: boolean) =>
      beforeFs(
        'fsyncSync',
        () => {
          const lockDir = join(root, INDEX_LOCK);
          const later = new Date(lstatSync(lockDir).mtimeMs + 10_000);
          rmdirSync(lockDir);
          mkdirSync(lockDir);
          utimesSync(lockDir, later, later);
          writeFileSync(join(root, 'index.json'), theirs);
          if (!keepLock) rmdirSync(lockDir);
        },
        // The fsync of our temp file: the first fsync once it exists.
        () => readdirSync(root).some((n) => n.startsWith('.tmp-')),
      );

    it.each([
      ['still holds the lock', true],
      ['has released it already', false],
    ])(
      'refuses to rename over the new holder’s commit when it %s (E_LOCK_COMPROMISED)',
      async (_what, keepLock) => {
        const fx = withIndex({ schemaVersion: 2, manifests: [entry(D1, 'v1')] });
        const theirs = serializeIndex({
          schemaVersion: 2,
          manifests: [entry(D1, 'v1'), entry(D2, 'theirs')],
        });
        const { calls } = takeOverDuringWrite(fx.root, theirs, keepLock);
        await expect(addTag(new IndexStore(fx.root), D2, 'ours')).rejects.toMatchObject({
          code: 'E_LOCK_COMPROMISED',
        });
        expect(calls).toHaveLength(1);
        expect(fx.indexText()).toBe(theirs);
        expect(readdirSync(fx.root).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
        // A lock we lost is never removed on the way out: it is the new holder's.
        expect(readdirSync(fx.root).includes(INDEX_LOCK)).toBe(keepLock);
      },
    );
  });

  it('serialises concurrent updates in one process: none is lost', async () => {
    const fx = makeLayout({
      blobs: imageBlobs(),
      index: (d) => ({ schemaVersion: 2, manifests: [tagged(d['manifest']!, 'base')] }),
    });
    const store = new IndexStore(fx.root);
    const other = new IndexStore(fx.root); // a second store on the same layout shares the lock
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        addTag(i % 2 === 0 ? store : other, fx.d['manifest']!.digest, `t${i}`),
      ),
    );
    const tags = store.read().index.manifests.map((e) => e.annotations?.[Annotation.RefName]);
    expect(tags).toHaveLength(41);
    expect(new Set(tags).size).toBe(41);
  });
});
