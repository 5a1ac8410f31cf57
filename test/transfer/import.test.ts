import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  Annotation,
  Layout,
  MediaType,
  digestOf,
  fsck,
  archiveFromStream,
  importArchive,
  type Descriptor,
} from '../../src/internal.js';
import { zstdAvailable } from '../../src/archive/compression.js';
import { withOperationLease } from '../../src/store/ingest.js';
import { withLayoutLock } from '../../src/store/lock.js';
import { gz, layoutTar, makeTar, zst, type TarSpec } from '../helpers/make-tar.js';
import { multiPlatformLayout } from '../helpers/make-layout.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyOfPeer, importBytes, peer, readJson, treeOf } from '../archive/fixtures.js';

const hex = (d: string): string => d.slice('sha256:'.length);

function indexOf(dir: string): { manifests: Descriptor[] } {
  return readJson(join(dir, 'index.json')) as { manifests: Descriptor[] };
}

async function expectFsckClean(dir: string): Promise<void> {
  const report = await fsck(dir);
  expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
}

describe('importArchive: OCI layouts in every tar shape', () => {
  const source = peer('umoci-multitag');
  it.each([
    ['plain names, sorted, with directories', {}],
    ['./ prefixes', { prefix: './' }],
    ['one top folder', { prefix: 'image/' }],
    ['./ and a top folder', { prefix: './image/' }],
    ['no directory entries', { dirs: false }],
    ['index.json first', { order: 'index-first' as const }],
    ['index.json last, blobs reversed', { order: 'reverse' as const }],
  ])('%s', async (_what, shape) => {
    const dir = join(tmpDir(), 'out');
    const r = await importBytes(layoutTar(source, shape), dir);
    expect(r.format).toBe('oci');
    expect(r.created).toBe(true);
    expect(indexOf(dir).manifests).toEqual(indexOf(source).manifests);
    expect(Layout.open(dir).blobs.list()).toEqual(Layout.open(source).blobs.list());
    await expectFsckClean(dir);
  });

  it('reads gzip archives (by magic bytes) from a file path', async () => {
    const dir = tmpDir();
    const file = join(dir, 'image.tar.gz.renamed');
    writeFileSync(file, gz(layoutTar(source)));
    const r = await importArchive(file, join(dir, 'out'));
    expect(r.compression).toBe('gzip');
    expect(indexOf(join(dir, 'out')).manifests).toEqual(indexOf(source).manifests);
  });

  it.runIf(zstdAvailable())(
    'reads zstd archives (by magic bytes), from a file or a stream',
    async () => {
      const dir = tmpDir();
      const file = join(dir, 'image.bundle');
      writeFileSync(file, zst(layoutTar(source)));
      const r = await importArchive(file, join(dir, 'out'));
      expect(r.compression).toBe('zstd');
      expect(indexOf(join(dir, 'out')).manifests).toEqual(indexOf(source).manifests);
      await expectFsckClean(join(dir, 'out'));
      const s = await importBytes(zst(layoutTar(source)), join(dir, 'streamed'));
      expect(s.compression).toBe('zstd');
      expect(indexOf(join(dir, 'streamed')).manifests).toEqual(indexOf(source).manifests);
    },
  );

  it('warns about and skips entries that are not part of a layout', async () => {
    const dir = join(tmpDir(), 'out');
    const extra: TarSpec[] = [
      { name: 'NOTES.txt', body: 'hello' },
      { name: 'deep/a/b/c/d.txt', body: 'x' },
      { name: 'blobs/sha256/not-a-digest', body: 'x' },
    ];
    const r = await importBytes(layoutTar(source, { extra }), dir);
    expect(r.warnings.join('\n')).toContain('NOTES.txt');
    expect(r.warnings.join('\n')).toContain('deep/a/b/c/d.txt');
    expect(r.warnings.join('\n')).toContain('blobs/sha256/not-a-digest');
    expect(Layout.open(dir).blobs.list().strays).toEqual([]);
  });

  it('carries only what index.json reaches (unreferenced blobs in the archive stay out)', async () => {
    const dir = join(tmpDir(), 'out');
    const stray = Buffer.from('unreferenced');
    const r = await importBytes(
      layoutTar(source, { extra: [{ name: `blobs/sha256/${hex(digestOf(stray))}`, body: stray }] }),
      dir,
    );
    expect(r.blobs.total).toBe(Layout.open(source).blobs.list().blobs.length);
    expect(Layout.open(dir).blobs.has(digestOf(stray))).toBe(false);
  });
});

