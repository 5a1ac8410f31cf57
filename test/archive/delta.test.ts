// Delta archives (export --since BASE): what they leave out and why, the marker import reads, and
// import's refusal when the target lacks what a delta left out. CLI-level tests are in
// test/integration/cli-archive.test.ts.
import { cpSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import {
  Layout,
  digestOf,
  exportArchive,
  fsck,
  importArchive,
  type Descriptor,
} from '../../src/internal.js';
import {
  DELTA_MEDIA_TYPE,
  DELTA_NAME,
  parseDeltaMarker,
  readBaseContent,
  type DeltaMarker,
} from '../../src/archive/delta.js';
import { ArchiveSource } from '../../src/transfer/archive-source.js';
import { openArchiveFile } from '../../src/archive/tar-source.js';
import { makeTar } from '../helpers/make-tar.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { putImage, randomLayers } from './delta-helpers.js';

const KiB = 1024;

/** Entry names and bodies of a plain tar file. */
async function tarEntries(path: string): Promise<Map<string, Buffer>> {
  const extract = tar.extract();
  const out = new Map<string, Buffer>();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  extract.end(readFileSync(path));
  await done;
  return out;
}

function blobNames(entries: Map<string, Buffer>): string[] {
  return [...entries.keys()]
    .filter((n) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(n))
    .map((n) => `sha256:${n.slice('blobs/sha256/'.length)}`)
    .sort();
}

function markerOf(entries: Map<string, Buffer>): DeltaMarker {
  return parseDeltaMarker(entries.get(DELTA_NAME)!, 'test');
}

async function expectFsckClean(dir: string): Promise<void> {
  const report = await fsck(dir);
  expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
}

/**
 * v1: four layers; the updated layout holds v1 and v2, where v2 changes the last layer. Returns
 * both layouts and the layers of each.
 */
async function update(layerSize = 64 * KiB) {
  const dir = tmpDir();
  const base = join(dir, 'base');
  const layers = randomLayers(4, layerSize);
  const v1 = await putImage(base, 'v1', layers);
  const next = join(dir, 'next');
  cpSync(base, next, { recursive: true });
  const changed = [...layers.slice(0, 3), ...randomLayers(1, layerSize)];
  const v2 = await putImage(next, 'v2', changed);
  return { dir, base, next, layers, changed, v1, v2 };
}

describe('export --since', () => {
  it('leaves out the layers the base layout holds, keeps manifests and the full index', async () => {
    const u = await update();
    const out = join(u.dir, 'delta.tar');
    const r = await exportArchive(u.next, out, { since: u.base });
    const entries = await tarEntries(out);
    const unchanged = u.layers.slice(0, 3).map((l) => digestOf(l));
    const carried = blobNames(entries);
    for (const d of unchanged) expect(carried).not.toContain(d);
    expect(carried).toContain(digestOf(u.changed[3]!));
    // Both manifests travel (v1's too, though the base has it); the base's config and layers not.
    expect(carried).toContain(u.v1.digest);
    expect(carried).toContain(u.v2.digest);
    expect(carried).toHaveLength(4); // v1 and v2 manifests, v2's config, the changed layer
    expect(entries.get('index.json')!.toString()).toBe(
      readFileSync(join(u.next, 'index.json'), 'utf8'),
    );
    const marker = markerOf(entries);
    expect(marker.mediaType).toBe(DELTA_MEDIA_TYPE);
    expect(marker.base).toEqual({
      kind: 'layout',
      name: 'base',
      digest: digestOf(readFileSync(join(u.base, 'index.json'))),
    });
    // v1's config and its four layers, three of which v2 shares.
    expect(marker.omitted.map((o) => o.digest)).toEqual(
      [...u.layers.map((l) => digestOf(l)), configOf(u.base, u.v1)].sort(),
    );
    expect(r.delta).toEqual({
      base: marker.base,
      omitted: 5,
      omittedBytes: marker.omitted.reduce((n, o) => n + o.size, 0),
    });
    expect(r.blobs).toBe(4);
  });

  it('from a base archive leaves out what the base layout would, reading only its headers', async () => {
    const u = await update();
    const baseTar = join(u.dir, 'base.tar');
    await exportArchive(u.base, baseTar);
    const fromLayout = join(u.dir, 'a.tar');
    const fromArchive = join(u.dir, 'b.tar');
    await exportArchive(u.next, fromLayout, { since: u.base });
    await exportArchive(u.next, fromArchive, { since: baseTar });
    const a = await tarEntries(fromLayout);
    const b = await tarEntries(fromArchive);
    expect(blobNames(b)).toEqual(blobNames(a));
    expect(markerOf(b).omitted).toEqual(markerOf(a).omitted);
    // The base's identity is its index.json either way: the archive carries the layout's bytes.
    expect(markerOf(b).base).toEqual({ ...markerOf(a).base, kind: 'archive', name: 'base.tar' });
  });

  it('a gzip base archive is read the same way (the codec told by magic bytes)', async () => {
    const u = await update();
    const baseGz = join(u.dir, 'base.tar.gz');
    await exportArchive(u.base, baseGz, { gzip: true });
    const a = join(u.dir, 'a.tar');
    const b = join(u.dir, 'b.tar');
    await exportArchive(u.next, a, { since: u.base });
    await exportArchive(u.next, b, { since: baseGz });
    expect(markerOf(await tarEntries(b)).omitted).toEqual(markerOf(await tarEntries(a)).omitted);
  });

  it('an unreachable blob in the base layout is not assumed (what its export would not bring)', async () => {
    const u = await update();
    // The new layer exists in the base, but as a stray nothing reaches.
    Layout.open(u.base).blobs.putBytes(u.changed[3]!);
    const out = join(u.dir, 'delta.tar');
    await exportArchive(u.next, out, { since: u.base });
    expect(blobNames(await tarEntries(out))).toContain(digestOf(u.changed[3]!));
  });

  it('a docker-save base: its layer files are known by the digest of their bytes', async () => {
    const dir = tmpDir();
    const layers = randomLayers(2, 16 * KiB);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: layers.map((l) => digestOf(l)) },
      }),
    );
    const saved = join(dir, 'saved.tar');
    const manifest = [{ Config: 'c.json', RepoTags: ['app:v1'], Layers: ['0.tar', '1.tar'] }];
    writeTar(saved, [
      { name: 'c.json', body: config },
      { name: '0.tar', body: layers[0]! },
      { name: '1.tar', body: layers[1]! },
      { name: 'manifest.json', body: JSON.stringify(manifest) },
    ]);
    const base = await readBaseContent(saved);
    expect(base.kind).toBe('archive');
    expect([...base.blobs.keys()].sort()).toEqual(
      [digestOf(config), ...layers.map((l) => digestOf(l))].sort(),
    );
    // An update on top of the imported save: only the new layer travels.
    const target = join(dir, 'target');
    await importArchive(saved, target);
    const next = join(dir, 'next');
    cpSync(target, next, { recursive: true });
    const added = randomLayers(1, 16 * KiB)[0]!;
    await putImage(next, 'v2', [...layers, added]);
    const out = join(dir, 'delta.tar');
    await exportArchive(next, out, { since: saved });
    const carried = blobNames(await tarEntries(out));
    for (const l of layers) expect(carried).not.toContain(digestOf(l));
    expect(carried).toContain(digestOf(added));
    const r = await importArchive(out, target, { onConflict: 'fail' });
    expect(r.delta?.omitted).toBe(3);
    await expectFsckClean(target);
  });

  it('docker format is refused before anything is written', async () => {
    const u = await update();
    const out = join(u.dir, 'delta.tar');
    await expect(
      exportArchive(u.next, out, { since: u.base, format: 'docker' }),
    ).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(existsSync(out)).toBe(false);
  });

  it('a base that does not exist is E_NOT_FOUND', async () => {
    const u = await update();
    await expect(
      exportArchive(u.next, join(u.dir, 'o.tar'), { since: join(u.dir, 'nope.tar') }),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});

describe('import of a delta', () => {
  it('into a layout that holds the base: the result is the updated layout, fsck clean', async () => {
    const u = await update();
    const delta = join(u.dir, 'delta.tar');
    await exportArchive(u.next, delta, { since: u.base });
    const target = join(u.dir, 'target');
    await importArchive(await fullArchive(u.base, u.dir), target);
    const r = await importArchive(delta, target);
    expect(r.delta).toEqual({ base: expect.objectContaining({ name: 'base' }), omitted: 5 });
    expect(r.blobs.added).toBe(3); // v2's manifest, config and changed layer
    expect(Layout.open(target).readIndex().manifests).toEqual(
      Layout.open(u.next).readIndex().manifests,
    );
    expect(Layout.open(target).blobs.list()).toEqual(Layout.open(u.next).blobs.list());
    await expectFsckClean(target);
  });

  it('into an empty directory: refused naming what is missing and who needs it, nothing left', async () => {
    const u = await update();
    const delta = join(u.dir, 'delta.tar');
    await exportArchive(u.next, delta, { since: u.base });
    const target = join(u.dir, 'empty');
    const err = await importArchive(delta, target).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'E_NOT_FOUND',
      details: { missingCount: 5 },
    });
    const message = (err as Error).message;
    expect(message).toContain('is a delta archive');
    expect(message).toContain(digestOf(u.layers[0]!));
    expect(message).toMatch(/needed by v1, v2/);
    expect(message).toContain('lacks 5 of them');
    expect((err as { hint?: string }).hint).toContain('import the base (base)');
    expect(existsSync(target)).toBe(false);
  });

  it('into a layout that holds only part of the base: unchanged, the missing ones named', async () => {
    const u = await update();
    const delta = join(u.dir, 'delta.tar');
    await exportArchive(u.next, delta, { since: u.base });
    // A target with one of the base's layers under some other image.
    const target = join(u.dir, 'partial');
    await putImage(target, 'other', [u.layers[0]!]);
    const before = layoutSnapshot(target);
    const err = await importArchive(delta, target).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NOT_FOUND', details: { missingCount: 4 } });
    expect((err as Error).message).not.toContain(`${digestOf(u.layers[0]!)} (`);
    expect(layoutSnapshot(target)).toEqual(before);
    await expectFsckClean(target);
  });

  it('a left-out blob the target holds with another size (damaged) counts as missing', async () => {
    const u = await update();
    const delta = join(u.dir, 'delta.tar');
    await exportArchive(u.next, delta, { since: u.base });
    const target = join(u.dir, 'target');
    await importArchive(await fullArchive(u.base, u.dir), target);
    const damaged = digestOf(u.layers[1]!);
    truncateSync(join(target, 'blobs', 'sha256', damaged.slice(7)), 10);
    const before = layoutSnapshot(target);
    const err = await importArchive(delta, target).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NOT_FOUND', details: { missingCount: 1 } });
    expect((err as Error).message).toContain(`${damaged} (${64 * KiB} bytes, needed by v1, v2)`);
    expect(layoutSnapshot(target)).toEqual(before);
  });

  it('a marker that contradicts the index (another size) is refused, nothing changed', async () => {
    const u = await update();
    const delta = join(u.dir, 'delta.tar');
    await exportArchive(u.next, delta, { since: u.base });
    const entries = await tarEntries(delta);
    const marker = markerOf(entries);
    const lying: DeltaMarker = {
      ...marker,
      omitted: marker.omitted.map((o, i) => (i === 0 ? { ...o, size: o.size + 1 } : o)),
    };
    entries.set(DELTA_NAME, Buffer.from(JSON.stringify(lying)));
    const edited = join(u.dir, 'edited.tar');
    writeTar(
      edited,
      [...entries].map(([name, body]) => ({ name, body })),
    );
    const target = join(u.dir, 'target');
    await importArchive(await fullArchive(u.base, u.dir), target);
    const before = layoutSnapshot(target);
    await expect(importArchive(edited, target)).rejects.toMatchObject({ code: 'E_SIZE_MISMATCH' });
    expect(layoutSnapshot(target)).toEqual(before);
  });

  it('a marker that is not ours is E_CORRUPT_ARCHIVE', async () => {
    const u = await update();
    const delta = join(u.dir, 'delta.tar');
    await exportArchive(u.next, delta, { since: u.base });
    const entries = await tarEntries(delta);
    entries.set(DELTA_NAME, Buffer.from(JSON.stringify({ mediaType: 'x', omitted: [] })));
    const edited = join(u.dir, 'edited.tar');
    writeTar(
      edited,
      [...entries].map(([name, body]) => ({ name, body })),
    );
    await expect(importArchive(edited, join(u.dir, 't'))).rejects.toMatchObject({
      code: 'E_CORRUPT_ARCHIVE',
    });
    expect(existsSync(join(u.dir, 't'))).toBe(false);
  });

  it('a delta of a delta: each step carries only its own change, the chain imports', async () => {
    const u = await update();
    const third = join(u.dir, 'third');
    cpSync(u.next, third, { recursive: true });
    const v3Layers = [...u.changed.slice(0, 2), ...randomLayers(1, 64 * KiB), u.changed[3]!];
    await putImage(third, 'v3', v3Layers);
    const d1 = join(u.dir, 'd1.tar');
    const d2 = join(u.dir, 'd2.tar');
    await exportArchive(u.next, d1, { since: u.base });
    await exportArchive(third, d2, { since: d1 });
    const carried = blobNames(await tarEntries(d2));
    // Neither the base's layers (d1 left them out) nor v2's new one (d1 carried it).
    for (const l of [...u.layers, u.changed[3]!]) expect(carried).not.toContain(digestOf(l));
    expect(carried).toContain(digestOf(v3Layers[2]!));
    expect(markerOf(await tarEntries(d2)).base).toMatchObject({ kind: 'archive', name: 'd1.tar' });

    const target = join(u.dir, 'target');
    await importArchive(await fullArchive(u.base, u.dir), target);
    await importArchive(d1, target);
    await importArchive(d2, target);
    expect(Layout.open(target).blobs.list()).toEqual(Layout.open(third).blobs.list());
    await expectFsckClean(target);
    // Skipping d1: refused, naming v3 (and v2) as in need.
    const skipped = join(u.dir, 'skipped');
    await importArchive(await fullArchive(u.base, u.dir), skipped);
    const before = layoutSnapshot(skipped);
    await expect(importArchive(d2, skipped)).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringMatching(/needed by v2, v3/),
    });
    expect(layoutSnapshot(skipped)).toEqual(before);
  });

  it("copy's archive source refuses a delta: it has no base to take the rest from", async () => {
    const u = await update();
    const delta = join(u.dir, 'delta.tar');
    await exportArchive(u.next, delta, { since: u.base });
    await expect(
      ArchiveSource.open(openArchiveFile(delta), 'v2', `oci-archive:${delta}`),
    ).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('delta archive') });
  });

  it('the delta is smaller than the full archive by the unchanged bytes', async () => {
    const u = await update(256 * KiB);
    const full = join(u.dir, 'full.tar');
    const delta = join(u.dir, 'delta.tar');
    await exportArchive(u.next, full);
    const r = await exportArchive(u.next, delta, { since: u.base });
    const saved = statSync(full).size - statSync(delta).size;
    // Four layers of v1 plus its config are left out: at least their bytes, minus tar framing.
    expect(saved).toBeGreaterThanOrEqual(r.delta!.omittedBytes);
    expect(r.delta!.omittedBytes).toBeGreaterThanOrEqual(4 * 256 * KiB);
  });
});

function configOf(dir: string, desc: Descriptor): string {
  const m = JSON.parse(
    readFileSync(join(dir, 'blobs', 'sha256', desc.digest.slice(7)), 'utf8'),
  ) as { config: Descriptor };
  return m.config.digest;
}

async function fullArchive(layout: string, dir: string): Promise<string> {
  const out = join(dir, `${Math.random().toString(36).slice(2)}-full.tar`);
  await exportArchive(layout, out);
  return out;
}

function writeTar(path: string, entries: { name: string; body: string | Buffer }[]): void {
  // makeTar writes what we give it, in order: enough for a docker save or an edited export.
  writeFileSync(path, makeTar(entries));
}