describe('importArchive: a sparse multi-platform index', () => {
  it('names each platform manifest the archive lacks and suggests ctr --all-platforms', async () => {
    // `ctr images export` without --all-platforms: the index lists every platform, the archive
    // carries the host's only.
    const src = multiPlatformLayout();
    const blob = (name: string): string => `blobs/sha256/${hex(src.d[name]!.digest)}`;
    const sparse = layoutTar(src.root, {
      omit: ['arm64manifest', 'arm64config', 'arm64layer', 'armv7manifest'].map(blob),
    });
    const dir = join(tmpDir(), 'out');
    const err: unknown = await importBytes(sparse, dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: 'E_CORRUPT_ARCHIVE',
      details: {
        absent: [
          { platform: 'linux/arm64', digest: src.d['arm64manifest']!.digest },
          { platform: 'linux/arm/v7', digest: src.d['armv7manifest']!.digest },
        ],
      },
      hint: expect.stringContaining('`ctr images export --all-platforms`') as string,
    });
    const message = (err as Error).message;
    expect(message).toContain(`linux/arm64 ${src.d['arm64manifest']!.digest}`);
    expect(message).toContain(`linux/arm/v7 ${src.d['armv7manifest']!.digest}`);
    expect(message).not.toContain(src.d['amd64manifest']!.digest);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('importArchive: leases after a failed import', () => {
  it('leases the blobs again when an import into a new directory is retried after a failure', async () => {
    // The failed import removes the directory it created, lease file included. The retry must
    // write its leases anew, or a gc beside it could delete blobs it is about to commit.
    const source = peer('umoci-multitag');
    const dir = join(tmpDir(), 'out');
    const layer = 'sha256:0866fe05a325655cfcf589bebd35ebe79ec59456d9bab004ccaf01af114bf59a';
    const incomplete = layoutTar(source, { omit: [`blobs/sha256/${hex(layer)}`] });
    await expect(importBytes(incomplete, dir)).rejects.toMatchObject({ code: 'E_CORRUPT_ARCHIVE' });
    expect(existsSync(dir)).toBe(false);
    // Inside an outer operation the import shares its lease, which outlives the import: read it.
    await withOperationLease(dir, async () => {
      await importBytes(layoutTar(source), dir);
      const leased = readdirSync(join(dir, 'ingest'))
        .filter((n) => n.endsWith('.lease'))
        .map((n) => readFileSync(join(dir, 'ingest', n), 'utf8'))
        .join('');
      for (const d of Layout.open(dir).blobs.list().blobs) expect(leased).toContain(d);
    });
  });
});

describe('importArchive: a failed import removes only what it created', () => {
  /** Every file under `dir` with its bytes, directories marked with a trailing slash. */
  function contentsOf(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const p of treeOf(dir)) {
      const full = join(dir, p);
      out[p] = statSync(full).isDirectory() ? '/' : readFileSync(full, 'base64');
    }
    return out;
  }

  it('keeps every file of a half-copied layout (oci-layout and blobs/, no index.json)', async () => {
    const source = peer('umoci-image');
    const dir = join(tmpDir(), 'd');
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    cpSync(join(source, 'blobs', 'sha256'), join(dir, 'blobs', 'sha256'), { recursive: true });
    cpSync(join(source, 'oci-layout'), join(dir, 'oci-layout'));
    writeFileSync(join(dir, 'blobs', 'sha256', 'notes.txt'), 'precious\n');
    const before = contentsOf(dir);
    const cut = layoutTar(peer('umoci-multitag')).subarray(0, 3000);
    await expect(importBytes(cut, dir)).rejects.toMatchObject({ code: 'E_CORRUPT_ARCHIVE' });
    expect(contentsOf(dir)).toEqual(before);
  });

  it('keeps blobs/ and oci-layout it did not write when the archive fails late', async () => {
    const dir = join(tmpDir(), 'd');
    mkdirSync(join(dir, 'blobs'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const before = contentsOf(dir);
    const layer = 'sha256:0866fe05a325655cfcf589bebd35ebe79ec59456d9bab004ccaf01af114bf59a';
    const incomplete = layoutTar(peer('umoci-multitag'), { omit: [`blobs/sha256/${hex(layer)}`] });
    await expect(importBytes(incomplete, dir)).rejects.toMatchObject({ code: 'E_CORRUPT_ARCHIVE' });
    expect(contentsOf(dir)).toEqual(before);
  });

  it('takes back the blobs it published when the commit fails, in an existing layout', async () => {
    const dir = copyOfPeer('umoci-image');
    const before = layoutSnapshot(dir);
    // Another writer holds the index lock past our timeout: the import fails at its commit,
    // after it has published the archive's blobs into the target.
    await withLayoutLock(dir, async () => {
      await expect(
        importBytes(layoutTar(peer('umoci-multitag')), dir, {
          lockTimeoutMs: 300,
          onConflict: 'overwrite',
        }),
      ).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' });
    });
    expect(layoutSnapshot(dir)).toEqual(before);
    await expectFsckClean(dir);
  });

  it('leaves a new layout in place while another import stages into it', async () => {
    const dir = join(tmpDir(), 'shared');
    const good = layoutTar(peer('umoci-multitag'));
    const stagingDirs = (): number =>
      existsSync(join(dir, 'ingest'))
        ? readdirSync(join(dir, 'ingest'), { withFileTypes: true }).filter((e) => e.isDirectory())
            .length
        : 0;
    const until = async (cond: () => boolean): Promise<void> => {
      for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(cond()).toBe(true);
    };
    // B creates the directory and stages; A then stages into the layout B made.
    const inputB = new PassThrough();
    const b = importArchive(archiveFromStream(inputB, 'b.tar'), dir);
    inputB.write(good.subarray(0, 2048));
    await until(() => stagingDirs() === 1);
    const inputA = new PassThrough();
    const a = importArchive(archiveFromStream(inputA, 'a.tar'), dir);
    inputA.write(good.subarray(0, 2048));
    await until(() => stagingDirs() === 2);
    inputB.end(); // B's archive ends early: B fails
    await expect(b).rejects.toMatchObject({ code: 'E_CORRUPT_ARCHIVE' });
    expect(existsSync(join(dir, 'index.json'))).toBe(true);
    inputA.end(good.subarray(2048));
    const r = await a;
    expect(r.entries.length).toBe(indexOf(peer('umoci-multitag')).manifests.length);
    expect(indexOf(dir).manifests).toEqual(indexOf(peer('umoci-multitag')).manifests);
    await expectFsckClean(dir);
  });
});

describe('importArchive: merging into an existing layout', () => {
  it('adds new tags, deduplicates blobs, and is idempotent', async () => {
    const target = copyOfPeer('umoci-image');
    const archive = layoutTar(peer('umoci-multitag'));
    const r = await importBytes(archive, target, { onConflict: 'skip' });
    const tags = indexOf(target).manifests.map((e) => e.annotations?.[Annotation.RefName]);
    expect(tags).toEqual(['v1', 'latest', 'v2', 'stable', 'arm']);
    // v1's blobs were already there: only v2's and arm's are new.
    expect(r.blobs.added).toBeLessThan(r.blobs.total);
    expect(r.merge.skipped.map((c) => c.tag)).toEqual(['latest']);
    const after = layoutSnapshot(target);
    const again = await importBytes(archive, target, { onConflict: 'skip' });
    expect(again.blobs.added).toBe(0);
    expect(again.merge.added).toEqual([]);
    expect(layoutSnapshot(target)).toEqual(after);
    await expectFsckClean(target);
  });

  it('overwrites a conflicting tag in place with --on-conflict overwrite', async () => {
    const target = copyOfPeer('umoci-image');
    const r = await importBytes(layoutTar(peer('umoci-multitag')), target, {
      onConflict: 'overwrite',
    });
    expect(r.merge.replaced).toEqual([
      {
        tag: 'latest',
        existing: ['sha256:759431f268db4566be0168dfa99963818ccf3858ff70891464a79cd926e497f1'],
        incoming: 'sha256:9880e5b46a287d73ae769262867dea33b58be48d5b7f227242e372711c2a8ae5',
      },
    ]);
    const entries = indexOf(target).manifests;
    expect(entries[1]?.annotations?.[Annotation.RefName]).toBe('latest');
    expect(entries[1]?.digest).toBe(r.merge.replaced[0]?.incoming);
  });
});

/** A `docker save` archive in the legacy shape skopeo writes: <diffid>.tar, <id>.json, aliases. */
function dockerSave(
  options: {
    images?: { arch: string; repoTags: string[] }[];
    gzipLayer?: boolean;
    badDiffId?: boolean;
  } = {},
) {
  const layer = makeTar([{ name: 'etc/hello', body: 'hello\n' }]);
  const layerFile = options.gzipLayer === true ? gz(layer) : layer;
  const diffId = options.badDiffId === true ? digestOf('wrong') : digestOf(layer);
  const layerName = `${hex(digestOf(layerFile))}.tar`;
  const images = options.images ?? [
    { arch: 'arm64', repoTags: ['example.com/team/app:v1', 'example.com/team/app:latest'] },
  ];
  const entries: TarSpec[] = [
    { name: layerName, body: layerFile },
    { name: 'legacy1/', type: 'dir' },
    { name: 'legacy1/layer.tar', type: 'symlink', linkname: `../${layerName}` },
    { name: 'legacy1/VERSION', body: '1.0' },
    { name: 'legacy1/json', body: '{}' },
  ];
  const manifest = [];
  const configs: Buffer[] = [];
  for (const image of images) {
    const config = Buffer.from(
      JSON.stringify({
        architecture: image.arch,
        os: 'linux',
        config: { Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: [diffId] },
      }),
    );
    configs.push(config);
    const configName = `${hex(digestOf(config))}.json`;
    entries.push({ name: configName, body: config });
    manifest.push({ Config: configName, RepoTags: image.repoTags, Layers: ['legacy1/layer.tar'] });
  }
  entries.push({ name: 'manifest.json', body: JSON.stringify(manifest) });
  entries.push({ name: 'repositories', body: '{}' });
  return { bytes: makeTar(entries), config: configs[0]!, layer, layerFile, diffId };
}

describe('importArchive: the end-of-archive marker ends the archive', () => {
  it('imports what other tar readers see of a docker save with a layout appended after its marker', async () => {
    const a = dockerSave();
    const appended = Buffer.concat([a.bytes, layoutTar(peer('umoci-multitag'))]);
    const dir = tmpDir();
    const file = join(dir, 'appended.tar');
    writeFileSync(file, appended);
    // GNU tar stops at the marker: it lists A's entries only.
    const listed = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toEqual(
      execFileSync('tar', ['-tf', '-'], { input: a.bytes, encoding: 'utf8' }).trim().split('\n'),
    );
    const alone = await importBytes(a.bytes, join(dir, 'alone'));
    const r = await importArchive(file, join(dir, 'out'));
    expect(r.format).toBe('docker');
    expect(indexOf(join(dir, 'out')).manifests).toEqual(indexOf(join(dir, 'alone')).manifests);
    expect(Layout.open(join(dir, 'out')).blobs.list()).toEqual(
      Layout.open(join(dir, 'alone')).blobs.list(),
    );
    expect(alone.warnings.filter((w) => w.includes('end-of-archive'))).toEqual([]);
    expect(r.warnings).toContain(
      `ignored ${appended.length - a.bytes.length} bytes after the end-of-archive marker at offset ${a.bytes.length - 1024}, as other tar readers do`,
    );
    await expectFsckClean(join(dir, 'out'));
  });

  it('says nothing of zero padding after the marker (tar pads to its record size)', async () => {
    const dir = join(tmpDir(), 'out');
    const padded = Buffer.concat([layoutTar(peer('umoci-image')), Buffer.alloc(9 * 1024)]);
    const r = await importBytes(padded, dir);
    expect(r.warnings.filter((w) => w.includes('end-of-archive'))).toEqual([]);
    expect(r.warnings).toEqual(['ignored archive entry README.md']); // the fixture's own note
    expect(indexOf(dir).manifests).toEqual(indexOf(peer('umoci-image')).manifests);
  });
});

describe('importArchive: docker save archives', () => {
  it('keeps config and layer bytes, writes an OCI manifest, and keeps RepoTags', async () => {
    const dir = join(tmpDir(), 'out');
    const d = dockerSave();
    const r = await importBytes(d.bytes, dir);
    expect(r.format).toBe('docker');
    const entries = indexOf(dir).manifests;
    expect(entries.map((e) => e.annotations)).toEqual([
      { [Annotation.ContainerdImageName]: 'example.com/team/app:v1', [Annotation.RefName]: 'v1' },
      {
        [Annotation.ContainerdImageName]: 'example.com/team/app:latest',
        [Annotation.RefName]: 'latest',
      },
    ]);
    expect(entries[0]?.platform).toEqual({ architecture: 'arm64', os: 'linux' });
    const layout = Layout.open(dir);
    const m = layout.getManifest({ tag: 'v1' }).parsed;
    expect(m.kind).toBe('manifest');
    if (m.kind !== 'manifest') return;
    expect(m.doc.config).toEqual({
      mediaType: MediaType.ImageConfig,
      digest: digestOf(d.config),
      size: d.config.length,
    });
    expect(m.doc.layers).toEqual([
      { mediaType: MediaType.Layer, digest: d.diffId, size: d.layer.length },
    ]);
    await expectFsckClean(dir);
  });

  it('labels gzip layers as tar+gzip and keeps their digest', async () => {
    const dir = join(tmpDir(), 'out');
    const d = dockerSave({ gzipLayer: true });
    await importBytes(d.bytes, dir);
    const m = Layout.open(dir).getManifest({ tag: 'v1' }).parsed;
    expect(m.kind === 'manifest' && m.doc.layers[0]).toEqual({
      mediaType: MediaType.LayerGzip,
      digest: digestOf(d.layerFile),
      size: d.layerFile.length,
    });
  });

  it('uses the full RepoTag as the tag when two images share a bare tag', async () => {
    const dir = join(tmpDir(), 'out');
    const d = dockerSave({
      images: [
        { arch: 'amd64', repoTags: ['a/x:v1', 'a/x:only-a'] },
        { arch: 'arm64', repoTags: ['b/y:v1'] },
      ],
    });
    await importBytes(d.bytes, dir);
    const names = indexOf(dir).manifests.map((e) => e.annotations?.[Annotation.RefName]);
    expect(names).toEqual(['docker.io/a/x:v1', 'only-a', 'docker.io/b/y:v1']);
  });

  it('refuses a plain layer that is not the diffID its config names', async () => {
    const dir = join(tmpDir(), 'out');
    await expect(importBytes(dockerSave({ badDiffId: true }).bytes, dir)).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
  });

  it('refuses a manifest.json naming a file the archive lacks', async () => {
    const dir = join(tmpDir(), 'out');
    const bytes = makeTar([
      {
        name: 'manifest.json',
        body: JSON.stringify([{ Config: 'x.json', RepoTags: [], Layers: [] }]),
      },
    ]);
    await expect(importBytes(bytes, dir)).rejects.toMatchObject({ code: 'E_CORRUPT_ARCHIVE' });
  });

  it('prefers index.json when the archive is both (docker 25+ save, our docker export)', async () => {
    const dir = join(tmpDir(), 'out');
    const extra: TarSpec[] = [{ name: 'manifest.json', body: '[]' }];
    const r = await importBytes(layoutTar(peer('umoci-image'), { extra }), dir);
    expect(r.format).toBe('oci');
    expect(indexOf(dir).manifests).toEqual(indexOf(peer('umoci-image')).manifests);
  });
});
